package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// signedIn returns a browser signed in as the test user.
func signedIn(t *testing.T, e *env) *browser {
	t.Helper()
	b := e.browser(t)
	b.login(testEmail)
	return b
}

// TestDeviceSignedOut: a signed-out browser is sent to sign in and back to
// the code; 10Duke's flow=register and login_hint on the verification URLs
// send it to registration or sign-in with the email filled in. Nothing
// else in the query is carried, and nothing is decided (DF-22, UI-04).
func TestDeviceSignedOut(t *testing.T) {
	t.Parallel()
	const back = "return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"
	for _, tt := range []struct {
		name   string
		method string
		target string
		form   url.Values
		want   string // Location of the 303; "" for a 400 page
	}{
		{"prefilled", "GET", "/device?user_code=WDJB-MJHT", nil, "/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
		{"entry form", "GET", "/device", nil, "/login?return_to=%2Fdevice"},
		{"10Duke alias", "GET", "/user/device?userCode=WDJB-MJHT", nil, "/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
		{"junk is not carried", "GET", "/device?user_code=%3Cscript%3E", nil, "/login?return_to=%2Fdevice"},
		{"a decision needs a session", "POST", "/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}},
			"/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
		{"register with a hint", "GET", "/device?user_code=WDJB-MJHT&flow=register&login_hint=a%40example.com", nil, "/register?login_hint=a%40example.com&" + back},
		{"10Duke's page", "GET", "/user/device?userCode=WDJB-MJHT&flow=register&login_hint=a%40example.com", nil, "/register?login_hint=a%40example.com&" + back},
		{"register without a code", "GET", "/device?flow=register", nil, "/register?return_to=%2Fdevice"},
		{"register without a hint", "GET", "/user/device?userCode=WDJB-MJHT&flow=register", nil, "/register?" + back},
		{"sign-in with a hint", "GET", "/device?user_code=WDJB-MJHT&login_hint=Ada%40Example.com", nil, "/login?login_hint=Ada%40Example.com&" + back},
		{"flow=login is sign-in", "GET", "/device?user_code=WDJB-MJHT&flow=login", nil, "/login?" + back},
		{"an unknown flow is sign-in", "GET", "/device?user_code=WDJB-MJHT&flow=signup", nil, "/login?" + back},
		{"flow is case-sensitive", "GET", "/device?user_code=WDJB-MJHT&flow=REGISTER", nil, "/login?" + back},
		{"an empty flow and hint", "GET", "/device?user_code=WDJB-MJHT&flow=&login_hint=", nil, "/login?" + back},
		{"a hint that is not an address is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=ada", nil, "/login?" + back},
		{"a hint with markup is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=%3Cb%3E%40example.com", nil, "/login?" + back},
		{"a hint with quotes is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=%22a%22%40example.com", nil, "/login?" + back},
		{"a hint carrying a parameter is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=a%40example.com%26return_to%3D%2F%2Fevil.example", nil, "/login?" + back},
		{"a hint with spaces is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=+a%40example.com", nil, "/login?" + back},
		{"a hint too long is dropped", "GET", "/device?user_code=WDJB-MJHT&login_hint=" + strings.Repeat("a", 64) + "%40" +
			strings.Repeat("b", 190) + ".com", nil, "/login?" + back},
		{"an internationalised hint", "GET", "/device?login_hint=%C3%A5sa%40%C3%B6rebro.example", nil, "/login?login_hint=%C3%A5sa%40%C3%B6rebro.example&return_to=%2Fdevice"},
		{"return_to is not read here", "GET", "/device?flow=register&return_to=https%3A%2F%2Fevil.example", nil, "/register?return_to=%2Fdevice"},
		{"junk codes are not carried", "GET", "/device?user_code=%2F%2Fevil.example&flow=register", nil, "/register?return_to=%2Fdevice"},
		{"flow twice", "GET", "/device?user_code=WDJB-MJHT&flow=register&flow=register", nil, ""},
		{"login_hint twice", "GET", "/device?user_code=WDJB-MJHT&login_hint=a%40example.com&login_hint=b%40example.com", nil, ""},
		{"a control character in the hint", "GET", "/device?user_code=WDJB-MJHT&login_hint=a%40example.com%0D%0ABcc%3A+x", nil, ""},
		{"invalid UTF-8 in flow", "GET", "/user/device?userCode=WDJB-MJHT&flow=%FF", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			var w = b.get(tt.target)
			if tt.method == "POST" {
				w = b.post(tt.target, tt.form)
			}
			if tt.want == "" {
				if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Something is wrong with that link") {
					t.Errorf("%s %s = %d, Location %q; want a 400 page", tt.method, tt.target, w.Code, w.Header().Get("Location"))
				}
			} else if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("%s %s = %d, Location %q; want 303, %q", tt.method, tt.target, w.Code, got, tt.want)
			}
			if got := e.status(t, testCode); got != store.DevicePending {
				t.Errorf("status = %q; want %q", got, store.DevicePending)
			}
		})
	}
}

