package web

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The example of RFC 7636 Appendix B.
const testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

// newAuthEnv is newEnv with the authorization endpoint and a web app
// "webapp" whose name needs escaping.
func newAuthEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, "Living room TV")
	e.pages.Authorizer = &authorize.Authorizer{Store: e.st, Issuer: testIssuer, Now: e.pages.Now, Rand: rand.Reader}
	e.mux = pagesMux(e.pages)
	if err := e.st.CreateClient(t.Context(), &store.Client{
		ID: "webapp", Name: `Photos <img src=x onerror=alert(1)>`, AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret("secret"), GrantTypes: []string{store.GrantAuthorizationCode},
		RedirectURIs: []string{"https://photos.example/cb"}, Scopes: []string{"openid", "email", "offline_access", "photos:read"},
		CreatedAt: t0, UpdatedAt: t0,
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

const authorizePath = "/oauth2/authorize?client_id=webapp&response_type=code&scope=openid+email+photos%3Aread&state=st-1&login_hint=ada%40example.com"

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// consentRequest returns the request id of the consent form in w.
func consentRequest(t *testing.T, w *http.Response, body string) string {
	t.Helper()
	m := requestField.FindStringSubmatch(body)
	if w.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("want the consent page; got %d\n%s", w.StatusCode, body)
	}
	return m[1]
}

// clientAnswer checks that w redirects to the web app and returns the query.
func clientAnswer(t *testing.T, code int, loc string) url.Values {
	t.Helper()
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://photos.example/cb?") {
		t.Fatalf("got %d to %q; want 303 to the client", code, loc)
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	if q.Get("iss") != testIssuer || q.Get("state") != "st-1" {
		t.Errorf("answer %v lacks iss or state", q)
	}
	return q
}

// TestAuthorizeSignInConsent walks the pages: the endpoint sends a
// signed-out person to sign in with the hint, sign-in comes back to the
// consent page, and approving sends the browser to the client with a code.
func TestAuthorizeSignInConsent(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	w := b.get(authorizePath)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") || !strings.Contains(loc, "login_hint=ada%40example.com") {
		t.Fatalf("signed out: %d to %q; want sign-in with the hint", w.Code, loc)
	}
	login, _ := url.Parse(loc)
	returnTo := login.Query().Get("return_to")
	if !strings.HasPrefix(returnTo, "/consent?request=") {
		t.Fatalf("return_to = %q", returnTo)
	}
	if page := b.get(loc).Body.String(); !strings.Contains(page, `value="ada@example.com"`) {
		t.Errorf("sign-in page does not prefill the hint")
	}
	w = b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "return_to": {returnTo}, "csrf_token": {b.csrf(loc)}})
	if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != returnTo {
		t.Fatalf("sign-in: %d to %q; want 303 to %q", w.Code, got, returnTo)
	}
	w = b.get(returnTo)
	body := w.Body.String()
	id := consentRequest(t, w.Result(), body)
	for _, want := range []string{"Photos &lt;img src=x onerror=alert(1)&gt;", "Confirm your identity", "See your email address",
		"photos:read", "photos.example", `name="decision" value="approve"`, `name="decision" value="deny"`, `name="csrf_token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(body, "<img src=x") {
		t.Errorf("consent page does not escape the client name")
	}
	// Its form may lead to the client (CSP form-action), and nowhere else.
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://photos.example;") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("consent page CSP = %q", csp)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("consent page headers = %v", w.Header())
	}

	w = b.post("/consent", url.Values{"request": {id}, "decision": {"approve"}, "csrf_token": {b.csrf(returnTo)}})
	q := clientAnswer(t, w.Code, w.Header().Get("Location"))
	if !strings.HasPrefix(q.Get("code"), oauth.PrefixAuthCode) {
		t.Errorf("answer = %v; want a code", q)
	}

	// The next request is answered at once: consent is remembered.
	w = b.get(authorizePath)
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("code") == "" {
		t.Errorf("second request: %v; want a code", q)
	}
}

// TestConsentAfterSignInGoesThroughAPage: after a sign-in form, the login
// page's CSP (form-action 'self') would stop a redirect chain that ends at
// the client, so the browser gets there through a page that refreshes.
func TestConsentAfterSignInGoesThroughAPage(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	w := b.get(authorizePath)
	id := consentRequest(t, w.Result(), w.Body.String())
	b.post("/consent", url.Values{"request": {id}, "decision": {"approve"}, "csrf_token": {b.csrf("/device")}})

	b2 := e.browser(t)
	loc := b2.get(authorizePath + "&prompt=login").Header().Get("Location")
	returnTo := must(url.Parse(loc)).Query().Get("return_to")
	b2.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "return_to": {returnTo}, "csrf_token": {b2.csrf(loc)}})
	w = b2.get(returnTo)
	refresh := w.Header().Get("Refresh")
	if w.Code != http.StatusOK || !strings.HasPrefix(refresh, "0; url=https://photos.example/cb?code=") {
		t.Fatalf("after sign-in: %d, Refresh %q; want 200 refreshing to the client", w.Code, refresh)
	}
	if !strings.Contains(w.Body.String(), `href="https://photos.example/cb?code=`) {
		t.Errorf("the page has no link to the client:\n%s", w.Body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConsentDenyIsFinal(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	w := b.get(authorizePath)
	id := consentRequest(t, w.Result(), w.Body.String())
	token := b.csrf("/device")
	w = b.post("/consent", url.Values{"request": {id}, "decision": {"deny"}, "csrf_token": {token}})
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("deny: %v", q)
	}
	// The approve button of the same page, replayed.
	w = b.post("/consent", url.Values{"request": {id}, "decision": {"approve"}, "csrf_token": {token}})
	if w.Code != http.StatusConflict || w.Header().Get("Location") != "" {
		t.Errorf("replayed approval: %d, Location %q; want 409 and no redirect", w.Code, w.Header().Get("Location"))
	}
}

// TestConsentCSRF: only this session's token, from this site, decides.
func TestConsentCSRF(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		token  func(e *env, b *browser) string
		header http.Header
		want   int
	}{
		{"missing", func(*env, *browser) string { return "" }, nil, http.StatusForbidden},
		{"another session's", func(e *env, _ *browser) string {
			other := e.browser(t)
			other.login("bob@example.com")
			return other.csrf("/device")
		}, nil, http.StatusForbidden},
		{"cross-site", func(_ *env, b *browser) string { return b.csrf("/device") }, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"valid", func(_ *env, b *browser) string { return b.csrf("/device") }, nil, http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAuthEnv(t)
			b := e.browser(t)
			b.login(testEmail)
			w := b.get(authorizePath)
			id := consentRequest(t, w.Result(), w.Body.String())
			token := tt.token(e, b)
			b.header = tt.header
			w = b.post("/consent", url.Values{"request": {id}, "decision": {"approve"}, "csrf_token": {token}})
			if w.Code != tt.want {
				t.Errorf("status = %d; want %d\n%s", w.Code, tt.want, w.Body)
			}
		})
	}
}

