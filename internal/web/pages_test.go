package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// TestCSRF: a decision needs this session's token, sent from this site
// (UI-01, UI-06); a refused one changes nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		token      func(t *testing.T, e *env, b *browser) string
		header     http.Header
		wantStatus int
	}{
		{"valid", func(t *testing.T, e *env, b *browser) string { return b.csrf("/device") }, nil, http.StatusOK},
		{"missing", func(*testing.T, *env, *browser) string { return "" }, nil, http.StatusForbidden},
		{"wrong", func(*testing.T, *env, *browser) string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, nil, http.StatusForbidden},
		{"another session's", func(t *testing.T, e *env, _ *browser) string {
			other := e.browser(t)
			other.login("bob@example.com")
			return other.csrf("/device")
		}, nil, http.StatusForbidden},
		{"from before sign-in", func(t *testing.T, e *env, _ *browser) string {
			return e.browser(t).csrf("/login")
		}, nil, http.StatusForbidden},
		{"cross-site fetch", func(t *testing.T, e *env, b *browser) string { return b.csrf("/device") },
			http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"foreign Origin", func(t *testing.T, e *env, b *browser) string { return b.csrf("/device") },
			http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := signedIn(t, e)
			token := tt.token(t, e, b)
			b.header = tt.header
			w := b.post("/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}, "csrf_token": {token}})
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			want := store.DevicePending
			if tt.wantStatus == http.StatusOK {
				want = store.DeviceApproved
			}
			if got := e.status(t, testCode); got != want {
				t.Errorf("device status = %q; want %q", got, want)
			}
		})
	}
}

func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		setup func(b *browser) string
	}{
		{"no pre-session cookie", func(b *browser) string {
			token := b.csrf("/login")
			delete(b.cookies, "latchkey_csrf")
			return token
		}},
		{"no token", func(b *browser) string { b.csrf("/login"); return "" }},
		{"another browser's token", func(b *browser) string { return b.e.browser(b.t).csrf("/login") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			token := tt.setup(b)
			w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "csrf_token": {token}})
			if w.Code != http.StatusForbidden {
				t.Errorf("status = %d; want 403", w.Code)
			}
			if _, ok := b.cookies["latchkey_session"]; ok {
				t.Errorf("a forged sign-in started a session")
			}
		})
	}
}

// TestSecurityHeaders: every response, pages and error pages alike, carries
// the headers of UI-02 and UI-03.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	out := e.browser(t)
	in := signedIn(t, e)
	token := in.csrf("/device")
	for _, tt := range []struct {
		name string
		do   func() *httptest.ResponseRecorder
		want int
	}{
		{"login form", func() *httptest.ResponseRecorder { return out.get("/login") }, http.StatusOK},
		{"redirect to sign-in", func() *httptest.ResponseRecorder { return out.get("/device") }, http.StatusSeeOther},
		{"entry form", func() *httptest.ResponseRecorder { return in.get("/device") }, http.StatusOK},
		{"confirm page", func() *httptest.ResponseRecorder { return in.get("/device?user_code=WDJB-MJHT") }, http.StatusOK},
		{"invalid code", func() *httptest.ResponseRecorder { return in.get("/device?user_code=BBBB-BBBB") }, http.StatusBadRequest},
		{"expired code", func() *httptest.ResponseRecorder { return in.get("/device?user_code=BCDF-GHJK") }, http.StatusBadRequest},
		{"CSRF refused", func() *httptest.ResponseRecorder {
			return in.post("/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}})
		}, http.StatusForbidden},
		{"bad form", func() *httptest.ResponseRecorder {
			return in.post("/device", url.Values{"user_code": {"a", "b"}, "csrf_token": {token}})
		}, http.StatusBadRequest},
		{"method not allowed", func() *httptest.ResponseRecorder { return in.do(httptest.NewRequest("PUT", "/device", nil)) }, http.StatusMethodNotAllowed},
		{"GET /logout asks first", func() *httptest.ResponseRecorder { return in.get("/logout") }, http.StatusOK},
		{"QR code", func() *httptest.ResponseRecorder { return out.get("/device/qr.svg?user_code=WDJB-MJHT") }, http.StatusOK},
		{"QR junk", func() *httptest.ResponseRecorder { return out.get("/device/qr.svg?user_code=%3C") }, http.StatusBadRequest},
		{"decision", func() *httptest.ResponseRecorder {
			return in.post("/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"deny"}, "csrf_token": {token}})
		}, http.StatusOK},
		{"used code", func() *httptest.ResponseRecorder { return in.get("/device?user_code=WDJB-MJHT") }, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.do()
			if w.Code != tt.want {
				t.Errorf("status = %d; want %d", w.Code, tt.want)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-store",
				// The test issuer is https.
				"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q; want %q", name, got, want)
				}
			}
			if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			// Nothing is loaded from elsewhere (RFC 9700 §4.2.4), no
			// inline script or style: only the first-party script and sheet.
			body := w.Body.String()
			if m := regexp.MustCompile(`(?i)(src|href|action)="(https?:)?//`).FindString(body); m != "" {
				t.Errorf("page refers elsewhere: %s", m)
			}
			for _, m := range regexp.MustCompile(`(?i)<script[^>]*>|<style|\sstyle=|\son[a-z]+=`).FindAllString(body, -1) {
				if !strings.HasPrefix(m, `<script src="/assets/page.js?v=`) {
					t.Errorf("page has inline script or style: %s", m)
				}
			}
		})
	}
}

