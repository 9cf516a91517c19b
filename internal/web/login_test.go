package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		email      string
		password   string
		wantStatus int
		wantText   string // in the body, unless a redirect
	}{
		{"success", testEmail, testPassword, http.StatusSeeOther, ""},
		{"email is case-insensitive", "  ADA@Example.COM ", testPassword, http.StatusSeeOther, ""},
		{"wrong password", testEmail, "wrong password!", http.StatusBadRequest, "Wrong email or password."},
		{"unknown user: same message", "nobody@example.com", testPassword, http.StatusBadRequest, "Wrong email or password."},
		{"disabled user, wrong password", "off@example.com", "wrong password!", http.StatusBadRequest, "Wrong email or password."},
		{"disabled user cannot sign in", "off@example.com", testPassword, http.StatusForbidden, "This account is disabled."},
		{"empty password", testEmail, "", http.StatusBadRequest, "Enter your email and password."},
		{"overlong password", testEmail, strings.Repeat("x", 300), http.StatusBadRequest, "Wrong email or password."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			w := b.post("/login", url.Values{"username": {tt.email}, "password": {tt.password}, "csrf_token": {b.csrf("/login")}})
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Body.String(); !strings.Contains(got, tt.wantText) {
				t.Errorf("body lacks %q:\n%s", tt.wantText, got)
			}
			_, signedIn := b.cookies["latchkey_session"]
			if want := tt.wantStatus == http.StatusSeeOther; signedIn != want {
				t.Errorf("signed in = %v; want %v", signedIn, want)
			}
			if tt.wantStatus == http.StatusSeeOther {
				if got := w.Header().Get("Location"); got != "/device" {
					t.Errorf("Location = %q; want %q", got, "/device")
				}
				if got := b.get("/device"); got.Code != http.StatusOK {
					t.Errorf("GET /device after sign-in: %d; want 200", got.Code)
				}
			}
		})
	}
}

// TestLoginThrottle: failures are limited per account and per IP; once over,
// even the right password gets the same 429, for known and unknown emails
// alike (UI-05).
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	type attempt struct{ email, ip string }
	for _, tt := range []struct {
		name        string
		perAccount  int
		perIP       int
		ceiling     int // 0: the default
		failures    []attempt
		final       attempt // with the right password
		wantStatus  int
		wantUnknown int // status for an unknown email from the final IP afterwards; 0 skips
	}{
		{"under the limit", 3, 100, 0,
			[]attempt{{testEmail, "203.0.113.5"}, {testEmail, "203.0.113.5"}},
			attempt{testEmail, "203.0.113.5"}, http.StatusSeeOther, 0},
		{"per account and network, from any address in it", 3, 100, 0,
			[]attempt{{testEmail, "203.0.113.5"}, {testEmail, "203.0.113.6"}, {testEmail, "203.0.113.7"}},
			attempt{testEmail, "203.0.113.200"}, http.StatusTooManyRequests, 0},
		{"per account and network, IPv6 by /64", 3, 100, 0,
			[]attempt{{testEmail, "[2001:db8:1:2::5]"}, {testEmail, "[2001:db8:1:2::6]"}, {testEmail, "[2001:db8:1:2:ff::7]"}},
			attempt{testEmail, "[2001:db8:1:2::99]"}, http.StatusTooManyRequests, 0},
		{"another network's failures do not lock the owner out", 3, 100, 0,
			[]attempt{{testEmail, "203.0.113.5"}, {testEmail, "203.0.113.6"}, {testEmail, "203.0.113.7"}},
			attempt{testEmail, "198.51.100.1"}, http.StatusSeeOther, 0},
		{"the account's ceiling over every network", 3, 100, 4,
			[]attempt{{testEmail, "203.0.113.5"}, {testEmail, "198.51.100.5"}, {testEmail, "192.0.2.5"}, {testEmail, "[2001:db8::5]"}},
			attempt{testEmail, "100.64.0.1"}, http.StatusTooManyRequests, 0},
		{"unknown account is limited the same", 3, 100, 0,
			[]attempt{{"nobody@example.com", "203.0.113.5"}, {"nobody@example.com", "203.0.113.5"}, {"nobody@example.com", "203.0.113.5"}},
			attempt{"nobody@example.com", "203.0.113.5"}, http.StatusTooManyRequests, 0},
		{"another account's failures do not count", 3, 100, 0,
			[]attempt{{"bob@example.com", "203.0.113.5"}, {"bob@example.com", "203.0.113.5"}, {"bob@example.com", "203.0.113.5"}},
			attempt{testEmail, "203.0.113.6"}, http.StatusSeeOther, 0},
		{"per IP, across accounts", 100, 3, 0,
			[]attempt{{"bob@example.com", "203.0.113.5"}, {"x@example.com", "203.0.113.5"}, {"y@example.com", "203.0.113.5"}},
			attempt{testEmail, "203.0.113.5"}, http.StatusTooManyRequests, http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			e.pages.LoginPerAccount, e.pages.LoginPerIP, e.pages.LoginAccountCeiling = tt.perAccount, tt.perIP, tt.ceiling
			try := func(a attempt, password string) (*browser, *httptest.ResponseRecorder) {
				b := e.browser(t)
				b.ip = a.ip
				w := b.post("/login", url.Values{"username": {a.email}, "password": {password}, "csrf_token": {b.csrf("/login")}})
				return b, w
			}
			for _, a := range tt.failures {
				if _, w := try(a, "wrong password!"); w.Code != http.StatusBadRequest {
					t.Fatalf("failure %v: status %d; want 400", a, w.Code)
				}
			}
			b, w := try(tt.final, testPassword)
			if w.Code != tt.wantStatus {
				t.Fatalf("final sign-in: %d; want %d\n%s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus == http.StatusTooManyRequests {
				if w.Header().Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				if _, ok := b.cookies["latchkey_session"]; ok {
					t.Errorf("throttled sign-in started a session")
				}
			}
			if tt.wantUnknown != 0 {
				if _, w := try(attempt{"nobody@example.com", tt.final.ip}, testPassword); w.Code != tt.wantUnknown {
					t.Errorf("unknown email afterwards: %d; want %d", w.Code, tt.wantUnknown)
				}
			}
		})
	}
}

