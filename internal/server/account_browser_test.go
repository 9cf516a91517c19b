package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

var (
	verifyLink = regexp.MustCompile(`http://[^\s]+/verify-email\?[^\s]*token=lk_ev_[A-Za-z0-9_-]+[^\s]*`)
	resetLink  = regexp.MustCompile(`http://[^\s]+/reset-password\?token=lk_pr_[A-Za-z0-9_-]+`)
)

// accountServer is a test server whose mail goes to a real SMTP listener.
func accountServer(t *testing.T, b backend, edit func(*config.Config)) (*testServer, *smtpServer) {
	t.Helper()
	mta := startSMTP(t, "127.0.0.1:0")
	s := newTestServerOn(t, b, true, func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: mta.port(), TLS: "none", From: "Latchkey <noreply@latchkey.test>"}
		if edit != nil {
			edit(c)
		}
	})
	return s, mta
}

// mailTo waits for the nth mail (from 1) to address and returns its
// subject and text.
func (m *smtpServer) mailTo(t *testing.T, address string, n int) (subject, text string) {
	t.Helper()
	var got []smtpMessage
	eventually(t, "mail to "+address, func() bool {
		got = got[:0]
		for _, msg := range m.received() {
			if msg.To == "TO:<"+address+">" {
				got = append(got, msg)
			}
		}
		return len(got) >= n
	})
	return readInvitationMail(t, got[n-1])
}

// linkIn returns the path and query of the link re finds in text.
func linkIn(t *testing.T, re *regexp.Regexp, text string) string {
	t.Helper()
	link := re.FindString(text)
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", text)
	}
	u, err := url.Parse(link)
	mustDo(t, err)
	return u.RequestURI()
}

