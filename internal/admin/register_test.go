package admin

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// registration is a fixture's dynamic registration, on its store, with an
// initial access token of uses uses.
type registration struct {
	*fixture
	reg   *Registration
	rmux  *http.ServeMux
	token string // an initial access token
	now   time.Time
}

func newRegistration(t *testing.T, uses int) *registration {
	t.Helper()
	f := newFixture(t)
	r := &registration{fixture: f, now: t0}
	r.reg = &Registration{
		Store: f.store, Issuer: "https://id.example", Enabled: true,
		Scopes:     []string{"openid", "profile", "offline_access", "telemetry"},
		GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken, store.GrantAuthorizationCode, store.GrantClientCredentials},
		Now:        func() time.Time { return r.now }, Rand: rand.Reader,
	}
	r.rmux = http.NewServeMux()
	ew := oauth.ErrorWriter{Unavailable: store.ErrUnavailable}
	r.rmux.Handle(RegistrationPath, ew.Handle(r.reg.Register))
	r.rmux.Handle(RegistrationPath+"/{client_id}", ew.Handle(r.reg.Client))
	w := f.do(t, "POST", "/admin/v1/registration-tokens", fmt.Sprintf(`{"uses":%d,"description":"batch 7"}`, uses))
	if w.Code != 201 {
		t.Fatalf("create registration token: %d %s", w.Code, w.Body)
	}
	r.token = decode[RegistrationToken](t, w).Token
	return r
}

// send makes one registration request with bearer (none when "").
func (r *registration) send(t *testing.T, method, path, bearer, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.RemoteAddr = "192.0.2.7:5000"
	w := httptest.NewRecorder()
	r.rmux.ServeHTTP(w, req)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, got)
	}
	if w.Code >= 500 {
		t.Errorf("%s %s: status %d, body %s", method, path, w.Code, w.Body)
	}
	return w
}

func TestRegisterAndManage(t *testing.T) {
	t.Parallel()
	r := newRegistration(t, 1)
	w := r.send(t, "POST", RegistrationPath, r.token, `{"client_name":"TV 0042","grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],
		"token_endpoint_auth_method":"none","scope":"openid offline_access","logo_uri":"https://tv.example/logo.png","software_id":"tv-os"}`)
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	got := decode[ClientMetadata](t, w)
	if got.ClientID == "" || got.ClientSecret != "" || got.ClientSecretExpiresAt != nil ||
		!strings.HasPrefix(got.RegistrationAccessToken, oauth.PrefixRegistrationAccess) ||
		got.RegistrationClientURI != "https://id.example/oauth2/register/"+got.ClientID ||
		w.Header().Get("Location") != got.RegistrationClientURI || got.Scope != "openid offline_access" ||
		got.ClientIDIssuedAt != t0.Unix() {
		t.Errorf("registered: %+v", got)
	}
	c, err := r.store.GetClient(t.Context(), got.ClientID)
	if err != nil || c.Name != "TV 0042" || !c.Public() || !c.HasGrant(store.GrantDeviceCode) {
		t.Fatalf("stored client %+v, %v", c, err)
	}
	// The one use is spent.
	w = r.send(t, "POST", RegistrationPath, r.token, `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`)
	wantError(t, w, 401, oauth.InvalidToken, "used up")

	uri := RegistrationPath + "/" + got.ClientID
	rat := got.RegistrationAccessToken
	w = r.send(t, "GET", uri, rat, "")
	if w.Code != 200 || decode[ClientMetadata](t, w).ClientName != "TV 0042" || decode[ClientMetadata](t, w).RegistrationAccessToken != "" {
		t.Errorf("read: %d %s", w.Code, w.Body)
	}
	// RFC 7592 §2.2: a replacement; public to confidential gets a secret.
	w = r.send(t, "PUT", uri, rat, `{"client_id":"`+got.ClientID+`","client_name":"TV 0042b","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"telemetry"}`)
	upd := decode[ClientMetadata](t, w)
	if w.Code != 200 || upd.ClientName != "TV 0042b" || !strings.HasPrefix(upd.ClientSecret, oauth.PrefixClientSecret) ||
		upd.ClientSecretExpiresAt == nil || *upd.ClientSecretExpiresAt != 0 {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	// The update brought a new registration access token; the old one
	// manages nothing now.
	if !strings.HasPrefix(upd.RegistrationAccessToken, oauth.PrefixRegistrationAccess) || upd.RegistrationAccessToken == rat {
		t.Fatalf("update: registration_access_token %q, want a new one", upd.RegistrationAccessToken)
	}
	wantError(t, r.send(t, "GET", uri, rat, ""), 401, oauth.InvalidToken, "")
	rat = upd.RegistrationAccessToken
	// A client_secret sent back must be the current one.
	w = r.send(t, "PUT", uri, rat, `{"client_id":"`+got.ClientID+`","client_secret":"lk_cs_guess","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"telemetry"}`)
	wantError(t, w, 400, invalidClientMetadata, "client_secret")
	w = r.send(t, "PUT", uri, rat, `{"client_id":"`+got.ClientID+`","client_secret":"`+upd.ClientSecret+`","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"telemetry"}`)
	if w.Code != 200 || decode[ClientMetadata](t, w).ClientSecret != "" {
		t.Errorf("update with the current secret: %d %s", w.Code, w.Body)
	}
	rat = decode[ClientMetadata](t, w).RegistrationAccessToken
	w = r.send(t, "PUT", uri, rat, `{"client_id":"other","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`)
	wantError(t, w, 400, invalidClientMetadata, "client_id")

	// The wrong caller: no token, another client's token, the initial
	// access token, an admin's client.
	for _, tt := range []struct{ name, path, bearer string }{
		{"no token", uri, ""},
		{"wrong token", uri, "lk_rat_nope"},
		{"initial access token", uri, r.token},
		{"unknown client", RegistrationPath + "/nope", rat},
	} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			body := ""
			if m == "PUT" {
				body = `{"client_id":"x"}`
			}
			w := r.send(t, m, tt.path, tt.bearer, body)
			if w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with %s: %d %s, want 401 with a challenge", m, tt.path, tt.name, w.Code, w.Body)
			}
		}
	}
	mustAdminClient(t, r.fixture, "admins-own")
	w = r.send(t, "GET", RegistrationPath+"/admins-own", rat, "")
	wantError(t, w, 401, oauth.InvalidToken, "")

	w = r.send(t, "DELETE", uri, rat, "")
	if w.Code != 204 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if _, err := r.store.GetClient(t.Context(), got.ClientID); err == nil {
		t.Error("the client is still there after DELETE")
	}
	w = r.send(t, "GET", uri, rat, "")
	wantError(t, w, 401, oauth.InvalidToken, "")
}