// TestLoginThrottleBurst: wrong passwords sent all at once get no more
// password checks than the account's limit (UI-05: counting is atomic),
// and signing in successfully spends nothing.
func TestLoginThrottleBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.LoginPerAccount, e.pages.LoginPerIP = 3, 1000
	login := func(b *browser, password, csrf string) int {
		return b.post("/login", url.Values{"username": {testEmail}, "password": {password}, "csrf_token": {csrf}}).Code
	}
	for i := range 5 {
		b := e.browser(t)
		if code := login(b, testPassword, b.csrf("/login")); code != http.StatusSeeOther {
			t.Fatalf("right password, sign-in %d: %d; want 303", i+1, code)
		}
	}

	const burst = 30
	browsers, tokens := make([]*browser, burst), make([]string, burst)
	for i := range burst {
		browsers[i] = e.browser(t)
		tokens[i] = browsers[i].csrf("/login")
	}
	codes := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { codes[i] = login(browsers[i], "wrong password!", tokens[i]) })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusBadRequest] != 3 || count[http.StatusTooManyRequests] != burst-3 {
		t.Errorf("%d wrong passwords at once, limit 3: statuses %v; want 3 × 400, the rest 429", burst, count)
	}
	b := e.browser(t)
	if code := login(b, testPassword, b.csrf("/login")); code != http.StatusTooManyRequests {
		t.Errorf("right password after the burst: %d; want 429", code)
	}
}

// TestLoginThrottlePage checks the words of the 429 page.
func TestLoginThrottlePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.LoginPerAccount = 1
	b := e.browser(t)
	b.post("/login", url.Values{"username": {testEmail}, "password": {"wrong password!"}, "csrf_token": {b.csrf("/login")}})
	w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword}, "csrf_token": {b.csrf("/login")}})
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "Try again later") {
		t.Errorf("got %d\n%s\nwant 429 with \"Try again later\"", w.Code, w.Body)
	}
}

