package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"regexp"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

// TestTOTPInBrowser: with accounts.second_factor all, a person signing in
// with the password is sent to set up two-step sign-in; they scan (here:
// read) the key, confirm with a code computed by pquerna/otp, and get ten
// recovery codes, with the way back to the device page they started
// from. Signing in again asks for a code after the password: the
// code already used is refused, the next one works; a recovery code works
// once. Last, someone whose only second factor is a passkey gives the
// right password and is asked for the passkey, with its button (the
// notice login.use_passkey). Both backends, headless Chromium.
func TestTOTPInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, _ := accountServer(t, b, func(c *config.Config) {
			c.Accounts.SecondFactor = "all"
			// localhost, which browsers take as a WebAuthn relying party,
			// so the sign-in page offers passkeys (passkeyServer).
			c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
		})
		bctx := browserWithin(t, 3*time.Minute)
		code := func(secret string) string {
			c, err := totp.GenerateCode(secret, s.Clock.Now())
			mustDo(t, err)
			return c
		}

		// From the device page: sign-in leads to the set-up, and the
		// recovery codes' page back to the device page.
		navigate(t, bctx, s.URL+"/device")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `#second-factor-h`)
		if text := pageText(t, bctx); !strings.Contains(text, "asks you to turn on two-step sign-in") {
			t.Errorf("a person who must have a second factor is not told:\n%s", text)
		}
		click(t, bctx, `form[action="/account/totp"] button`)
		waitFor(t, bctx, `#totp-secret`)
		screenshots(t, bctx, "totp-setup")
		secret, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#totp-secret`)))
		mustDo(t, err)
		secret = strings.ReplaceAll(strings.TrimSpace(secret), " ", "")
		if tt, err := s.Store.GetTOTP(t.Context(), s.User.ID); err != nil || !tt.ConfirmedAt.IsZero() {
			t.Fatalf("the enrolment before the code: %+v, %v", tt, err)
		}

		// A wrong code does not turn it on; the app's code does.
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#code`), "000000")))
		click(t, bctx, `form[action="/account/totp/confirm"] button`)
		if text := pageText(t, bctx); !strings.Contains(text, "That code is wrong") {
			t.Errorf("a wrong confirming code:\n%s", text)
		}
		first := code(secret)
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#code`), first)))
		click(t, bctx, `form[action="/account/totp/confirm"] button`)
		waitFor(t, bctx, `ul.codes`)
		waitFor(t, bctx, `main a.button[href="/device"]`)
		screenshots(t, bctx, "totp-codes")
		codesText, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`ul.codes`)))
		mustDo(t, err)
		codes := strings.Fields(codesText)
		if len(codes) != 10 {
			t.Fatalf("recovery codes shown: %q", codesText)
		}

		signOutAndIn := func() {
			t.Helper()
			click(t, bctx, `.who button`)
			navigate(t, bctx, s.URL+"/login")
			signIn(t, bctx, personEmail, personPassword)
			waitFor(t, bctx, `#recovery_code`)
		}
		enter := func(sel, value, button string) string {
			t.Helper()
			mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(sel), value)))
			click(t, bctx, button)
			return pageText(t, bctx)
		}
		const codeButton, recoveryButton = `form:first-of-type button`, `button.secondary`

		// The code that confirmed the app cannot sign in again; the next one does.
		signOutAndIn()
		screenshots(t, bctx, "totp-second-step")
		if text := enter(`#code`, first, codeButton); !strings.Contains(text, "used already") {
			t.Errorf("a replayed code:\n%s", text)
		}
		s.Clock.Advance(30 * time.Second)
		if text := enter(`#code`, code(secret), codeButton); !strings.Contains(text, "Signed in as") {
			t.Fatalf("the next code:\n%s", text)
		}

		// A recovery code, once.
		signOutAndIn()
		if text := enter(`#recovery_code`, strings.ToUpper(codes[3]), recoveryButton); !strings.Contains(text, "Signed in as") {
			t.Fatalf("a recovery code:\n%s", text)
		}
		signOutAndIn()
		if text := enter(`#recovery_code`, codes[3], recoveryButton); !strings.Contains(text, "used already") || strings.Contains(text, "Signed in as") {
			t.Errorf("a recovery code used twice:\n%s", text)
		}
		if n, _ := s.Store.CountRecoveryCodes(t.Context(), s.User.ID); n != 9 {
			t.Errorf("recovery codes left: %d, want 9", n)
		}

		// Someone whose only second factor is a passkey gets no session
		// from the right password: the page asks for the passkey.
		kim := passkeyOnlyPerson(t, s)
		navigate(t, bctx, s.URL+"/login") // the last step left no one signed in
		signIn(t, bctx, kim.Email, personPassword)
		waitFor(t, bctx, `#passkey-login button`)
		if text := pageText(t, bctx); !strings.Contains(text, "sign in with your passkey") || strings.Contains(text, "Signed in as") {
			t.Errorf("the right password of someone whose second factor is a passkey:\n%s", text)
		}
		screenshots(t, bctx, "login-use-passkey")
	})
}

