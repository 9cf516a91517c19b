package web

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// t0 is when the device request was made; the tests' clock starts two
// minutes later. Whole milliseconds, as the store keeps them.
var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

const (
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery"
	testCode     = "WDJBMJHT" // pending, for client "tv"
	expiredCode  = "BCDFGHJK"
	testIssuer   = "https://id.example.com"
)

// passwordHash is computed once: argon2id is slow on purpose.
var passwordHash = func() string {
	h, err := account.HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
}()

// env is a Pages on a real SQLite store with a fixed clock, one user, one
// device client and a pending and an expired device request.
type env struct {
	st    *sqlite.Store
	now   time.Time
	pages *Pages
	mux   *http.ServeMux
	user  *store.User
}

func newEnv(t *testing.T, clientName string) *env {
	t.Helper()
	e := &env{st: sqlitetest.Open(t), now: t0.Add(2 * time.Minute)}
	now := func() time.Time { return e.now }
	e.pages = &Pages{
		Issuer: testIssuer,
		Store:  e.st,
		Sessions: &session.Manager{
			Store: e.st, Users: e.st, Now: now, Rand: rand.Reader,
			Lifetime: time.Hour, Secure: false,
		},
		Verifier: &device.Verifier{
			Store: e.st, Now: now, Window: 10 * time.Minute,
			PerAccount: 5, PerIP: 20, Global: 1000,
		},
		Now:             now,
		CSRFKey:         []byte("0123456789abcdef0123456789abcdef"),
		LoginPerAccount: 3,
		LoginPerIP:      100,
		LoginWindow:     15 * time.Minute,

		RequireVerifiedEmail: true,
	}
	e.mux = pagesMux(e.pages)

	ctx := t.Context()
	// Ada and Bob have confirmed their addresses, as the gate before a
	// decision asks (RequireVerifiedEmail, on as in production).
	e.user = &store.User{ID: "u1", Email: testEmail, Name: "Ada", PasswordHash: passwordHash, EmailVerified: true, CreatedAt: t0, UpdatedAt: t0}
	for _, u := range []*store.User{e.user,
		{ID: "u2", Email: "off@example.com", Name: "Off", PasswordHash: passwordHash, Disabled: true, CreatedAt: t0, UpdatedAt: t0},
		{ID: "u3", Email: "bob@example.com", Name: "Bob", PasswordHash: passwordHash, EmailVerified: true, CreatedAt: t0, UpdatedAt: t0},
	} {
		if err := e.st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
	}
	if err := e.st.CreateClient(ctx, &store.Client{
		ID: "tv", Name: clientName, AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode},
		Scopes:     []string{"openid", "offline_access", "telemetry:write"},
		CreatedAt:  t0, UpdatedAt: t0,
	}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	for code, expires := range map[string]time.Time{testCode: t0.Add(10 * time.Minute), expiredCode: t0.Add(time.Minute)} {
		if err := e.st.CreateDeviceAuth(ctx, &store.DeviceAuth{
			DeviceCodeHash:   oauth.HashSecret("dc-" + code),
			UserCodeHash:     oauth.HashSecret(code),
			ClientID:         "tv",
			ClientPublic:     true,
			Scopes:           []string{"openid", "offline_access", "telemetry:write"},
			Status:           store.DevicePending,
			Interval:         5 * time.Second,
			CreatedAt:        t0,
			ExpiresAt:        expires,
			RequestIP:        "198.51.100.9",
			RequestUserAgent: "SmartTV/2.1 <b>",
		}); err != nil {
			t.Fatalf("CreateDeviceAuth: %v", err)
		}
	}
	return e
}

// pagesMux serves p's pages under the patterns package server's route
// table gives them; the authorization endpoint and consent page only when p
// has an Authorizer.
func pagesMux(p *Pages) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range []struct {
		pattern string
		handler http.Handler
	}{
		{"GET /login", p.Page(p.LoginForm)},
		{"POST /login", p.Form(p.Login)},
		{"/login", p.NotAllowed("GET, HEAD, POST")},
		{"GET /register", p.Page(p.RegisterForm)},
		{"POST /register", p.Form(p.Register)},
		{"/register", p.NotAllowed("GET, HEAD, POST")},
		{"GET /logout", p.Page(p.LogoutForm)},
		{"POST /logout", p.Page(p.Logout)},
		{"/logout", p.NotAllowed("GET, HEAD, POST")},
		{"GET /device", p.Page(p.DeviceForm)},
		{"POST /device", p.Form(p.DevicePost)},
		{"/device", p.NotAllowed("GET, HEAD, POST")},
		{"GET /user/device", p.Page(p.DeviceFormAlias)},
		{"/user/device", p.NotAllowed("GET, HEAD")},
		{"GET /device/qr.svg", p.Page(p.QRCode)},
		{"/device/qr.svg", p.NotAllowed("GET, HEAD")},
		{"GET /verify-email", p.Page(p.VerifyForm)},
		{"POST /verify-email", p.Form(p.Verify)},
		{"GET /verify-email/required", p.Page(p.VerifyRequired)},
		{"POST /verify-email/required", p.Form(p.VerifyRequiredPost)},
		{"GET /account", p.Page(p.Account)},
		{"POST /account/totp", p.Form(p.BeginTOTP)},
		{"POST /account/totp/confirm", p.Form(p.ConfirmTOTP)},
	} {
		mux.Handle(rt.pattern, rt.handler)
	}
	if p.Authorizer != nil {
		mux.Handle("GET /oauth2/authorize", p.Page(p.Authorize))
		mux.Handle("GET /user/oauth20/authz", p.Page(p.Authorize))
		mux.Handle("POST /oauth2/authorize", p.Page(p.AuthorizePost))
		mux.Handle("/oauth2/authorize", p.NotAllowed("GET, HEAD, POST"))
		mux.Handle("/user/oauth20/authz", p.NotAllowed("GET, HEAD"))
		mux.Handle("GET /consent", p.Page(p.ConsentForm))
		mux.Handle("POST /consent", p.Form(p.ConsentPost))
		mux.Handle("/consent", p.NotAllowed("GET, HEAD, POST"))
	}
	return mux
}

func (e *env) status(t *testing.T, code string) string {
	t.Helper()
	a, err := e.st.GetDeviceAuthByUserCode(t.Context(), oauth.HashSecret(code))
	if err != nil {
		t.Fatalf("GetDeviceAuthByUserCode: %v", err)
	}
	return a.Status
}

// browser keeps cookies between requests, like a browser with one origin.
type browser struct {
	t       *testing.T
	e       *env
	ip      string
	cookies map[string]string
	header  http.Header // extra headers on every request
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, e: e, ip: "203.0.113.5", cookies: map[string]string{}, header: http.Header{}}
}

func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	r.RemoteAddr = b.ip + ":40000"
	for name, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	for k, vs := range b.header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	b.e.mux.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return w
}

func (b *browser) get(target string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest("GET", target, nil))
}

func (b *browser) post(target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	r := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the csrf_token of the first form on the page at target.
func (b *browser) csrf(target string) string {
	b.t.Helper()
	w := b.get(target)
	m := csrfField.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.t.Fatalf("GET %s: %d, no csrf_token in\n%s", target, w.Code, w.Body)
	}
	return m[1]
}

// Login signs the browser in through the login form.
func (b *browser) login(email string) {
	b.t.Helper()
	w := b.post("/login", url.Values{"username": {email}, "password": {testPassword}, "csrf_token": {b.csrf("/login")}})
	if w.Code != http.StatusSeeOther {
		b.t.Fatalf("login as %s: status %d; want 303\n%s", email, w.Code, w.Body)
	}
}
