package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
)

func registerForm(name, email, password, returnTo, token string) url.Values {
	f := url.Values{"name": {name}, "email": {email}, "password": {password}, "csrf_token": {token}}
	if returnTo != "" {
		f.Set("return_to", returnTo)
	}
	return f
}

// TestRegister: a sensible form is answered "check your email", the same
// for a new address and a taken one; the account is made after the answer,
// and nobody is signed in.
func TestRegister(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, email, password, returnTo string
		wantStatus                      int
		wantText                        string
		wantUser                        string // the account made, "" for none
	}{
		{"Grace", "grace@example.com", "a long enough password", "/device?user_code=WDJB-MJHT", http.StatusOK, "Check your email", "grace@example.com"},
		{"Grace", " Grace@Example.COM ", "a long enough password", "/consent?request=abc", http.StatusOK, "Check your email", "grace@example.com"},
		{"Grace", "grace@example.com", "a long enough password", "https://evil.example/", http.StatusOK, "Check your email", "grace@example.com"},
		{"Ada again", "ADA@example.com", "a long enough password", "", http.StatusOK, "Check your email", ""},
		{"Grace", "grace@example.com", "short", "", http.StatusBadRequest, "at least 10 characters", ""},
		{"Grace", "not-an-address", "a long enough password", "", http.StatusBadRequest, "Enter an email address", ""},
		{"", "grace@example.com", "a long enough password", "", http.StatusBadRequest, "Enter your name", ""},
		{"Grace", "grace@example.com", "a long\tenough password", "", http.StatusBadRequest, "could not be read", ""},
	} {
		t.Run(tt.email+" "+tt.password+" "+tt.returnTo, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			w := b.post("/register", registerForm(tt.name, tt.email, tt.password, tt.returnTo, b.csrf("/register")))
			e.pages.Wait()
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Fatalf("status = %d; want %d with %q\n%s", w.Code, tt.wantStatus, tt.wantText, w.Body)
			}
			if _, signedIn := b.cookies["latchkey_session"]; signedIn {
				t.Errorf("registering signed the browser in")
			}
			if strings.Contains(w.Body.String(), "evil") {
				t.Errorf("the answer keeps an unsafe return_to")
			}
			if tt.wantUser == "" {
				if u, err := e.st.GetUserByEmail(t.Context(), "grace@example.com"); err == nil {
					t.Errorf("an account was made: %+v", u)
				}
				if ada, err := e.st.GetUserByEmail(t.Context(), testEmail); err != nil || ada.Name != "Ada" || ada.PasswordHash != passwordHash {
					t.Errorf("the taken address's account changed: %+v, %v", ada, err)
				}
				return
			}
			u, err := e.st.GetUserByEmail(t.Context(), tt.wantUser)
			if err != nil || u.Name != "Grace" || len(u.ID) != 20 || u.EmailVerified {
				t.Fatalf("new user = %+v, %v", u, err)
			}
		})
	}
}

// TestRegisterSameAnswer: an address with an account and one without get
// the same status, headers and page, in about the same time (the work
// that differs happens after the answer).
func TestRegisterSameAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.RegisterPerIP = 100
	b := e.browser(t)
	token := b.csrf("/register")
	post := func(email string) (*httptest.ResponseRecorder, time.Duration) {
		start := time.Now()
		w := b.post("/register", registerForm("Someone", email, "a long enough password", "/device", token))
		return w, time.Since(start)
	}
	const rounds = 7
	var known, unknown []time.Duration
	for i := range rounds {
		wk, dk := post(testEmail)
		wu, du := post(fmt.Sprintf("new%d@example.com", i))
		known, unknown = append(known, dk), append(unknown, du)
		if wk.Code != wu.Code || wk.Body.String() != wu.Body.String() {
			t.Fatalf("known %d, unknown %d; bodies equal %v", wk.Code, wu.Code, wk.Body.String() == wu.Body.String())
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Set-Cookie", "Retry-After", "Location"} {
			if wk.Header().Get(h) != wu.Header().Get(h) {
				t.Errorf("%s: known %q, unknown %q", h, wk.Header().Get(h), wu.Header().Get(h))
			}
		}
	}
	e.pages.Wait()
	// The medians differ by less than a password hash costs: the hash (and
	// the insert) happen after the answer for both.
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[rounds/2], unknown[rounds/2]
	start := time.Now()
	if _, err := account.HashPassword("a long enough password"); err != nil {
		t.Fatal(err)
	}
	hash := time.Since(start)
	if d := mk - mu; d > hash/2 || -d > hash/2 {
		t.Errorf("median answer: known %v, unknown %v; differ by more than half a password hash (%v)", mk, mu, hash)
	}
	if _, err := e.st.GetUserByEmail(t.Context(), "new0@example.com"); err != nil {
		t.Errorf("the new address's account: %v", err)
	}
}

func TestRegisterCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := e.browser(t)
	b.csrf("/register")
	for name, token := range map[string]string{"missing": "", "another browser's": e.browser(t).csrf("/register")} {
		w := b.post("/register", registerForm("Grace", "grace@example.com", "a long enough password", "", token))
		if w.Code != http.StatusForbidden {
			t.Errorf("%s token: %d; want 403", name, w.Code)
		}
	}
	if _, err := e.st.GetUserByEmail(t.Context(), "grace@example.com"); err == nil {
		t.Errorf("a forged registration created the account")
	}
}

// TestRegisterThrottle: accounts created from one IP are limited, across
// emails, taken or not.
func TestRegisterThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.RegisterPerIP = 3
	b := e.browser(t)
	for i, email := range []string{"ada@example.com", "one@example.com", "two@example.com"} {
		w := b.post("/register", registerForm("N", email, "a long enough password", "", b.csrf("/register")))
		if w.Code == http.StatusTooManyRequests {
			t.Fatalf("throttled after %d", i)
		}
	}
	w := b.post("/register", registerForm("N", "three@example.com", "a long enough password", "", b.csrf("/register")))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("fourth: %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	other := e.browser(t)
	other.ip = "198.51.100.77"
	if w := other.post("/register", registerForm("N", "three@example.com", "a long enough password", "", other.csrf("/register"))); w.Code != http.StatusOK {
		t.Errorf("another IP: %d; want 200", w.Code)
	}
}

// TestRegisterThrottleBurst: registrations sent all at once from one
// address create no more accounts than the limit allows.
func TestRegisterThrottleBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.RegisterPerIP = 3
	const burst = 12
	browsers, tokens := make([]*browser, burst), make([]string, burst)
	for i := range burst {
		browsers[i] = e.browser(t)
		tokens[i] = browsers[i].csrf("/register")
	}
	codes := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			codes[i] = browsers[i].post("/register", registerForm("N", fmt.Sprintf("burst%d@example.com", i),
				"a long enough password", "", tokens[i])).Code
		})
	}
	wg.Wait()
	e.pages.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 3 || count[http.StatusTooManyRequests] != burst-3 {
		t.Errorf("%d registrations at once, limit 3: statuses %v; want 3 × 200, the rest 429", burst, count)
	}
}

func TestRegisterForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := e.browser(t)
	page := b.get("/register?login_hint=new%40example.com&return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT").Body.String()
	for _, want := range []string{`value="new@example.com"`, `name="return_to" value="/device?user_code=WDJB-MJHT"`,
		`href="/login?login_hint=new%40example.com&amp;return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"`, `name="password"`, `name="name"`} {
		if !strings.Contains(page, want) {
			t.Errorf("registration page lacks %q:\n%s", want, page)
		}
	}
	if page := b.get("/register?return_to=https%3A%2F%2Fevil.example").Body.String(); strings.Contains(page, "evil") {
		t.Errorf("registration page keeps an unsafe return_to")
	}
}

// TestLoginLinksToRegister: the sign-in page offers an account to someone
// without one, returning to the same place.
func TestLoginLinksToRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	page := e.browser(t).get("/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT&login_hint=new%40example.com").Body.String()
	if want := `href="/register?login_hint=new%40example.com&amp;return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"`; !strings.Contains(page, want) {
		t.Errorf("sign-in page lacks %s:\n%s", want, page)
	}
	if page := e.browser(t).get("/login").Body.String(); !strings.Contains(page, `href="/register"`) {
		t.Errorf("plain sign-in page lacks the registration link")
	}
}