var stateIn = regexp.MustCompile(`name="state" value="([^"]+)"`)

// TestSecondStepForms: the second step's state belongs to the browser
// that gave the password; its attempts are limited per account; the
// account page's forms need the page's token and, to turn it off, the
// password.
func TestSecondStepForms(t *testing.T) {
	t.Parallel()
	s, _ := accountServer(t, backends[0], func(c *config.Config) { c.Login.AttemptsPerAccount = 3 })
	ctx := t.Context()
	secret := []byte("12345678901234567890")
	mustDo(t, s.Store.BeginTOTP(ctx, s.User.ID, secret, s.Clock.Now()))
	mustDo(t, s.Store.ConfirmTOTP(ctx, s.User.ID, 1, nil, s.Clock.Now()))

	br := newWebBrowser(t, s)
	r := br.post("/login", url.Values{"username": {personEmail}, "password": {personPassword}, "csrf_token": {csrfOf(t, br.get("/login"))}})
	if r.Status != http.StatusOK || !strings.Contains(r.Raw, "Two-step sign-in") || br.signedIn() {
		t.Fatalf("the password alone: %d, signed in %v", r.Status, br.signedIn())
	}
	state := stateIn.FindStringSubmatch(r.Raw)
	if state == nil {
		t.Fatal("no state in the second step's page")
	}
	// Another browser cannot use this browser's state.
	other := newWebBrowser(t, s)
	if r := other.post("/login/second-factor", url.Values{"state": {state[1]}, "code": {"123456"}, "csrf_token": {csrfOf(t, other.get("/login"))}}); r.Status != http.StatusBadRequest ||
		!strings.Contains(r.Raw, "expired") {
		t.Errorf("the state in another browser: %d", r.Status)
	}
	if r := br.post("/login/second-factor", url.Values{"state": {state[1]}, "code": {"123456"}}); r.Status != http.StatusForbidden {
		t.Errorf("no csrf_token: %d", r.Status)
	}
	csrf := csrfOf(t, br.get("/login"))
	statuses := []int{}
	for range 4 {
		statuses = append(statuses, br.post("/login/second-factor", url.Values{"state": {state[1]}, "code": {"000000"}, "csrf_token": {csrf}}).Status)
	}
	if want := []int{400, 400, 400, 429}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("wrong codes in a row: %v, want %v", statuses, want)
	}
	if br.signedIn() {
		t.Error("signed in with wrong codes")
	}
	for _, path := range []string{"/account/totp", "/account/totp/confirm", "/account/totp/remove"} {
		if r := newWebBrowser(t, s).post(path, url.Values{"code": {"1"}}); r.Status != http.StatusForbidden {
			t.Errorf("%s signed out, no token: %d", path, r.Status)
		}
	}
}

// TestPasskeyUnusableAtIPInBrowser: on a server whose issuer is an IP
// address, which browsers refuse passkeys, someone whose only second
// factor is a passkey gives the right password and is told why the
// passkey cannot be used here and what to do, with no passkey button and
// no session. Headless Chromium.
func TestPasskeyUnusableAtIPInBrowser(t *testing.T) {
	t.Parallel()
	s, _ := accountServer(t, backends[0], func(c *config.Config) { c.Accounts.SecondFactor = "all" })
	kim := passkeyOnlyPerson(t, s)
	bctx := browser(t)
	navigate(t, bctx, s.URL+"/login")
	signIn(t, bctx, kim.Email, personPassword)
	waitFor(t, bctx, `p.info`)
	text := pageText(t, bctx)
	if !strings.Contains(text, "yours is a passkey, which cannot be used here: this server is reached at 127.0.0.1, an IP address") ||
		strings.Contains(text, "Signed in as") || strings.Contains(text, "Sign in with a passkey") {
		t.Errorf("the right password of someone whose second factor is a passkey, at an IP address:\n%s", text)
	}
	screenshots(t, bctx, "login-passkey-unusable")
}

// passkeyOnlyPerson adds Kim, whose password is the test person's and
// whose only second factor is a passkey.
func passkeyOnlyPerson(t *testing.T, s *testServer) *store.User {
	t.Helper()
	now := time.Now()
	kim := &store.User{ID: "u-kim", Email: "kim@example.com", Name: "Kim Key", PasswordHash: s.User.PasswordHash,
		EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	mustDo(t, s.Store.CreateUser(t.Context(), kim))
	mustDo(t, s.Store.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-kim", UserID: kim.ID, PublicKey: []byte{1},
		Name: "Phone", AAGUID: make([]byte, 16), CreatedAt: now}))
	return kim
}
