// Package grant serves the token endpoint (RFC 6749 §3.2): it parses the
// request, authenticates the client and hands the request to the Grant
// registered for its grant_type, one file per grant. Tokens themselves are
// minted by package token.
package grant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Request is a parsed token request.
type Request struct {
	HTTP  *http.Request
	Form  oauth.Form
	Creds oauth.ClientCredentials
}

// Grant exchanges one kind of grant for tokens.
type Grant interface {
	Exchange(ctx context.Context, req *Request) (*token.Response, error)
}

// Handler serves the token endpoint.
type Handler struct {
	Grants map[string]Grant // by grant_type
	Log    *slog.Logger
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
	g, ok := h.Grants[gt]
	if !ok {
		return &oauth.Error{Code: oauth.UnsupportedGrantType, Description: "grant_type " + quoteShort(gt) + " is not supported"}
	}
	creds, err := oauth.ClientCredentialsFrom(r, f)
	if err != nil {
		return err
	}
	resp, err := g.Exchange(r.Context(), &Request{HTTP: r, Form: f, Creds: creds})
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, resp)
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Deps are what the grants share.
type Deps struct {
	Store  store.Store
	Minter *token.Minter
	Now    func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
	// RefreshLifetime is a new grant's absolute life: refreshable_until.
	RefreshLifetime time.Duration
}

// authenticate checks the client and that it may use grant type gt.
func (d *Deps) authenticate(ctx context.Context, creds oauth.ClientCredentials, gt string) (*store.Client, error) {
	c, err := oauth.AuthenticateClient(ctx, d.Store, creds)
	if err != nil {
		return nil, err
	}
	if !c.HasGrant(gt) {
		return nil, &oauth.Error{Code: oauth.UnauthorizedClient, Description: "the client is not registered for this grant type"}
	}
	return c, nil
}

// newRefresh stores a new refresh token for grant g and returns it.
func (d *Deps) newRefresh(ctx context.Context, g *store.Grant, scopes []string) (string, error) {
	rt, err := oauth.NewSecret(d.Rand, oauth.PrefixRefreshToken)
	if err != nil {
		return "", err
	}
	err = d.Store.CreateRefreshToken(ctx, &store.RefreshToken{
		Hash:      oauth.HashSecret(rt),
		GrantID:   g.ID,
		ClientID:  g.ClientID,
		Scopes:    scopes,
		CreatedAt: d.Now(),
		ExpiresAt: g.ExpiresAt,
	})
	if err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	return rt, nil
}

// activeUser loads the user a grant acts for and refuses one who can no
// longer sign in (SECURITY-CHECKLIST DF-17: status is checked at redemption,
// not only at approval).
func (d *Deps) activeUser(ctx context.Context, id string) (*store.User, error) {
	u, err := d.Store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the user who approved this request can no longer sign in"}
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

func (d *Deps) newGrantID() (string, error) {
	id, err := oauth.NewSecret(d.Rand, "")
	if err != nil {
		return "", err
	}
	return id[:22], nil // 132 bits: unique, and short in a JWT
}

// issue creates the grant and its tokens for a user's approval.
func (d *Deps) issue(ctx context.Context, c *store.Client, u *store.User, scopes []string, authTime time.Time, nonce string) (*store.Grant, *token.Response, error) {
	id, err := d.newGrantID()
	if err != nil {
		return nil, nil, err
	}
	now := d.Now()
	g := &store.Grant{
		ID: id, UserID: u.ID, ClientID: c.ID, Scopes: scopes,
		AuthTime: authTime, CreatedAt: now, ExpiresAt: now.Add(d.RefreshLifetime),
	}
	if err := d.Store.CreateGrant(ctx, g); err != nil {
		return nil, nil, fmt.Errorf("create grant: %w", err)
	}
	var refresh string
	if wantsRefresh(c, scopes) {
		if refresh, err = d.newRefresh(ctx, g, scopes); err != nil {
			return nil, nil, err
		}
	}
	resp, err := d.Minter.Mint(ctx, token.Issue{Grant: g, User: u, Scopes: scopes, Nonce: nonce, Refresh: refresh})
	if err != nil {
		return nil, nil, err
	}
	return g, resp, nil
}

// wantsRefresh: a refresh token goes to a client registered for the
// refresh_token grant when the user granted offline_access (OIDC Core §11).
func wantsRefresh(c *store.Client, scopes []string) bool {
	if !c.HasGrant(store.GrantRefreshToken) {
		return false
	}
	for _, s := range scopes {
		if s == "offline_access" {
			return true
		}
	}
	return false
}
