package server

import (
	"bytes"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/portable"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// serveStore serves st, which holds an installation already (an import),
// as newTestServer would but adding nothing to it.
func serveStore(t *testing.T, st store.Store, clk *clock, edit func(*config.Config)) *testServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + ts.Listener.Addr().String()
	cfg.Listen = ts.Listener.Addr().String()
	cfg.AdminToken = testAdminToken
	if edit != nil {
		edit(&cfg)
	}
	if err := Validate(cfg); err != nil {
		t.Fatal(err)
	}
	srv, err := New(t.Context(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	u, err := st.GetUserByEmail(t.Context(), personEmail)
	mustDo(t, err)
	return &testServer{URL: ts.URL, Store: st, Clock: clk, Srv: srv, User: u}
}

var (
	totpSecretIn   = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`)
	recoveryCodeIn = regexp.MustCompile(`<li class="code">([a-z2-7]{5}-[a-z2-7]{5})</li>`)
)

// TestMoveKeepsSignIn: what latchkey export and import do when an
// operator moves from SQLite to PostgreSQL (and back): on the last copy
// the person who turned on two-step sign-in on the first signs in with the
// password and a TOTP code the test computes — the code the first
// installation accepted last is refused, its step came along —, or with a
// recovery code; and a device client that registered itself (RFC 7591)
// still reads its registration (RFC 7592 GET) with its registration
// access token, which no other token does. The secrets keys: a on the
// first, b then a on PostgreSQL, b alone on the last.
func TestMoveKeepsSignIn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	onSQLite := backend{"sqlite", func(tb testing.TB) store.Store {
		st := sqlitetest.Open(tb)
		st.UseSealer(mustRing(tb, sealKeyA))
		return st
	}}
	src := newTestServerOn(t, onSQLite, true, withRegistration)

	// The person turns on two-step sign-in on the account page.
	br := newWebBrowser(t, src)
	br.signIn()
	page := br.post("/account/totp", url.Values{"csrf_token": {csrfOf(t, br.get("/account"))}})
	m := totpSecretIn.FindStringSubmatch(page.Raw)
	if m == nil {
		t.Fatalf("no secret on the set-up page (%d):\n%s", page.Status, page.Raw)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		mustDo(t, err)
		return c
	}
	enrolled := src.Clock.Now()
	page = br.post("/account/totp/confirm", url.Values{"code": {code(enrolled)}, "csrf_token": {csrfOf(t, page)}})
	codes := recoveryCodeIn.FindAllStringSubmatch(page.Raw, -1)
	if len(codes) != 10 {
		t.Fatalf("confirm: %d recovery codes on the page (%d):\n%s", len(codes), page.Status, page.Raw)
	}

	// A device registers itself.
	r := src.sendJSON(t, "POST", "/oauth2/register", src.registrationToken(t, 1), `{"client_name":"Hall sensor","token_endpoint_auth_method":"none",
		"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"scope":"openid"}`)
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	clientID, rat := r.str("client_id"), r.str("registration_access_token")

	// The move: SQLite, PostgreSQL, SQLite.
	var file bytes.Buffer
	if _, err := portable.Export(ctx, src.Store, &file); err != nil {
		t.Fatalf("export from SQLite: %v", err)
	}
	if strings.Contains(file.String(), secret) {
		t.Fatal("the export holds the TOTP secret")
	}
	pg := pgtest.Open(t)
	pg.UseSealer(mustRing(t, sealKeyB, sealKeyA))
	if _, err := portable.Import(ctx, pg, &file, portable.Options{}); err != nil {
		t.Fatalf("import into PostgreSQL: %v", err)
	}
	file.Reset()
	if _, err := portable.Export(ctx, pg, &file); err != nil {
		t.Fatalf("export from PostgreSQL: %v", err)
	}
	last := sqlitetest.Open(t)
	last.UseSealer(mustRing(t, sealKeyB))
	if _, err := portable.Import(ctx, last, &file, portable.Options{}); err != nil {
		t.Fatalf("import into SQLite: %v", err)
	}
	clk := &clock{}
	clk.Set(enrolled)
	dst := serveStore(t, last, clk, withRegistration)

	secondStep := func(b *webBrowser) (state, csrf string) {
		t.Helper()
		r := b.post("/login", url.Values{"username": {personEmail}, "password": {personPassword}, "csrf_token": {csrfOf(t, b.get("/login"))}})
		st := stateIn.FindStringSubmatch(r.Raw)
		if r.Status != http.StatusOK || st == nil || b.signedIn() {
			t.Fatalf("the password alone on the copy: %d, signed in %v:\n%s", r.Status, b.signedIn(), r.Raw)
		}
		return html.UnescapeString(st[1]), csrfOf(t, r)
	}
	person := newWebBrowser(t, dst)
	state, csrf := secondStep(person)
	if r := person.post("/login/second-factor", url.Values{"state": {state}, "code": {code(enrolled)}, "csrf_token": {csrf}}); r.Status != http.StatusBadRequest || person.signedIn() {
		t.Errorf("the code the first installation accepted, again on the copy: %d, signed in %v", r.Status, person.signedIn())
	}
	clk.Advance(30 * time.Second)
	if r := person.post("/login/second-factor", url.Values{"state": {state}, "code": {code(clk.Now())}, "csrf_token": {csrf}}); r.Status != http.StatusSeeOther || !person.signedIn() {
		t.Errorf("the next code on the copy: %d, signed in %v:\n%s", r.Status, person.signedIn(), r.Raw)
	}
	other := newWebBrowser(t, dst)
	state, csrf = secondStep(other)
	if r := other.post("/login/second-factor", url.Values{"state": {state}, "recovery_code": {codes[4][1]}, "csrf_token": {csrf}}); r.Status != http.StatusSeeOther || !other.signedIn() {
		t.Errorf("a recovery code on the copy: %d, signed in %v", r.Status, other.signedIn())
	}

	// The registered device manages its registration; another token cannot.
	if r := dst.sendJSON(t, "GET", "/oauth2/register/"+clientID, rat, ""); r.Status != 200 || r.str("client_name") != "Hall sensor" || r.str("client_id") != clientID {
		t.Errorf("RFC 7592 read on the copy: %d %s", r.Status, r.Raw)
	}
	wantOAuthError(t, dst.sendJSON(t, "GET", "/oauth2/register/"+clientID, "lk_rat_not-this-one", ""), 401, "invalid_token")
}
