package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/store"
)

// TestEnrolFirst: with accounts.second_factor requiring one, a person who
// has neither a TOTP nor a passkey is signed in but sent to set one up
// before the device page shows or decides anything, before the consent
// page, and before the authorization endpoint issues a code (prompt=none
// answers login_required, with no page); once they have a passkey they go
// on; and a person the policy does not cover is never stopped.
func TestEnrolFirst(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	e.pages.TOTP, e.pages.Passkeys, e.pages.SecondFactor = e.st, e.st, SecondFactorAll
	b := e.browser(t)
	b.login(testEmail)
	wantEnrol := func(what string, w interface {
		Result() *http.Response
	}) {
		t.Helper()
		res := w.Result()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != enrolURL {
			t.Errorf("%s: %d to %q; want %s", what, res.StatusCode, loc, enrolURL)
		}
	}
	wantEnrol("device page", b.get("/device?user_code="+testCode))
	wantEnrol("device entry", b.get("/device"))
	// The session's form token, as any page of its would carry it.
	r := httptest.NewRequest("GET", "/", nil)
	for name, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: v})
	}
	s, _, err := e.pages.Sessions.Current(r)
	if err != nil || s == nil {
		t.Fatalf("session: %v, %v", s, err)
	}
	token := e.pages.csrfToken("session:" + s.Hash)
	wantEnrol("device approval", b.post("/device", url.Values{"user_code": {testCode}, "decision": {"approve"}, "csrf_token": {token}}))
	if got := e.status(t, testCode); got != store.DevicePending {
		t.Errorf("status after a refused approval = %q; want pending", got)
	}
	wantEnrol("authorization request", b.get(authorizePath))
	wantEnrol("consent page", b.get("/consent?request=anything"))
	wantEnrol("consent decision", b.post("/consent", url.Values{"request": {"anything"}, "decision": {"approve"}, "csrf_token": {token}}))
	w := b.get(authorizePath + "&prompt=none")
	if q := clientAnswer(t, w.Code, w.Header().Get("Location")); q.Get("error") != authorize.LoginRequired || q.Get("code") != "" {
		t.Errorf("prompt=none: %v; want login_required and no code", q)
	}

	// A passkey is a second factor: the device page opens.
	if err := e.st.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-1", UserID: e.user.ID, PublicKey: []byte{1}, Name: "Phone",
		AAGUID: make([]byte, 16), CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	if w := b.get("/device?user_code=" + testCode); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Errorf("with a passkey, the device page: %d", w.Code)
	}

	// Policy admins: Bob is none, and is never stopped.
	e.pages.SecondFactor = SecondFactorAdmins
	bob := e.browser(t)
	bob.login("bob@example.com")
	if w := bob.get("/device?user_code=" + testCode); w.Code != http.StatusOK {
		t.Errorf("a person the policy does not cover: %d", w.Code)
	}
}

// TestPasswordAloneWithPasskey: someone who must sign in with a second
// factor and whose only one is a passkey does not get a session from the
// right password alone (it is one factor; a passkey counts as both): the
// sign-in page answers 401 and says to use the passkey. Without the
// policy, or without a passkey (then they enrol, TestEnrolFirst), the
// password signs in.
func TestPasswordAloneWithPasskey(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	e.pages.TOTP, e.pages.Passkeys, e.pages.SecondFactor = e.st, e.st, SecondFactorAll
	if err := e.st.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-1", UserID: e.user.ID, PublicKey: []byte{1}, Name: "Phone",
		AAGUID: make([]byte, 16), CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "csrf_token": {b.csrf("/login")}})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "sign in with your passkey") {
		t.Errorf("the right password of a passkey holder who needs two factors: %d\n%s", w.Code, w.Body)
	}
	// What to do next, not a mistake: a neutral notice, then the passkey
	// button as the page's first action, the password's after it.
	page := w.Body.String()
	notice, passkey, password := strings.Index(page, `<p class="info" role="status">Your account asks for a second factor`),
		strings.Index(page, `<button type="button" hidden>Sign in with a passkey</button>`),
		strings.Index(page, `<button class="secondary" type="submit">Sign in</button>`)
	if notice < 0 || passkey < notice || password < passkey || strings.Contains(page, `role="alert">Your account`) {
		t.Errorf("the notice at %d, the passkey button at %d, the password's at %d:\n%s", notice, passkey, password, page)
	}
	if w := b.get("/device?user_code=" + testCode); w.Code == http.StatusOK && strings.Contains(w.Body.String(), `value="approve"`) {
		t.Error("signed in with the password alone")
	}

	e.pages.SecondFactor = SecondFactorOff
	b.login(testEmail)
	if w := b.get("/device?user_code=" + testCode); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Errorf("without the policy, after the password: the device page %d", w.Code)
	}
}

// TestPasskeysUnusableAtIP: an issuer at an IP address offers no passkeys
// (browsers refuse one as a relying party); the account page says why, and
// a person whose second factor is a passkey is told, after the right
// password, why it cannot be used here and what to do, and still gets no
// session from the password alone.
func TestPasskeysUnusableAtIP(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	e.pages.Issuer = "http://127.0.0.1:8080"
	e.pages.TOTP, e.pages.Passkeys, e.pages.Accounts, e.pages.SecondFactor = e.st, e.st, e.st, SecondFactorAll
	if err := e.st.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-1", UserID: e.user.ID, PublicKey: []byte{1}, Name: "Phone",
		AAGUID: make([]byte, 16), CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	if page := b.get("/login").Body.String(); strings.Contains(page, "passkey") {
		t.Errorf("the sign-in page offers a passkey:\n%s", page)
	}
	w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "csrf_token": {b.csrf("/login")}})
	page := w.Body.String()
	if w.Code != http.StatusUnauthorized || !strings.Contains(page, `<p class="info" role="status">Your account asks for a second factor, and yours is a passkey, which cannot be used here: this server is reached at 127.0.0.1, an IP address`) ||
		strings.Contains(page, "sign in with your passkey") || strings.Contains(page, "passkey-login") {
		t.Errorf("the right password of a passkey holder who needs two factors: %d\n%s", w.Code, page)
	}
	if w := b.get("/device?user_code=" + testCode); w.Code == http.StatusOK && strings.Contains(w.Body.String(), `value="approve"`) {
		t.Error("signed in with the password alone")
	}

	e.pages.SecondFactor = SecondFactorOff
	b.login(testEmail)
	page = b.get("/account").Body.String()
	if !strings.Contains(page, `<p class="info">Passkeys cannot be used here: this server is reached at 127.0.0.1, an IP address`) ||
		strings.Contains(page, "passkey-add") || strings.Contains(page, "Phone") {
		t.Errorf("the account page at an IP address:\n%s", page)
	}
}
