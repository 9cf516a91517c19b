package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// signedIn returns a browser signed in as the test user.
func signedIn(t *testing.T, e *env) *browser {
	t.Helper()
	b := e.browser(t)
	b.login(testEmail)
	return b
}

func TestDeviceSignedOut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		method string
		target string
		form   url.Values
		want   string
	}{
		{"prefilled", "GET", "/device?user_code=WDJB-MJHT", nil, "/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
		{"entry form", "GET", "/device", nil, "/login?return_to=%2Fdevice"},
		{"10Duke alias", "GET", "/user/device?userCode=WDJB-MJHT", nil, "/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
		{"junk is not carried", "GET", "/device?user_code=%3Cscript%3E", nil, "/login?return_to=%2Fdevice"},
		{"a decision needs a session", "POST", "/device", url.Values{"user_code": {"WDJB-MJHT"}, "decision": {"approve"}},
			"/login?return_to=%2Fdevice%3Fuser_code%3DWDJB-MJHT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "Living room TV")
			b := e.browser(t)
			var w = b.get(tt.target)
			if tt.method == "POST" {
				w = b.post(tt.target, tt.form)
			}
			if got := w.Header().Get("Location"); w.Code != http.StatusSeeOther || got != tt.want {
				t.Errorf("%s %s = %d, Location %q; want 303, %q", tt.method, tt.target, w.Code, got, tt.want)
			}
			if got := e.status(t, testCode); got != store.DevicePending {
				t.Errorf("status = %q; want %q", got, store.DevicePending)
			}
		})
	}
}

// TestDeviceSignInThenConfirm walks verification_uri_complete from a
// signed-out browser: sign-in leads back to the confirm page.
func TestDeviceSignInThenConfirm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	b := e.browser(t)
	loc := b.get("/device?user_code=WDJB-MJHT").Header().Get("Location")
	w := b.post("/login", url.Values{"username": {testEmail}, "password": {testPassword},
		"return_to": {"/device?user_code=WDJB-MJHT"}, "csrf_token": {b.csrf(loc)}})
	next := w.Header().Get("Location")
	if next != "/device?user_code=WDJB-MJHT" {
		t.Fatalf("after sign-in, Location = %q; want the device page with the code", next)
	}
	if w := b.get(next); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="approve"`) {
		t.Errorf("GET %s = %d; want the confirm page\n%s", next, w.Code, w.Body)
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
				"SmartTV/2.1 &lt;b&gt;",
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
		{"approve", []step{{"approve", http.StatusOK, "Device connected, you can return to your device"}}, store.DeviceApproved},
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
		if got := ago(tt.d); got != tt.want {
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
