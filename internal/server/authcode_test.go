package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// rp is a relying party, a web or native app, registered as a client: its
// callback records what arrives and shows a page a browser can wait for.
type rp struct {
	ID       string
	Secret   string // "" for a public client
	Callback string // its redirect URI
	got      chan url.Values
}

const (
	webAppClient = "photo-app"  // confidential: authorization_code + refresh_token
	nativeClient = "native-app" // public: authorization_code + refresh_token, PKCE
	webAppSecret = "lk_cs_photo-app-secret-for-tests-0123456789abcdef"
)

// newRP starts the app's callback and registers it as client id.
func newRP(t *testing.T, s *testServer, id string, public bool) *rp {
	t.Helper()
	r := &rp{ID: id, got: make(chan url.Values, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/callback" {
			http.NotFound(w, req) // a browser's /favicon.ico
			return
		}
		r.got <- req.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>App</title><h1 id=arrived>Back at the app</h1><p id=query>%s</p>",
			strings.ReplaceAll(req.URL.RawQuery, "<", "&lt;"))
	}))
	t.Cleanup(srv.Close)
	r.Callback = srv.URL + "/callback"
	c := &store.Client{ID: id, Name: "Photo App", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(webAppSecret), GrantTypes: []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		RedirectURIs: []string{r.Callback}, Scopes: strings.Fields(scopesAll), CreatedAt: s.Clock.Now(), UpdatedAt: s.Clock.Now()}
	if public {
		c.Name, c.AuthMethod, c.SecretHash = "Native App", store.AuthNone, ""
		// A native app listens on whatever loopback port it gets (RFC 8252 §7.3).
		c.RedirectURIs = []string{"http://127.0.0.1/callback"}
	} else {
		r.Secret = webAppSecret
	}
	mustDo(t, s.Store.CreateClient(t.Context(), c))
	return r
}

// config is the app's side, configured from the discovery document as an
// integrator would, through golang.org/x/oauth2 and go-oidc.
func (r *rp) config(t *testing.T, s *testServer) (*oauth2.Config, *oidc.Provider) {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: r.ID, ClientSecret: r.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: r.Callback, Scopes: strings.Fields(scopesAll)}
	if r.Secret == "" {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	} else {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	return conf, provider
}

// person is a browser without JavaScript: cookies, forms, and redirects
// followed as long as they stay on Latchkey.
type person struct {
	t      *testing.T
	s      *testServer
	client *http.Client
}

func newPerson(t *testing.T, s *testServer) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, s: s, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status   int
	Location string // absolute
	Refresh  string
	Body     string
}

func (p *person) do(req *http.Request) page {
	p.t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	pg := page{Status: resp.StatusCode, Refresh: resp.Header.Get("Refresh"), Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := req.URL.Parse(loc)
		if err != nil {
			p.t.Fatalf("Location %q: %v", loc, err)
		}
		pg.Location = u.String()
	}
	return pg
}

// open GETs target and follows redirects while they stay on Latchkey.
func (p *person) open(target string) page {
	p.t.Helper()
	for range 10 {
		req, _ := http.NewRequestWithContext(p.t.Context(), http.MethodGet, target, nil)
		pg := p.do(req)
		if pg.Location == "" || !strings.HasPrefix(pg.Location, p.s.URL+"/") {
			return pg
		}
		target = pg.Location
	}
	p.t.Fatal("too many redirects")
	return page{}
}

// submit posts form to path and follows redirects while they stay here.
func (p *person) submit(path string, form url.Values) page {
	p.t.Helper()
	req, _ := http.NewRequestWithContext(p.t.Context(), http.MethodPost, p.s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.s.URL)
	pg := p.do(req)
	if pg.Location != "" && strings.HasPrefix(pg.Location, p.s.URL+"/") {
		return p.open(pg.Location)
	}
	return pg
}

var hiddenField = regexp.MustCompile(`name="(csrf_token|request|return_to)" value="([^"]*)"`)

// fields are the hidden fields of the first form on pg.
func fields(pg page) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(pg.Body, -1) {
		if !v.Has(m[1]) {
			v.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
		}
	}
	return v
}

// signIn fills in the sign-in page pg.
func (p *person) signIn(pg page) page {
	p.t.Helper()
	if !strings.Contains(pg.Body, `name="password"`) {
		p.t.Fatalf("not the sign-in page: %d %s", pg.Status, pg.Body)
	}
	f := fields(pg)
	f.Set("username", personEmail)
	f.Set("password", personPassword)
	return p.submit("/login", f)
}