// TestConsentOtherBrowser: a consent request id carried to another signed-in
// browser decides nothing there (UI-06).
func TestConsentOtherBrowser(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	w := b.get(authorizePath)
	id := consentRequest(t, w.Result(), w.Body.String())
	other := e.browser(t)
	other.login(testEmail)
	if w := other.get(continueURL(id)); w.Code != http.StatusForbidden {
		t.Errorf("GET in another browser: %d; want 403", w.Code)
	}
	w = other.post("/consent", url.Values{"request": {id}, "decision": {"approve"}, "csrf_token": {other.csrf("/device")}})
	if w.Code != http.StatusForbidden || w.Header().Get("Location") != "" {
		t.Errorf("POST in another browser: %d to %q; want 403", w.Code, w.Header().Get("Location"))
	}
}

// TestAuthorizeErrorPages: a wrong client or redirect URI gets a page and
// never a redirect (RFC 6749 §4.1.2.1; docs/security.md AC-02, BI-01).
func TestAuthorizeErrorPages(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	for _, path := range []string{
		"/oauth2/authorize?response_type=code",
		"/oauth2/authorize?client_id=nobody&response_type=code",
		"/oauth2/authorize?client_id=webapp&client_id=webapp&response_type=code",
		"/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fphotos.example%2Fcb&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
		"/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fphotos.example%2Fcb%23x",
		"/oauth2/authorize?client_id=webapp%00&response_type=code",
		"/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=javascript%3Aalert(1)",
		"/oauth2/authorize?client_id=webapp&response_type=code&state=%zz",
		"/user/oauth20/authz?client_id=nobody",
		"/consent?request=unknown",
		"/consent",
	} {
		t.Run(path, func(t *testing.T) {
			w := b.get(path)
			if w.Code < 400 || w.Code >= 500 || w.Header().Get("Location") != "" || w.Header().Get("Refresh") != "" {
				t.Errorf("%d, Location %q; want a 4xx page and no redirect\n%s", w.Code, w.Header().Get("Location"), w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || w.Header().Get("X-Frame-Options") != "DENY" {
				t.Errorf("Content-Type %q, headers %v; want an HTML page with the security headers", ct, w.Header())
			}
		})
	}
}

// TestAuthorizeProtocolErrors: with the client and redirect URI right, a
// problem goes back to the client, to a signed-in person at once.
func TestAuthorizeProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	for query, want := range map[string]string{
		"client_id=webapp&response_type=token&state=st-1":                                                                 "unsupported_response_type",
		"client_id=webapp&response_type=code&scope=admin&state=st-1":                                                      "invalid_scope",
		"client_id=webapp&response_type=code&state=st-1&nonce=a&nonce=b":                                                  "invalid_request",
		"client_id=webapp&response_type=code&state=st-1&code_challenge=" + testChallenge + "&code_challenge_method=plain": "invalid_request",
	} {
		w := b.get("/oauth2/authorize?" + query)
		if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != want {
			t.Errorf("%s: error %q; want %q", query, q.Get("error"), want)
		}
	}
}

// TestAuthorizePromptNone: no page at all, and the answer says why.
func TestAuthorizePromptNone(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	w := b.get(authorizePath + "&prompt=none")
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != authorize.LoginRequired {
		t.Errorf("signed out: %v; want login_required", q)
	}
	b.login(testEmail)
	w = b.get(authorizePath + "&prompt=none")
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != authorize.ConsentRequired {
		t.Errorf("signed in, no consent: %v; want consent_required", q)
	}
}

func TestAuthorizeFlowRegister(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	w := b.get(authorizePath + "&flow=register")
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/register?") {
		t.Fatalf("flow=register: %d to %q; want the registration page", w.Code, loc)
	}
	if page := b.get(loc).Body.String(); !strings.Contains(page, `value="ada@example.com"`) || !strings.Contains(page, `name="return_to" value="/consent?request=`) {
		t.Errorf("registration page lacks the hint or the way back:\n%s", page)
	}
}