// TestVerificationInBrowser: a person registers, signs in before
// confirming the address and opens a device's code: the gate stops them,
// keeping the code; "continue" says not yet, "send the link again" mails
// a link that returns to the code (also in German). The registration's
// link, opened in the same browser, confirms the address and continues to
// the device, which the person approves; the device's poll through
// x/oauth2 gets its tokens. Both backends, headless Chromium, a real SMTP
// conversation.
func TestVerificationInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, mta := accountServer(t, b, nil)
		ctx := t.Context()
		conf, _ := deviceConfig(t, ctx, s)
		da, err := conf.DeviceAuth(ctx)
		mustDo(t, err)
		bctx := browser(t)

		// Registration mails a verification link.
		navigate(t, bctx, s.URL+"/register?return_to=%2Fdevice")
		register(t, bctx, "Nia Newcomer", "nia@example.com", "a quiet orange lighthouse")
		waitFor(t, bctx, `main a[href^="/login"]`)
		schemeShots(t, bctx, "register-check-email")
		s.Srv.Wait()
		nia, err := s.Store.GetUserByEmail(ctx, "nia@example.com")
		mustDo(t, err)
		if nia.EmailVerified {
			t.Fatal("verified before the link was used")
		}
		subject, text := mta.mailTo(t, "nia@example.com", 1)
		if subject != "Confirm your email address" || !strings.Contains(text, "Hello Nia Newcomer") {
			t.Errorf("verification mail %q:\n%s", subject, text)
		}
		link := linkIn(t, verifyLink, text)
		if !strings.Contains(link, "return_to=%2Fdevice") {
			t.Errorf("the link does not return to the device page: %s", link)
		}

		// Registering signed nobody in: the page's link signs in. Before
		// the address is confirmed, the device's code leads to the gate.
		submit(t, bctx, chromedp.Click(chromedp.CSS(`main a[href^="/login"]`)))
		signIn(t, bctx, "nia@example.com", "a quiet orange lighthouse")
		waitFor(t, bctx, `h1`)
		navigate(t, bctx, da.VerificationURIComplete)
		waitFor(t, bctx, `button[name=action][value=resend]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Confirm your email first") || !strings.Contains(text, "nia@example.com") {
			t.Fatalf("the gate page:\n%s", text)
		}
		checkAccessible(t, bctx, axeSource(t), "confirm your email first")
		schemeShots(t, bctx, "verify-required")
		click(t, bctx, `button[name=action][value=continue]`)
		waitFor(t, bctx, `.notice`)
		if text := pageText(t, bctx); !strings.Contains(text, "not confirmed yet") {
			t.Errorf("continue before confirming:\n%s", text)
		}
		click(t, bctx, `button[name=action][value=resend]`)
		waitFor(t, bctx, `.done`)
		if text := pageText(t, bctx); !strings.Contains(text, "We have emailed a new link to nia@example.com") {
			t.Errorf("send the link again:\n%s", text)
		}
		screenshots(t, bctx, "verify-required-sent")
		_, text = mta.mailTo(t, "nia@example.com", 2)
		if again := linkIn(t, verifyLink, text); !strings.Contains(again, "return_to=%2Fdevice%3Fuser_code%3D") {
			t.Errorf("the link sent again does not return to the code: %s", again)
		}
		// In the person's language.
		mustDo(t, chromedp.Do(bctx, acceptLanguage("de")))
		navigate(t, bctx, da.VerificationURIComplete)
		waitFor(t, bctx, `button[name=action][value=resend]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Bestätigen Sie zuerst Ihre E-Mail-Adresse") || !strings.Contains(text, "Link erneut senden") {
			t.Errorf("the gate page in German:\n%s", text)
		}
		if over, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
			t.Errorf("the gate page in German: text overflows its box: %v", over)
		}
		screenshots(t, bctx, "verify-required-de")
		mustDo(t, chromedp.Do(bctx, acceptLanguage("en")))
		if got := mustGetUser(t, s, nia.ID); got.EmailVerified {
			t.Fatal("the gate confirmed the address")
		}

		// Opening the registration's link changes nothing; its button
		// does, and then offers the device, which the gate kept in this
		// browser, though the link knew only /device.
		navigate(t, bctx, s.URL+link)
		waitFor(t, bctx, `form[action="/verify-email"] button`)
		screenshots(t, bctx, "verify-email")
		if got := mustGetUser(t, s, nia.ID); got.EmailVerified {
			t.Fatal("opening the link verified the address")
		}
		click(t, bctx, `form[action="/verify-email"] button`)
		if text := pageText(t, bctx); !strings.Contains(text, "Email address confirmed") || !strings.Contains(text, "nia@example.com") {
			t.Fatalf("after confirming:\n%s", text)
		}
		screenshots(t, bctx, "verify-email-done")
		if got := mustGetUser(t, s, nia.ID); !got.EmailVerified {
			t.Fatal("the address is not verified after the link was used")
		}
		submit(t, bctx, chromedp.Click(chromedp.CSS(`main a[href^="/device?user_code="]`)))
		waitFor(t, bctx, `button[name=decision][value=approve]`)
		if text := pageText(t, bctx); !strings.Contains(text, da.UserCode) {
			t.Errorf("the confirm page after the link lacks the code %s:\n%s", da.UserCode, text)
		}
		click(t, bctx, `button[name=decision][value=approve]`)
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tok, err := conf.DeviceAccessToken(tctx, da)
		if err != nil || tok.AccessToken == "" {
			t.Fatalf("DeviceAccessToken after confirming and approving: %v", err)
		}

		navigate(t, bctx, s.URL+link)
		waitFor(t, bctx, `h1`)
		if text := pageText(t, bctx); !strings.Contains(text, "This link cannot be used") {
			t.Errorf("a used link's page:\n%s", text)
		}
	})
}

