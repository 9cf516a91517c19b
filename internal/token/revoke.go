package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// Revoke serves POST /oauth2/revoke (RFC 7009 §2). The client authenticates
// as at the token endpoint (a public client names itself with client_id)
// and names one of its tokens; the grant behind it is revoked, and with it
// every access and refresh token of that grant: RFC 7009 §2.1 lets a
// server revoke the refresh token with an access token and asks it to
// revoke the access tokens with a refresh token, and our tokens are all
// bound to their grant. An access token a client got for itself (client
// credentials) has no grant: that one token is revoked (Live).
//
// The answer is 200 with an empty body whenever the client authenticated
// and sent a token, whether or not the token was valid, known or its own
// (§2.2): a client learns nothing about tokens it does not hold, and
// another client's token is left alone (docs/security.md RV-01, RV-02).
// A failure to store the revocation is an error, never a 200 (RV-06).
func (h *Handler) Revoke(w http.ResponseWriter, r *http.Request) error {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return err
	}
	c, err := h.authenticate(r, f)
	if err != nil {
		return err
	}
	tok := f.Get("token")
	if tok == "" {
		return oauth.BadRequest("token is required")
	}
	// token_type_hint is ignored, as §2.1 allows a server that can tell
	// the types apart itself: refresh tokens carry their prefix and access
	// tokens are JWTs, so an unknown or wrong hint changes nothing (RV-04).
	ctx := r.Context()
	grantID, own, err := h.revocable(ctx, tok, c.ID)
	if err != nil {
		return err
	}
	switch {
	case grantID != "":
		err := h.Store.RevokeGrant(ctx, grantID, h.Now())
		if err != nil && !errors.Is(err, store.ErrNotFound) { // deleted meanwhile: nothing left to revoke
			return fmt.Errorf("revoke grant: %w", err)
		}
		secevent.Log(ctx, h.log(), secevent.Event{Name: secevent.TokenRevoked, Outcome: secevent.Revoked, ClientID: c.ID, GrantID: grantID, Reason: "revoked by its client"})
	case own != nil:
		// Remembered until it would have expired; one already expired
		// needs no record.
		if exp := time.Unix(own.Expiry, 0); exp.After(h.Now()) {
			if err := h.Store.RevokeAccessToken(ctx, own.JTI, c.ID, exp); err != nil {
				return fmt.Errorf("revoke access token: %w", err)
			}
			secevent.Log(ctx, h.log(), secevent.Event{Name: secevent.TokenRevoked, Outcome: secevent.Revoked, ClientID: c.ID, Reason: "access token revoked by its client"})
		}
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusOK)
	return nil
}

// revocable finds what revoking tok means when clientID asks: the grant
// behind it if tok is a token we issued to clientID under a grant, expired
// or not, or the claims of an access token clientID got for itself, which
// has no grant (see Live). Both are empty for anything else.
func (h *Handler) revocable(ctx context.Context, tok, clientID string) (grantID string, own *AccessClaims, err error) {
	if strings.HasPrefix(tok, oauth.PrefixRefreshToken) {
		rt, err := h.Store.GetRefreshToken(ctx, oauth.HashSecret(tok))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("load refresh token: %w", err)
		}
		if rt.ClientID != clientID {
			return "", nil, nil
		}
		return rt.GrantID, nil, nil
	}
	claims, err := h.Tokens.Access(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("verify access token: %w", err)
	}
	switch {
	case claims.ClientID != clientID:
		return "", nil, nil
	case claims.GrantID != "":
		return claims.GrantID, nil, nil
	case claims.Subject == clientID:
		return "", claims, nil
	}
	return "", nil, nil
}
