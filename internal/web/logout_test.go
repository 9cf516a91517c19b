package web

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const byeURI = "https://tv.example/signed-out"

// logoutEnv is the pages' env with signing keys, and client "tv" registered
// for byeURI. idToken mints an ID token for a user, issued to a client in
// the session browser b is signed in with (none when b is nil or signed
// out): its sid names that session.
func logoutEnv(t *testing.T) (*env, func(userID, clientID string, b *browser) string) {
	t.Helper()
	e := newEnv(t, "Living room TV")
	ctx := t.Context()
	now := func() time.Time { return e.now }
	km := &keys.Manager{Store: e.st, Now: now, Log: slog.New(slog.DiscardHandler),
		PublishDelay: time.Hour, Retain: time.Hour, Refresh: time.Hour}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	e.pages.Tokens = &token.Verifier{Keys: km, Issuer: testIssuer, Now: now}
	c, err := e.st.GetClient(ctx, "tv")
	if err != nil {
		t.Fatal(err)
	}
	c.PostLogoutRedirectURIs = []string{byeURI, "https://tv.example/bye?lang=en"}
	if err := e.st.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateClient(ctx, &store.Client{ID: "other", AuthMethod: store.AuthNone}); err != nil {
		t.Fatal(err)
	}
	minter := &token.Minter{Keys: km, Issuer: testIssuer, Now: now, Rand: rand.Reader, AccessTTL: time.Minute, IDTTL: time.Minute}
	idToken := func(userID, clientID string, b *browser) string {
		t.Helper()
		u, err := e.st.GetUser(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		g := &store.Grant{ID: "g", UserID: userID, ClientID: clientID, ExpiresAt: e.now.Add(time.Hour), SessionHash: b.sessionHash()}
		resp, err := minter.Mint(ctx, token.Issue{Grant: g, User: u, Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.IDToken
	}
	return e, idToken
}

// sessionHash is the stored hash of b's session cookie; "" for none.
func (b *browser) sessionHash() string {
	if b == nil {
		return ""
	}
	v, ok := b.cookies[session.PlainCookieName]
	if !ok {
		return ""
	}
	return oauth.HashSecret(v)
}

// isSignedIn reports whether b's session still works.
func (b *browser) isSignedIn() bool {
	b.t.Helper()
	return b.get("/device").Code == http.StatusOK
}

func logoutURL(v url.Values) string { return "/logout?" + v.Encode() }

func TestLogoutGet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		signedInAs   string // "" for a signed-out browser
		query        func(idToken func(string, string) string) url.Values
		wantStatus   int
		wantLocation string
		wantConfirm  bool // the confirmation form, not the signed-out page
		wantSignedIn bool
	}{
		{"signed in, no hint: confirm first", testEmail,
			func(func(string, string) string) url.Values { return url.Values{} }, 200, "", true, true},
		{"signed out, no hint", "",
			func(func(string, string) string) url.Values { return url.Values{} }, 200, "", false, false},
		{"hint and registered URI: back with state", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "post_logout_redirect_uri": {byeURI}, "state": {"s 1&x"}}
		}, 303, byeURI + "?state=s+1%26x", false, false},
		{"registered URI with a query keeps it", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "post_logout_redirect_uri": {"https://tv.example/bye?lang=en"}, "state": {"abc"}}
		}, 303, "https://tv.example/bye?lang=en&state=abc", false, false},
		{"hint without a URI", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}}
		}, 200, "", false, false},
		{"hint, client_id agrees", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "client_id": {"tv"}, "post_logout_redirect_uri": {byeURI}}
		}, 303, byeURI, false, false},
		{"hint, client_id disagrees: no hint at all", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "client_id": {"other"}, "post_logout_redirect_uri": {byeURI}}
		}, 200, "", true, true},
		{"unregistered URI: signed out, no redirect", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "post_logout_redirect_uri": {"https://evil.example/"}}
		}, 200, "", false, false},
		{"another client's URI", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "other")}, "post_logout_redirect_uri": {byeURI}}
		}, 200, "", false, false},
		{"invalid hint: confirm, no redirect", testEmail, func(func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {"eyJ.garbage.x"}, "post_logout_redirect_uri": {byeURI}}
		}, 200, "", true, true},
		{"hint for another user: confirm", testEmail, func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u3", "tv")}, "post_logout_redirect_uri": {byeURI}}
		}, 200, "", true, true},
		{"signed out, valid hint: back to the RP", "", func(id func(string, string) string) url.Values {
			return url.Values{"id_token_hint": {id("u1", "tv")}, "post_logout_redirect_uri": {byeURI}}
		}, 303, byeURI, false, false},
		{"signed out, no hint, a URI: never redirect", "", func(func(string, string) string) url.Values {
			return url.Values{"post_logout_redirect_uri": {byeURI}, "client_id": {"tv"}}
		}, 200, "", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, idToken := logoutEnv(t)
			b := e.browser(t)
			if tt.signedInAs != "" {
				b.login(tt.signedInAs)
			}
			w := b.get(logoutURL(tt.query(func(userID, clientID string) string { return idToken(userID, clientID, b) })))
			if w.Code != tt.wantStatus || w.Header().Get("Location") != tt.wantLocation {
				t.Fatalf("GET /logout = %d, Location %q; want %d, %q\n%s", w.Code, w.Header().Get("Location"), tt.wantStatus, tt.wantLocation, w.Body)
			}
			body := w.Body.String()
			if confirm := strings.Contains(body, `action="/logout"`) && strings.Contains(body, "Sign out?"); confirm != tt.wantConfirm {
				t.Errorf("confirmation form shown: %v; want %v\n%s", confirm, tt.wantConfirm, body)
			}
			if w.Code == 200 && !tt.wantConfirm && !strings.Contains(body, "signed out") {
				t.Errorf("want the signed-out page:\n%s", body)
			}
			if tt.signedInAs != "" {
				if got := b.isSignedIn(); got != tt.wantSignedIn {
					t.Errorf("signed in after GET /logout: %v; want %v", got, tt.wantSignedIn)
				}
			}
		})
	}
}