func mustAdminClient(t *testing.T, f *fixture, id string) {
	t.Helper()
	if w := f.do(t, "POST", "/admin/v1/clients", `{"client_id":"`+id+`"}`); w.Code != 201 {
		t.Fatalf("create client: %d %s", w.Code, w.Body)
	}
}

// TestRegisterOutOfPolicy: metadata the admin API would refuse, and what
// only an operator may set, are refused with RFC 7591 §3.2.2's codes, and
// spend no use of the initial access token.
func TestRegisterOutOfPolicy(t *testing.T) {
	t.Parallel()
	r := newRegistration(t, 1)
	for _, tt := range []struct {
		name, body, code, desc string
	}{
		{"not JSON", `{`, oauth.InvalidRequest, "JSON"},
		{"repeated member", `{"client_name":"a","client_name":"b"}`, oauth.InvalidRequest, "more than once"},
		{"chosen client_id", `{"client_id":"mine","grant_types":["client_credentials"]}`, invalidClientMetadata, "client_id"},
		{"chosen secret", `{"client_secret":"s3cret","grant_types":["client_credentials"]}`, invalidClientMetadata, "client_secret"},
		{"own lifetime", `{"grant_types":["client_credentials"],"access_token_lifetime":86400}`, invalidClientMetadata, "access_token_lifetime"},
		{"own refresh policy", `{"grant_types":["client_credentials"],"refresh_token_policy":"always"}`, invalidClientMetadata, "refresh_token_policy"},
		{"own user code", `{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"token_endpoint_auth_method":"none","user_code":{"length":4}}`, invalidClientMetadata, "user_code"},
		{"own attachment", `{"grant_types":["client_credentials"],"session_attachment":"attached"}`, invalidClientMetadata, "session_attachment"},
		{"unknown grant", `{"grant_types":["password"]}`, invalidClientMetadata, "password"},
		{"implicit", `{"grant_types":["implicit"],"response_types":["token"]}`, invalidClientMetadata, "implicit"},
		{"token response type", `{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, invalidClientMetadata, "response_types"},
		{"code without its grant", `{"grant_types":["client_credentials"],"response_types":["code"]}`, invalidClientMetadata, "authorization_code"},
		{"code grant without redirect", `{}`, invalidRedirectURI, "redirect_uris"},
		{"http redirect", `{"redirect_uris":["http://app.example/cb"]}`, invalidRedirectURI, "https"},
		{"fragment redirect", `{"redirect_uris":["https://app.example/cb#x"]}`, invalidRedirectURI, "fragment"},
		{"custom scheme without dot", `{"redirect_uris":["myapp:/cb"]}`, invalidRedirectURI, "reverse-domain"},
		{"public client_credentials", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, invalidClientMetadata, "confidential"},
		{"unknown auth method", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`, invalidClientMetadata, "private_key_jwt"},
		{"scope not allowed", `{"grant_types":["client_credentials"],"scope":"openid admin"}`, oauth.InvalidScope, "admin"},
		{"bad scope token", `{"grant_types":["client_credentials"],"scope":"a\"b"}`, invalidClientMetadata, "scope"},
		{"name with control characters", `{"grant_types":["client_credentials"],"client_name":"TV\u0007"}`, invalidClientMetadata, "client_name"},
		{"id token alg none", `{"grant_types":["client_credentials"],"id_token_signed_response_alg":"none"}`, invalidClientMetadata, "id_token_signed_response_alg"},
		{"grant_types not a list", `{"grant_types":"client_credentials"}`, invalidClientMetadata, "wrong type"},
		{"refresh alone", `{"grant_types":["refresh_token"],"token_endpoint_auth_method":"none"}`, invalidClientMetadata, "refresh_token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := r.send(t, "POST", RegistrationPath, r.token, tt.body)
			wantError(t, w, 400, tt.code, tt.desc)
		})
	}
	// A policy narrower than the admin API's: client_credentials off.
	narrow := *r.reg
	narrow.GrantTypes = []string{store.GrantDeviceCode}
	r.rmux.Handle("/narrow", oauth.ErrorWriter{}.Handle(narrow.Register))
	w := r.send(t, "POST", "/narrow", r.token, `{"grant_types":["client_credentials"]}`)
	wantError(t, w, 400, invalidClientMetadata, "may not be registered")

	// None of that spent the token's one use.
	w = r.send(t, "POST", RegistrationPath, r.token, `{"grant_types":["client_credentials"],"scope":"telemetry"}`)
	if w.Code != 201 {
		t.Fatalf("register after refusals: %d %s", w.Code, w.Body)
	}
	var got map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if got["client_secret_expires_at"] != float64(0) || got["token_endpoint_auth_method"] != store.AuthClientSecretBasic {
		t.Errorf("a confidential registration: %s", w.Body)
	}
}