// TestRegistrationOff: with accounts.registration off nobody creates an
// account on the page, which says so (not a 404 or 500), the sign-in page
// offers none, and the device page's and authorization endpoint's
// flow=register lead to sign-in instead.
func TestRegistrationOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.Registration = account.Registration{Mode: account.RegistrationOff}
	b := e.browser(t)
	w := b.get("/register?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT&login_hint=new%40example.com")
	page := w.Body.String()
	if w.Code != http.StatusForbidden || !strings.Contains(page, "Accounts are not open") || strings.Contains(page, `name="password"`) {
		t.Errorf("GET /register: %d; want 403 with the explanation and no form:\n%s", w.Code, page)
	}
	if want := `href="/login?login_hint=new%40example.com&amp;return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"`; !strings.Contains(page, want) {
		t.Errorf("the closed page lacks the way to sign in %s:\n%s", want, page)
	}
	w = b.post("/register", registerForm("Grace", "grace@example.com", "a long enough password", "", b.csrf("/login")))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Accounts are not open") {
		t.Errorf("POST /register: %d; want 403:\n%s", w.Code, w.Body)
	}
	if _, err := e.st.GetUserByEmail(t.Context(), "grace@example.com"); err == nil {
		t.Errorf("registration off created an account")
	}
	// CSRF still comes first: a forged POST is refused as forged.
	if w := e.browser(t).post("/register", registerForm("Grace", "grace@example.com", "a long enough password", "", "")); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "expired") {
		t.Errorf("POST /register without a token: %d", w.Code)
	}
	if page := b.get("/login").Body.String(); strings.Contains(page, "/register") || strings.Contains(page, "Create an account") {
		t.Errorf("the sign-in page offers an account with registration off:\n%s", page)
	}
	w = b.get("/device?user_code=WDJB-MJHT&flow=register&login_hint=a%40example.com")
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?login_hint=a%40example.com&") {
		t.Errorf("flow=register with registration off: %d to %q; want sign-in", w.Code, loc)
	}
	// The person who has an account still signs in.
	b.login(testEmail)
}

// TestRegistrationDomains: with accounts.registration domains an address
// at a listed domain registers, any other (a subdomain too) is refused
// with the same words whether or not an account has it, and the page
// names the domains.
func TestRegistrationDomains(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.Registration = account.Registration{Mode: account.RegistrationDomains, Domains: []string{"corp.example", "example.org"}}
	b := e.browser(t)
	if page := b.get("/register").Body.String(); !strings.Contains(page, "Accounts here are for email addresses at corp.example or example.org.") {
		t.Errorf("the registration page does not name the domains:\n%s", page)
	}
	if page := b.get("/login").Body.String(); !strings.Contains(page, `href="/register"`) {
		t.Errorf("the sign-in page lacks the registration link with registration by domain")
	}
	var bodies []string
	for _, email := range []string{"grace@example.net", "grace@mail.corp.example", testEmail /* has an account, at example.com */} {
		w := b.post("/register", registerForm("Grace", email, "a long enough password", "", b.csrf("/register")))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "only for email addresses at corp.example or example.org") {
			t.Errorf("%s: %d; want 400 naming the domains:\n%s", email, w.Code, w.Body)
		}
		bodies = append(bodies, strings.NewReplacer(email, "EMAIL", url.QueryEscape(email), "EMAIL", "grace@example.net", "EMAIL").Replace(w.Body.String()))
	}
	if bodies[0] != bodies[2] {
		t.Errorf("an unlisted domain's answer differs with an account and without:\n%s\n---\n%s", bodies[0], bodies[2])
	}
	w := b.post("/register", registerForm("Grace", "Grace@Corp.Example", "a long enough password", "", b.csrf("/register")))
	e.pages.Wait()
	if w.Code != http.StatusOK {
		t.Fatalf("a listed domain in another case: %d; want 200\n%s", w.Code, w.Body)
	}
	if _, err := e.st.GetUserByEmail(t.Context(), "grace@corp.example"); err != nil {
		t.Errorf("the listed domain's account: %v", err)
	}
}
