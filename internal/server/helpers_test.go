package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// clock is a settable test clock; the zero value follows the real time.
type clock struct {
	mu    sync.Mutex
	fixed time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed.IsZero() {
		return time.Now()
	}
	return c.fixed
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.fixed = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.fixed = c.fixed.Add(d)
	c.mu.Unlock()
}

const (
	personEmail    = "person@example.com"
	personPassword = "correct horse battery"
	tvClient       = "tv-app"   // public, device_code + refresh_token
	printerClient  = "printer"  // confidential, device_code
	webOnlyClient  = "web-only" // public, no device grant
	printerSecret  = "lk_cs_printer-secret-for-tests-0123456789abcdef"
	scopesAll      = "openid profile email offline_access"
	testAdminToken = "lk_admin_test_token_0123456789abcdefghijklmnop"
)

// personHash is personPassword's argon2id hash, made once for the
// package: every test server has the person, and hashing the same password
// for each (19 MiB and two passes, slower under -race) was seconds of CPU.
var personHash = sync.OnceValues(func() (string, error) { return account.HashPassword(personPassword) })

// madeRSA holds RSA keys made once for the package's test servers, by
// size: every server makes one at start (RS256 is published beside
// ES256), and a 2048-bit key costs 0.1–0.3 s of CPU under the race
// detector, on some 150 servers a run.
var madeRSA struct {
	sync.Mutex
	keys map[int][]*rsa.PrivateKey
}

// rsaSource is one server's keys.Manager.NewRSA: its n-th key of a size
// is the package's n-th of that size, so a server never gets the same key
// twice (rotation makes new ones), while servers of different tests,
// each on its own database, share them. Two instances on one database
// must not both use it (the second would make the first's keys again).
func rsaSource() func(bits int) (*rsa.PrivateKey, error) {
	var mu sync.Mutex
	next := map[int]int{}
	return func(bits int) (*rsa.PrivateKey, error) {
		mu.Lock()
		i := next[bits]
		next[bits]++
		mu.Unlock()
		madeRSA.Lock()
		defer madeRSA.Unlock()
		if madeRSA.keys == nil {
			madeRSA.keys = map[int][]*rsa.PrivateKey{}
		}
		for len(madeRSA.keys[bits]) <= i {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				return nil, err
			}
			madeRSA.keys[bits] = append(madeRSA.keys[bits], k)
		}
		return madeRSA.keys[bits][i], nil
	}
}

type testServer struct {
	URL   string
	Store store.Store
	Clock *clock
	Srv   *Server
	User  *store.User
}

// backend opens a fresh, migrated store of one kind for a test.
type backend struct {
	name string
	open func(testing.TB) store.Store
}

// backends are the stores the end-to-end tests run on: a SQLite file, and a
// fresh schema of the test PostgreSQL (skipped without one, failed in CI).
var backends = []backend{
	{"sqlite", func(t testing.TB) store.Store { return sqlitetest.Open(t) }},
	{"postgres", func(t testing.TB) store.Store { return pgtest.Open(t) }},
}

// onEachBackend runs f as a subtest per backend.
func onEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// newTestServer starts Latchkey on a real SQLite file behind a real HTTP
// listener, with a person and three clients. edit may change the config.
func newTestServer(t *testing.T, fixedClock bool, edit func(*config.Config)) *testServer {
	t.Helper()
	return newTestServerOn(t, backends[0], fixedClock, edit)
}

// newTestServerOn is newTestServer on the given backend.
func newTestServerOn(t *testing.T, b backend, fixedClock bool, edit func(*config.Config)) *testServer {
	t.Helper()
	return newTestServerLogging(t, b, fixedClock, edit, nil)
}

// newTestServerLogging is newTestServerOn logging JSON lines, debug and up,
// to logTo when it is set.
func newTestServerLogging(t *testing.T, b backend, fixedClock bool, edit func(*config.Config), logTo io.Writer) *testServer {
	t.Helper()
	ctx := t.Context()
	st := b.open(t)
	clk := &clock{}
	if fixedClock {
		clk.Set(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	}
	ts := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + ts.Listener.Addr().String()
	cfg.Listen = ts.Listener.Addr().String()
	cfg.AdminToken = testAdminToken
	cfg.Device.Interval = config.Duration(time.Second)
	if edit != nil {
		edit(&cfg)
	}
	if err := Validate(cfg); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if logTo != nil {
		log = slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := New(ctx, cfg, st, log, Options{Now: clk.Now, NewRSA: rsaSource()})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)

	now := clk.Now()
	hash, err := personHash()
	if err != nil {
		t.Fatal(err)
	}
	// Pat's address is confirmed: the pages let only such a person
	// approve a device or consent (accounts.require_verified_email).
	u := &store.User{ID: "u-person", Email: personEmail, Name: "Pat Person", PasswordHash: hash, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
	mustDo(t, st.CreateUser(ctx, u))
	scopes := strings.Fields(scopesAll)
	mustDo(t, st.CreateClient(ctx, &store.Client{ID: tvClient, Name: "Living Room TV", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken}, Scopes: scopes, CreatedAt: now, UpdatedAt: now}))
	mustDo(t, st.CreateClient(ctx, &store.Client{ID: printerClient, Name: "Office Printer", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(printerSecret), GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid", "print"},
		CreatedAt: now, UpdatedAt: now}))
	mustDo(t, st.CreateClient(ctx, &store.Client{ID: webOnlyClient, Name: "Web only", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantAuthorizationCode}, Scopes: scopes, CreatedAt: now, UpdatedAt: now}))
	return &testServer{URL: ts.URL, Store: st, Clock: clk, Srv: srv, User: u}
}

