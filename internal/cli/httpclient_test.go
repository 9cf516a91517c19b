package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers what the command line asks a Latchkey server, and
// keeps the User-Agent of every request by route.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	agents map[string][]string // "POST /token" -> the User-Agents sent
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{agents: map[string][]string{}}
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, map[string]string{"issuer": f.URL, "device_authorization_endpoint": f.URL + "/device_authorization",
			"token_endpoint": f.URL + "/token", "jwks_uri": f.URL + "/jwks"})
	})
	mux.HandleFunc("POST /device_authorization", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, map[string]any{"device_code": "dc", "user_code": "ABCD-EFGH", "verification_uri": f.URL + "/device",
			"expires_in": 60, "interval": 1})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60})
	})
	mux.HandleFunc("PUT /client-group-invitations/accept", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "42")
		answer(w, 429, map[string]string{"error": "too_many_requests", "error_description": "too many invitations accepted; try again later"})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /admin/v1/organizations/acme/member-invitations", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1234")
		answer(w, 429, map[string]string{"error": "too_many_requests",
			"error_description": "too many invitation emails asked for by you: at most 3 in an hour; try again later"})
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		f.mu.Lock()
		f.agents[pattern] = append(f.agents[pattern], r.Header.Get("User-Agent"))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// TestUserAgent: every request the command line makes to a Latchkey
// server (device-login, with and without DPoP; device-enrol; the admin
// API's commands; healthcheck) says it is latchkey, of the version
// `latchkey version` prints, on this platform.
func TestUserAgent(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	var b Build
	if code, out, _ := runCLI(t, "", "version", "--json"); code != 0 || json.Unmarshal([]byte(out), &b) != nil || b.Version == "" {
		t.Fatalf("latchkey version: %d\n%s", code, out)
	}
	want := "latchkey/" + b.Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	for _, args := range [][]string{
		{"device-login", "--issuer", f.URL, "--client-id", "tv", "--no-qr"},
		{"device-login", "--issuer", f.URL, "--client-id", "tv", "--no-qr", "--dpop"},
		{"device-enrol", "--issuer", f.URL, "--token", "lk_inv_x", "--out", filepath.Join(t.TempDir(), "device.json")},
		{"member-invitations", "create", "--endpoint", f.URL, "--token", "t", "--org", "acme", "--email", "x@acme.example"},
		{"healthcheck", "--listen", strings.TrimPrefix(f.URL, "http://")},
	} {
		runCLI(t, "", args...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, route := range []string{
		"GET /.well-known/openid-configuration", "POST /device_authorization", "POST /token",
		"PUT /client-group-invitations/accept", "POST /admin/v1/organizations/acme/member-invitations", "GET /healthz",
	} {
		if len(f.agents[route]) == 0 {
			t.Errorf("%s: no request", route)
		}
	}
	for route, agents := range f.agents {
		for _, got := range agents {
			if got != want {
				t.Errorf("%s: User-Agent %q; want %q", route, got, want)
			}
		}
	}
}

// TestRetryAfterSaid: a refusal's Retry-After is said as how long to wait,
// by the admin API's commands and device-enrol.
func TestRetryAfterSaid(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"member-invitations", "create", "--endpoint", f.URL, "--token", "t", "--org", "acme", "--email", "x@acme.example"},
			"latchkey: too many invitation emails asked for by you: at most 3 in an hour; try again in 1234 s\n"},
		{[]string{"device-enrol", "--issuer", f.URL, "--token", "lk_inv_x", "--out", filepath.Join(t.TempDir(), "device.json")},
			"latchkey: device-enrol: the invitation was not accepted: too many invitations accepted; try again in 42 s\n"},
	} {
		code, _, stderr := runCLI(t, "", tt.args...)
		if code != 1 || stderr != tt.want {
			t.Errorf("%s: exit %d, stderr %q; want 1, %q", tt.args[0], code, stderr, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		header string
		want   int
	}{
		{"", 0},
		{"120", 120},
		{" 7 ", 7},
		{"-5", 0},
		{"soon", 0},
		{"Fri, 04 Dec 2026 17:01:30 GMT", 90},
		{"Fri, 04 Dec 2026 16:59:00 GMT", 0},
	} {
		h := http.Header{}
		if tt.header != "" {
			h.Set("Retry-After", tt.header)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %d; want %d", tt.header, got, tt.want)
		}
	}
	for _, tt := range []struct {
		msg     string
		seconds int
		want    string
	}{
		{"at most 3 in an hour; try again later", 60, "at most 3 in an hour; try again in 60 s"},
		{"slow down", 5, "slow down; try again in 5 s"},
		{"at most 3 in an hour; try again later", 0, "at most 3 in an hour; try again later"},
	} {
		if got := tryAgain(tt.msg, tt.seconds); got != tt.want {
			t.Errorf("tryAgain(%q, %d) = %q; want %q", tt.msg, tt.seconds, got, tt.want)
		}
	}
}
