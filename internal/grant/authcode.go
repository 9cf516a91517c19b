package grant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// AuthorizationCode is the authorization code grant's token request
// (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.5, §4.6). The code was issued by
// package authorize; here it is checked and redeemed, once.
type AuthorizationCode struct {
	*Deps
	Store interface {
		GetAuthCode(ctx context.Context, hash string) (*store.AuthCode, error)
		BurnAuthCode(ctx context.Context, hash string, now time.Time) error
		RedeemAuthCode(ctx context.Context, hash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) (firstGrantID string, err error)
		RevokeGrant(ctx context.Context, id string, now time.Time) error
	}
}

// GrantType is authorization_code.
func (AuthorizationCode) GrantType() string { return store.GrantAuthorizationCode }

// Exchange redeems an authorization code. The code must be unused and
// unexpired, issued to the authenticated client, for the redirect_uri sent
// now when one was sent then, and for the code_verifier when a challenge
// was sent. A code that fails those checks is spent; a code presented a
// second time revokes what its first redemption got (RFC 6749 §4.1.2,
// RFC 9700 §4.2.4).
func (g AuthorizationCode) Exchange(ctx context.Context, req *Request) (*token.Response, error) {
	code := req.Form.Get("code")
	if code == "" {
		return nil, oauth.BadRequest("code is required")
	}
	c, err := g.Authenticate(ctx, req.Creds, store.GrantAuthorizationCode)
	if err != nil {
		return nil, err
	}
	now := g.Now()
	hash := oauth.HashSecret(code)
	ac, err := g.Store.GetAuthCode(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "unknown authorization code"}
	}
	if err != nil {
		return nil, fmt.Errorf("load authorization code: %w", err)
	}
	if !ac.UsedAt.IsZero() {
		return nil, g.reused(ctx, ac.GrantID, ac.ClientID, now)
	}
	if !now.Before(ac.ExpiresAt) {
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the authorization code has expired"}
	}
	if problem := checkRedemption(ac, c, req.Form); problem != "" {
		// The code is spent either way (docs/security.md AC-07, AC-12):
		// a guessed verifier or a stolen code gets one try.
		if err := g.Store.BurnAuthCode(ctx, hash, now); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("burn authorization code: %w", err)
		}
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: problem}
	}
	u, err := g.ActiveUser(ctx, ac.UserID)
	if err != nil {
		return nil, err
	}
	jkt, err := g.Bind(c, req)
	if err != nil {
		return nil, err
	}
	if ac.DPoPJKT != "" && jkt != ac.DPoPJKT {
		// RFC 9449 §10.1: a code bound with dpop_jkt is redeemed only with
		// a proof by that key. Spent, as for a wrong verifier: a stolen
		// code gets one try.
		if err := g.Store.BurnAuthCode(ctx, hash, now); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("burn authorization code: %w", err)
		}
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the authorization request had dpop_jkt: a DPoP proof by that key is required"}
	}
	is, err := g.NewIssuance(c, u, ac.Scopes, ac.AuthTime, now, jkt)
	if err != nil {
		return nil, err
	}
	// The grant remembers the browser session it was approved in, for
	// clients whose grants end when it does.
	is.Grant.SessionHash = ac.SessionHash
	first, err := g.Store.RedeemAuthCode(ctx, hash, is.Grant, is.RefreshToken, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Another request redeemed it since we read it.
		return nil, g.reused(ctx, first, ac.ClientID, now)
	case errors.Is(err, store.ErrNotFound):
		// It expired in between, or its user went.
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the authorization code is no longer valid"}
	case err != nil:
		return nil, fmt.Errorf("redeem authorization code: %w", err)
	}
	// Minted only once the redemption has committed, as for the device grant.
	return g.Mint(ctx, c, is, u, ac.Nonce)
}

// checkRedemption says what is wrong with redeeming ac as client c with
// the request form f, or "" when nothing is.
func checkRedemption(ac *store.AuthCode, c *store.Client, f oauth.Form) string {
	// RFC 6749 §4.1.3: the code must have been issued to this client. We
	// say no more than for a wrong code, so another client learns nothing.
	if ac.ClientID != c.ID {
		return "the authorization code is invalid"
	}
	// RFC 6749 §4.1.3: redirect_uri is required when the authorization
	// request had one, and must be identical; sent when it was not, it must
	// still be the one the code went to (OpenID Connect Core §3.1.3.2).
	uri, sent := f.Get("redirect_uri"), f.Has("redirect_uri") && f.Get("redirect_uri") != ""
	switch {
	case ac.RedirectURISent && !sent:
		return "redirect_uri is required: the authorization request had one"
	case sent && uri != ac.RedirectURI:
		return "redirect_uri does not match the authorization request"
	}
	verifier := f.Get("code_verifier")
	switch {
	case ac.CodeChallenge == "" && verifier != "":
		// RFC 9700 §4.8.2: a verifier for a code issued without a
		// challenge is a PKCE downgrade attempt (docs/security.md AC-13).
		return "code_verifier was sent, but the authorization request had no code_challenge"
	case ac.CodeChallenge == "" && c.Public():
		// The authorization endpoint issues none such; should one exist,
		// a public client's code without PKCE is anyone's (RFC 9700 §2.1.1).
		return "the authorization code was issued without a code_challenge"
	case ac.CodeChallenge == "":
		return ""
	case verifier == "":
		return "code_verifier is required"
	case ac.CodeChallengeMethod != authorize.MethodS256 || !authorize.VerifyS256(verifier, ac.CodeChallenge):
		// RFC 7636 §4.6; VerifyS256 compares in constant time.
		return "code_verifier does not match the code_challenge"
	}
	return ""
}

// reused revokes the grant a code's first redemption created, since a code
// presented twice is either leaked or replayed (RFC 6749 §4.1.2: the server
// "SHOULD revoke (when possible) all tokens previously issued based on that
// authorization code"; docs/security.md AC-05).
func (g AuthorizationCode) reused(ctx context.Context, grantID, clientID string, now time.Time) error {
	if grantID != "" {
		err := g.Store.RevokeGrant(ctx, grantID, now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("revoke grant of a reused authorization code: %w", err)
		}
		g.Log.WarnContext(ctx, "authorization code used twice; its grant was revoked", "client_id", clientID, "grant_id", grantID)
	}
	return &oauth.Error{Code: oauth.InvalidGrant, Description: "the authorization code was already used"}
}