// TestDeviceSignInThenConfirm walks verification_uri_complete from a
// signed-out browser, ours and 10Duke's with login_hint: the sign-in page
// (with the hint filled in) leads back to the confirm page.
func TestDeviceSignInThenConfirm(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ link, username string }{
		{"/device?user_code=WDJB-MJHT", ""},
		{"/user/device?userCode=WDJB-MJHT&login_hint=ada%40example.com", testEmail},
	} {
		e := newEnv(t, "Living room TV")
		b := e.browser(t)
		loc := b.get(tt.link).Header().Get("Location")
		page := b.get(loc).Body.String()
		if !strings.Contains(page, `name="username" value="`+tt.username+`"`) {
			t.Errorf("sign-in page from %s: want the email %q filled in\n%s", tt.link, tt.username, page)
		}
		w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword},
			"return_to": {"/device?user_code=WDJB-MJHT"}, "csrf_token": {csrfField.FindStringSubmatch(page)[1]}})
		next := w.Header().Get("Location")
		if next != "/device?user_code=WDJB-MJHT" {
			t.Fatalf("after sign-in from %s, Location = %q; want the device page with the code", tt.link, next)
		}
		if w := b.get(next); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
			t.Errorf("GET %s = %d; want the confirm page\n%s", next, w.Code, w.Body)
		}
	}
}

// TestDeviceConfirm: a prefilled or typed code shows what is being
// authorized and asks for a click; showing changes nothing (DF-16).
func TestDeviceConfirm(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		method string
		target string
	}{
		{"verification_uri_complete", "GET", "/device?user_code=wdjb-mjht"},
		{"10Duke alias", "GET", "/user/device?userCode=WDJB%20MJHT"},
		{"typed into the entry form", "POST", "/device"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := signedIn(t, e)
			w := b.get(tt.target)
			if tt.method == "POST" {
				w = b.post(tt.target, url.Values{"user_code": {"WDJB-MJHT"}, "csrf_token": {b.csrf("/device")}})
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; want 200\n%s", w.Code, w.Body)
			}
			body := w.Body.String()
			for _, want := range []string{
				"WDJB-MJHT",
				"Living room TV",
				"Confirm your identity",
				"Stay signed in on the device",
				"telemetry:write",
				"2 minutes ago",
				"198.51.100.9",
				"an app that calls itself “SmartTV”, at the address 198.51.100.9",
				"This request came from another network",
				`name="user_code" value="WDJB-MJHT"`,
				`name="decision" value="approve"`,
				`name="decision" value="deny"`,
				`name="csrf_token"`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("confirm page lacks %q", want)
				}
			}
			if got := e.status(t, testCode); got != store.DevicePending {
				t.Errorf("status after showing = %q; want %q", got, store.DevicePending)
			}
		})
	}
}

func TestDeviceDecide(t *testing.T) {
	t.Parallel()
	type step struct {
		decision   string
		wantStatus int
		wantText   string
	}
	for _, tt := range []struct {
		name      string
		steps     []step
		wantState string
	}{
		{"approve", []step{{"approve", http.StatusOK, "it is now signed in to your account"}}, store.DeviceApproved},
		{"deny", []step{{"deny", http.StatusOK, "Request denied"}}, store.DeviceDenied},
		{"replayed approve after deny (DF-11)", []step{
			{"deny", http.StatusOK, "Request denied"},
			{"approve", http.StatusBadRequest, "This code was already used"},
		}, store.DeviceDenied},
		{"second decision after approve (DF-18)", []step{
			{"approve", http.StatusOK, "Device connected"},
			{"deny", http.StatusBadRequest, "This code was already used"},
		}, store.DeviceApproved},
		{"unknown decision", []step{{"maybe", http.StatusBadRequest, "could not be read"}}, store.DevicePending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := signedIn(t, e)
			// One confirm page, its form submitted again and again: what
			// the Back button or a replay does.
			token := b.csrf("/device?user_code=WDJB-MJHT")
			for i, s := range tt.steps {
				w := b.post("/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {s.decision}, "csrf_token": {token}})
				if w.Code != s.wantStatus || !strings.Contains(w.Body.String(), s.wantText) {
					t.Errorf("step %d (%s): %d; want %d with %q\n%s", i, s.decision, w.Code, s.wantStatus, s.wantText, w.Body)
				}
			}
			if got := e.status(t, testCode); got != tt.wantState {
				t.Errorf("status = %q; want %q", got, tt.wantState)
			}
			// Opening the link again says the code is dead (DF-18).
			if tt.wantState != store.DevicePending {
				w := b.get("/device?user_code=WDJB-MJHT")
				if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "already used") {
					t.Errorf("GET decided code: %d; want 400 already used", w.Code)
				}
			}
		})
	}
}

func TestDeviceErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		target     string
		form       url.Values // POST when set
		wantStatus int
		wantText   string
	}{
		{"expired (DF-12)", "/device?user_code=BCDF-GHJK", nil, http.StatusBadRequest, "This code has expired. Start again on your device."},
		{"expired, decided", "/device", url.Values{"user_code": {"BCDF-GHJK"}, "decision": {"approve"}}, http.StatusBadRequest, "This code has expired."},
		{"unknown", "/device?user_code=BBBB-BBBB", nil, http.StatusBadRequest, "check the code and try again"},
		{"digit is not folded (DF-06)", "/device?user_code=WDJB-MJH0", nil, http.StatusBadRequest, "check the code and try again"},
		{"typed unknown", "/device", url.Values{"user_code": {"BBBB-BBBB"}}, http.StatusBadRequest, `name="user_code" value="BBBB-BBBB"`},
		{"nothing typed", "/device", url.Values{"user_code": {""}}, http.StatusBadRequest, "Enter the code shown on your device."},
		{"repeated parameter", "/device?user_code=a&user_code=b", nil, http.StatusBadRequest, "could not be read"},
		{"1 MB in the query", "/device?user_code=" + strings.Repeat("A", 1<<20), nil, http.StatusBadRequest, "could not be read"},
		{"1 MB in the form", "/device", url.Values{"user_code": {strings.Repeat("A", 1<<20)}}, http.StatusBadRequest, "could not be read"},
		{"control character", "/device?user_code=WDJB%00MJHT", nil, http.StatusBadRequest, "could not be read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := signedIn(t, e)
			var w = b.get(tt.target)
			if tt.form != nil {
				tt.form.Set("csrf_token", b.csrf("/device"))
				w = b.post(tt.target, tt.form)
			}
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("got %d; want %d with %q\n%.2000s", w.Code, tt.wantStatus, tt.wantText, w.Body)
			}
			if got := e.status(t, testCode); got != store.DevicePending {
				t.Errorf("status = %q; want %q", got, store.DevicePending)
			}
		})
	}
}

// TestDeviceThrottle: with a budget of 5 wrong entries per account, the
// sixth entry is refused even when it is the right code, and the refusal is
// the same for a code that does not exist (DF-07).
func TestDeviceThrottle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		final url.Values
	}{
		{"right code typed", url.Values{"user_code": {"WDJB-MJHT"}}},
		{"right code approved", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}}},
		{"unknown code", url.Values{"user_code": {"CCCC-CCCC"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := signedIn(t, e)
			token := b.csrf("/device")
			for i, code := range []string{"BBBB-BBBB", "WDJB-MJH0", "CCCC-DDDD", "<x>", "ZZZZ-ZZZZ"} {
				w := b.post("/device", url.Values{"user_code": {code}, "csrf_token": {token}})
				if w.Code != http.StatusBadRequest {
					t.Fatalf("wrong entry %d: %d; want 400", i, w.Code)
				}
			}
			tt.final.Set("csrf_token", token)
			w := b.post("/device", tt.final)
			if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "Too many attempts. Try again later.") {
				t.Errorf("sixth entry: %d; want 429 with \"Too many attempts\"\n%s", w.Code, w.Body)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
			if got := e.status(t, testCode); got != store.DevicePending {
				t.Errorf("status = %q; want %q", got, store.DevicePending)
			}
			// Another account on another IP still has its budget.
			other := e.browser(t)
			other.ip = "198.51.100.77"
			other.login("bob@example.com")
			if w := other.get("/device?user_code=WDJB-MJHT"); w.Code != http.StatusOK {
				t.Errorf("another account: %d; want 200", w.Code)
			}
		})
	}
}