// TestLogoutConfirm: the confirmation form carries the request through,
// and its POST signs out and then honours the hint's registered URI.
func TestLogoutConfirm(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	b := e.browser(t)
	b.login("bob@example.com")
	q := url.Values{"id_token_hint": {idToken("u1", "tv", b)}, "post_logout_redirect_uri": {byeURI}, "state": {"xyz"}}
	w := b.get(logoutURL(q))
	page := w.Body.String()
	// The form's answer is a redirect to the relying party, which the
	// page's CSP must let a form reach (browsers hold the redirects after a
	// form POST to form-action).
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://tv.example;") {
		t.Errorf("confirmation page CSP %q; want form-action to allow https://tv.example", csp)
	}
	form := url.Values{"csrf_token": {b.csrf(logoutURL(q))}}
	for k := range q {
		if !strings.Contains(page, `name="`+k+`"`) {
			t.Errorf("the confirmation form lacks %s", k)
		}
		form.Set(k, q.Get(k))
	}
	if !strings.Contains(page, "Living room TV asked to sign you out") || !strings.Contains(page, "bob@example.com") {
		t.Errorf("the confirmation does not say who asks and who is signed in:\n%s", page)
	}
	forged := url.Values{"csrf_token": {"forged"}}
	for k := range q {
		forged.Set(k, q.Get(k))
	}
	if w := b.post("/logout", forged); w.Code != http.StatusForbidden || !b.isSignedIn() {
		t.Fatalf("POST with a forged token: %d, signed in %v; want 403 and still signed in", w.Code, b.isSignedIn())
	}
	w = b.post("/logout", form)
	if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != byeURI+"?state=xyz" {
		t.Errorf("confirmed sign-out = %d, Location %q; want 303 to %s?state=xyz", w.Code, got, byeURI)
	}
	if b.isSignedIn() {
		t.Error("still signed in after confirming")
	}
}

// TestLogoutCrossSitePost: a relying party's cross-site POST changes
// nothing itself; it is answered with the same request as a GET.
func TestLogoutCrossSitePost(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	b.header.Set("Sec-Fetch-Site", "cross-site")
	hint := idToken("u1", "tv", b)
	w := b.post("/logout", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}, "state": {"s"}, "junk": {"x"}})
	want := "/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}, "state": {"s"}}.Encode()
	if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != want {
		t.Errorf("cross-site POST = %d, Location %q; want 303, %q", w.Code, got, want)
	}
	b.header.Del("Sec-Fetch-Site")
	if !b.isSignedIn() {
		t.Error("a cross-site POST signed the browser out")
	}
	if w := b.get(want); w.Code != http.StatusSeeOther || b.isSignedIn() {
		t.Errorf("the GET it leads to: %d, signed in %v; want 303 and signed out", w.Code, b.isSignedIn())
	}
}

// TestLogoutNoOpenRedirect: with a valid hint, none of the usual open
// redirect tricks leaves this server (docs/security.md UI-04).
func TestLogoutNoOpenRedirect(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	for _, uri := range []string{"https://evil.com", "//evil.com", `/\evil.com`, "https:evil.com", "%2F%2Fevil.com",
		"javascript:alert(1)", "/%09/evil.com", byeURI + "/", strings.ToUpper(byeURI), byeURI + "#x"} {
		b := e.browser(t)
		b.login(testEmail)
		w := b.get(logoutURL(url.Values{"id_token_hint": {idToken("u1", "tv", b)}, "post_logout_redirect_uri": {uri}}))
		if loc := w.Header().Get("Location"); loc != "" {
			t.Errorf("post_logout_redirect_uri %q: redirected to %q", uri, loc)
		}
	}
}