// TestRegisterAnswersAlike: registering with an address that has an
// account and with one that has none get the same status, headers and
// page; the rest goes by mail: the account's owner is told someone tried
// (with the ways to sign in and reset, and no token), the new address gets
// its verification link. A real SMTP conversation.
func TestRegisterAnswersAlike(t *testing.T) {
	t.Parallel()
	s, mta := accountServer(t, backends[0], nil)
	br := newWebBrowser(t, s)
	register := func(email string) reply {
		t.Helper()
		return br.post("/register", url.Values{"name": {"Someone"}, "email": {email}, "password": {"a long enough password"},
			"return_to": {"/device"}, "csrf_token": {csrfOf(t, br.get("/register"))}})
	}
	known, unknown := register(personEmail), register("newcomer@example.com")
	if known.Status != http.StatusOK || known.Status != unknown.Status || known.Raw != unknown.Raw {
		t.Errorf("register: known %d, unknown %d; bodies equal %v\n%s", known.Status, unknown.Status, known.Raw == unknown.Raw, known.Raw)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Set-Cookie", "Retry-After", "Location"} {
		if known.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("%s: known %q, unknown %q", h, known.Header.Get(h), unknown.Header.Get(h))
		}
	}
	subject, text := mta.mailTo(t, personEmail, 1)
	if subject != "Someone tried to create an account with your address" || !strings.Contains(text, "Hello Pat Person") ||
		!strings.Contains(text, s.URL+"/forgot-password?login_hint=person%40example.com") || !strings.Contains(text, s.URL+"/login?login_hint=") ||
		strings.Contains(text, "token=") {
		t.Errorf("the owner's mail %q:\n%s", subject, text)
	}
	subject, text = mta.mailTo(t, "newcomer@example.com", 1)
	if subject != "Confirm your email address" || !verifyLink.MatchString(text) {
		t.Errorf("the newcomer's mail %q:\n%s", subject, text)
	}
	if got := mustGetUser(t, s, s.User.ID); got.PasswordHash != s.User.PasswordHash || got.Name != s.User.Name {
		t.Errorf("registering with a taken address changed its account")
	}
	s.Srv.Wait()
	if n := len(mta.received()); n != 2 {
		t.Errorf("%d mails; want 2", n)
	}
}