func TestSafeReturnTo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		wantOK bool
	}{
		{"/device", true},
		{"/device?user_code=WDJB-MJHT", true},
		{"/", true},
		{"/%09/evil.com", true}, // a path on this server, not a tab
		{"", false},
		{"https://evil.com", false},
		{"//evil.com", false},
		{"/\\evil.com", false},
		{"https:evil.com", false},
		{"%2F%2Fevil.com", false},
		{"javascript:alert(1)", false},
		{"/\t/evil.com", false}, // browsers drop the tab: //evil.com
		{"/\n/evil.com", false},
		{"/a\\b", false},
		{"evil.com", false},
		{"/" + strings.Repeat("a", 3000), false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := safeReturnTo(tt.in)
			if ok != tt.wantOK || (ok && got != tt.in) {
				t.Errorf("safeReturnTo(%q) = %q, %v; want ok %v", tt.in, got, ok, tt.wantOK)
			}
		})
	}
}

// TestLoginReturnTo: after sign-in the browser goes back to return_to only
// when it is a path here; everything else lands on /device (UI-04).
func TestLoginReturnTo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		returnTo string
		want     string
	}{
		{"/device?user_code=WDJB-MJHT", "/device?user_code=WDJB-MJHT"},
		{"/%09/evil.com", "/%09/evil.com"},
		{"", "/device"},
		{"https://evil.com", "/device"},
		{"//evil.com", "/device"},
		{"/\\evil.com", "/device"},
		{"https:evil.com", "/device"},
		{"%2F%2Fevil.com", "/device"},
		{"javascript:alert(1)", "/device"},
	} {
		t.Run(tt.returnTo, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			// The form shown keeps only a safe return_to.
			page := b.get("/login?" + url.Values{"return_to": {tt.returnTo}}.Encode()).Body.String()
			hasField := strings.Contains(page, `name="return_to"`)
			if wantField := tt.want != "/device" || tt.returnTo == "/device"; hasField != wantField {
				t.Errorf("login form has return_to field = %v; want %v", hasField, wantField)
			}
			// A forged POST is checked again.
			w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword},
				"return_to": {tt.returnTo}, "csrf_token": {b.csrf("/login")}})
			if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("POST /login = %d, Location %q; want 303, %q", w.Code, got, tt.want)
			}
		})
	}
}

// TestLoginHint: the sign-in and registration pages fill in a login_hint
// that is an email address, and drop anything else.
func TestLoginHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	for _, tt := range []struct {
		name, hint string
		want       string // the email field's value
	}{
		{"an address", "ada%40example.com", "ada@example.com"},
		{"kept as typed", "Ada%40Example.COM", "Ada@Example.COM"},
		{"not an address", "ada", ""},
		{"markup", "%3Cscript%3E%40example.com", ""},
		{"two addresses", "a%40example.com%2Cb%40example.com", ""},
		{"a parameter smuggled in", "a%40example.com%26return_to%3D%2F%2Fevil.example", ""},
		{"too long", strings.Repeat("a", 250) + "%40example.com", ""},
	} {
		for _, page := range []string{"/login", "/register"} {
			field := `id="username" name="username" value="`
			if page == "/register" {
				field = `id="email" name="email" value="`
			}
			w := e.browser(t).get(page + "?login_hint=" + tt.hint)
			if got := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(got, field+tt.want+`"`) {
				t.Errorf("%s, %s: %d; want the email field %q\n%s", page, tt.name, w.Code, tt.want, got)
			}
		}
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := e.browser(t)
	b.login(testEmail)
	token := b.csrf("/device")

	if w := b.post("/logout", url.Values{"csrf_token": {"forged"}}); w.Code != http.StatusForbidden {
		t.Errorf("logout with a forged token: %d; want 403", w.Code)
	}
	if w := b.get("/device"); w.Code != http.StatusOK {
		t.Fatalf("after a refused logout, GET /device = %d; want 200 (still signed in)", w.Code)
	}
	w := b.post("/logout", url.Values{"csrf_token": {token}})
	if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != "/login" {
		t.Errorf("logout = %d, Location %q; want 303, /login", w.Code, got)
	}
	if w := b.get("/device"); w.Code != http.StatusSeeOther {
		t.Errorf("after logout, GET /device = %d; want 303 to sign-in", w.Code)
	}
}