func TestRegisterRefusals(t *testing.T) {
	t.Parallel()
	r := newRegistration(t, 5)
	body := `{"grant_types":["client_credentials"]}`
	for _, tt := range []struct {
		name, method, bearer string
		status               int
		code                 string
	}{
		{"no initial access token", "POST", "", 401, oauth.InvalidToken},
		{"unknown initial access token", "POST", "lk_iat_nope", 401, oauth.InvalidToken},
		{"the admin token", "POST", testToken, 401, oauth.InvalidToken},
		{"GET on the registration endpoint", "GET", r.token, 405, oauth.InvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, r.send(t, tt.method, RegistrationPath, tt.bearer, body), tt.status, tt.code, "")
		})
	}
	// Expired.
	r.now = t0.Add(25 * time.Hour)
	wantError(t, r.send(t, "POST", RegistrationPath, r.token, body), 401, oauth.InvalidToken, "expired")
	r.now = t0

	// Off: 404, whoever asks.
	off := *r.reg
	off.Enabled = false
	r.rmux.Handle("/off", oauth.ErrorWriter{}.Handle(off.Register))
	wantError(t, r.send(t, "POST", "/off", r.token, body), 404, "not_found", "not enabled")

	// The per-address budget, counted in the store.
	limited := *r.reg
	limited.PerIPPerMinute = 2
	r.rmux.Handle("/limited", oauth.ErrorWriter{}.Handle(limited.Register))
	for i := range 3 {
		w := r.send(t, "POST", "/limited", "lk_iat_nope", body)
		if i < 2 && w.Code != 401 || i == 2 && (w.Code != 429 || w.Header().Get("Retry-After") == "") {
			t.Errorf("request %d: %d %s", i+1, w.Code, w.Body)
		}
	}
}

func TestRegistrationTokensAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct{ name, body, desc string }{
		{"zero uses", `{"uses":0}`, "uses"},
		{"too many uses", `{"uses":100001}`, "uses"},
		{"short lifetime", `{"lifetime":5}`, "lifetime"},
		{"long lifetime", `{"lifetime":99999999}`, "lifetime"},
		{"unknown member", `{"scope":"x"}`, "unknown member"},
		{"control characters", `{"description":"a\u0000"}`, "description"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "POST", "/admin/v1/registration-tokens", tt.body), 400, oauth.InvalidRequest, tt.desc)
		})
	}
	w := f.do(t, "POST", "/admin/v1/registration-tokens", `{"uses":3,"lifetime":3600,"description":"line 2"}`)
	made := decode[RegistrationToken](t, w)
	if w.Code != 201 || !strings.HasPrefix(made.Token, oauth.PrefixInitialAccess) || made.UsesLeft != 3 ||
		made.ExpiresAt != formatTime(t0.Add(time.Hour)) || w.Header().Get("Location") != "/admin/v1/registration-tokens/"+made.ID {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	stored, err := f.store.GetRegistrationToken(t.Context(), oauth.HashSecret(made.Token))
	if err != nil || stored.ID != made.ID {
		t.Fatalf("stored by its hash: %+v, %v", stored, err)
	}
	list := decode[RegistrationTokenList](t, f.do(t, "GET", "/admin/v1/registration-tokens", ""))
	if len(list.RegistrationTokens) != 1 || list.RegistrationTokens[0].Token != "" || list.RegistrationTokens[0].Description != "line 2" {
		t.Errorf("list: %+v", list)
	}
	if w := f.do(t, "DELETE", "/admin/v1/registration-tokens/"+made.ID, ""); w.Code != 204 {
		t.Errorf("delete: %d", w.Code)
	}
	wantError(t, f.do(t, "DELETE", "/admin/v1/registration-tokens/"+made.ID, ""), 404, codeNotFound, "")
}
