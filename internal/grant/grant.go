// Package grant serves the token endpoint (RFC 6749 §3.2): it parses the
// request, reads the client's credentials and hands the request to the
// Grant that answers its grant_type. It owns the phases every grant shares
// (Deps: client authentication, the user's status, the grant and refresh
// token an approval becomes) and three grants, one file each: the
// authorization code, refresh token and client credentials grants. The
// device_code grant is package device's, beside the rest of RFC 8628.
// Tokens themselves are minted by package token.
package grant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
	"github.com/latchkey/latchkey/internal/token"
)

// Request is a parsed token request.
type Request struct {
	HTTP  *http.Request
	Form  oauth.Form
	Creds oauth.ClientCredentials
	// DPoP is the request's checked DPoP proof (RFC 9449); nil for none.
	DPoP *dpop.Proof
}

// Grant exchanges one kind of grant for tokens. Each grant says which
// grant_type it answers, so the token endpoint is built from a list of
// grants and nothing else maps names to them.
type Grant interface {
	// GrantType is the grant_type value the grant answers (RFC 6749 §4,
	// RFC 8628 §3.4).
	GrantType() string
	Exchange(ctx context.Context, req *Request) (*token.Response, error)
}

// Handler serves the token endpoint.
type Handler struct {
	Grants []Grant // each answers its own GrantType; the first of a type wins
	Log    *slog.Logger
	// DPoP checks the proofs of requests that carry one (RFC 9449 §5);
	// nil takes no proof, and a request with one is refused.
	DPoP *dpop.Checker
	// Issuer is what a proof's htu is checked against: the issuer and the
	// path the request came on, as discovery announces the endpoint.
	Issuer string
	// Metrics counts the token responses (nil: off).
	Metrics *metrics.Metrics
}

// GrantTypes are the grant types the endpoint answers, in Grants' order,
// for the discovery document.
func (h *Handler) GrantTypes() []string {
	var gts []string
	for _, g := range h.Grants {
		gts = append(gts, g.GrantType())
	}
	return gts
}

// grant returns the grant that answers grant type gt.
func (h *Handler) grant(gt string) (Grant, bool) {
	for _, g := range h.Grants {
		if g.GrantType() == gt {
			return g, true
		}
	}
	return nil, false
}

// Token serves POST /oauth2/token and its aliases.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) error {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return err
	}
	gt := f.Get("grant_type")
	if gt == "" {
		return oauth.BadRequest("grant_type is required")
	}
	if _, ok := h.grant(gt); !ok {
		return &oauth.Error{Code: oauth.UnsupportedGrantType, Description: "grant_type " + quoteShort(gt) + " is not supported"}
	}
	creds, err := oauth.ClientCredentialsFrom(r, f)
	if err != nil {
		return err
	}
	proof, err := h.proof(w, r)
	if err != nil {
		return err
	}
	resp, err := h.Exchange(r.Context(), &Request{HTTP: r, Form: f, Creds: creds, DPoP: proof})
	if err != nil {
		return err
	}
	secevent.Log(r.Context(), h.Log, secevent.Event{Name: secevent.TokenIssued, Outcome: secevent.Success,
		ClientID: creds.ID, UserID: resp.UserID, GrantID: resp.GrantID, GrantType: gt})
	return oauth.WriteJSON(w, http.StatusOK, resp)
}

// Exchange hands a parsed token request to the grant of its grant_type:
// the token endpoint's work after reading the request, which the service
// API's /auth/token shares (its front end read the request).
func (h *Handler) Exchange(ctx context.Context, req *Request) (*token.Response, error) {
	gt := req.Form.Get("grant_type")
	if gt == "" {
		return nil, oauth.BadRequest("grant_type is required")
	}
	g, ok := h.grant(gt)
	if !ok {
		return nil, &oauth.Error{Code: oauth.UnsupportedGrantType, Description: "grant_type " + quoteShort(gt) + " is not supported"}
	}
	resp, err := g.Exchange(ctx, req)
	if err == nil {
		// A client that authenticated with a secret is confidential; one
		// that got tokens without one is public.
		h.Metrics.TokenIssued(gt, req.Creds.Secret != "")
	}
	return resp, err
}

// proof checks the request's DPoP proof, if it has one. A server that
// provides nonces sends the current one with every answer to a request
// with a proof (RFC 9449 §8.2), so the client has it for the next.
func (h *Handler) proof(w http.ResponseWriter, r *http.Request) (*dpop.Proof, error) {
	if !dpop.Sent(r) {
		return nil, nil
	}
	if h.DPoP == nil {
		return nil, &oauth.Error{Code: dpop.InvalidProof, Description: "DPoP is not supported here"}
	}
	if h.DPoP.Nonces != nil {
		w.Header().Set(dpop.NonceHeader, h.DPoP.Nonces.Current(h.DPoP.Now()))
	}
	return h.DPoP.Check(r.Context(), r, dpop.Target{Method: r.Method, URL: h.Issuer + r.URL.Path})
}

