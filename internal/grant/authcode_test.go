package grant

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/token"
)

// The example of RFC 7636 Appendix B.
const (
	verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// codeDeps are newDeps plus the clients of the authorization code grant: a
// confidential web app and a public native app, and "tv", which lacks the
// grant.
func codeDeps(t *testing.T) (*Deps, store.Store) {
	t.Helper()
	st := sqlitetest.Open(t)
	d := newDeps(t, st)
	for _, c := range []*store.Client{
		{ID: "web", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret("web-secret"),
			GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
			RedirectURIs: []string{"https://web.example/cb"}, Scopes: []string{"openid", "email", "offline_access"}},
		{ID: "app", AuthMethod: store.AuthNone, GrantTypes: []string{store.GrantAuthorizationCode},
			RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"openid", "offline_access"}},
	} {
		mustDo(t, st.CreateClient(t.Context(), c))
	}
	return d, st
}

// newCode stores a code for client, approved by "ada" a minute before t0,
// and returns it. edit may change the record first.
func newCode(t *testing.T, st store.Store, client string, edit func(*store.AuthCode)) string {
	t.Helper()
	code := oauth.PrefixAuthCode + rand.Text()
	ac := &store.AuthCode{
		Hash: oauth.HashSecret(code), ClientID: client, UserID: "ada",
		RedirectURI: "https://web.example/cb", RedirectURISent: true,
		Scopes: []string{"openid", "email", "offline_access"}, Nonce: "nonce-1",
		CodeChallenge: challenge, CodeChallengeMethod: "S256",
		AuthTime: t0.Add(-time.Minute), SessionHash: "session-1",
		CreatedAt: t0.Add(-time.Second), ExpiresAt: t0.Add(59 * time.Second),
	}
	if client == "app" {
		ac.RedirectURI, ac.Scopes = "http://127.0.0.1:4321/cb", []string{"openid"}
	}
	if edit != nil {
		edit(ac)
	}
	mustDo(t, st.CreateAuthCode(t.Context(), ac))
	return code
}

func redeem(t *testing.T, d *Deps, st store.Store, creds oauth.ClientCredentials, form oauth.Form) (*token.Response, error) {
	t.Helper()
	form["grant_type"] = store.GrantAuthorizationCode
	return AuthorizationCode{Deps: d, Store: st}.Exchange(t.Context(), &Request{Form: form, Creds: creds})
}

var webCreds = oauth.ClientCredentials{ID: "web", Secret: "web-secret", Basic: true}

// claims decodes a JWT's payload without checking it (package token's
// tests do that).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	mustDo(t, json.Unmarshal(b, &m))
	return m
}

