package token

// Tests of revocation, introspection and UserInfo, one handler at a time
// with httptest on a real SQLite store; internal/server runs the same
// endpoints end to end on both backends.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

const (
	issuer    = "https://id.example"
	rsSecret  = "lk_cs_resource-server-secret-0123456789"
	appSecret = "lk_cs_app-secret-0123456789abcdef"
)

type fixture struct {
	st     *sqlite.Store
	now    time.Time
	minter *Minter
	h      *Handler
	user   *store.User
}

// newFixture: user "ada"; public client "tv"; confidential clients "app"
// (the same grant types) and "rs" (a resource server that introspects).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{st: sqlitetest.Open(t), now: t0}
	now := func() time.Time { return f.now }
	km := &keys.Manager{Store: f.st, Now: now, Log: slog.New(slog.DiscardHandler),
		PublishDelay: time.Hour, Retain: time.Hour, Refresh: time.Hour}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	f.minter = &Minter{Keys: km, Issuer: issuer, Now: now, Rand: rand.Reader, AccessTTL: 10 * time.Minute, IDTTL: time.Hour}
	f.h = &Handler{Store: f.st, Clients: clientauth.Direct{Store: f.st}, Tokens: &Verifier{Keys: km, Issuer: issuer, Now: now}, Now: now}
	f.user = &store.User{ID: "ada", Email: "ada@example.com", Name: "Ada Lovelace", CreatedAt: t0, UpdatedAt: t0}
	mustDo(t, f.st.CreateUser(ctx, f.user))
	for _, c := range []*store.Client{
		{ID: "tv", AuthMethod: store.AuthNone},
		{ID: "app", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret(appSecret)},
		{ID: "rs", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret(rsSecret)},
	} {
		c.GrantTypes = []string{store.GrantDeviceCode, store.GrantRefreshToken}
		mustDo(t, f.st.CreateClient(ctx, c))
	}
	return f
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// issued is what a grant handed out.
type issued struct {
	grant   *store.Grant
	access  string
	refresh string
	id      string
}

// issue stores a grant of scope for clientID with a refresh token, and
// mints its tokens, at the fixture's clock.
func (f *fixture) issue(t *testing.T, clientID, scope string) issued {
	t.Helper()
	ctx := t.Context()
	scopes := strings.Fields(scope)
	g := &store.Grant{ID: "g-" + rand.Text()[:10], UserID: f.user.ID, ClientID: clientID, Scopes: scopes,
		AuthTime: f.now, CreatedAt: f.now, ExpiresAt: f.now.Add(24 * time.Hour)}
	mustDo(t, f.st.CreateGrant(ctx, g))
	rt := oauth.PrefixRefreshToken + rand.Text()
	mustDo(t, f.st.CreateRefreshToken(ctx, &store.RefreshToken{Hash: oauth.HashSecret(rt), GrantID: g.ID,
		ClientID: clientID, Scopes: scopes, CreatedAt: f.now, ExpiresAt: g.ExpiresAt}))
	resp, err := f.minter.Mint(ctx, Issue{Grant: g, User: f.user, Scopes: scopes, Refresh: rt})
	mustDo(t, err)
	return issued{grant: g, access: resp.AccessToken, refresh: rt, id: resp.IDToken}
}

func (f *fixture) revoked(t *testing.T, grantID string) bool {
	t.Helper()
	g, err := f.st.GetGrant(t.Context(), grantID)
	mustDo(t, err)
	return !g.RevokedAt.IsZero()
}

// post sends form to h as client id with secret (Basic) or, for a public
// client (secret ""), with client_id in the body.
func post(h func(http.ResponseWriter, *http.Request) error, form url.Values, id, secret string) *httptest.ResponseRecorder {
	if id != "" && secret == "" {
		form.Set("client_id", id)
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		r.SetBasicAuth(id, secret)
	}
	w := httptest.NewRecorder()
	oauth.ErrorWriter{Unavailable: store.ErrUnavailable}.Handle(h).ServeHTTP(w, r)
	return w
}

