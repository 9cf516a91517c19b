package server

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// arrival waits for the app's callback to be called and returns its query.
func (r *rp) arrival(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-r.got:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("the browser did not come back to the app")
		return nil
	}
}

// navigate opens target in the browser.
func navigate(t *testing.T, ctx context.Context, target string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		t.Fatalf("navigate to %s: %v", target, err)
	}
}

// register fills in the registration page and submits it.
func register(t *testing.T, ctx context.Context, name, email, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), name),
		chromedp.SetValue(chromedp.CSS(`input[name=email]`), email),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), password),
	)
	if err != nil {
		t.Fatalf("register: %v (page: %s)", err, pageText(t, ctx))
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
}

// registerAndSignIn registers (register), is told to check the email,
// and signs in from that page's link once the account is made (after the
// answer). The verification link is TestVerificationInBrowser's.
func registerAndSignIn(t *testing.T, ctx context.Context, s *testServer, name, email, password string) {
	t.Helper()
	register(t, ctx, name, email, password)
	waitFor(t, ctx, `main a[href^="/login"]`)
	if text := pageText(t, ctx); !strings.Contains(text, "Check your email") {
		t.Fatalf("after registering:\n%s", text)
	}
	s.Srv.Wait()
	confirmAddress(t, s, email)
	submit(t, ctx, chromedp.Click(chromedp.CSS(`main a[href^="/login"]`)))
	signIn(t, ctx, email, password)
}

// TestAuthCodeInBrowser: a web app sends a person to sign in; they see who
// is asking and for what, approve, and land back at the app with a code
// that x/oauth2 exchanges, with PKCE, for tokens go-oidc verifies. The next
// visit needs no page at all.
func TestAuthCodeInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		app := newRP(t, s, webAppClient, false)
		conf, provider := app.config(t, s)
		bctx := browser(t)
		verifier := oauth2.GenerateVerifier()

		navigate(t, bctx, conf.AuthCodeURL("state-b", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-b")))
		screenshot(t, bctx, "authcode-login")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `button[name=decision][value=approve]`)
		screenshot(t, bctx, "authcode-consent")
		text := pageText(t, bctx)
		for _, want := range []string{"Photo App", "Confirm your identity", "See your email address", "127.0.0.1"} {
			if !strings.Contains(text, want) {
				t.Errorf("consent page lacks %q:\n%s", want, text)
			}
		}
		click(t, bctx, `button[name=decision][value=approve]`)
		waitFor(t, bctx, `#arrived`)
		q := app.arrival(t)
		if q.Get("state") != "state-b" || q.Get("iss") != s.URL || q.Get("code") == "" {
			t.Fatalf("callback = %v", q)
		}
		tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		verifiedIDToken(t, provider, app.ID, tok, "nonce-b")

		// Signed in and consented: straight back to the app.
		verifier = oauth2.GenerateVerifier()
		navigate(t, bctx, conf.AuthCodeURL("state-c", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-c")))
		waitFor(t, bctx, `#arrived`)
		q = app.arrival(t)
		tok, err = conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("second Exchange: %v", err)
		}
		verifiedIDToken(t, provider, app.ID, tok, "nonce-c")
	})
}

// TestAuthCodeInBrowserDenied: Deny sends the browser back with
// access_denied, and nothing else.
func TestAuthCodeInBrowserDenied(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	bctx := browser(t)
	navigate(t, bctx, conf.AuthCodeURL("state-d", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	signIn(t, bctx, personEmail, personPassword)
	click(t, bctx, `button[name=decision][value=deny]`)
	waitFor(t, bctx, `#arrived`)
	if q := app.arrival(t); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "state-d" {
		t.Errorf("callback after deny = %v", q)
	}
}

// TestAuthCodeInBrowserSignInAgain: with consent remembered, a sign-in
// form (prompt=login) leads back to the app through the page that
// refreshes to it, which the sign-in page's CSP allows.
func TestAuthCodeInBrowserSignInAgain(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	bctx := browser(t)
	navigate(t, bctx, conf.AuthCodeURL("s1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	signIn(t, bctx, personEmail, personPassword)
	click(t, bctx, `button[name=decision][value=approve]`)
	waitFor(t, bctx, `#arrived`)
	app.arrival(t)

	navigate(t, bctx, conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "login")))
	signIn(t, bctx, personEmail, personPassword)
	waitFor(t, bctx, `#arrived`)
	if q := app.arrival(t); q.Get("state") != "s2" || q.Get("code") == "" {
		t.Errorf("callback after signing in again = %v", q)
	}
}

// TestRegisterThenAuthorizeInBrowser: flow=register sends a signed-out
// person to create an account; once created (and told to check their
// email) they sign in and the authorization request carries on to consent
// and back to the app.
func TestRegisterThenAuthorizeInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	bctx := browser(t)
	navigate(t, bctx, conf.AuthCodeURL("s-reg", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("flow", "register"), oauth2.SetAuthURLParam("login_hint", "new@example.com")))
	screenshot(t, bctx, "register")
	if got, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`input[name=email]`))); err != nil || got != "new@example.com" {
		t.Errorf("email field = %q, %v; want the login_hint", got, err)
	}
	registerAndSignIn(t, bctx, s, "New Person", "new@example.com", "a long enough password")
	waitFor(t, bctx, `button[name=decision][value=approve]`)
	click(t, bctx, `button[name=decision][value=approve]`)
	waitFor(t, bctx, `#arrived`)
	if q := app.arrival(t); q.Get("state") != "s-reg" || q.Get("code") == "" {
		t.Errorf("callback after registering = %v", q)
	}
	if u, err := s.Store.GetUserByEmail(t.Context(), "new@example.com"); err != nil || u.Name != "New Person" {
		t.Errorf("new user = %+v, %v", u, err)
	}
}

// TestRegisterThenDeviceInBrowser: from the device page's sign-in, a new
// person creates an account instead, signs in and comes back to the
// code's confirm page.
func TestRegisterThenDeviceInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	ctx := t.Context()
	conf, _ := deviceConfig(t, ctx, s)
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	// The code's page asks a signed-out person to sign in; they have no
	// account yet and follow the link to create one.
	navigate(t, bctx, da.VerificationURIComplete)
	waitFor(t, bctx, `a[href^="/register"]`)
	submit(t, bctx, chromedp.Click(chromedp.CSS(`a[href^="/register"]`)))
	registerAndSignIn(t, bctx, s, "Device Owner", "owner@example.com", "a long enough password")
	waitFor(t, bctx, `button[name=decision][value=approve]`)
	if text := pageText(t, bctx); !strings.Contains(text, da.UserCode) || !strings.Contains(text, "owner@example.com") {
		t.Errorf("confirm page after registering:\n%s", text)
	}
	click(t, bctx, `button[name=decision][value=approve]`)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := conf.DeviceAccessToken(tctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.AccessToken == "" {
		t.Error("no access token")
	}
}

// TestPromptNoneInBrowser: a silent request from a signed-out browser comes
// straight back with login_required.
func TestPromptNoneInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	bctx := browser(t)
	navigate(t, bctx, conf.AuthCodeURL("s-none", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
	waitFor(t, bctx, `#arrived`)
	if q := app.arrival(t); q.Get("error") != "login_required" || q.Get("state") != "s-none" {
		t.Errorf("callback = %v", q)
	}
}
