package token

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Introspection is the introspection response (RFC 7662 §2.2). An inactive
// token is exactly {"active":false}: §2.2 says to add nothing that would
// tell an unknown token from a revoked or expired one (docs/security.md
// IN-02).
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	TokenType string `json:"token_type,omitempty"` // "Bearer" or "refresh_token"
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  string `json:"aud,omitempty"`
	JTI       string `json:"jti,omitempty"`
	GrantID   string `json:"grant_id,omitempty"`
	// Confirmation is a DPoP-bound token's key (RFC 9449 §6.2), whose
	// token_type is then DPoP.
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Introspect serves POST /oauth2/introspect (RFC 7662). Only confidential
// clients may ask: §2.1 requires the caller to be authorized, and a public
// client proves nothing about who it is, so anyone could scan tokens
// through it (§4; docs/security.md IN-01). An access token is active if
// it verifies, its validity window holds, and Live says so;
// a refresh token if it is unused, unexpired and its grant active, and the
// caller is the client it was issued to (§4 lets the server limit what a
// caller learns; a refresh token is only ever its own client's business).
//
// A device client of an organization (one enrolled by invitation: there may
// be thousands, each holding a secret) learns only about its own access
// tokens; any other is {"active":false} to it (docs/security.md IN-02).
// Resource servers that check other clients' tokens are clients an admin
// registered, outside any organization.
func (h *Handler) Introspect(w http.ResponseWriter, r *http.Request) error {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return err
	}
	c, err := h.authenticate(r, f)
	if err != nil {
		return err
	}
	if c.Public() {
		return oauth.ClientAuthFailed()
	}
	// A per-caller limit (RFC 7662 §4; docs/security.md IN-04), counted
	// once the caller has authenticated, so nobody else can spend it.
	ok, retry, err := h.IntrospectLimit.Take(r.Context(), "introspect:client:"+c.ID, h.Now())
	if err != nil {
		return fmt.Errorf("introspection rate limit: %w", err)
	}
	if !ok {
		return &oauth.Error{Code: oauth.SlowDown, Description: "too many introspection requests from this client; try again later",
			Status: http.StatusTooManyRequests, RetryAfter: int(retry / time.Second)}
	}
	tok := f.Get("token")
	if tok == "" {
		return oauth.BadRequest("token is required")
	}
	// token_type_hint is ignored, as for revocation: the token's shape says
	// which kind it is (RFC 7662 §2.1 makes the hint optional for the server).
	var resp *Introspection
	if strings.HasPrefix(tok, oauth.PrefixRefreshToken) {
		resp, err = h.introspectRefresh(r.Context(), tok, c)
	} else {
		resp, err = h.introspectAccess(r.Context(), tok)
		if resp != nil && c.OrgID != "" && resp.ClientID != c.ID {
			resp = nil
		}
	}
	if err != nil {
		return err
	}
	if resp == nil {
		resp = &Introspection{} // {"active":false}
	}
	return oauth.WriteJSON(w, http.StatusOK, resp)
}

// IntrospectAccess is what introspection says of access token tok to a
// caller that may learn about any token (the service API's
// /auth/introspection, whose caller holds a service key): nil when the
// token is not active.
func (h *Handler) IntrospectAccess(ctx context.Context, tok string) (*Introspection, error) {
	return h.introspectAccess(ctx, tok)
}

// introspectAccess answers for a JWT access token; nil when inactive.
func (h *Handler) introspectAccess(ctx context.Context, tok string) (*Introspection, error) {
	claims, err := h.Tokens.Access(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify access token: %w", err)
	}
	now := h.Now()
	if !claims.UsableAt(now) {
		return nil, nil
	}
	if _, ok, err := Live(ctx, h.Store, claims, now); err != nil || !ok {
		return nil, err
	}
	tokenType := TypeBearer
	if claims.Confirmation != nil {
		tokenType = TypeDPoP
	}
	return &Introspection{
		Active:       true,
		Confirmation: claims.Confirmation,
		Scope:        claims.Scope,
		ClientID:     claims.ClientID,
		Subject:      claims.Subject,
		TokenType:    tokenType,
		Expiry:       claims.Expiry,
		IssuedAt:     claims.IssuedAt,
		NotBefore:    claims.NotBefore,
		Issuer:       claims.Issuer,
		Audience:     claims.Audience,
		JTI:          claims.JTI,
		GrantID:      claims.GrantID,
	}, nil
}

// introspectRefresh answers for a refresh token asked about by caller; nil
// when inactive.
func (h *Handler) introspectRefresh(ctx context.Context, tok string, caller *store.Client) (*Introspection, error) {
	rt, err := h.Store.GetRefreshToken(ctx, oauth.HashSecret(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load refresh token: %w", err)
	}
	now := h.Now()
	// Used means rotated: its successor is the live one (RFC 9700 §4.14.2).
	if rt.ClientID != caller.ID || !rt.UsedAt.IsZero() || (!rt.ExpiresAt.IsZero() && !now.Before(rt.ExpiresAt)) {
		return nil, nil
	}
	g, _, ok, err := liveGrant(ctx, h.Store, rt.GrantID, rt.ClientID, now)
	if err != nil || !ok {
		return nil, err
	}
	sub := cmp.Or(g.UserID, g.Subject, g.ClientID) // a client acting for itself: its id, as in its access tokens
	resp := &Introspection{
		Active:    true,
		Scope:     oauth.JoinScope(rt.Scopes),
		ClientID:  rt.ClientID,
		Subject:   sub,
		TokenType: "refresh_token",
		IssuedAt:  unix(rt.CreatedAt),
		Issuer:    h.Tokens.Issuer,
		GrantID:   rt.GrantID,
	}
	if !rt.ExpiresAt.IsZero() {
		resp.Expiry = rt.ExpiresAt.Unix()
	}
	return resp, nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