func errorCode(w *httptest.ResponseRecorder) string {
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return body.Error
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.issue(t, "tv", "openid email")
	other := &Verifier{Keys: f.h.Tokens.Keys, Issuer: "https://other.example"}
	parts := strings.Split(tok.access, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"eve"}`)) + "." + parts[2]
	for _, tt := range []struct {
		name    string
		v       *Verifier
		raw     string
		idHint  bool
		wantErr error
	}{
		{"access token", f.h.Tokens, tok.access, false, nil},
		{"ID token is not an access token", f.h.Tokens, tok.id, false, ErrInvalid},
		{"another issuer's verifier", other, tok.access, false, ErrInvalid},
		{"tampered payload", f.h.Tokens, tampered, false, ErrInvalid},
		{"garbage", f.h.Tokens, "not.a.jwt", false, ErrInvalid},
		{"refresh token", f.h.Tokens, tok.refresh, false, ErrInvalid},
		{"ID token hint", f.h.Tokens, tok.id, true, nil},
		{"access token is not an ID token hint", f.h.Tokens, tok.access, true, ErrInvalid},
		{"ID token hint of another issuer", other, tok.id, true, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.idHint {
				var c *IDClaims
				c, err = tt.v.IDTokenHint(t.Context(), tt.raw)
				if err == nil && (c.Subject != "ada" || c.Audience != "tv") {
					t.Errorf("IDTokenHint claims = %+v", c)
				}
			} else {
				var c *AccessClaims
				c, err = tt.v.Access(t.Context(), tt.raw)
				if err == nil && (c.Subject != "ada" || c.ClientID != "tv" || c.GrantID != tok.grant.ID) {
					t.Errorf("Access claims = %+v", c)
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v; want %v", err, tt.wantErr)
			}
		})
	}
	// Tokens issued ahead of the verifier's clock: within ClockSkew they
	// are another instance's a little ahead; beyond it, refused
	// (docs/security.md TE-09).
	for _, tt := range []struct {
		ahead time.Duration
		ok    bool
	}{
		{ClockSkew, true},
		{ClockSkew + time.Second, false},
		{time.Hour, false},
	} {
		t.Run(fmt.Sprintf("issued %s ahead", tt.ahead), func(t *testing.T) {
			f.now = t0.Add(tt.ahead)
			ahead := f.issue(t, "tv", "openid")
			f.now = t0
			_, errA := f.h.Tokens.Access(t.Context(), ahead.access)
			_, errID := f.h.Tokens.IDTokenHint(t.Context(), ahead.id)
			for what, err := range map[string]error{"Access": errA, "IDTokenHint": errID} {
				if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
					t.Errorf("%s = %v; want accepted %v", what, err, tt.ok)
				}
			}
		})
	}
	t.Run("expired ID token is still a hint", func(t *testing.T) {
		f.now = t0.Add(48 * time.Hour)
		defer func() { f.now = t0 }()
		if _, err := f.h.Tokens.IDTokenHint(t.Context(), tok.id); err != nil {
			t.Errorf("IDTokenHint(expired) = %v; want accepted (RP-Initiated Logout §4)", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		token       func(own, others issued) string
		hint        string
		id, secret  string
		wantStatus  int
		wantCode    string
		wantRevoked [2]bool // own grant, the other client's
	}{
		{"own refresh token", func(own, _ issued) string { return own.refresh }, "", "tv", "", 200, "", [2]bool{true, false}},
		{"own access token", func(own, _ issued) string { return own.access }, "access_token", "tv", "", 200, "", [2]bool{true, false}},
		{"wrong hint is ignored (RV-04)", func(own, _ issued) string { return own.access }, "refresh_token", "tv", "", 200, "", [2]bool{true, false}},
		{"unknown hint is ignored", func(own, _ issued) string { return own.refresh }, "id_token", "tv", "", 200, "", [2]bool{true, false}},
		{"another client's refresh token: no effect (RV-02)", func(_, o issued) string { return o.refresh }, "", "tv", "", 200, "", [2]bool{false, false}},
		{"another client's access token: no effect", func(_, o issued) string { return o.access }, "", "tv", "", 200, "", [2]bool{false, false}},
		{"confidential client, its own token", func(_, o issued) string { return o.access }, "", "app", appSecret, 200, "", [2]bool{false, true}},
		{"garbage (RV-01)", func(issued, issued) string { return "lk_rt_nope" }, "", "tv", "", 200, "", [2]bool{false, false}},
		{"garbage JWT", func(issued, issued) string { return "a.b.c" }, "", "tv", "", 200, "", [2]bool{false, false}},
		{"no token", func(issued, issued) string { return "" }, "", "tv", "", 400, oauth.InvalidRequest, [2]bool{false, false}},
		{"no client", func(own, _ issued) string { return own.refresh }, "", "", "", 401, oauth.InvalidClient, [2]bool{false, false}},
		{"wrong secret", func(_, o issued) string { return o.refresh }, "", "app", "wrong", 401, oauth.InvalidClient, [2]bool{false, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			own, others := f.issue(t, "tv", "openid"), f.issue(t, "app", "openid")
			form := url.Values{}
			if tok := tt.token(own, others); tok != "" {
				form.Set("token", tok)
			}
			if tt.hint != "" {
				form.Set("token_type_hint", tt.hint)
			}
			w := post(f.h.Revoke, form, tt.id, tt.secret)
			if w.Code != tt.wantStatus || errorCode(w) != tt.wantCode {
				t.Fatalf("status %d %s; want %d %q", w.Code, w.Body, tt.wantStatus, tt.wantCode)
			}
			if w.Code == 200 && w.Body.Len() != 0 {
				t.Errorf("body %q; want empty", w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
			got := [2]bool{f.revoked(t, own.grant.ID), f.revoked(t, others.grant.ID)}
			if got != tt.wantRevoked {
				t.Errorf("revoked (own, other's) = %v; want %v", got, tt.wantRevoked)
			}
		})
	}
}

// TestRevokeFailsClosed: a revocation the store cannot record is an error,
// never a 200 (docs/security.md RV-06).
func TestRevokeFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.issue(t, "tv", "openid")
	f.h.Store = failingRevoke{f.st}
	w := post(f.h.Revoke, url.Values{"token": {tok.refresh}}, "tv", "")
	if w.Code < 500 {
		t.Fatalf("revocation with a failing store: %d %s; want 5xx", w.Code, w.Body)
	}
	if f.revoked(t, tok.grant.ID) {
		t.Error("grant revoked although the store failed")
	}
}

type failingRevoke struct{ *sqlite.Store }

func (failingRevoke) RevokeGrant(context.Context, string, time.Time) error {
	return store.ErrUnavailable
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	inactive := `{"active":false}` + "\n"
	for _, tt := range []struct {
		name       string
		setup      func(t *testing.T, f *fixture, tok issued) string // returns the token to introspect
		id, secret string
		wantStatus int
		want       map[string]any // nil: exactly {"active":false}
	}{
		{"active access token (IN-03)", func(_ *testing.T, _ *fixture, tok issued) string { return tok.access }, "rs", rsSecret, 200,
			map[string]any{"active": true, "scope": "openid email", "client_id": "tv", "sub": "ada", "token_type": "Bearer",
				"iss": issuer, "aud": issuer, "exp": float64(t0.Add(10 * time.Minute).Unix()), "iat": float64(t0.Unix()), "nbf": float64(t0.Unix())}},
		{"expired access token", func(_ *testing.T, f *fixture, tok issued) string {
			f.now = t0.Add(10 * time.Minute)
			return tok.access
		}, "rs", rsSecret, 200, nil},
		{"access token from an instance whose clock is ahead, within ClockSkew", func(_ *testing.T, f *fixture, tok issued) string {
			f.now = t0.Add(-ClockSkew + time.Second)
			return tok.access
		}, "rs", rsSecret, 200,
			map[string]any{"active": true, "scope": "openid email", "client_id": "tv", "sub": "ada", "token_type": "Bearer",
				"iss": issuer, "aud": issuer, "exp": float64(t0.Add(10 * time.Minute).Unix()), "iat": float64(t0.Unix()), "nbf": float64(t0.Unix())}},
		{"access token not valid before a time beyond ClockSkew", func(_ *testing.T, f *fixture, tok issued) string {
			f.now = t0.Add(-ClockSkew - time.Second)
			return tok.access
		}, "rs", rsSecret, 200, nil},
		{"revoked grant's access token", func(t *testing.T, f *fixture, tok issued) string {
			mustDo(t, f.st.RevokeGrant(t.Context(), tok.grant.ID, t0))
			return tok.access
		}, "rs", rsSecret, 200, nil},
		{"disabled user's access token", func(t *testing.T, f *fixture, tok issued) string {
			u := *f.user
			u.Disabled = true
			mustDo(t, f.st.UpdateUser(t.Context(), &u))
			return tok.access
		}, "rs", rsSecret, 200, nil},
		{"garbage", func(*testing.T, *fixture, issued) string { return "garbage" }, "rs", rsSecret, 200, nil},
		{"ID token", func(_ *testing.T, _ *fixture, tok issued) string { return tok.id }, "rs", rsSecret, 200, nil},
		{"refresh token, by its client", func(_ *testing.T, _ *fixture, tok issued) string { return tok.refresh }, "app", appSecret, 200,
			map[string]any{"active": true, "scope": "openid email", "client_id": "app", "sub": "ada", "token_type": "refresh_token",
				"iss": issuer, "exp": float64(t0.Add(24 * time.Hour).Unix()), "iat": float64(t0.Unix())}},
		{"refresh token, by another client", func(_ *testing.T, _ *fixture, tok issued) string { return tok.refresh }, "rs", rsSecret, 200, nil},
		{"used refresh token", func(t *testing.T, f *fixture, tok issued) string {
			_, err := f.st.RotateRefreshToken(t.Context(), oauth.HashSecret(tok.refresh), "next", time.Time{}, t0,
				func(*store.RefreshFamily) error { return nil })
			mustDo(t, err)
			return tok.refresh
		}, "app", appSecret, 200, nil},
		{"revoked grant's refresh token", func(t *testing.T, f *fixture, tok issued) string {
			mustDo(t, f.st.RevokeGrant(t.Context(), tok.grant.ID, t0))
			return tok.refresh
		}, "app", appSecret, 200, nil},
		{"public client may not introspect (IN-01)", func(_ *testing.T, _ *fixture, tok issued) string { return tok.access }, "tv", "", 401, nil},
		{"no client", func(_ *testing.T, _ *fixture, tok issued) string { return tok.access }, "", "", 401, nil},
		{"wrong secret", func(_ *testing.T, _ *fixture, tok issued) string { return tok.access }, "rs", "wrong", 401, nil},
		{"no token", func(*testing.T, *fixture, issued) string { return "" }, "rs", rsSecret, 400, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			client := "tv"
			if tt.id == "app" {
				client = "app"
			}
			tok := f.issue(t, client, "openid email")
			form := url.Values{}
			if raw := tt.setup(t, f, tok); raw != "" {
				form.Set("token", raw)
			}
			w := post(f.h.Introspect, form, tt.id, tt.secret)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d %s; want %d", w.Code, w.Body, tt.wantStatus)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
			if w.Code != 200 {
				if w.Code == 401 && errorCode(w) != oauth.InvalidClient {
					t.Errorf("error %q; want invalid_client", errorCode(w))
				}
				return
			}
			if tt.want == nil {
				if got := w.Body.String(); got != inactive {
					t.Errorf("body %q; want exactly %q (IN-02)", got, inactive)
				}
				return
			}
			var got map[string]any
			mustDo(t, json.Unmarshal(w.Body.Bytes(), &got))
			if got["grant_id"] != tok.grant.ID {
				t.Errorf("grant_id = %v; want %s", got["grant_id"], tok.grant.ID)
			}
			delete(got, "grant_id")
			if _, ok := got["jti"].(string); ok == (tt.want["token_type"] == "refresh_token") {
				t.Errorf("jti = %v", got["jti"])
			}
			delete(got, "jti")
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("introspection (-want +got):\n%s", d)
			}
		})
	}
}

// TestIntrospectOrgDevice: a device client of an organization learns about
// its own access tokens only; another client's active token is
// {"active":false} to it, while a resource server outside any organization
// still sees it active (docs/security.md IN-02).
func TestIntrospectOrgDevice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const sensorSecret = "lk_cs_sensor-secret-0123456789abcdef"
	mustDo(t, f.st.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme", CreatedAt: t0, UpdatedAt: t0}))
	mustDo(t, f.st.CreateClient(ctx, &store.Client{ID: "sensor", AuthMethod: store.AuthClientSecretBasic, OrgID: "acme",
		SecretHash: oauth.HashSecret(sensorSecret), GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: t0, UpdatedAt: t0}))
	own, err := f.minter.Mint(ctx, Issue{Grant: &store.Grant{ClientID: "sensor", Scopes: []string{"read"}}, Scopes: []string{"read"}})
	mustDo(t, err)
	others := f.issue(t, "tv", "openid email").access
	for _, tt := range []struct {
		name, token, id, secret string
		active                  bool
	}{
		{"its own token", own.AccessToken, "sensor", sensorSecret, true},
		{"another client's token", others, "sensor", sensorSecret, false},
		{"that token, asked by a resource server", others, "rs", rsSecret, true},
	} {
		w := post(f.h.Introspect, url.Values{"token": {tt.token}}, tt.id, tt.secret)
		var got struct{ Active bool }
		mustDo(t, json.Unmarshal(w.Body.Bytes(), &got))
		if w.Code != 200 || got.Active != tt.active {
			t.Errorf("%s: %d %s; want 200, active %v", tt.name, w.Code, w.Body, tt.active)
		}
		if !tt.active && w.Body.String() != `{"active":false}`+"\n" {
			t.Errorf("%s: body %q; want exactly {\"active\":false}", tt.name, w.Body)
		}
	}
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		scope         string
		req           func(tok issued) *http.Request
		change        func(t *testing.T, f *fixture, tok issued)
		wantStatus    int
		wantChallenge string // WWW-Authenticate; "" for none
		want          map[string]any
	}{
		{"header", "openid email profile", func(tok issued) *http.Request { return bearer("GET", tok.access) }, nil, 200, "",
			map[string]any{"sub": "ada", "email": "ada@example.com", "email_verified": false, "name": "Ada Lovelace"}},
		{"header on POST", "openid profile", func(tok issued) *http.Request { return bearer("POST", tok.access) }, nil, 200, "",
			map[string]any{"sub": "ada", "name": "Ada Lovelace"}},
		{"form body", "openid email", func(tok issued) *http.Request { return formBody(url.Values{"access_token": {tok.access}}) }, nil, 200, "",
			map[string]any{"sub": "ada", "email": "ada@example.com", "email_verified": false}},
		{"only openid", "openid", func(tok issued) *http.Request { return bearer("GET", tok.access) }, nil, 200, "",
			map[string]any{"sub": "ada"}},
		{"header and body", "openid", func(tok issued) *http.Request {
			r := formBody(url.Values{"access_token": {tok.access}})
			r.Header.Set("Authorization", "Bearer "+tok.access)
			return r
		}, nil, 400, `Bearer realm="latchkey", error="invalid_request"`, nil},
		{"query", "openid", func(tok issued) *http.Request {
			return httptest.NewRequest("GET", "/userinfo?access_token="+tok.access, nil)
		}, nil, 400, `Bearer realm="latchkey", error="invalid_request"`, nil},
		{"no token", "openid", func(issued) *http.Request { return httptest.NewRequest("GET", "/userinfo", nil) }, nil,
			401, `Bearer realm="latchkey"`, nil},
		{"basic credentials are not a bearer token", "openid", func(issued) *http.Request {
			r := httptest.NewRequest("GET", "/userinfo", nil)
			r.SetBasicAuth("app", appSecret)
			return r
		}, nil, 401, `Bearer realm="latchkey"`, nil},
		{"garbage", "openid", func(issued) *http.Request { return bearer("GET", "nope") }, nil,
			401, `Bearer realm="latchkey", error="invalid_token"`, nil},
		{"ID token", "openid", func(tok issued) *http.Request { return bearer("GET", tok.id) }, nil,
			401, `Bearer realm="latchkey", error="invalid_token"`, nil},
		{"expired", "openid", func(tok issued) *http.Request { return bearer("GET", tok.access) },
			func(_ *testing.T, f *fixture, _ issued) { f.now = t0.Add(11 * time.Minute) },
			401, `Bearer realm="latchkey", error="invalid_token"`, nil},
		{"revoked", "openid", func(tok issued) *http.Request { return bearer("GET", tok.access) },
			func(t *testing.T, f *fixture, tok issued) { mustDo(t, f.st.RevokeGrant(t.Context(), tok.grant.ID, t0)) },
			401, `Bearer realm="latchkey", error="invalid_token"`, nil},
		{"user deleted", "openid", func(tok issued) *http.Request { return bearer("GET", tok.access) },
			func(t *testing.T, f *fixture, _ issued) { mustDo(t, f.st.DeleteUser(t.Context(), "ada")) },
			401, `Bearer realm="latchkey", error="invalid_token"`, nil},
		{"without openid", "email", func(tok issued) *http.Request { return bearer("GET", tok.access) }, nil,
			403, `Bearer realm="latchkey", error="insufficient_scope", scope="openid"`, nil},
		{"PUT", "openid", func(tok issued) *http.Request { return bearer("PUT", tok.access) }, nil, 405, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.issue(t, "tv", tt.scope)
			if tt.change != nil {
				tt.change(t, f, tok)
			}
			w := httptest.NewRecorder()
			oauth.ErrorWriter{Unavailable: store.ErrUnavailable}.Handle(f.h.UserInfo).ServeHTTP(w, tt.req(tok))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d %s; want %d", w.Code, w.Body, tt.wantStatus)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q; want %q", got, tt.wantChallenge)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
			if tt.want == nil {
				return
			}
			var got map[string]any
			mustDo(t, json.Unmarshal(w.Body.Bytes(), &got))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("userinfo (-want +got):\n%s", d)
			}
		})
	}
}

func bearer(method, tok string) *http.Request {
	r := httptest.NewRequest(method, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func formBody(form url.Values) *http.Request {
	r := httptest.NewRequest("POST", "/userinfo", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestClientOwnToken: a token a client got for itself (client credentials)
// has no grant behind it. It introspects active while its client exists and
// it was not revoked; revoking it (RFC 7009) ends that one token, and only
// its own client may; UserInfo has no user to describe.
func TestClientOwnToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	own := func() string {
		resp, err := f.minter.Mint(ctx, Issue{Grant: &store.Grant{ClientID: "app", Scopes: []string{"read"}}, Scopes: []string{"read"}})
		mustDo(t, err)
		return resp.AccessToken
	}
	active := func(tok string) bool {
		t.Helper()
		w := post(f.h.Introspect, url.Values{"token": {tok}}, "rs", rsSecret)
		var got Introspection
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil {
			t.Fatalf("introspect: %d %s", w.Code, w.Body)
		}
		if got.Active && (got.Subject != "app" || got.ClientID != "app" || got.GrantID != "" || got.Scope != "read") {
			t.Errorf("introspection = %+v", got)
		}
		return got.Active
	}
	a, b := own(), own()
	if !active(a) || !active(b) {
		t.Fatal("a new client credentials token is not active")
	}
	if w := post(f.h.Revoke, url.Values{"token": {a}}, "rs", rsSecret); w.Code != 200 {
		t.Fatalf("another client's revocation: %d", w.Code)
	}
	if !active(a) {
		t.Error("another client revoked the token")
	}
	if w := post(f.h.Revoke, url.Values{"token": {a}}, "app", appSecret); w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if active(a) || !active(b) {
		t.Errorf("after revoking a: a active %v, b active %v; want only b", active(a), active(b))
	}
	if w := post(f.h.Revoke, url.Values{"token": {a}}, "app", appSecret); w.Code != 200 {
		t.Errorf("revoking twice: %d", w.Code)
	}
	r := httptest.NewRequest("GET", "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+b)
	w := httptest.NewRecorder()
	oauth.ErrorWriter{Unavailable: store.ErrUnavailable}.Handle(f.h.UserInfo).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("UserInfo with a client's own token: %d; want 401", w.Code)
	}
	f.now = t0.Add(11 * time.Minute)
	if active(b) {
		t.Error("an expired token is active")
	}
	f.now = t0
	mustDo(t, f.st.DeleteClient(ctx, "app"))
	if active(b) {
		t.Error("a deleted client's token is active")
	}
}

// TestMintPolicy: a client's token policy sets its tokens' lifetimes and
// its ID token's algorithm; access tokens take the server's algorithm
// whatever the client; no policy is the server's settings.
func TestMintPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	g := &store.Grant{ID: "g1", UserID: "ada", ClientID: "tv", SessionHash: "abc", ExpiresAt: t0.Add(time.Hour)}
	header := func(jwt string) (alg string) {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
		var h struct{ Alg string }
		_ = json.Unmarshal(b, &h)
		return h.Alg
	}
	claims := func(jwt string) (exp, iat int64, sid string) {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
		var c struct {
			Exp, Iat int64
			Sid      string
		}
		_ = json.Unmarshal(b, &c)
		return c.Exp, c.Iat, c.Sid
	}
	for _, tt := range []struct {
		name                 string
		accessAlg, idAlg     string // the server's
		policy               store.TokenPolicy
		wantAccess, wantID   string
		wantAccessTTL, idTTL time.Duration
	}{
		{"the server's", "", "", store.TokenPolicy{}, "ES256", "ES256", 10 * time.Minute, time.Hour},
		{"client RS256", "", "", store.TokenPolicy{IDTokenSigningAlg: "RS256"}, "ES256", "RS256", 10 * time.Minute, time.Hour},
		{"server RS256 access, client default", "RS256", "ES256", store.TokenPolicy{}, "RS256", "ES256", 10 * time.Minute, time.Hour},
		{"server RS256 for clients, client ES256", "", "RS256", store.TokenPolicy{IDTokenSigningAlg: "ES256"}, "ES256", "ES256", 10 * time.Minute, time.Hour},
		{"server RS256 for clients", "", "RS256", store.TokenPolicy{}, "ES256", "RS256", 10 * time.Minute, time.Hour},
		{"own lifetimes", "RS256", "", store.TokenPolicy{AccessTokenLifetime: 90 * time.Second, IDTokenLifetime: 24 * time.Hour},
			"RS256", "ES256", 90 * time.Second, 24 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := *f.minter
			m.AccessAlg, m.IDAlg = tt.accessAlg, tt.idAlg
			c := &store.Client{ID: "tv", Tokens: tt.policy}
			resp, err := m.Mint(ctx, Issue{Client: c, Grant: g, User: f.user, Scopes: []string{"openid"}})
			mustDo(t, err)
			if a, i := header(resp.AccessToken), header(resp.IDToken); a != tt.wantAccess || i != tt.wantID {
				t.Errorf("algorithms: access %s, ID %s; want %s, %s", a, i, tt.wantAccess, tt.wantID)
			}
			exp, iat, _ := claims(resp.AccessToken)
			if time.Duration(exp-iat)*time.Second != tt.wantAccessTTL || resp.ExpiresIn != int64(tt.wantAccessTTL/time.Second) {
				t.Errorf("access token life %ds, expires_in %d; want %s", exp-iat, resp.ExpiresIn, tt.wantAccessTTL)
			}
			exp, iat, sid := claims(resp.IDToken)
			if time.Duration(exp-iat)*time.Second != tt.idTTL {
				t.Errorf("ID token life %ds; want %s", exp-iat, tt.idTTL)
			}
			if sid != oauth.SessionID("abc") || sid == "" || strings.Contains(sid, "abc") {
				t.Errorf("sid = %q; want oauth.SessionID of the grant's session", sid)
			}
			// Whatever the algorithm, the server verifies its own tokens.
			if _, err := f.h.Tokens.Access(ctx, resp.AccessToken); err != nil {
				t.Errorf("Access: %v", err)
			}
			if _, err := f.h.Tokens.IDTokenHint(ctx, resp.IDToken); err != nil {
				t.Errorf("IDTokenHint: %v", err)
			}
		})
	}
}
