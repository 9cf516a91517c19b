package org

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// bearerRealm names the protection space in WWW-Authenticate (RFC 6750 §3).
const bearerRealm = `Bearer realm="latchkey"`

// invalidToken is RFC 6750 §3.1's answer to a bearer token we do not accept.
func invalidToken(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidToken, Description: description, Status: http.StatusUnauthorized,
		Challenge: bearerRealm + `, error="invalid_token"`}
}

// bearer returns the request's bearer token (RFC 6750 §2.1), "" when it
// sent no Authorization header. A malformed one is invalid_token.
func bearer(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", nil
	}
	scheme, tok, _ := strings.Cut(values[0], " ")
	tok = strings.TrimSpace(tok)
	if len(values) != 1 || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > maxBearerTokenSize {
		return "", invalidToken("send one access token as Authorization: Bearer TOKEN")
	}
	return tok, nil
}

// verify checks one of our access tokens (token.Verifier.Access: the
// signature, the type (RFC 9068 §2.1), issuer and audience), its lifetime,
// and that it may still be used (token.Live: its grant still active, or for
// a device's own token its client still there and the token not revoked),
// so that a revoked token stops working at once. It returns the claims and
// the user the token acts for, nil for a device acting for itself.
func (s *Service) verify(ctx context.Context, raw string) (*token.AccessClaims, *store.User, error) {
	v := token.Verifier{Keys: s.Keys, Issuer: s.Issuer, Audience: s.Audience, Now: s.now}
	c, err := v.Access(ctx, raw)
	if errors.Is(err, token.ErrInvalid) {
		return nil, nil, invalidToken("the access token is not valid")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("verify access token: %w", err)
	}
	now := s.now()
	if !c.UsableAt(now) {
		return nil, nil, invalidToken("the access token has expired")
	}
	u, ok, err := token.Live(ctx, s.Store, c, now)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, invalidToken("the access token has been revoked")
	}
	return c, u, nil
}

// DeviceFrom returns the device an accept request proves it is: nil when
// it sent no access token (a new device), else the client whose client
// credentials token it is. Any other token is invalid_token.
func (s *Service) DeviceFrom(r *http.Request) (*Device, error) {
	raw, err := bearer(r)
	if err != nil || raw == "" {
		return nil, err
	}
	c, u, err := s.verify(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if u != nil || c.Subject != c.ClientID {
		// A user's token speaks for the user, not for a device.
		return nil, invalidToken("send the device's own access token (client credentials)")
	}
	return &Device{ClientID: c.ClientID}, nil
}

// ScopeInvitations is the scope a user's access token needs to send,
// read, resend or revoke invitations: being an organization's admin is not
// enough on its own, or any app the admin signs in to (a TV, say) could
// enrol devices into the organization's groups, or read where its
// invitations went, with the token it holds (docs/security.md INV-09). The
// admin's app asks for it, and its client must be allowed it.
const ScopeInvitations = "invitations"

// AuthorizeAdmin authorizes a request about orgID's invitations (sending,
// reading, resending, revoking): the admin token, or an access token with
// ScopeInvitations of a user who is an admin of orgID. It returns who acts
// (InvitedByAdmin or the user's id). Everyone else learns nothing, not even
// whether orgID exists.
func (s *Service) AuthorizeAdmin(r *http.Request, orgID string) (string, error) {
	ctx := r.Context()
	raw, err := bearer(r)
	if err != nil {
		return "", err
	}
	if raw == "" {
		// RFC 6750 §3.1: no error code when the request had no credentials.
		return "", &oauth.Error{Code: oauth.InvalidToken, Description: "an organization admin's access token is required",
			Status: http.StatusUnauthorized, Challenge: bearerRealm}
	}
	if s.AdminToken != "" && tokenMatches(raw, s.AdminToken) {
		return InvitedByAdmin, nil
	}
	c, u, err := s.verify(ctx, raw)
	if err != nil {
		return "", err
	}
	if u == nil {
		return "", forbidden("only an admin of the organization may manage its invitations; this token is a device's")
	}
	if !slices.Contains(strings.Fields(c.Scope), ScopeInvitations) {
		// RFC 6750 §3.1: the token is good, its scope too narrow.
		return "", &oauth.Error{Code: oauth.InsufficientScope, Status: http.StatusForbidden,
			Description: "managing invitations needs an access token with the scope " + ScopeInvitations,
			Challenge:   bearerRealm + `, error="insufficient_scope", scope="` + ScopeInvitations + `"`}
	}
	m, err := s.Store.GetOrgMember(ctx, orgID, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Role != store.RoleAdmin) {
		// The same answer whether or not the organization exists.
		return "", forbidden("only an admin of the organization may manage its invitations")
	}
	if err != nil {
		return "", fmt.Errorf("load membership: %w", err)
	}
	return u.ID, nil
}

// tokenMatches compares in constant time; hashing first hides the length too.
func tokenMatches(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