// decide answers the consent page pg.
func (p *person) decide(pg page, decision string) page {
	p.t.Helper()
	if !strings.Contains(pg.Body, `value="approve"`) {
		p.t.Fatalf("not the consent page: %d %s", pg.Status, pg.Body)
	}
	f := fields(pg)
	f.Set("decision", decision)
	return p.submit("/consent", f)
}

// callback is the query of a redirect (or refresh) to the app at prefix.
func callback(t *testing.T, pg page, prefix string) url.Values {
	t.Helper()
	loc := pg.Location
	if pg.Status == http.StatusOK {
		loc, _ = strings.CutPrefix(pg.Refresh, "0; url=")
	}
	if !strings.HasPrefix(loc, prefix+"?") {
		t.Fatalf("got %d to %q (refresh %q); want the app at %s\n%s", pg.Status, pg.Location, pg.Refresh, prefix, pg.Body)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// verifiedIDToken checks the token response's ID token with go-oidc: the
// signature against the JWKS, iss, aud and exp, and the nonce.
func verifiedIDToken(t *testing.T, provider *oidc.Provider, clientID string, tok *oauth2.Token, nonce string) *oidc.IDToken {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("ID token nonce = %q; want %q", idt.Nonce, nonce)
	}
	return idt
}

// TestAuthCodeFlow is the whole story for a web app, through the pages
// without a browser and golang.org/x/oauth2 and go-oidc on the app's side:
// sign in, consent, code with PKCE, tokens, ID token with nonce and
// auth_time, refresh, and a second sign-in that needs no page.
func TestAuthCodeFlow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		app := newRP(t, s, webAppClient, false)
		conf, provider := app.config(t, s)
		ctx := t.Context()
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"),
			oauth2.SetAuthURLParam("max_age", "600"), oauth2.SetAuthURLParam("login_hint", personEmail))
		if !strings.HasPrefix(authURL, s.URL+"/oauth2/authorize?") {
			t.Fatalf("AuthCodeURL = %q; want the discovered authorization endpoint", authURL)
		}

		p := newPerson(t, s)
		login := p.open(authURL)
		if !strings.Contains(login.Body, `value="`+personEmail+`"`) {
			t.Errorf("the sign-in page does not prefill login_hint")
		}
		consent := p.signIn(login)
		if !strings.Contains(consent.Body, "Photo App") || !strings.Contains(consent.Body, "Keep access while you are not using it") {
			t.Errorf("consent page lacks the app's name or the scopes in words:\n%s", consent.Body)
		}
		q := callback(t, p.decide(consent, "approve"), app.Callback)
		if q.Get("state") != "state-1" || q.Get("iss") != s.URL || !strings.HasPrefix(q.Get("code"), "lk_ac_") {
			t.Fatalf("callback = %v", q)
		}

		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		idt := verifiedIDToken(t, provider, app.ID, tok, "nonce-1")
		var claims struct {
			AuthTime int64  `json:"auth_time"`
			Email    string `json:"email"`
		}
		mustDo(t, idt.Claims(&claims))
		if idt.Subject != s.User.ID || claims.Email != personEmail || claims.AuthTime == 0 ||
			time.Since(time.Unix(claims.AuthTime, 0)) > time.Minute {
			t.Errorf("ID token sub %q email %q auth_time %d", idt.Subject, claims.Email, claims.AuthTime)
		}
		if tok.RefreshToken == "" || tok.Extra("refreshable_until") == nil || tok.Extra("scope") != scopesAll {
			t.Errorf("token response: refresh %q, extras %v %v", tok.RefreshToken, tok.Extra("refreshable_until"), tok.Extra("scope"))
		}

		// Refresh through x/oauth2's TokenSource: rotated, same auth_time.
		next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Error("refresh did not rotate the refresh token")
		}
		again := verifiedIDToken(t, provider, app.ID, next, "")
		var againClaims struct {
			AuthTime int64 `json:"auth_time"`
		}
		mustDo(t, again.Claims(&againClaims))
		if again.Subject != idt.Subject || againClaims.AuthTime != claims.AuthTime {
			t.Errorf("refreshed ID token sub %q auth_time %d; want %q %d", again.Subject, againClaims.AuthTime, idt.Subject, claims.AuthTime)
		}

		// Signed in and consented: the next request is answered at once.
		verifier2 := oauth2.GenerateVerifier()
		q = callback(t, p.open(conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier2), oidc.Nonce("nonce-2"))), app.Callback)
		tok2, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier2))
		if err != nil {
			t.Fatalf("second Exchange: %v", err)
		}
		verifiedIDToken(t, provider, app.ID, tok2, "nonce-2")
	})
}