// TestAuthorizePost: a POST (OpenID Connect Core §3.1.2.1) becomes the GET.
func TestAuthorizePost(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.header = http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://photos.example"}}
	w := b.post("/oauth2/authorize", url.Values{"client_id": {"webapp"}, "response_type": {"code"}, "state": {"st-1"}})
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/oauth2/authorize?") {
		t.Fatalf("POST: %d to %q", w.Code, loc)
	}
	if q := must(url.Parse(loc)).Query(); q.Get("client_id") != "webapp" || q.Get("state") != "st-1" {
		t.Errorf("POST became %q", loc)
	}
	w = b.post("/oauth2/authorize", url.Values{"client_id": {"webapp", "other"}})
	if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
		t.Errorf("POST with client_id twice: %d to %q; want a 400 page", w.Code, w.Header().Get("Location"))
	}
}

// TestAuthorizeMethods: HEAD starts nothing; other methods get a 405 page.
func TestAuthorizeMethods(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	w := b.do(must(http.NewRequest(http.MethodHead, authorizePath, nil)))
	if w.Code != http.StatusOK || w.Header().Get("Location") != "" {
		t.Errorf("HEAD: %d to %q", w.Code, w.Header().Get("Location"))
	}
	for path, allow := range map[string]string{
		"/oauth2/authorize": "GET, HEAD, POST", "/consent": "GET, HEAD, POST", "/register": "GET, HEAD, POST", "/user/oauth20/authz": "GET, HEAD",
	} {
		w := b.do(must(http.NewRequest(http.MethodPut, path, nil)))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != allow {
			t.Errorf("PUT %s: %d, Allow %q; want 405, %q", path, w.Code, w.Header().Get("Allow"), allow)
		}
	}
}

func TestFormActionSource(t *testing.T) {
	t.Parallel()
	for loc, want := range map[string]string{
		"https://photos.example/cb?code=x":    "https://photos.example",
		"http://127.0.0.1:51234/cb?code=x":    "http://127.0.0.1:51234",
		"com.example.app:/cb?code=x":          "com.example.app:",
		"http://[::1]:8080/cb?code=x":         "",
		"https://a.example;script-src *:1/cb": "",
		"":                                    "",
	} {
		if got := formActionSource(&authorize.Step{Location: loc}); got != want {
			t.Errorf("formActionSource(%q) = %q; want %q", loc, got, want)
		}
	}
}

// TestAuthorizeFlowRegisterClosed: with registration off, flow=register
// is sign-in.
func TestAuthorizeFlowRegisterClosed(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	e.pages.Registration = account.Registration{Mode: account.RegistrationOff}
	w := e.browser(t).get(authorizePath + "&flow=register")
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("flow=register, registration off: %d to %q; want sign-in", w.Code, loc)
	}
}