// testWriter writes a test server's log lines to its test's log while
// the test runs, and drops them once its cleanups have begun: a server
// goroutine finishing late (mail sent after the answer) may still log,
// and t.Log after the test has ended is a data race on t (and a panic).
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

// newTestWriter is a testWriter that stops writing when t's cleanups
// run: registered before the server's, it runs after them (cleanups run
// last first), so what the server logs while closing still shows.
func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reply is a decoded JSON response.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r reply) str(k string) string { s, _ := r.Body[k].(string); return s }

// post sends a form to path, with basic auth when user is not empty.
func (s *testServer) post(t *testing.T, path string, form url.Values, user, pass string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// startDevice asks for device and user codes as clientID.
func (s *testServer) startDevice(t *testing.T, clientID, scope string) reply {
	t.Helper()
	form := url.Values{"client_id": {clientID}}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := s.post(t, "/oauth2/device_authorization", form, "", "")
	if r.Status != 200 {
		t.Fatalf("device authorization: %d %s", r.Status, r.Raw)
	}
	return r
}

// poll polls the token endpoint once as a public client.
func (s *testServer) poll(t *testing.T, clientID, deviceCode string) reply {
	t.Helper()
	return s.post(t, "/oauth2/token", url.Values{
		"grant_type":  {store.GrantDeviceCode},
		"device_code": {deviceCode},
		"client_id":   {clientID},
	}, "", "")
}

// decide approves or denies a user code as the test person, as the
// verification page would after its checks.
func (s *testServer) decide(t *testing.T, userCode string, approve bool) {
	t.Helper()
	norm, ok := device.NormalizeUserCode(userCode)
	if !ok {
		t.Fatalf("bad user code %q", userCode)
	}
	if _, err := s.Store.DecideDeviceAuth(context.Background(), oauth.HashSecret(norm), s.User.ID, "", approve, s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func wantOAuthError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.Status != status || r.str("error") != code {
		t.Fatalf("got %d %s; want %d %s", r.Status, r.Raw, status, code)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q; want JSON", ct)
	}
	if p := r.Header.Get("Pragma"); p != "no-cache" {
		t.Errorf("Pragma = %q; want no-cache", p)
	}
	if d := r.str("error_description"); !descriptionChars.MatchString(d) {
		t.Errorf("error_description %q has characters RFC 6749 §5.2 forbids", d)
	}
}

// descriptionChars is what RFC 6749 §5.2 allows in error_description.
var descriptionChars = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]*$`)

// onlyOneWins runs do n times at once and returns the one answer that got
// tokens (200): the test fails unless exactly one did, an answer is a
// server error, or a refusal has an error code other than refusals.
func onlyOneWins(t *testing.T, what string, n int, do func() reply, refusals ...string) reply {
	t.Helper()
	results := make([]reply, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = do() })
	}
	wg.Wait()
	var won []reply
	for _, r := range results {
		switch {
		case r.Status == 200:
			won = append(won, r)
		case r.Status >= 500:
			t.Errorf("%s: server error: %d %s", what, r.Status, r.Raw)
		case !slices.Contains(refusals, r.str("error")):
			t.Errorf("%s: unexpected answer %d %s", what, r.Status, r.Raw)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%s: %d of %d got tokens; want exactly 1", what, len(won), n)
	}
	return won[0]
}

// confirmAddress marks email's address confirmed, as its mailed link
// would (the link itself: TestVerificationInBrowser), so that a story
// about something else may approve a device (accounts.require_verified_email).
func confirmAddress(t *testing.T, s *testServer, email string) {
	t.Helper()
	u, err := s.Store.GetUserByEmail(t.Context(), strings.ToLower(email))
	mustDo(t, err)
	u.EmailVerified = true
	mustDo(t, s.Store.UpdateUser(t.Context(), u))
}
