package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// TestServeNeedsIssuerOffLoopback: serve on an address other machines
// reach, without an issuer, is refused before anything is created.
func TestServeNeedsIssuerOffLoopback(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "latchkey.db")
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		code, _, stderr := runCLI(t, "", "serve", "--listen", listen, "--db", "sqlite:"+db)
		if code != 1 || !strings.Contains(stderr, "so the issuer cannot default to http://"+listen) ||
			!strings.Contains(stderr, "--issuer https://auth.example.com") {
			t.Errorf("serve --listen %s: exit %d\n%s", listen, code, stderr)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s: %v", db, err)
	}
}

// TestMissing: outside development mode, serve says what a new
// installation lacks, with the command that adds it, and nothing once it
// has clients and users.
func TestMissing(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("t", 32)
	for _, tt := range []struct {
		name           string
		clients, users bool
		adminToken     string
		registration   string   // accounts.registration
		want           []string // each gap's what, then fix, shortened
	}{
		{"new", false, false, "", "", []string{"this is a new installation",
			"stop the server and run latchkey init --config FILE --issuer URL --db sqlite:DB --email EMAIL"}},
		{"after init: a user and a token", false, true, token, "", []string{"there are no clients yet",
			"latchkey clients create --endpoint http://127.0.0.1:8080 --name"}},
		{"a token only", false, false, token, "", []string{
			"there are no users yet: nobody can sign in until someone registers at https://auth.example.com/register",
			"latchkey users create --endpoint http://127.0.0.1:8080 --email EMAIL --name NAME",
			"there are no clients yet", "latchkey clients create"}},
		{"registration off, no users", true, false, token, "off", []string{
			"there are no users yet, and registration is off (accounts.registration): nobody can sign in until you create one",
			"latchkey users create --endpoint http://127.0.0.1:8080 --email EMAIL --name NAME"}},
		{"clients, no users, no token", true, false, "", "", []string{
			"the admin API is off (no admin_token), and the commands below need it",
			"set admin_token in the configuration, or LATCHKEY_ADMIN_TOKEN",
			"there are no users yet", "latchkey users create"}},
		{"set up", true, true, token, "", nil},
		{"set up, the admin API off by choice", true, true, "", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := sqlitetest.Open(t)
			now := time.Now()
			if tt.clients {
				if err := st.CreateClient(t.Context(), &store.Client{ID: "tv", AuthMethod: store.AuthNone, CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.users {
				if err := st.CreateUser(t.Context(), &store.User{ID: "u", Email: "ada@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			cfg := config.Default()
			cfg.Listen, cfg.Issuer, cfg.AdminToken, cfg.Database = "0.0.0.0:8080", "https://auth.example.com", tt.adminToken, "sqlite:DB"
			cfg.Accounts.Registration = tt.registration
			gaps, err := missing(t.Context(), st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, g := range gaps {
				if 2*i+1 >= len(tt.want) {
					t.Errorf("more gaps than expected: %+v", gaps[i:])
					break
				}
				got = append(got, g.what, g.fix)
				if !strings.HasPrefix(g.what, tt.want[2*i]) || !strings.HasPrefix(g.fix, tt.want[2*i+1]) {
					t.Errorf("gap %d: %q; fix %q\nwant %q; %q", i, g.what, g.fix, tt.want[2*i], tt.want[2*i+1])
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d gaps %q; want %d", len(gaps), got, len(tt.want)/2)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer a server's goroutines may write to while a
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingAt = regexp.MustCompile(`msg="latchkey is serving" .*listen=(\S+)`)

// startServe runs `latchkey serve args` until the test ends and returns
// the address it listens on and its log.
func startServe(t *testing.T, getenv func(string) string, args ...string) (addr string, log *syncBuffer) {
	t.Helper()
	getenv = withSecretsKey(getenv)
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	log = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Getenv: getenv, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: log},
			append([]string{"serve", "--listen", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve: exit %d\n%s", code, log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingAt.FindStringSubmatch(log.String()); m != nil {
			return m[1], log
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve ended: exit %d\n%s", code, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", log)
	return "", nil
}

// TestServeNewInstallation: serve on an empty database, outside
// development mode, starts, answers its health checks, and logs what is
// missing; `latchkey healthcheck` agrees, and fails once it has stopped.
func TestServeNewInstallation(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "latchkey.db")
	addr, log := startServe(t, noEnv, "--db", "sqlite:"+db)
	if !strings.Contains(log.String(), `level=WARN msg="this is a new installation: no clients, no users, and no admin_token`) {
		t.Errorf("serve on an empty database does not say what is missing:\n%s", log)
	}
	for _, args := range [][]string{
		{"healthcheck", "--listen", addr},
		{"healthcheck", "--ready", "--listen", addr},
	} {
		code, stdout, stderr := runCLI(t, "", args...)
		if code != 0 || !strings.Contains(stdout, ": 200 OK") {
			t.Errorf("latchkey %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// LATCHKEY_LISTEN, as in the container image.
	var out, errOut bytes.Buffer
	env := Env{Getenv: func(k string) string {
		if k == "LATCHKEY_LISTEN" {
			return addr
		}
		return ""
	}, Stdout: &out, Stderr: &errOut}
	if code := Main(t.Context(), env, []string{"healthcheck"}); code != 0 || out.String() != "GET http://"+addr+"/healthz: 200 OK\n" {
		t.Errorf("healthcheck with LATCHKEY_LISTEN: exit %d\n%s%s", code, &out, &errOut)
	}
}

// testSecretsKey is the secrets key of the tests' servers.
const testSecretsKey = "lk_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

// withSecretsKey is getenv with testSecretsKey as LATCHKEY_SECRETS_KEY
// when it sets none.
func withSecretsKey(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" || k != "LATCHKEY_SECRETS_KEY" {
			return v
		}
		return testSecretsKey
	}
}

// TestServeNeedsSecretsKey: outside --dev, serve without a secrets key
// stops before it opens the database, and says how to make one.
func TestServeNeedsSecretsKey(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "latchkey.db")
	code, _, stderr := runCLI(t, "", "serve", "--db", "sqlite:"+db)
	for _, want := range []string{"no secrets key", "latchkey secrets new-key", "secrets_keys:", "LATCHKEY_SECRETS_KEY=", "latchkey init"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("serve without a key: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s: %v", db, err)
	}
}

// TestHealthcheckFails: no server, or one that is not ready, exits 1 and
// says what it met.
func TestHealthcheckFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	code, _, stderr := runCLI(t, "", "healthcheck", "--listen", closed)
	if code != 1 || !strings.Contains(stderr, "latchkey: GET http://"+closed+"/healthz: ") || !strings.Contains(stderr, "refused") {
		t.Errorf("healthcheck of nothing: exit %d\n%s", code, stderr)
	}

	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		}
	}))
	defer notReady.Close()
	addr := strings.TrimPrefix(notReady.URL, "http://")
	if code, _, stderr := runCLI(t, "", "healthcheck", "--listen", addr); code != 0 {
		t.Errorf("healthcheck of a live server: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "healthcheck", "--ready", "--listen", addr)
	if want := "latchkey: GET http://" + addr + "/readyz: 503 Service Unavailable\n"; code != 1 || stderr != want {
		t.Errorf("healthcheck --ready of a server that is not: exit %d\n%s\nwant %s", code, stderr, want)
	}
}

func TestLocalURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{":8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://[::1]:8080"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"localhost:8080", "http://localhost:8080"},
		{"192.0.2.7:80", "http://192.0.2.7:80"},
	} {
		if got := localURL(tt.listen); got != tt.want {
			t.Errorf("localURL(%q) = %q, want %q", tt.listen, got, tt.want)
		}
	}
}

// TestDevUserIsSysadmin: serve --dev's user is a system administrator
// with a confirmed address, made so when a database from before roles
// or verification has it as an ordinary, unconfirmed user.
func TestDevUserIsSysadmin(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		st := sqlitetest.Open(t)
		now := time.Now()
		if existing {
			if err := st.CreateUser(t.Context(), &store.User{ID: "dev-user", Email: devEmail, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		cfg := config.Default()
		if _, err := ensureDevData(t.Context(), st, &cfg); err != nil {
			t.Fatal(err)
		}
		u, err := st.GetUserByEmail(t.Context(), devEmail)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Sysadmin {
			t.Errorf("existing %v: the dev user is not a system administrator", existing)
		}
		if !u.EmailVerified {
			t.Errorf("existing %v: the dev user's address is not confirmed", existing)
		}
	}
}
