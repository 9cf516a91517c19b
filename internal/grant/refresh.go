package grant

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Refresh is the refresh token grant (RFC 6749 §6) with rotation: every use
// returns a new refresh token, and presenting a used one revokes the whole
// grant, since either the client or an attacker holds a stolen copy
// (RFC 9700 §4.14.2).
type Refresh struct{ *Deps }

// Exchange rotates a refresh token.
func (g Refresh) Exchange(ctx context.Context, req *Request) (*token.Response, error) {
	rt := req.Form.Get("refresh_token")
	if rt == "" {
		return nil, oauth.BadRequest("refresh_token is required")
	}
	c, err := g.authenticate(ctx, req.Creds, store.GrantRefreshToken)
	if err != nil {
		return nil, err
	}
	invalid := &oauth.Error{Code: oauth.InvalidGrant, Description: "the refresh token is invalid, expired or revoked"}
	hash := oauth.HashSecret(rt)
	fam, err := g.Store.GetRefreshGrant(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, fmt.Errorf("load refresh token: %w", err)
	}
	old, gr := fam.Token, fam.Grant
	if old.ClientID != c.ID {
		// Bound to the client it was issued to (RFC 6749 §6); another
		// client presenting it learns nothing and changes nothing.
		return nil, invalid
	}
	scopes := old.Scopes
	if s := req.Form.Get("scope"); s != "" {
		asked, err := oauth.ParseScope(s)
		if err != nil {
			return nil, err
		}
		if missing, ok := oauth.ScopeSubset(asked, old.Scopes); !ok {
			return nil, &oauth.Error{Code: oauth.InvalidScope, Description: "scope " + missing + " was not granted"}
		}
		scopes = asked
	}
	now := g.Now()
	// Whether the token may be used at all is decided before rotating it, so
	// a revoked grant's token, or an expired one, is never rotated.
	if !gr.Active(now) || !now.Before(old.ExpiresAt) {
		return nil, invalid
	}
	u := fam.User
	if gr.UserID != "" && (u == nil || u.Disabled) {
		// SECURITY-CHECKLIST DF-17: the user's status is checked at every
		// use, not only at approval.
		return nil, userGone()
	}
	next, nextRecord, err := g.newRefresh(gr, old.Scopes, now)
	if err != nil {
		return nil, err
	}
	// One transaction marks the old token used and stores the next, so a
	// database lost halfway leaves the old one working, never neither.
	_, err = g.Store.RotateRefreshToken(ctx, hash, nextRecord, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Used already: either the client or an attacker holds a stolen copy.
		if err := g.Store.RevokeGrant(ctx, old.GrantID, now); err != nil {
			return nil, fmt.Errorf("revoke grant on refresh token reuse: %w", err)
		}
		g.Log.WarnContext(ctx, "refresh token reused; its grant was revoked", "client_id", c.ID, "grant_id", old.GrantID)
		return nil, invalid
	case errors.Is(err, store.ErrNotFound):
		return nil, invalid
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return g.Minter.Mint(ctx, token.Issue{Grant: gr, User: u, Scopes: scopes, Refresh: next})
}