// TestAuthCodeNativeApp: a public client on a loopback port of its choosing,
// with PKCE and no secret (RFC 8252 §7.3, RFC 7636).
func TestAuthCodeNativeApp(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, nativeClient, true)
	conf, provider := app.config(t, s)
	conf.RedirectURL = app.Callback // http://127.0.0.1:PORT/callback: the port is the app's
	verifier := oauth2.GenerateVerifier()
	p := newPerson(t, s)
	consent := p.signIn(p.open(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"))))
	q := callback(t, p.decide(consent, "approve"), app.Callback)
	// Without the verifier the code is refused, and spent (AC-12).
	if _, err := conf.Exchange(t.Context(), q.Get("code")); err == nil {
		t.Fatal("Exchange without code_verifier succeeded")
	}
	// Consent is remembered: the next request gets a code at once.
	q = callback(t, p.open(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"))), app.Callback)
	tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	verifiedIDToken(t, provider, app.ID, tok, "n")

	// Without PKCE a public client gets invalid_request at its callback.
	q = callback(t, p.open(conf.AuthCodeURL("st")), app.Callback)
	if q.Get("error") != oauth.InvalidRequest {
		t.Errorf("public client without PKCE: %v", q)
	}
}

// approvedCode runs the pages for app as the test person and returns a code
// and its verifier.
func approvedCode(t *testing.T, s *testServer, app *rp, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	p := newPerson(t, s)
	pg := p.signIn(p.open(conf.AuthCodeURL("st", append(opts, oauth2.S256ChallengeOption(verifier))...)))
	if strings.Contains(pg.Body, `value="approve"`) {
		pg = p.decide(pg, "approve")
	}
	return callback(t, pg, app.Callback).Get("code"), verifier
}

func (s *testServer) redeemCode(t *testing.T, app *rp, code, verifier string) reply {
	t.Helper()
	return s.post(t, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {app.Callback}, "code_verifier": {verifier}}, app.ID, app.Secret)
}

// TestAuthCodeReplay: the second redemption is invalid_grant and revokes
// what the first got (RFC 6749 §4.1.2; docs/security.md AC-05).
func TestAuthCodeReplay(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		app := newRP(t, s, webAppClient, false)
		conf, _ := app.config(t, s)
		code, verifier := approvedCode(t, s, app, conf)
		first := s.redeemCode(t, app, code, verifier)
		if first.Status != 200 {
			t.Fatalf("first redemption: %d %s", first.Status, first.Raw)
		}
		wantOAuthError(t, s.redeemCode(t, app, code, verifier), 400, oauth.InvalidGrant)
		rt, err := s.Store.GetRefreshToken(t.Context(), oauth.HashSecret(first.str("refresh_token")))
		mustDo(t, err)
		g, err := s.Store.GetGrant(t.Context(), rt.GrantID)
		mustDo(t, err)
		if g.RevokedAt.IsZero() {
			t.Error("the first redemption's grant is not revoked after the replay")
		}
		wantOAuthError(t, s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {first.str("refresh_token")}}, app.ID, app.Secret), 400, oauth.InvalidGrant)
	})
}

// TestAuthCodeConcurrentRedemption: of 20 redemptions of one code at once,
// exactly one gets tokens and none a server error.
func TestAuthCodeConcurrentRedemption(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		app := newRP(t, s, webAppClient, false)
		conf, _ := app.config(t, s)
		code, verifier := approvedCode(t, s, app, conf)
		onlyOneWins(t, "redemptions", 20, func() reply { return s.redeemCode(t, app, code, verifier) }, oauth.InvalidGrant)
	})
}

