package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
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
	tok, scheme, err := accessToken(w, r)
	if err != nil {
		return err
	}
	info, err := h.userInfo(r.Context(), tok, func(c *AccessClaims) error { return h.checkBinding(w, r, tok, scheme, c) })
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, info)
}

func (h *Handler) userInfo(ctx context.Context, tok string, binding func(*AccessClaims) error) (any, error) {
	claims, err := h.Tokens.Access(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return nil, invalidToken("the access token is not valid")
	}
	if err != nil {
		return nil, fmt.Errorf("verify access token: %w", err)
	}
	if err := binding(claims); err != nil {
		return nil, err
	}
	now := h.Now()
	if !claims.UsableAt(now) {
		return nil, invalidToken("the access token has expired")
	}
	g, u, ok, err := LiveGrant(ctx, h.Store, claims, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidToken("the access token has been revoked")
	}
	external := u == nil && g != nil && g.UserID == "" && g.Subject != "" && g.Subject == claims.Subject
	if !external && (u == nil || u.ID != claims.Subject) {
		// A client acting for itself has no user to describe.
		return nil, invalidToken("the access token is not for a user")
	}
	scopes := strings.Fields(claims.Scope)
	if !slices.Contains(scopes, "openid") {
		return nil, &oauth.Error{Code: oauth.InsufficientScope, Description: "the access token lacks the openid scope",
			Status: http.StatusForbidden, Challenge: realm + `, error="insufficient_scope", scope="openid"`}
	}
	if external {
		return externalInfo(g)
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

// externalInfo is the UserInfo of a front end's subject (the service
// API's device/complete): sub, and the claims the front end gave with its
// decision, as its ID tokens carry them; Latchkey holds nothing else about
// that person.
func externalInfo(g *store.Grant) (map[string]any, error) {
	out := map[string]any{}
	if g.Claims != "" {
		if err := json.Unmarshal([]byte(g.Claims), &out); err != nil || out == nil {
			return nil, fmt.Errorf("the grant's claims are not a JSON object: %v", err)
		}
		for _, name := range ReservedClaims {
			delete(out, name)
		}
	}
	out["sub"] = g.Subject
	return out, nil
}

// Authorization schemes an access token comes with.
const (
	schemeBearer = "Bearer" // RFC 6750
	schemeDPoP   = "DPoP"   // RFC 9449 §7.1
)

// checkBinding holds a token to its key (RFC 9449 §7): a DPoP-bound token
// only with the DPoP scheme and a proof, for this request and this token
// (ath), signed with the key its cnf.jkt names; a bearer token only as a
// bearer token, so that no resource accepts a bound token without a proof.
func (h *Handler) checkBinding(w http.ResponseWriter, r *http.Request, tok, scheme string, c *AccessClaims) error {
	bound := c.Confirmation != nil && c.Confirmation.JKT != ""
	switch {
	case scheme != schemeDPoP && bound:
		return invalidToken("the access token is DPoP-bound: send it with the DPoP scheme and a proof")
	case scheme != schemeDPoP:
		return nil // a proof beside a bearer token proves nothing, and is ignored
	case !bound:
		return dpopError(dpop.InvalidProof, "the access token is not DPoP-bound: send it as a bearer token")
	case h.DPoP == nil:
		return dpopError(dpop.InvalidProof, "DPoP is not supported here")
	}
	if h.DPoP.Nonces != nil {
		w.Header().Set(dpop.NonceHeader, h.DPoP.Nonces.Current(h.DPoP.Now()))
	}
	proof, err := h.DPoP.Check(r.Context(), r, dpop.Target{Method: r.Method, URL: h.Issuer + r.URL.Path, AccessToken: tok})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return dpopError(oe.Code, oe.Description)
	}
	if err != nil {
		return err
	}
	if proof == nil {
		return dpopError(dpop.InvalidProof, "a DPoP-bound access token needs a DPoP proof")
	}
	if proof.JKT != c.Confirmation.JKT {
		return dpopError(dpop.InvalidProof, "the DPoP proof is not signed with the key the access token is bound to")
	}
	return nil
}

// dpopError is a resource's 401 for a DPoP request (RFC 9449 §7.1, §9):
// the DPoP challenge, with the algorithms proofs may use.
func dpopError(code, description string) *oauth.Error {
	return &oauth.Error{Code: code, Description: description, Status: http.StatusUnauthorized,
		Challenge: `DPoP realm="latchkey", error="` + code + `", algs="` + strings.Join(dpop.Algorithms, " ") + `"`}
}

// accessToken finds the one access token of a request (RFC 6750 §2, and
// RFC 9449 §7.1's DPoP scheme) and the scheme it came with.
func accessToken(w http.ResponseWriter, r *http.Request) (string, string, error) {
	scheme := schemeBearer
	if hs := r.Header.Values("Authorization"); len(hs) == 1 {
		if s, v, _ := strings.Cut(hs[0], " "); strings.EqualFold(s, schemeDPoP) {
			v = strings.TrimSpace(v)
			if v == "" || strings.ContainsAny(v, " \t") {
				return "", "", bearerRequestError("the Authorization header is malformed")
			}
			return v, schemeDPoP, nil
		}
	}
	tok, err := bearerToken(w, r)
	return tok, scheme, err
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
