package token

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
)

// UserInfo is the UserInfo response (OpenID Connect Core §5.3.2): sub, and
// the claims the granted scopes allow (§5.4), as in the ID token.
type UserInfo struct {
	Subject       string `json:"sub"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
}

// realm names the protection space in WWW-Authenticate (RFC 6750 §3).
const realm = `Bearer realm="latchkey"`

// UserInfo serves GET and POST /userinfo (OpenID Connect Core §5.3). The
// access token comes as a bearer token (RFC 6750) in the Authorization
// header (§2.1) or, on a POST, as access_token in a form body (§2.2), and
// must be active as at introspection: verified, in its validity window, its
// grant active and its user able to sign in. Failures are 401 with
// WWW-Authenticate (§3; docs/security.md ID-08); a token without the
// openid scope is 403 insufficient_scope (OIDC Core §5.3: UserInfo is for
// OpenID Connect requests).
func (h *Handler) UserInfo(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return &oauth.Error{Code: oauth.InvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed}
	}
	tok, err := bearerToken(w, r)
	if err != nil {
		return err
	}
	info, err := h.userInfo(r.Context(), tok)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, info)
}

func (h *Handler) userInfo(ctx context.Context, tok string) (*UserInfo, error) {
	claims, err := h.Tokens.Access(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return nil, invalidToken("the access token is not valid")
	}
	if err != nil {
		return nil, fmt.Errorf("verify access token: %w", err)
	}
	now := h.Now()
	if !claims.UsableAt(now) {
		return nil, invalidToken("the access token has expired")
	}
	u, ok, err := Live(ctx, h.Store, claims, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidToken("the access token has been revoked")
	}
	if u == nil || u.ID != claims.Subject {
		// A client acting for itself has no user to describe.
		return nil, invalidToken("the access token is not for a user")
	}
	scopes := strings.Fields(claims.Scope)
	if !slices.Contains(scopes, "openid") {
		return nil, &oauth.Error{Code: oauth.InsufficientScope, Description: "the access token lacks the openid scope",
			Status: http.StatusForbidden, Challenge: realm + `, error="insufficient_scope", scope="openid"`}
	}
	info := &UserInfo{Subject: u.ID} // the ID token's sub (OIDC Core §5.3.2)
	if slices.Contains(scopes, "email") {
		info.Email = u.Email
		v := u.EmailVerified // as in the ID token
		info.EmailVerified = &v
	}
	if slices.Contains(scopes, "profile") {
		info.Name = u.Name
	}
	return info, nil
}

// bearerToken finds the one access token of a request (RFC 6750 §2).
func bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	// §2.3 allows the query only where nothing else works, and URLs end up
	// in logs and Referer headers: refused here.
	if r.URL.Query().Has("access_token") {
		return "", bearerRequestError("the access token must not be sent in the URL")
	}
	var fromHeader, fromBody string
	switch hs := r.Header.Values("Authorization"); len(hs) {
	case 0:
	case 1:
		scheme, value, _ := strings.Cut(hs[0], " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", noToken() // another scheme carries no bearer token
		}
		fromHeader = strings.TrimSpace(value)
		if fromHeader == "" || strings.ContainsAny(fromHeader, " \t") {
			return "", bearerRequestError("the Authorization header is malformed")
		}
	default:
		return "", bearerRequestError("more than one Authorization header")
	}
	// §2.2: a form body only on a POST of application/x-www-form-urlencoded;
	// any other body is not ours to read.
	if r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
			f, err := oauth.ParseForm(w, r)
			if err != nil {
				var oe *oauth.Error
				if errors.As(err, &oe) { // 400, or 413 for a body too large
					oe.Challenge = realm + `, error="invalid_request"`
				}
				return "", err
			}
			fromBody = f.Get("access_token")
			if f.Has("access_token") && fromBody == "" {
				return "", bearerRequestError("access_token is empty")
			}
		}
	}
	switch {
	case fromHeader != "" && fromBody != "":
		// §2: a client must not use more than one method.
		return "", bearerRequestError("the access token was sent in more than one way")
	case fromHeader != "":
		return fromHeader, nil
	case fromBody != "":
		return fromBody, nil
	}
	return "", noToken()
}

// noToken is the answer to a request without a bearer token: 401 with a
// challenge and no error code in it (RFC 6750 §3.1).
func noToken() *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidToken, Description: "an access token is required",
		Status: http.StatusUnauthorized, Challenge: realm}
}

// invalidToken is 401 invalid_token (RFC 6750 §3.1).
func invalidToken(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidToken, Description: description,
		Status: http.StatusUnauthorized, Challenge: realm + `, error="invalid_token"`}
}

// bearerRequestError is 400 invalid_request (RFC 6750 §3.1).
func bearerRequestError(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidRequest, Description: description,
		Status: http.StatusBadRequest, Challenge: realm + `, error="invalid_request"`}
}