// TestLoginKnownBrowser: a browser the owner signed in with keeps a budget
// of its own, so a guesser who has spent the account's budget on the
// owner's network and its ceiling over every network does not lock the
// owner out of it; its own wrong passwords still count; and its mark is
// the account's only: another account, a forged or an expired mark get
// the ordinary budgets.
func TestLoginKnownBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.LoginPerAccount, e.pages.LoginPerIP, e.pages.LoginAccountCeiling = 3, 100, 5
	const home = "203.0.113.5"
	login := func(b *browser, email, password string) int {
		t.Helper()
		return b.post("/login", url.Values{"username": {email}, "password": {password}, "csrf_token": {b.csrf("/login")}}).Code
	}
	owner := e.browser(t)
	owner.ip = home
	if code := login(owner, testEmail, testPassword); code != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d", code)
	}
	mark := owner.cookies["latchkey_known"]
	if mark == "" {
		t.Fatal("signing in set no known-browser mark")
	}
	signOut := func() { delete(owner.cookies, "latchkey_session") }
	signOut()

	// A guesser on the owner's network, then on others, spends the
	// account's budgets there and its ceiling.
	for _, ip := range []string{"203.0.113.77", "203.0.113.77", "203.0.113.77", "198.51.100.1", "198.51.100.1"} {
		g := e.browser(t)
		g.ip = ip
		if code := login(g, testEmail, "wrong password!"); code != http.StatusBadRequest {
			t.Fatalf("guess from %s: %d; want 400", ip, code)
		}
	}
	stranger := e.browser(t)
	stranger.ip = home
	if code := login(stranger, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("a new browser on the owner's network after the guesses: %d; want 429", code)
	}
	elsewhere := e.browser(t)
	elsewhere.ip = "192.0.2.1"
	if code := login(elsewhere, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("a new browser elsewhere with the ceiling spent: %d; want 429", code)
	}
	if code := login(owner, testEmail, testPassword); code != http.StatusSeeOther {
		t.Fatalf("the owner's known browser: %d; want 303", code)
	}
	signOut()
	// The mark travels with the browser, not the address.
	owner.ip = "192.0.2.200"
	if code := login(owner, testEmail, testPassword); code != http.StatusSeeOther {
		t.Fatalf("the owner's known browser on another network: %d; want 303", code)
	}
	signOut()

	// Someone else's mark, a forged one, an expired one: ordinary budgets.
	bob := e.browser(t)
	bob.ip = home
	if code := login(bob, "bob@example.com", testPassword); code != http.StatusSeeOther {
		t.Fatalf("bob signs in: %d", code)
	}
	delete(bob.cookies, "latchkey_session")
	if code := login(bob, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("ada from bob's known browser: %d; want 429", code)
	}
	forged := e.browser(t)
	forged.ip = home
	parts := strings.Split(mark, ".")
	parts[3] = strings.Repeat("A", len(parts[3]))
	forged.cookies["latchkey_known"] = strings.Join(parts, ".")
	if code := login(forged, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("a forged mark: %d; want 429", code)
	}
	// The known browser's own wrong passwords count, against its budget.
	for i := range 3 {
		if code := login(owner, testEmail, "wrong password!"); code != http.StatusBadRequest {
			t.Fatalf("known browser's wrong password %d: %d", i+1, code)
		}
	}
	if code := login(owner, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("the known browser after its own 3 wrong passwords: %d; want 429", code)
	}

	copied := e.browser(t)
	copied.ip = home
	copied.cookies["latchkey_known"] = mark
	e.now = e.now.Add(KnownBrowserLife + time.Hour).Truncate(e.pages.LoginWindow)
	// A new window: the guesser's budgets are back; spend them again.
	for _, ip := range []string{"203.0.113.77", "203.0.113.77", "203.0.113.77"} {
		g := e.browser(t)
		g.ip = ip
		login(g, testEmail, "wrong password!")
	}
	if code := login(copied, testEmail, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("an expired mark: %d; want 429", code)
	}
}