// TestPasswordResetInBrowser: a person forgets the password, sets a new
// one with the mailed link, and every browser of theirs is signed out,
// their attached device with it. Both backends, headless Chromium, a real
// SMTP conversation.
func TestPasswordResetInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, mta := accountServer(t, b, nil)
		sessionClients(t, s)
		bctx := browser(t)

		// The person's other browser, with an attached and a detached device.
		old := newWebBrowser(t, s)
		old.signIn()
		attached := pairedDevice(t, s, old, attachedClient)
		detached := pairedDevice(t, s, old, tvClient)

		// "Forgot your password?" from the sign-in page.
		navigate(t, bctx, s.URL+"/login")
		waitFor(t, bctx, `a[href^="/forgot-password"]`)
		screenshots(t, bctx, "login")
		mustDo(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`a[href^="/forgot-password"]`))))
		waitFor(t, bctx, `form[action="/forgot-password"] #email`)
		screenshots(t, bctx, "forgot-password")
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#email`), personEmail)))
		click(t, bctx, `form[action="/forgot-password"] button`)
		if text := pageText(t, bctx); !strings.Contains(text, "Check your email") {
			t.Fatalf("after asking for a link:\n%s", text)
		}
		screenshots(t, bctx, "forgot-password-sent")
		subject, text := mta.mailTo(t, personEmail, 1)
		if subject != "Reset your password" {
			t.Errorf("reset mail %q:\n%s", subject, text)
		}
		link := linkIn(t, resetLink, text)

		navigate(t, bctx, s.URL+link)
		waitFor(t, bctx, `form[action="/reset-password"] #password`)
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#password`), "qwertyuiop")))
		click(t, bctx, `form[action="/reset-password"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "common passwords") {
			t.Errorf("a common password was not refused:\n%s", text)
		}
		screenshots(t, bctx, "reset-password-refused")
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#password`), "seven swans a-swimming")))
		click(t, bctx, `form[action="/reset-password"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Password changed") {
			t.Fatalf("after the reset:\n%s", text)
		}
		screenshots(t, bctx, "reset-password-done")

		// Every browser of the person is signed out, and the attached device with it.
		if old.signedIn() {
			t.Error("the other browser is still signed in after the reset")
		}
		wantOAuthError(t, s.refresh(t, attachedClient, attached.str("refresh_token")), 400, oauth.InvalidGrant)
		if r := s.refresh(t, tvClient, detached.str("refresh_token")); r.Status != 200 {
			t.Errorf("the detached device's refresh after the reset: %d %s", r.Status, r.Raw)
		}
		subject, _ = mta.mailTo(t, personEmail, 2)
		if subject != "Your password was changed" {
			t.Errorf("second mail to the person: %q", subject)
		}

		// The old password is refused, the new one signs in.
		navigate(t, bctx, s.URL+"/login")
		signIn(t, bctx, personEmail, personPassword)
		if text := pageText(t, bctx); !strings.Contains(text, "Wrong email or password") {
			t.Errorf("the old password after the reset:\n%s", text)
		}
		signIn(t, bctx, personEmail, "seven swans a-swimming")
		if text := pageText(t, bctx); !strings.Contains(strings.Join(strings.Fields(text), " "), "Signed in as "+personEmail) {
			t.Errorf("the new password:\n%s", text)
		}
		navigate(t, bctx, s.URL+link)
		waitFor(t, bctx, `h1`)
		if text := pageText(t, bctx); !strings.Contains(text, "This link cannot be used") {
			t.Errorf("the used reset link's page:\n%s", text)
		}
		screenshots(t, bctx, "link-used")
	})
}

func mustGetUser(t *testing.T, s *testServer, id string) *store.User {
	t.Helper()
	u, err := s.Store.GetUser(t.Context(), id)
	mustDo(t, err)
	return u
}

// linkPage opens a mailed link's page in b and returns its token field and CSRF token.
func linkForm(t *testing.T, b *webBrowser, path string) url.Values {
	t.Helper()
	page := b.get(path)
	if page.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, page.Status, page.Raw)
	}
	u, err := url.Parse(path)
	mustDo(t, err)
	return url.Values{"token": {u.Query().Get("token")}, "csrf_token": {csrfOf(t, page)}}
}

// TestAccountLinks: a link works once, not after it expires, only for its
// own purpose and account; "forgot password" answers a known and an
// unknown address alike.
func TestAccountLinks(t *testing.T) {
	t.Parallel()
	s, mta := accountServer(t, backends[0], nil)
	other := &store.User{ID: "u-other", Email: "other@example.com", Name: "Olga Other", PasswordHash: s.User.PasswordHash,
		CreatedAt: s.Clock.Now(), UpdatedAt: s.Clock.Now()}
	mustDo(t, s.Store.CreateUser(t.Context(), other))
	br := newWebBrowser(t, s)

	forgot := func(email string) reply {
		t.Helper()
		return br.post("/forgot-password", url.Values{"email": {email}, "csrf_token": {csrfOf(t, br.get("/forgot-password"))}})
	}
	known, unknown := forgot(personEmail), forgot("nobody@example.com")
	if known.Status != http.StatusOK || known.Status != unknown.Status || known.Raw != unknown.Raw {
		t.Errorf("forgot password: known %d, unknown %d; bodies equal %v", known.Status, unknown.Status, known.Raw == unknown.Raw)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Set-Cookie", "Retry-After"} {
		if known.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("%s: known %q, unknown %q", h, known.Header.Get(h), unknown.Header.Get(h))
		}
	}
	_, text := mta.mailTo(t, personEmail, 1)
	link := linkIn(t, resetLink, text)
	s.Srv.Wait()
	if n := len(mta.received()); n != 1 {
		t.Errorf("%d mails sent; want only the known address's", n)
	}

	reset := func(path, password string) reply {
		t.Helper()
		form := linkForm(t, br, path)
		form.Set("password", password)
		return br.post("/reset-password", form)
	}
	if r := reset(link, "the first new passphrase"); r.Status != http.StatusOK || !strings.Contains(r.Raw, "Password changed") {
		t.Fatalf("reset: %d %s", r.Status, r.Raw)
	}
	if got := mustGetUser(t, s, other.ID); got.PasswordHash != other.PasswordHash {
		t.Error("the reset changed another account's password")
	}
	// Single use: the page and the form both refuse it now.
	if r := br.get(link); r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "This link cannot be used") {
		t.Errorf("a used link's page: %d", r.Status)
	}
	form := url.Values{"token": {strings.TrimPrefix(link, "/reset-password?token=")}, "password": {"the second new passphrase"},
		"csrf_token": {csrfOf(t, br.get("/forgot-password"))}}
	if r := br.post("/reset-password", form); r.Status != http.StatusBadRequest {
		t.Errorf("a used link's form: %d %s", r.Status, r.Raw)
	}

	// Expiry: the reset link of the other account, an hour and a second on.
	forgot(other.Email)
	_, text = mta.mailTo(t, other.Email, 1)
	link = linkIn(t, resetLink, text)
	form = linkForm(t, br, link)
	s.Clock.Advance(time.Hour + time.Second)
	form.Set("password", "a passphrase too late")
	if r := br.post("/reset-password", form); r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "This link cannot be used") {
		t.Errorf("an expired link: %d %s", r.Status, r.Raw)
	}
	if got := mustGetUser(t, s, other.ID); got.PasswordHash != other.PasswordHash {
		t.Error("an expired link changed the password")
	}

	// A verification link is for its purpose and account only: used in a
	// browser signed in as someone else, it verifies its own account.
	resend := br.post("/verify-email/resend", url.Values{"email": {other.Email}, "csrf_token": {csrfOf(t, br.get("/verify-email/resend"))}})
	if resend.Status != http.StatusOK {
		t.Fatalf("resend: %d %s", resend.Status, resend.Raw)
	}
	_, text = mta.mailTo(t, other.Email, 2)
	vlink := linkIn(t, verifyLink, text)
	token := strings.TrimPrefix(vlink, "/verify-email?token=")
	if r := br.get("/reset-password?token=" + url.QueryEscape(token)); r.Status != http.StatusBadRequest {
		t.Errorf("a verification token on the reset page: %d", r.Status)
	}
	signedIn := newWebBrowser(t, s)
	if r := signedIn.post("/login", url.Values{"username": {personEmail}, "password": {"the first new passphrase"},
		"csrf_token": {csrfOf(t, signedIn.get("/login"))}}); r.Status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.Status)
	}
	// Pat's address unconfirmed, to see that Olga's link leaves it so.
	pat := mustGetUser(t, s, s.User.ID)
	pat.EmailVerified = false
	mustDo(t, s.Store.UpdateUser(t.Context(), pat))
	vform := linkForm(t, signedIn, vlink)
	if r := signedIn.post("/verify-email", vform); r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Raw)
	}
	if !mustGetUser(t, s, other.ID).EmailVerified || mustGetUser(t, s, s.User.ID).EmailVerified {
		t.Error("the link verified the wrong account")
	}
	// A form without its CSRF token changes nothing.
	vform.Del("csrf_token")
	if r := signedIn.post("/verify-email", vform); r.Status != http.StatusForbidden {
		t.Errorf("verify without csrf_token: %d", r.Status)
	}
}

// TestAccountLinkBudgets: "forgot password" is limited per address and per
// client address, in the store, the same for known and unknown addresses.
func TestAccountLinkBudgets(t *testing.T) {
	t.Parallel()
	s, _ := accountServer(t, backends[0], func(c *config.Config) { c.Accounts.LinksPerAddress = 2; c.Accounts.LinksPerIP = 5 })
	br := newWebBrowser(t, s)
	forgot := func(email string) int {
		t.Helper()
		return br.post("/forgot-password", url.Values{"email": {email}, "csrf_token": {csrfOf(t, br.get("/forgot-password"))}}).Status
	}
	for _, email := range []string{personEmail, "nobody@example.com"} {
		got := []int{forgot(email), forgot(email), forgot(email)}
		if got[0] != 200 || got[1] != 200 || got[2] != http.StatusTooManyRequests {
			t.Errorf("%s: statuses %v; want 200, 200, 429", email, got)
		}
	}
	if got := forgot("third@example.com"); got != http.StatusTooManyRequests {
		t.Errorf("the sixth request from one address: %d; want 429", got)
	}
}