func TestAuthorizationCode(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	code := newCode(t, st, "web", nil)
	resp, err := redeem(t, d, st, webCreds, oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier})
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if resp.AccessToken == "" || resp.RefreshToken == "" || resp.IDToken == "" || resp.TokenType != "Bearer" ||
		resp.Scope != "openid email offline_access" || resp.RefreshableUntil == 0 || resp.IssuedAt != t0.Unix() {
		t.Errorf("response = %+v", resp)
	}
	id := claims(t, resp.IDToken)
	if id["nonce"] != "nonce-1" || id["auth_time"] != float64(t0.Add(-time.Minute).Unix()) || id["aud"] != "web" ||
		id["sub"] != "ada" || id["email"] != "ada@example.com" {
		t.Errorf("ID token claims = %v", id)
	}
	rt, err := st.GetRefreshToken(t.Context(), oauth.HashSecret(resp.RefreshToken))
	mustDo(t, err)
	g, err := st.GetGrant(t.Context(), rt.GrantID)
	mustDo(t, err)
	if g.ClientID != "web" || g.UserID != "ada" || !g.AuthTime.Equal(t0.Add(-time.Minute)) || g.SessionHash != "session-1" {
		t.Errorf("grant = %+v", g)
	}

	// The refresh token works like any other (RFC 6749 §6).
	next, err := Refresh{Deps: d, Store: st}.Exchange(t.Context(), &Request{
		Form: oauth.Form{"grant_type": store.GrantRefreshToken, "refresh_token": resp.RefreshToken}, Creds: webCreds})
	if err != nil || next.RefreshToken == "" {
		t.Fatalf("refresh: %+v, %v", next, err)
	}
	if again := claims(t, next.IDToken); again["auth_time"] != id["auth_time"] || again["sub"] != "ada" {
		t.Errorf("ID token from refresh = %v; want the same sub and auth_time (OIDC Core §12.2)", again)
	}

	// The client registered client_secret_basic: its secret in the body
	// (client_secret_post) is refused before the code is looked at
	// (docs/security.md CA-02).
	code = newCode(t, st, "web", func(ac *store.AuthCode) { ac.Scopes = []string{"openid"}; ac.Nonce = "" })
	_, err = redeem(t, d, st, oauth.ClientCredentials{ID: "web", Secret: "web-secret"},
		oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier})
	if oe, ok := err.(*oauth.Error); !ok || oe.Code != oauth.InvalidClient {
		t.Fatalf("Exchange with client_secret_post for a client_secret_basic client = %v; want invalid_client", err)
	}
	// The same code still works the registered way, and a client without
	// offline_access gets no refresh token.
	resp, err = redeem(t, d, st, oauth.ClientCredentials{ID: "web", Secret: "web-secret", Basic: true},
		oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier})
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if resp.RefreshToken != "" || resp.RefreshableUntil != 0 {
		t.Errorf("refresh token without offline_access: %+v", resp)
	}
	if _, ok := claims(t, resp.IDToken)["nonce"]; ok {
		t.Errorf("ID token has a nonce the request did not send")
	}

	// A public client: no secret, PKCE.
	code = newCode(t, st, "app", nil)
	resp, err = redeem(t, d, st, oauth.ClientCredentials{ID: "app"},
		oauth.Form{"code": code, "redirect_uri": "http://127.0.0.1:4321/cb", "code_verifier": verifier})
	if err != nil || resp.RefreshToken != "" {
		t.Fatalf("public client: %+v, %v; want tokens without a refresh token (no refresh_token grant)", resp, err)
	}
}

// TestAuthorizationCodeRefused: what is wrong gets invalid_grant (or the
// client error it is), and a code that was checked and failed is spent.
func TestAuthorizationCodeRefused(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	good := oauth.Form{"redirect_uri": "https://web.example/cb", "code_verifier": verifier}
	for _, tt := range []struct {
		name      string
		client    string
		code      func(*store.AuthCode)
		creds     oauth.ClientCredentials
		form      oauth.Form // added to good; "" deletes
		wantCode  string
		wantSpent bool // the code cannot be redeemed afterwards
	}{
		{name: "wrong verifier", form: oauth.Form{"code_verifier": strings.Repeat("a", 43)}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "verifier too long", form: oauth.Form{"code_verifier": strings.Repeat("a", 129)}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "challenge as verifier", form: oauth.Form{"code_verifier": challenge}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "no verifier", form: oauth.Form{"code_verifier": ""}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "verifier without a challenge (downgrade)", code: func(ac *store.AuthCode) { ac.CodeChallenge, ac.CodeChallengeMethod = "", "" },
			wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "redirect_uri omitted", form: oauth.Form{"redirect_uri": ""}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "redirect_uri differs", form: oauth.Form{"redirect_uri": "https://web.example/cb/"}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "redirect_uri differs from the one used without sending it", code: func(ac *store.AuthCode) { ac.RedirectURISent = false },
			form: oauth.Form{"redirect_uri": "https://web.example/other"}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "another client's code", creds: oauth.ClientCredentials{ID: "app"}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "public client's code without a challenge", client: "app", creds: oauth.ClientCredentials{ID: "app"},
			code: func(ac *store.AuthCode) { ac.CodeChallenge, ac.CodeChallengeMethod = "", "" },
			form: oauth.Form{"code_verifier": "", "redirect_uri": "http://127.0.0.1:4321/cb"}, wantCode: oauth.InvalidGrant, wantSpent: true},
		{name: "expired", code: func(ac *store.AuthCode) { ac.ExpiresAt = t0 }, wantCode: oauth.InvalidGrant},
		{name: "wrong secret", creds: oauth.ClientCredentials{ID: "web", Secret: "nope", Basic: true}, wantCode: oauth.InvalidClient},
		{name: "confidential client without its secret", creds: oauth.ClientCredentials{ID: "web"}, wantCode: oauth.InvalidClient},
		{name: "client without the grant", creds: oauth.ClientCredentials{ID: "tv"}, wantCode: oauth.UnauthorizedClient},
		{name: "no code", form: oauth.Form{"code": ""}, wantCode: oauth.InvalidRequest},
		{name: "unknown code", form: oauth.Form{"code": "lk_ac_nope"}, wantCode: oauth.InvalidGrant},
		{name: "code with NUL", form: oauth.Form{"code": "lk_ac_\x00"}, wantCode: oauth.InvalidGrant},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := tt.client
			if client == "" {
				client = "web"
			}
			code := newCode(t, st, client, tt.code)
			form := oauth.Form{"code": code}
			for k, v := range good {
				form[k] = v
			}
			for k, v := range tt.form {
				if v == "" {
					delete(form, k)
				} else {
					form[k] = v
				}
			}
			creds := webCreds
			if tt.creds.ID != "" {
				creds = tt.creds
			}
			_, err := redeem(t, d, st, creds, form)
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != tt.wantCode {
				t.Fatalf("Exchange = %v; want %s", err, tt.wantCode)
			}
			ac, err := st.GetAuthCode(t.Context(), oauth.HashSecret(code))
			mustDo(t, err)
			if spent := !ac.UsedAt.IsZero(); spent != tt.wantSpent {
				t.Errorf("code spent = %v; want %v", spent, tt.wantSpent)
			}
		})
	}
}

