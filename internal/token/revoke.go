package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Revoke serves POST /oauth2/revoke (RFC 7009 §2). The client authenticates
// as at the token endpoint (a public client names itself with client_id)
// and names one of its tokens; the grant behind it is revoked, and with it
// every access and refresh token of that grant: RFC 7009 §2.1 lets a
// server revoke the refresh token with an access token and asks it to
// revoke the access tokens with a refresh token, and our tokens are all
// bound to their grant.
//
// The answer is 200 with an empty body whenever the client authenticated
// and sent a token, whether or not the token was valid, known or its own
// (§2.2): a client learns nothing about tokens it does not hold, and
// another client's token is left alone (SECURITY-CHECKLIST RV-01, RV-02).
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
	grantID, err := h.revocableGrant(ctx, tok, c.ID)
	if err != nil {
		return err
	}
	if grantID != "" {
		err := h.Store.RevokeGrant(ctx, grantID, h.Now())
		if err != nil && !errors.Is(err, store.ErrNotFound) { // deleted meanwhile: nothing left to revoke
			return fmt.Errorf("revoke grant: %w", err)
		}
		h.log().InfoContext(ctx, "grant revoked by its client", "client_id", c.ID, "grant_id", grantID)
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusOK)
	return nil
}

// revocableGrant returns the grant of tok if tok is a token we issued to
// clientID, expired or not; "" for anything else.
func (h *Handler) revocableGrant(ctx context.Context, tok, clientID string) (string, error) {
	if strings.HasPrefix(tok, oauth.PrefixRefreshToken) {
		rt, err := h.Store.GetRefreshToken(ctx, oauth.HashSecret(tok))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("load refresh token: %w", err)
		}
		if rt.ClientID != clientID {
			return "", nil
		}
		return rt.GrantID, nil
	}
	claims, err := h.Tokens.Access(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("verify access token: %w", err)
	}
	if claims.ClientID != clientID {
		return "", nil
	}
	return claims.GrantID, nil
}