// TestAuthCodeTokenErrors: every refusal at the token endpoint is an
// RFC 6749 §5.2 JSON error with no-store.
func TestAuthCodeTokenErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	other := newRP(t, s, "other-app", false)
	fresh := func() (string, string) { return approvedCode(t, s, app, conf) }

	code, verifier := fresh()
	wantOAuthError(t, s.redeemCode(t, app, code, "wrong-"+verifier), 400, oauth.InvalidGrant)
	wantOAuthError(t, s.redeemCode(t, app, code, verifier), 400, oauth.InvalidGrant) // spent by the wrong verifier

	code, verifier = fresh()
	wantOAuthError(t, s.redeemCode(t, other, code, verifier), 400, oauth.InvalidGrant) // bound to its client (AC-07)
	wantOAuthError(t, s.redeemCode(t, app, code, verifier), 400, oauth.InvalidGrant)

	code, verifier = fresh()
	s.Clock.Advance(61 * time.Second) // AC-06
	wantOAuthError(t, s.redeemCode(t, app, code, verifier), 400, oauth.InvalidGrant)

	code, verifier = fresh()
	for name, form := range map[string]url.Values{
		"redirect_uri differs": {"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.Callback + "/"}, "code_verifier": {verifier}},
		"code twice":           {"grant_type": {"authorization_code"}, "code": {code, code}, "redirect_uri": {app.Callback}, "code_verifier": {verifier}},
		"code with NUL":        {"grant_type": {"authorization_code"}, "code": {code + "\x00"}, "redirect_uri": {app.Callback}, "code_verifier": {verifier}},
		"no code":              {"grant_type": {"authorization_code"}, "redirect_uri": {app.Callback}, "code_verifier": {verifier}},
	} {
		t.Run(name, func(t *testing.T) {
			r := s.post(t, "/oauth2/token", form, app.ID, app.Secret)
			if r.Status != 400 || (r.str("error") != oauth.InvalidGrant && r.str("error") != oauth.InvalidRequest) {
				t.Errorf("%d %s; want 400 invalid_grant or invalid_request", r.Status, r.Raw)
			}
			wantOAuthError(t, r, 400, r.str("error"))
		})
	}
	wantOAuthError(t, s.post(t, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {app.Callback}, "code_verifier": {verifier}}, app.ID, "wrong-secret"), 401, oauth.InvalidClient)
	wantOAuthError(t, s.post(t, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {app.Callback}, "code_verifier": {verifier}, "client_id": {tvClient}}, "", ""), 400, oauth.UnauthorizedClient)
}

// TestAuthCodePromptNone: without a session the app hears login_required at
// once, with no page in between.
func TestAuthCodePromptNone(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	p := newPerson(t, s)
	pg := p.open(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
	if q := callback(t, pg, app.Callback); q.Get("error") != "login_required" || q.Get("state") != "st" || q.Get("iss") != s.URL {
		t.Errorf("prompt=none signed out: %v", q)
	}
}

// TestAuthorizeNeverRedirectsOffSite: whatever the link, Latchkey sends the
// browser only to a redirect URI the client registered, or to itself
// (docs/security.md AC-01, AC-02, UI-04).
func TestAuthorizeNeverRedirectsOffSite(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	p := newPerson(t, s)
	p.signIn(p.open(s.URL + "/login"))
	base := s.URL + "/oauth2/authorize?response_type=code&client_id=" + app.ID + "&redirect_uri="
	for _, target := range []string{
		"https://evil.example/callback",
		app.Callback + "/",
		app.Callback + "?x=1",
		app.Callback + "#frag",
		strings.Replace(app.Callback, "127.0.0.1", "localhost", 1),
		strings.Replace(app.Callback, "http://", "http://evil.example@", 1),
		strings.Replace(app.Callback, "/callback", "/CALLBACK", 1),
		"javascript:alert(1)",
		"//evil.example/callback",
	} {
		t.Run(target, func(t *testing.T) {
			pg := p.open(base + url.QueryEscape(target))
			if pg.Location != "" || pg.Refresh != "" || pg.Status != http.StatusBadRequest {
				t.Errorf("%d to %q (refresh %q); want a 400 page and no redirect", pg.Status, pg.Location, pg.Refresh)
			}
		})
	}
	for i, returnTo := range []string{"https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		f := fields(p.open(s.URL + "/register"))
		f.Set("return_to", returnTo)
		f.Set("name", "Someone")
		f.Set("email", fmt.Sprintf("someone-%d@example.com", i))
		f.Set("password", "a long enough password")
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/register", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// The answer is a page ("check your email") whose sign-in link
		// has dropped the return_to.
		if pg := p.do(req); pg.Status != http.StatusOK || pg.Location != "" || pg.Refresh != "" || strings.Contains(pg.Body, "evil") || strings.Contains(pg.Body, "javascript") {
			t.Errorf("register with return_to %q: %d to %q (refresh %q)\n%s", returnTo, pg.Status, pg.Location, pg.Refresh, pg.Body)
		}
	}
}