// TestLogoutHeadChangesNothing: HEAD is safe, even with a valid hint.
func TestLogoutHeadChangesNothing(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	r := b.do(httptest.NewRequest("HEAD", logoutURL(url.Values{"id_token_hint": {idToken("u1", "tv", b)}}), nil))
	if r.Code != http.StatusOK || !b.isSignedIn() {
		t.Errorf("HEAD /logout = %d, signed in %v; want 200 and still signed in", r.Code, b.isSignedIn())
	}
}

func TestLogoutExpiredHint(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	b := e.browser(t)
	b.login(testEmail)
	hint := idToken("u1", "tv", b)
	e.now = e.now.Add(30 * time.Minute) // the ID token lived a minute; the session lives an hour
	w := b.get(logoutURL(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}}))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != byeURI {
		t.Errorf("expired hint: %d, Location %q; want 303 to %s (RP-Initiated Logout §4)", w.Code, w.Header().Get("Location"), byeURI)
	}
}

// TestLogoutHintOfAnotherSession: a valid hint for the signed-in user that
// was issued in another session (an earlier sign-in, another browser, or a
// token from before ID tokens carried sid) does not sign this session out
// at once: it asks first (docs/security.md ID-09). The other session is
// never touched either way.
func TestLogoutHintOfAnotherSession(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		hint func(idToken func(string, string, *browser) string, here, other *browser) string
	}{
		{"another browser's session", func(id func(string, string, *browser) string, _, other *browser) string {
			return id("u1", "tv", other)
		}},
		{"no sid", func(id func(string, string, *browser) string, _, _ *browser) string {
			return id("u1", "tv", nil)
		}},
		{"an earlier session of this browser", func(id func(string, string, *browser) string, here, _ *browser) string {
			hint := id("u1", "tv", here)
			here.login(testEmail) // signing in again starts a new session
			return hint
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, idToken := logoutEnv(t)
			here, other := e.browser(t), e.browser(t)
			here.login(testEmail)
			other.login(testEmail)
			hint := tt.hint(idToken, here, other)
			w := here.get(logoutURL(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}, "state": {"s"}}))
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Sign out?") {
				t.Fatalf("GET /logout = %d, Location %q; want 200 and the confirmation form\n%s", w.Code, w.Header().Get("Location"), w.Body)
			}
			if !here.isSignedIn() || !other.isSignedIn() {
				t.Fatalf("signed in after the GET: here %v, the other browser %v; want both", here.isSignedIn(), other.isSignedIn())
			}
			// Confirmed, it ends this session only, and the hint's client
			// still gets the browser back.
			form := url.Values{"csrf_token": {here.csrf(logoutURL(url.Values{"id_token_hint": {hint}}))},
				"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}, "state": {"s"}}
			if w := here.post("/logout", form); w.Code != http.StatusSeeOther || w.Header().Get("Location") != byeURI+"?state=s" {
				t.Errorf("confirmed: %d, Location %q; want 303 to %s?state=s", w.Code, w.Header().Get("Location"), byeURI)
			}
			if here.isSignedIn() || !other.isSignedIn() {
				t.Errorf("after confirming: here signed in %v, the other browser %v; want false, true", here.isSignedIn(), other.isSignedIn())
			}
		})
	}
}

// TestLogoutConfirmToUnnamableURI: a registered post-logout URI that CSP
// cannot name (an IPv6 literal) is reached after the confirmation through
// a page that refreshes to it, not a redirect the form-action would stop.
func TestLogoutConfirmToUnnamableURI(t *testing.T) {
	t.Parallel()
	e, idToken := logoutEnv(t)
	const v6 = "http://[::1]:8085/bye"
	c, err := e.st.GetClient(t.Context(), "tv")
	if err != nil {
		t.Fatal(err)
	}
	c.PostLogoutRedirectURIs = []string{v6}
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.login("bob@example.com") // not the hint's user: the confirmation
	q := url.Values{"id_token_hint": {idToken("u1", "tv", b)}, "post_logout_redirect_uri": {v6}, "state": {"z"}}
	w := b.get(logoutURL(q))
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("CSP %q; want form-action 'self' alone", csp)
	}
	form := url.Values{"csrf_token": {b.csrf(logoutURL(q))}}
	for k := range q {
		form.Set(k, q.Get(k))
	}
	w = b.post("/logout", form)
	if w.Code != http.StatusOK || w.Header().Get("Refresh") != "0; url="+v6+"?state=z" || w.Header().Get("Location") != "" {
		t.Errorf("confirmed: %d, Refresh %q, Location %q; want 200 refreshing to %s?state=z", w.Code, w.Header().Get("Refresh"), w.Header().Get("Location"), v6)
	}
	if b.isSignedIn() {
		t.Error("still signed in")
	}
}