// TestAuthorizationCodeReplay: a code redeemed twice gets invalid_grant the
// second time, and what the first redemption got is revoked (RFC 6749
// §4.1.2; docs/security.md AC-05).
func TestAuthorizationCodeReplay(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	code := newCode(t, st, "web", nil)
	form := oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier}
	first, err := redeem(t, d, st, webCreds, form)
	mustDo(t, err)
	d.Now = func() time.Time { return t0.Add(30 * time.Second) }
	_, err = redeem(t, d, st, webCreds, form)
	wantInvalidGrant(t, "second redemption", err)
	rt, err := st.GetRefreshToken(t.Context(), oauth.HashSecret(first.RefreshToken))
	mustDo(t, err)
	g, err := st.GetGrant(t.Context(), rt.GrantID)
	mustDo(t, err)
	if g.RevokedAt.IsZero() {
		t.Errorf("the first redemption's grant is still active after a replay")
	}
	_, err = Refresh{Deps: d, Store: st}.Exchange(t.Context(), &Request{
		Form: oauth.Form{"grant_type": store.GrantRefreshToken, "refresh_token": first.RefreshToken}, Creds: webCreds})
	wantInvalidGrant(t, "refresh with the first redemption's token", err)
}

func TestAuthorizationCodeDisabledUser(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	code := newCode(t, st, "web", nil)
	u, err := st.GetUser(t.Context(), "ada")
	mustDo(t, err)
	u.Disabled = true
	mustDo(t, st.UpdateUser(t.Context(), u))
	_, err = redeem(t, d, st, webCreds, oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier})
	wantInvalidGrant(t, "redemption for a disabled user", err)
}

// TestRefreshDisabledUser: a user disabled after the grant can no longer
// refresh it (DF-17), and the token is not rotated by the attempt.
func TestRefreshDisabledUser(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	code := newCode(t, st, "web", nil)
	first, err := redeem(t, d, st, webCreds, oauth.Form{"code": code, "redirect_uri": "https://web.example/cb", "code_verifier": verifier})
	mustDo(t, err)
	u, err := st.GetUser(t.Context(), "ada")
	mustDo(t, err)
	u.Disabled = true
	mustDo(t, st.UpdateUser(t.Context(), u))
	refresh := func() error {
		_, err := Refresh{Deps: d, Store: st}.Exchange(t.Context(), &Request{
			Form: oauth.Form{"grant_type": store.GrantRefreshToken, "refresh_token": first.RefreshToken}, Creds: webCreds})
		return err
	}
	wantInvalidGrant(t, "refresh for a disabled user", refresh())
	u.Disabled = false
	mustDo(t, st.UpdateUser(t.Context(), u))
	if err := refresh(); err != nil {
		t.Errorf("refresh once the user is enabled again: %v; want the unrotated token to work", err)
	}
}
