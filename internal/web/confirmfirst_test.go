package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/store"
)

const cyEmail = "cy@example.com"

// newGateEnv is newAuthEnv with the account pages' store and mail (real
// links in the SQLite outbox) and Cy, who has not confirmed her address.
func newGateEnv(t *testing.T) *env {
	t.Helper()
	e := newAuthEnv(t)
	e.pages.Accounts = e.st
	e.pages.Links = &account.Links{Store: e.st, Issuer: testIssuer, Now: e.pages.Now, Rand: rand.Reader}
	if err := e.st.CreateUser(t.Context(), &store.User{ID: "u4", Email: cyEmail, Name: "Cy", PasswordHash: passwordHash,
		CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return e
}

// sessionCSRF is the form token of b's session, as any page of it carries.
func (b *browser) sessionCSRF() string {
	b.t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	for name, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	s, _, err := b.e.pages.Sessions.Current(r)
	if err != nil || s == nil {
		b.t.Fatalf("session: %v, %v", s, err)
	}
	return b.e.pages.csrfToken("session:" + s.Hash)
}

// wantRedirect checks that w is a 303 to want.
func wantRedirect(t *testing.T, what string, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != want {
		t.Errorf("%s: %d to %q; want 303 to %q", what, w.Code, loc, want)
	}
}

var verifyLinkRe = regexp.MustCompile(`/verify-email\?[^\s]*token=lk_ev_[A-Za-z0-9_-]+[^\s]*`)

// mailedLinks returns the verification links mailed to address so far.
func (e *env) mailedLinks(t *testing.T, address string) []string {
	t.Helper()
	e.pages.Wait()
	mails, err := e.st.ClaimMail(t.Context(), e.now.Add(time.Second), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, m := range mails {
		if m.Recipient == address {
			if l := verifyLinkRe.FindString(m.Body); l != "" {
				links = append(links, l)
			}
		}
	}
	return links
}

// TestConfirmFirst: with RequireVerifiedEmail, a person signed in with an
// unconfirmed address is sent to the gate page, keeping where they were,
// before the device page shows or decides anything, before the consent
// page, and before the authorization endpoint issues anything
// (prompt=none answers login_required); the device stays pending.
func TestConfirmFirst(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	b := e.browser(t)
	b.login(cyEmail)
	token := b.sessionCSRF()

	wantRedirect(t, "device page", b.get("/device?user_code="+testCode), confirmURL("/device?user_code="+testCode))
	wantRedirect(t, "10Duke's device page", b.get("/user/device?userCode="+testCode), confirmURL("/device?user_code="+testCode))
	wantRedirect(t, "device entry", b.get("/device"), confirmURL("/device"))
	wantRedirect(t, "device approval", b.post("/device", url.Values{"user_code": {testCode}, "decision": {"approve"}, "csrf_token": {token}}),
		confirmURL("/device?user_code="+testCode))
	if got := e.status(t, testCode); got != store.DevicePending {
		t.Errorf("status after a refused approval = %q; want pending", got)
	}
	wantRedirect(t, "consent page", b.get("/consent?request=anything"), confirmURL(continueURL("anything")))
	wantRedirect(t, "consent decision", b.post("/consent", url.Values{"request": {"anything"}, "decision": {"approve"}, "csrf_token": {token}}),
		confirmURL(continueURL("anything")))
	w := b.get(authorizePath + "&prompt=none")
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != authorize.LoginRequired || q.Get("code") != "" {
		t.Errorf("prompt=none: %v; want login_required and no code", q)
	}
	// The authorization request is kept, to be continued from the gate.
	w = b.get(authorizePath)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || loc.Path != confirmPath || !strings.HasPrefix(loc.Query().Get("return_to"), "/consent?request=") {
		t.Fatalf("authorization request: %d to %q; want the gate returning to the stored request", w.Code, loc)
	}
	consent := loc.Query().Get("return_to")

	// A bad request is still an error page, not the gate.
	if w := b.get("/oauth2/authorize?client_id=webapp&response_type=code&redirect_uri=https://evil.example/cb"); w.Code != http.StatusBadRequest {
		t.Errorf("a bad authorization request: %d; want its error page", w.Code)
	}

	// Confirmed (here by the store, as the link would), the gate lets
	// the same requests through: the stored request shows its consent
	// page, the device its confirm page.
	markConfirmed(t, e, "u4")
	if w := b.get(consent); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="/consent"`) {
		t.Errorf("the kept authorization request after confirming: %d\n%s", w.Code, w.Body)
	}
	if w := b.get("/device?user_code=" + testCode); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Errorf("the device page after confirming: %d", w.Code)
	}

	// Off: nobody is stopped.
	e.pages.RequireVerifiedEmail = false
	dee := e.browser(t)
	mustCreateUser(t, e, "u5", "dee@example.com")
	dee.login("dee@example.com")
	if w := dee.get("/device?user_code=" + testCode); w.Code != http.StatusOK {
		t.Errorf("with the gate off, an unconfirmed person's device page: %d", w.Code)
	}
}

func markConfirmed(t *testing.T, e *env, id string) {
	t.Helper()
	u, err := e.st.GetUser(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	u.EmailVerified = true
	if err := e.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

func mustCreateUser(t *testing.T, e *env, id, email string) {
	t.Helper()
	if err := e.st.CreateUser(t.Context(), &store.User{ID: id, Email: email, Name: id, PasswordHash: passwordHash,
		CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

// TestGatePage: the gate page names the address and keeps the return
// path; "continue" checks again (409 until the link is used); "send the
// link again" mails one that returns to the device, on the budgets of
// /verify-email/resend (429 over them, with Retry-After), and both need
// the session's CSRF token. Once the mailed link is used in this
// browser, its page and the gate's continue lead back to the device with
// its code, where the person approves it.
func TestGatePage(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	e.pages.LinksPerAddress = 2
	b := e.browser(t)
	b.login(cyEmail)
	device := "/device?user_code=" + testCode
	gate := confirmURL(device)
	wantRedirect(t, "device page", b.get(device), gate)

	w := b.get(gate)
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "Confirm your email first") || !strings.Contains(body, "<strong>"+cyEmail+"</strong>") ||
		!hasAttr(body, `name="return_to" value="`, device) {
		t.Fatalf("gate page: %d\n%s", w.Code, body)
	}
	token := b.sessionCSRF()
	post := func(action string, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		if form == nil {
			form = url.Values{"csrf_token": {token}, "return_to": {device}}
		}
		form.Set("action", action)
		return b.post(confirmPath, form)
	}

	if w := post("continue", nil); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "not confirmed yet") {
		t.Errorf("continue before confirming: %d\n%s", w.Code, w.Body)
	}
	if w := post("resend", url.Values{"return_to": {device}}); w.Code != http.StatusForbidden {
		t.Errorf("resend without csrf_token: %d", w.Code)
	}
	other := e.browser(t)
	other.login("bob@example.com")
	if w := post("resend", url.Values{"return_to": {device}, "csrf_token": {other.sessionCSRF()}}); w.Code != http.StatusForbidden {
		t.Errorf("resend with another session's csrf_token: %d", w.Code)
	}
	if w := post("delete", nil); w.Code != http.StatusBadRequest {
		t.Errorf("an unknown action: %d", w.Code)
	}
	if links := e.mailedLinks(t, cyEmail); len(links) != 0 {
		t.Fatalf("mail sent by refused forms: %v", links)
	}

	w = post("resend", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "We have emailed a new link to "+cyEmail) {
		t.Errorf("resend: %d\n%s", w.Code, w.Body)
	}
	links := e.mailedLinks(t, cyEmail)
	if len(links) != 1 || !strings.Contains(links[0], "return_to="+url.QueryEscape(device)) {
		t.Fatalf("mailed links: %v; want one returning to %s", links, device)
	}
	// The budget per address is the one /verify-email/resend spends.
	post("resend", nil)
	w = post("resend", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "Too many links") {
		t.Errorf("resend over the budget: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if n, err := e.st.Count(t.Context(), "link:verify:addr:"+cyEmail, e.now.Truncate(DefaultLinkWindow)); err != nil || n != 3 {
		t.Errorf("the address's resend budget counted %d, %v; want 3", n, err)
	}
	if got := len(e.mailedLinks(t, cyEmail)); got != 1 {
		t.Errorf("%d more links after the first; want 1 (the second within the budget)", got)
	}

	// The first link, opened in this browser: its page's Continue goes
	// back to the device; so does the gate's continue, once.
	vform := url.Values{"csrf_token": {token}, "token": {tokenOf(t, links[0])}, "return_to": {device}}
	w = b.post("/verify-email", vform)
	if w.Code != http.StatusOK || !hasAttr(w.Body.String(), `href="`, device) {
		t.Fatalf("verify: %d\n%s", w.Code, w.Body)
	}
	wantRedirect(t, "continue after confirming", post("continue", nil), device)
	if w := b.get(device); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Fatalf("device page after confirming: %d", w.Code)
	}
	w = b.post("/device", url.Values{"user_code": {testCode}, "decision": {"approve"}, "csrf_token": {token}})
	if w.Code != http.StatusOK || e.status(t, testCode) != store.DeviceApproved {
		t.Errorf("approve after confirming: %d, status %s", w.Code, e.status(t, testCode))
	}
	// The gate page itself now lets a confirmed person through.
	wantRedirect(t, "gate page once confirmed", b.get(gate), device)
}

// TestGatePendingStep: the verification link's page, used in the browser
// the gate stopped, offers to continue to that step even when the link
// came from a mail that knew nothing of it (registration's), and the
// step is read as any return_to: a local path or nothing.
func TestGatePendingStep(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	b := e.browser(t)
	b.login(cyEmail)
	device := "/device?user_code=" + testCode
	b.get(device) // the gate remembers the device
	u, err := e.st.GetUser(t.Context(), "u4")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pages.Links.SendVerification(t.Context(), nil, u, u.Email, ""); err != nil {
		t.Fatal(err)
	}
	links := e.mailedLinks(t, cyEmail)
	if len(links) != 1 || strings.Contains(links[0], "return_to") {
		t.Fatalf("links: %v", links)
	}
	w := b.post("/verify-email", url.Values{"csrf_token": {b.sessionCSRF()}, "token": {tokenOf(t, links[0])}})
	if w.Code != http.StatusOK || !hasAttr(w.Body.String(), `href="`, device) {
		t.Fatalf("verify: %d; want a link to %s\n%s", w.Code, device, w.Body)
	}
	if _, ok := b.cookies[pendingCookieName]; ok {
		t.Error("the pending step outlived its use")
	}

	// Not a local path: ignored, on the gate page and from the cookie.
	for _, evil := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: pendingCookieName, Value: base64URL(evil)})
		if got := e.pages.pendingStep(r); got != "" {
			t.Errorf("pendingStep with %q = %q; want none", evil, got)
		}
		if got := confirmURL(evil); got != confirmPath {
			t.Errorf("confirmURL(%q) = %q", evil, got)
		}
		wantRedirect(t, "the gate, confirmed, with return_to "+evil, b.get(confirmPath+"?return_to="+url.QueryEscape(evil)), "/account")
	}
	// Signed out, the gate sends to sign in and back.
	wantRedirect(t, "signed out", e.browser(t).get(confirmURL(device)), loginURL(confirmURL(device)))
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// hasAttr reports whether body has prefix followed by the attribute
// value v and its closing quote, as html/template may write it.
func hasAttr(body, prefix, v string) bool {
	return strings.Contains(body, prefix+v+`"`) || strings.Contains(body, prefix+strings.ReplaceAll(v, "=", "&#61;")+`"`)
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestEnrolFirstComesBack: someone sent from the device page to set up a
// second factor is offered the way back to the code afterwards: on the
// recovery codes' page once the authenticator app is on, on the account
// page once a passkey counts (not while one is still missing); the device
// page, reached, forgets the kept step.
func TestEnrolFirstComesBack(t *testing.T) {
	t.Parallel()
	e := newGateEnv(t)
	e.pages.TOTP, e.pages.Passkeys, e.pages.SecondFactor = e.st, e.st, SecondFactorAll
	device := "/device?user_code=" + testCode
	link := `<a class="button" href="` + device + `">Continue where you left off</a>`
	link2 := strings.ReplaceAll(link, "=", "&#61;")
	hasLink := func(body string) bool { return strings.Contains(body, link) || strings.Contains(body, link2) }

	// The authenticator app.
	b := e.browser(t)
	b.login(testEmail)
	wantRedirect(t, "device page", b.get(device), enrolURL)
	if w := b.get("/account"); w.Code != http.StatusOK || hasLink(w.Body.String()) {
		t.Errorf("account page before a second factor: %d, offers to continue: %v", w.Code, hasLink(w.Body.String()))
	}
	token := b.sessionCSRF()
	if w := b.post("/account/totp", url.Values{"csrf_token": {token}}); w.Code != http.StatusOK {
		t.Fatalf("begin: %d\n%s", w.Code, w.Body)
	}
	tt, err := e.st.GetTOTP(t.Context(), e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(b32.EncodeToString(tt.Secret), e.now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	w := b.post("/account/totp/confirm", url.Values{"csrf_token": {token}, "code": {code}})
	if w.Code != http.StatusOK || !hasLink(w.Body.String()) {
		t.Errorf("recovery codes' page: %d, no way back to %s\n%s", w.Code, device, w.Body)
	}
	if w := b.get(device); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Errorf("device page after enrolling: %d", w.Code)
	}
	if _, ok := b.cookies[pendingCookieName]; ok {
		t.Error("the kept step outlived the device page")
	}

	// A passkey, on the account page (Bob).
	bob := e.browser(t)
	bob.login("bob@example.com")
	wantRedirect(t, "Bob's device page", bob.get(device), enrolURL)
	if err := e.st.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-b", UserID: "u3", PublicKey: []byte{1}, Name: "Phone",
		AAGUID: make([]byte, 16), CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	if w := bob.get("/account?done=passkey-added"); w.Code != http.StatusOK || !hasLink(w.Body.String()) {
		t.Errorf("account page with a passkey: %d, no way back to %s", w.Code, device)
	}
}