// TestDisabledAfterSignIn: disabling a user ends what their open browser
// may do; nothing is decided (DF-17).
func TestDisabledAfterSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := signedIn(t, e)
	token := b.csrf("/device?user_code=WDJB-MJHT")
	e.user.Disabled = true
	if err := e.st.UpdateUser(t.Context(), e.user); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	w := b.post("/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}, "csrf_token": {token}})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?") {
		t.Errorf("approve by a disabled user: %d, Location %q; want 303 to sign-in", w.Code, w.Header().Get("Location"))
	}
	if got := e.status(t, testCode); got != store.DevicePending {
		t.Errorf("status = %q; want %q", got, store.DevicePending)
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "less than a minute ago"},
		{30 * time.Second, "less than a minute ago"},
		{time.Minute, "1 minute ago"},
		{2*time.Minute + 59*time.Second, "2 minutes ago"},
		{time.Hour, "1 hour ago"},
		{5 * time.Hour, "5 hours ago"},
	} {
		if got := i18n.English().Ago(tt.d); got != tt.want {
			t.Errorf("ago(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestDisplayCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		code  string
		group int
		want  string
	}{
		{"WDJBMJHT", 0, "WDJB-MJHT"},
		{"WDJBMJHT", -1, "WDJBMJHT"},
		{"123456789", 3, "123-456-789"},
		{"WDJB", 0, "WDJB"},
	} {
		if got := displayCode(tt.code, tt.group); got != tt.want {
			t.Errorf("displayCode(%q, %d) = %q; want %q", tt.code, tt.group, got, tt.want)
		}
	}
}

// TestDeviceSignInOptionsSignedIn: someone signed in already sees the
// confirm page; flow and login_hint change nothing, a hint naming someone
// else included, and approve nothing (RFC 8628 §5.4).
func TestDeviceSignInOptionsSignedIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := signedIn(t, e)
	for _, target := range []string{
		"/device?user_code=WDJB-MJHT&flow=register&login_hint=bob%40example.com",
		"/user/device?userCode=WDJB-MJHT&flow=register&login_hint=bob%40example.com",
	} {
		w := b.get(target)
		if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, `value="approve"`) ||
			!strings.Contains(body, "WDJB-MJHT") || strings.Contains(body, "bob@example.com") {
			t.Errorf("GET %s = %d; want the confirm page for %s\n%s", target, w.Code, testEmail, body)
		}
	}
	if got := e.status(t, testCode); got != store.DevicePending {
		t.Errorf("status = %q; want %q", got, store.DevicePending)
	}
}

// TestDeviceRegisterRoundTrip follows 10Duke's options all the way: from
// /user/device with flow=register and login_hint to the registration page
// with the email filled in, an account, sign-in, the gate until the
// address is confirmed, and the confirm page of the code, which still
// needs its click.
func TestDeviceRegisterRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")

	b := e.browser(t)
	loc := b.get("/user/device?userCode=WDJB-MJHT&flow=register&login_hint=new%40example.com").Header().Get("Location")
	page := b.get(loc).Body.String()
	for _, want := range []string{`value="new@example.com"`, `name="return_to" value="/device?user_code=WDJB-MJHT"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("registration page from %s lacks %q:\n%s", loc, want, page)
		}
	}
	w := b.post("/register", url.Values{"name": {"New Person"}, "email": {"new@example.com"}, "password": {"a long enough password"},
		"return_to": {"/device?user_code=WDJB-MJHT"}, "csrf_token": {csrfField.FindStringSubmatch(page)[1]}})
	e.pages.Wait()
	// The answer is "check your email" (the mail's link confirms the
	// address); its sign-in link returns to the code.
	signIn := `href="/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"`
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Check your email") || !strings.Contains(w.Body.String(), signIn) {
		t.Fatalf("after registering: %d; want 200, check your email, %s\n%s", w.Code, signIn, w.Body)
	}
	w = b.post("/login", url.Values{"username": {"new@example.com"}, "password": {"a long enough password"},
		"return_to": {"/device?user_code=WDJB-MJHT"}, "csrf_token": {b.csrf("/login")}})
	next := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || next != "/device?user_code=WDJB-MJHT" {
		t.Fatalf("signing in after registering: %d, Location %q; want the device page with the code", w.Code, next)
	}
	// Not confirmed yet: the gate, keeping the code. Confirmed (as the
	// mailed link would; TestGatePage uses the link), the confirm page.
	wantRedirect(t, "the device page before confirming", b.get(next), confirmURL(next))
	u, err := e.st.GetUserByEmail(t.Context(), "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	markConfirmed(t, e, u.ID)
	if body := b.get(next).Body.String(); !strings.Contains(body, `value="approve"`) || !strings.Contains(body, "WDJB-MJHT") ||
		!strings.Contains(body, "new@example.com") {
		t.Errorf("GET %s: want the confirm page, signed in as the new account\n%s", next, body)
	}
	if got := e.status(t, testCode); got != store.DevicePending {
		t.Errorf("status after registering = %q; want %q: only the click approves", got, store.DevicePending)
	}
}