// TestEscaping: whatever is reflected or stored is rendered as text (UI-07).
func TestEscaping(t *testing.T) {
	t.Parallel()
	const evilName = `<img src=x onerror=alert(1)>`
	for _, tt := range []struct {
		name   string
		target string
		raw    string // must not appear
		quoted string // must appear
	}{
		{"user_code from the query", "/device?user_code=" + url.QueryEscape("<script>alert(1)</script>"),
			"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"quote in user_code", "/device?user_code=" + url.QueryEscape(`"><b>x`), `"><b>x`, "&#34;&gt;&lt;b&gt;x"},
		{"client name", "/device?user_code=WDJB-MJHT", evilName, "&lt;img src=x onerror=alert(1)&gt;"},
		{"user agent of the device", "/device?user_code=WDJB-MJHT", "SmartTV/2.1 <b>", "an app that calls itself “SmartTV”"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, evilName)
			b := signedIn(t, e)
			body := b.get(tt.target).Body.String()
			if strings.Contains(body, tt.raw) {
				t.Errorf("page contains %q unescaped:\n%s", tt.raw, body)
			}
			if !strings.Contains(body, tt.quoted) {
				t.Errorf("page lacks %q:\n%s", tt.quoted, body)
			}
		})
	}
}

// failingStore is the real store with device lookups failing, as when the
// database goes away mid-request.
type failingStore struct{ *sqlite.Store }

func (failingStore) GetDeviceAuthByUserCode(context.Context, string) (*store.DeviceAuth, error) {
	return nil, errors.New("database is on fire")
}

// TestStoreError: a store failure is a plain 500 page, logged without the
// code, the cookie or the CSRF token.
func TestStoreError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	var logs bytes.Buffer
	e.pages.Log = slog.New(slog.NewTextHandler(&logs, nil))
	e.pages.Verifier.Store = failingStore{e.st}
	b := signedIn(t, e)
	w := b.get("/device?user_code=WDJB-MJHT")
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "Something went wrong") {
		t.Errorf("got %d; want 500 \"Something went wrong\"\n%s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "on fire") {
		t.Errorf("page shows the internal error")
	}
	got := logs.String()
	if !strings.Contains(got, "database is on fire") {
		t.Errorf("log lacks the cause:\n%s", got)
	}
	secrets := []string{"WDJB", testPassword}
	for _, v := range b.cookies {
		secrets = append(secrets, v)
	}
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("log contains a secret %q:\n%s", s, got)
		}
	}
}

// TestClientIP: the pages take the client's address from X-Forwarded-For
// only when told they are behind a proxy (the rules are clientip.From's).
func TestClientIP(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		trustProxy bool
		want       string
	}{
		{"forwarded header ignored without a proxy", false, "203.0.113.5"},
		{"behind the proxy", true, "198.51.100.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pages{TrustProxy: tt.trustProxy}
			r := httptest.NewRequest("GET", "/device", nil)
			r.RemoteAddr = "203.0.113.5:1234"
			r.Header.Add("X-Forwarded-For", "198.51.100.1")
			if got := p.clientIP(r); got != tt.want {
				t.Errorf("clientIP = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestShortKeyRefused: a server whose CSRF key is too short to keep forms
// unforgeable does not get as far as serving a page, or a form.
func TestShortKeyRefused(t *testing.T) {
	t.Parallel()
	p := &Pages{CSRFKey: []byte("short")}
	for name, build := range map[string]func(){
		"Page": func() { p.Page(p.LoginForm) },
		"Form": func() { p.Form(p.Login) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short CSRFKey did not panic", name)
				}
			}()
			build()
		})
	}
}

// TestNoHSTSOverHTTP: an http issuer (development, or a loopback-only
// server) gets no Strict-Transport-Security, which would pin a name the
// browser then could not reach without TLS.
func TestNoHSTSOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.Issuer = "http://127.0.0.1:8080"
	if got := e.browser(t).get("/login").Header().Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security = %q over http; want none", got)
	}
}

// TestCookieNames: on an https issuer every cookie of the pages carries the
// __Host- prefix, as the session's does, so a subdomain cannot set it.
func TestCookieNames(t *testing.T) {
	t.Parallel()
	secure := &Pages{Sessions: &session.Manager{Secure: true}}
	plain := &Pages{Sessions: &session.Manager{}}
	for _, name := range []string{csrfCookieName, knownCookieName, langCookieName} {
		if got := secure.cookieName(name); got != "__Host-"+name {
			t.Errorf("https: cookieName(%q) = %q", name, got)
		}
		if got := plain.cookieName(name); got != name {
			t.Errorf("http: cookieName(%q) = %q", name, got)
		}
	}
	if got := (&Pages{}).cookieName(langCookieName); got != langCookieName {
		t.Errorf("without sessions: %q", got)
	}
}