// Bind returns the thumbprint of the DPoP key client c's access token is
// to be bound to: the proof's, "" when it sent none. A client registered
// with dpop_bound_access_tokens must send one (RFC 9449 §5.2).
func (d *Deps) Bind(c *store.Client, req *Request) (string, error) {
	if req.DPoP == nil {
		if c.DPoPBound {
			return "", &oauth.Error{Code: dpop.InvalidProof, Description: "this client must send a DPoP proof with every token request"}
		}
		return "", nil
	}
	return req.DPoP.JKT, nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Deps are what the grants share: the phases every grant goes through,
// whatever its own store holds. Package device's device_code grant uses
// them too.
type Deps struct {
	// Clients authenticates the clients that ask; the server's answers
	// from its client cache (clientauth.Clients).
	Clients clientauth.Clients
	// Guard bounds secret guessing (nil: none).
	Guard *clientauth.Guard
	// TokenLimit is each confidential client's rate limit at the token
	// endpoint, counted once it has authenticated (nil or zero Limit: none).
	TokenLimit *throttle.PerMinute
	// Users reads the user a grant acts for, whose status is checked at
	// every redemption (ActiveUser).
	Users interface {
		GetUser(ctx context.Context, id string) (*store.User, error)
	}
	Minter *token.Minter
	Now    func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
	// RefreshLifetime is a new grant's absolute life: refreshable_until.
	RefreshLifetime time.Duration
	// RefreshIdle is how long a refresh token lives unused: a device that
	// stays away longer signs in again, even before refreshable_until.
	// Zero: only the absolute life applies.
	RefreshIdle time.Duration
	// Metrics counts what grants decide (nil: off): the device grant's
	// poll answers.
	Metrics *metrics.Metrics
}

// Authenticate checks the client and that it may use grant type gt, behind
// the secret-guessing guard, and counts a confidential client's request
// against its rate limit.
func (d *Deps) Authenticate(ctx context.Context, creds oauth.ClientCredentials, gt string) (*store.Client, error) {
	c, err := d.Guard.Authenticate(ctx, d.Clients, creds)
	if err != nil {
		return nil, err
	}
	if !c.HasGrant(gt) {
		return nil, &oauth.Error{Code: oauth.UnauthorizedClient, Description: "the client is not registered for this grant type"}
	}
	if err := d.limit(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// limit counts a request of confidential client c against TokenLimit.
// Public clients are not limited per client: anyone can name one, so a
// limit would be a switch for turning off every device of a product;
// their polls are bounded per code by slow_down (RFC 8628 §3.5), their
// device authorizations per client and address (DF-19).
func (d *Deps) limit(ctx context.Context, c *store.Client) error {
	if c.Public() {
		return nil
	}
	ok, retry, err := d.TokenLimit.Take(ctx, "token:client:"+c.ID, d.Now())
	if err != nil {
		return fmt.Errorf("token endpoint rate limit: %w", err)
	}
	if !ok {
		return &oauth.Error{Code: oauth.SlowDown, Description: "too many token requests from this client; try again later",
			Status: http.StatusTooManyRequests, RetryAfter: int(retry / time.Second)}
	}
	return nil
}

// newRefresh draws a new refresh token of client c for grant g and returns
// it with the record to store for it; it stores nothing.
func (d *Deps) newRefresh(c *store.Client, g *store.Grant, scopes []string, now time.Time) (string, *store.RefreshToken, error) {
	rt, err := oauth.NewSecret(d.Rand, oauth.PrefixRefreshToken)
	if err != nil {
		return "", nil, err
	}
	expires := g.ExpiresAt
	if idle := d.idleUntil(c, now); !idle.IsZero() && idle.Before(expires) {
		expires = idle
	}
	return rt, &store.RefreshToken{
		Hash:      oauth.HashSecret(rt),
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		Scopes:    scopes,
		CreatedAt: now,
		ExpiresAt: expires,
	}, nil
}

// idleUntil is when a refresh token of client c issued at now lapses
// unused: the client's idle lifetime, or the server's; zero when only the
// grant's absolute life applies.
func (d *Deps) idleUntil(c *store.Client, now time.Time) time.Time {
	idle := d.RefreshIdle
	if c.Tokens.RefreshIdleLifetime > 0 {
		idle = c.Tokens.RefreshIdleLifetime
	}
	if idle <= 0 {
		return time.Time{}
	}
	return now.Add(idle)
}

// refreshLifetime is the absolute life of a new grant of client c: its
// own, or the server's. A change to it applies to grants made afterwards;
// a grant's refreshable_until is fixed when it is made.
func (d *Deps) refreshLifetime(c *store.Client) time.Duration {
	if c.Tokens.RefreshLifetime > 0 {
		return c.Tokens.RefreshLifetime
	}
	return d.RefreshLifetime
}

// ActiveUser loads the user a grant acts for and refuses one who can no
// longer sign in (docs/security.md DF-17: status is checked at redemption,
// not only at approval).
func (d *Deps) ActiveUser(ctx context.Context, id string) (*store.User, error) {
	u, err := d.Users.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, userGone()
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// userGone is the answer when the user a grant acts for was deleted or
// disabled since.
func userGone() *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidGrant, Description: "the user who approved this request can no longer sign in"}
}

func (d *Deps) newGrantID() (string, error) {
	id, err := oauth.NewSecret(d.Rand, "")
	if err != nil {
		return "", err
	}
	return id[:22], nil // 132 bits: unique, and short in a JWT
}

// Issuance is what a user's approval becomes: the records to store, and
// the refresh token itself for the response.
type Issuance struct {
	Grant        *store.Grant
	RefreshToken *store.RefreshToken // nil when the client gets none
	Refresh      string              // the refresh token RefreshToken stores; "" for none
	JKT          string              // the DPoP key the access token is bound to; "" for none
}

// NewIssuance builds the grant, and the refresh token when the client gets
// one, for a user's approval at now. It stores nothing: the caller stores
// them in the same transaction that uses the approval up, and mints the
// tokens (Deps.Mint) only once that has committed. jkt is the DPoP key the
// access token is bound to (Bind); a public client's grant, and so its
// refresh tokens, are bound to it too (RFC 9449 §5): a refresh token
// copied off the device is useless without the device's key. A
// confidential client's refresh tokens are bound to its credentials.
func (d *Deps) NewIssuance(c *store.Client, u *store.User, scopes []string, authTime, now time.Time, jkt string) (*Issuance, error) {
	return d.newIssuance(c, &store.Grant{UserID: u.ID, ClientID: c.ID, Scopes: scopes, AuthTime: authTime}, now, jkt)
}

// NewExternalIssuance is NewIssuance for a person a front end approved
// through the service API: subject names them in the front end's terms and
// has no user row; claims (a JSON object, or "") go into their ID tokens.
func (d *Deps) NewExternalIssuance(c *store.Client, subject, claims string, scopes []string, authTime, now time.Time, jkt string) (*Issuance, error) {
	return d.newIssuance(c, &store.Grant{Subject: subject, Claims: claims, ClientID: c.ID, Scopes: scopes, AuthTime: authTime}, now, jkt)
}

func (d *Deps) newIssuance(c *store.Client, g *store.Grant, now time.Time, jkt string) (*Issuance, error) {
	id, err := d.newGrantID()
	if err != nil {
		return nil, err
	}
	g.ID, g.CreatedAt, g.ExpiresAt = id, now, now.Add(d.refreshLifetime(c))
	scopes := g.Scopes
	is := &Issuance{Grant: g, JKT: jkt}
	if c.Public() {
		is.Grant.DPoPJKT = jkt
	}
	if wantsRefresh(c, scopes) {
		if is.Refresh, is.RefreshToken, err = d.newRefresh(c, is.Grant, scopes, now); err != nil {
			return nil, err
		}
	}
	return is, nil
}

// Mint signs the tokens of a stored issuance for user u of client c.
func (d *Deps) Mint(ctx context.Context, c *store.Client, is *Issuance, u *store.User, nonce string) (*token.Response, error) {
	return d.Minter.Mint(ctx, token.Issue{Client: c, Grant: is.Grant, User: u, Scopes: is.Grant.Scopes, Nonce: nonce, Refresh: is.Refresh, JKT: is.JKT})
}

// wantsRefresh: a refresh token goes to a client registered for the
// refresh_token grant when the user granted offline_access (OIDC Core §11),
// or with every grant when its policy says always (store.RefreshAlways:
// 10Duke's clients configured for refresh tokens, which ask for openid
// profile email and nothing more; docs/security.md AC-19).
func wantsRefresh(c *store.Client, scopes []string) bool {
	if !c.HasGrant(store.GrantRefreshToken) {
		return false
	}
	return c.Tokens.RefreshTokens == store.RefreshAlways || slices.Contains(scopes, "offline_access")
}
