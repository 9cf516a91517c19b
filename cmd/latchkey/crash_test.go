package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read the schema as it is
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/internal/workload"
)

// crashKills is how many times TestCrash kills the server per backend:
// LATCHKEY_CRASH_KILLS, or a few in the normal suite.
func crashKills(t *testing.T) int {
	if s := os.Getenv("LATCHKEY_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("LATCHKEY_CRASH_KILLS=%q: want a positive number", s)
		}
		return n
	}
	return 4
}

const crashWorkers = 4

// TestCrash kills `latchkey serve` with SIGKILL at random moments under
// the mixed load of package workload (device flows approved on the pages,
// refresh rotations, invitations accepted by new devices, their client
// credentials grants), restarts it on the same database, and checks after
// every restart that nothing a client was told is lost:
//
//   - the database passes its integrity check (SQLite integrity_check and
//     foreign_key_check; PostgreSQL amcheck on every index), and no row
//     refers to a missing one;
//   - every access token a client got a 200 for is still active
//     (introspection), so its grant is there;
//   - the refresh token each device holds is stored, unused, in a live
//     grant, and each grant has exactly one unused refresh token; a
//     rotation whose answer was lost is settled by retrying it, which
//     succeeds exactly when the database shows it did not happen, and
//     otherwise is refused as reuse with the grant revoked;
//   - a device code is redeemed at most once (one grant per code, one
//     code per grant), and a redeeming poll that got no answer, retried,
//     succeeds exactly when the database shows no grant for it;
//   - an invitation is accepted at most once (one new client per accepted
//     invitation), and an accept that got no answer, retried, succeeds
//     exactly when the database shows it pending.
//
// At the end every redeemed code and accepted invitation is tried again,
// and refused. LATCHKEY_CRASH_KILLS sets the kills per backend.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			newCrashRun(t, backend).run(crashKills(t))
		})
	}
}

// crashRun is one backend's run of TestCrash.
type crashRun struct {
	t       *testing.T
	backend string
	config  string
	addr    string
	sqlite  string // the database file; "" on PostgreSQL
	pgDSN   string // with search_path set to the test's schema
	schema  string
	proc    *exec.Cmd
	log     *lockedBuffer
	env     *workload.Env
	load    *workload.Driver
	checks  int // invariant checks that passed
	// Retries of lost answers: succeeded, refused as reuse (the grant
	// revoked), refused as the loser of a concurrent refresh (the grant
	// left with a successor nobody holds).
	retriedOK, reuse, concurrent int
	rng                          *rand.Rand
}

func newCrashRun(t *testing.T, backend string) *crashRun {
	mail, err := workload.ListenMailbox()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mail.Close() })
	r := &crashRun{t: t, backend: backend, addr: freeAddr(t)}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r.rng = rand.New(rand.NewPCG(seed, seed>>1))
	dir := t.TempDir()
	db := ""
	switch backend {
	case "sqlite":
		r.sqlite = filepath.Join(dir, "latchkey.db")
		db = "sqlite:" + r.sqlite
	case "postgres":
		dsn := testenv.PostgresDSN(t)
		r.schema = pgSchema(t, dsn)
		db = dsn
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		r.pgDSN = dsn + sep + "search_path=" + r.schema
	}
	cfg := fmt.Sprintf("listen: %s\ndatabase: %s\nadmin_token: %s\nsecrets_keys: [%s]\nlog: {level: warn}\n", r.addr, db, multiAdminToken, testSecretsKey) +
		workload.ServerConfig(mail.Port(), 0)
	if r.schema != "" {
		cfg += fmt.Sprintf("postgres: {schema: %s, max_conns: 8}\n", r.schema)
	}
	r.config = filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = workload.NewEnv("http://"+r.addr, multiAdminToken, mail, crashWorkers)
	r.load = workload.New(r.env)
	return r
}

// start runs `latchkey serve` on the run's configuration and waits until
// it is ready.
func (r *crashRun) start() {
	t := r.t
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := exec.Command(bin, "serve", "--config", r.config)
	p.Env = append(os.Environ(), "LATCHKEY_DB=", "LATCHKEY_ADMIN_TOKEN=", "LATCHKEY_LISTEN=", "LATCHKEY_ISSUER=", "LATCHKEY_CONFIG=")
	r.log = &lockedBuffer{}
	p.Stdout, p.Stderr = r.log, r.log
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	r.proc = p
	t.Cleanup(func() {
		if p.ProcessState == nil {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	})
	waitReady(t, &instance{URL: r.env.Base, proc: p, stderr: r.log})
}

// stop ends the server as an operator does (SIGTERM): it finishes the
// requests in flight and exits.
func (r *crashRun) stop() {
	r.t.Helper()
	if err := r.proc.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	if err := r.proc.Wait(); err != nil {
		r.t.Fatalf("serve after SIGTERM: %v\n%s", err, r.log)
	}
}

func roundAll(m map[string]time.Duration) map[string]time.Duration {
	out := make(map[string]time.Duration, len(m))
	for k, d := range m {
		out[k] = d.Round(10 * time.Millisecond)
	}
	return out
}

func (r *crashRun) kill() {
	r.t.Helper()
	if err := r.proc.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	_ = r.proc.Wait()
}

func (r *crashRun) run(kills int) {
	t := r.t
	started := time.Now()
	// Where the time went, logged at the end (and on a failure): a run that
	// is slow on a loaded machine says which phase was.
	phases := map[string]time.Duration{}
	timed := func(name string, f func()) {
		t0 := time.Now()
		f()
		phases[name] += time.Since(t0)
	}
	defer func() { t.Logf("%s: time per phase: %v", r.backend, roundAll(phases)) }()
	timed("start", r.start)
	if err := r.env.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.load.SignIn(t.Context(), crashWorkers); err != nil {
		t.Fatal(err)
	}
	settled := 0
	for k := range kills {
		timed("load", func() {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { r.load.Run(ctx, crashWorkers); close(done) }()
			time.Sleep(time.Duration(200+r.rng.IntN(1000)) * time.Millisecond) // the random moment
			r.kill()
			cancel()
			<-done
		})
		db := r.open()
		timed("integrity", func() { r.integrity(db) })
		var want map[string]lostAnswer
		timed("read", func() { want = r.beforeSettle(db) }) // what the database says the lost answers were
		timed("start", r.start)
		var got []workload.Settled
		var err error
		timed("settle", func() { got, err = r.load.Settle(t.Context()) })
		if err != nil {
			t.Fatalf("kill %d: settle: %v\n%s", k+1, err, r.log)
		}
		r.compareSettled(k+1, want, got)
		settled += len(got)
		timed("invariants", func() { r.invariants(db, false) })
		db.Close()
		if t.Failed() {
			t.Fatalf("after kill %d of %d; server log:\n%s", k+1, kills, r.log)
		}
	}
	// A last stretch of load without a kill, cut short as a kill would. The
	// server may still be working on a request its client gave up on, so it
	// is stopped gracefully (it finishes what it was given) before the
	// database is read; then every check over everything.
	timed("load", func() {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		r.load.Run(ctx, crashWorkers)
		cancel()
	})
	timed("stop", r.stop)
	db := r.open()
	defer db.Close()
	want := r.beforeSettle(db)
	timed("start", r.start)
	got, err := r.load.Settle(t.Context())
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
	r.compareSettled(kills+1, want, got)
	settled += len(got)
	timed("invariants", func() { r.invariants(db, true) })
	timed("replays", r.replays)
	timed("integrity", func() { r.integrity(db) })

	tot := r.load.Stats.Totals()
	if tot.Errors() > 0 {
		t.Errorf("%d wrong answers under load, the first: %s", tot.Errors(), tot.FirstErr)
	}
	l := &r.load.Ledger
	rotations := 0
	for _, c := range l.Chains {
		rotations += c.Rotations
	}
	t.Logf("%s: %d kills in %s; %d operations answered (%v), %d cut short by a kill; %d lost answers retried: "+
		"%d succeeded (not done before the kill), %d refused as done (%d refresh retries refused as reuse, the grant revoked; "+
		"%d as the loser of a concurrent refresh, the grant left live); "+
		"%d device grants with %d refresh rotations, %d invitations accepted, %d client credentials tokens; %d invariant checks passed",
		r.backend, kills, time.Since(started).Round(time.Second), tot.OK(), tot.Ops, tot.Lost, settled,
		r.retriedOK, r.reuse+r.concurrent, r.reuse, r.concurrent,
		len(l.Chains), rotations, accepted(l), len(l.Issued), r.checks)
}

// isConcurrentLoser reports whether a refused refresh was refused as the
// loser of concurrent refreshes (grant.ConcurrentRefreshWindow).
func isConcurrentLoser(description string) bool {
	return strings.Contains(description, "concurrent request")
}

func accepted(l *workload.Ledger) int {
	n := 0
	for _, inv := range l.Invites {
		if inv.Accepted {
			n++
		}
	}
	return n
}

// open opens the database as it is, for the checks.
func (r *crashRun) open() *sql.DB {
	r.t.Helper()
	var db *sql.DB
	var err error
	if r.sqlite != "" {
		db, err = sql.Open("sqlite", "file:"+r.sqlite+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", r.pgDSN)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// check records one invariant; ok false fails the test with the message.
func (r *crashRun) check(ok bool, format string, args ...any) {
	r.t.Helper()
	if !ok {
		r.t.Errorf(format, args...)
		return
	}
	r.checks++
}

func (r *crashRun) query(db *sql.DB, q string, args ...any) []string {
	r.t.Helper()
	rows, err := db.QueryContext(r.t.Context(), q, args...)
	if err != nil {
		r.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			r.t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *crashRun) one(db *sql.DB, q string, args ...any) string {
	r.t.Helper()
	rows := r.query(db, q, args...)
	if len(rows) != 1 {
		return fmt.Sprintf("(%d rows)", len(rows))
	}
	return rows[0]
}

// integrity runs the database's own consistency checks.
func (r *crashRun) integrity(db *sql.DB) {
	r.t.Helper()
	if r.sqlite != "" {
		got := r.query(db, "PRAGMA integrity_check")
		r.check(len(got) == 1 && got[0] == "ok", "PRAGMA integrity_check: %v", got)
		got = r.query(db, "PRAGMA foreign_key_check")
		r.check(len(got) == 0, "PRAGMA foreign_key_check: %v", got)
		return
	}
	// amcheck verifies each B-tree index and that it holds every heap row.
	if _, err := db.ExecContext(r.t.Context(), "CREATE EXTENSION IF NOT EXISTS amcheck WITH SCHEMA public"); err != nil &&
		r.one(db, "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'") != "1" {
		r.t.Fatalf("amcheck: %v", err)
	}
	idx := r.query(db, `SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
		WHERE n.nspname = $1 AND a.amname = 'btree'`, r.schema)
	for _, ix := range idx {
		_, err := db.ExecContext(r.t.Context(), "SELECT public.bt_index_check($1::regclass, true)", ix)
		r.check(err == nil, "amcheck of index %s: %v", ix, err)
	}
	r.check(len(idx) > 10, "amcheck found only %d indexes in schema %s", len(idx), r.schema)
}

// lostAnswer is what the database says about a request whose answer was
// lost, before it is retried: whether it took effect.
type lostAnswer struct {
	kind  string
	taken bool
}

// beforeSettle reads, with the server down, whether each request in
// flight at the kill took effect.
func (r *crashRun) beforeSettle(db *sql.DB) map[string]lostAnswer {
	l := &r.load.Ledger
	want := map[string]lostAnswer{}
	for _, c := range l.Chains {
		if c.InFlight {
			used := r.one(db, "SELECT used_at IS NOT NULL FROM refresh_tokens WHERE hash = $1", oauth.HashSecret(c.Refresh))
			r.check(used == "1" || used == "0" || used == "true" || used == "false",
				"the refresh token a device held at the kill is not in the database (%s)", used)
			want[c.Refresh] = lostAnswer{workload.OpRefresh, used == "1" || used == "true"}
		}
	}
	for _, f := range l.Flows {
		g := r.one(db, "SELECT coalesce(grant_id, '') FROM device_authorizations WHERE device_code_hash = $1", oauth.HashSecret(f.DeviceCode))
		r.check(!strings.HasPrefix(g, "("), "an approved device code is not in the database (%s)", g)
		want[f.DeviceCode] = lostAnswer{workload.OpDevice, g != ""}
	}
	for _, inv := range l.Invites {
		if inv.InFlight {
			st := r.one(db, "SELECT status FROM invitations WHERE token_hash = $1", oauth.HashSecret(inv.Token))
			r.check(st == "pending" || st == "accepted", "invitation %s in flight at the kill is %s", inv.ID, st)
			want[inv.Token] = lostAnswer{workload.OpInvite, st == "accepted"}
		}
	}
	return want
}

// compareSettled: a retry succeeds exactly when the lost request had not
// taken effect; otherwise it is refused for the reason the protocol gives.
func (r *crashRun) compareSettled(kill int, want map[string]lostAnswer, got []workload.Settled) {
	r.check(len(got) == len(want), "kill %d: %d retries for %d requests in flight", kill, len(got), len(want))
	for _, s := range got {
		w, ok := want[s.Key]
		if !ok {
			r.check(false, "kill %d: a retry of %s nobody expected", kill, s.Kind)
			continue
		}
		okStatus := http.StatusOK
		refusal := "invalid_grant"
		if s.Kind == workload.OpInvite {
			okStatus, refusal = http.StatusCreated, org.CodeInvalidInvitation
		}
		if w.taken {
			r.check(s.Status != okStatus && s.Error == refusal,
				"kill %d: %s took effect before the kill, yet its retry got %d %s", kill, s.Kind, s.Status, s.Error)
			if s.Kind == workload.OpRefresh && isConcurrentLoser(s.Description) {
				r.concurrent++
			} else {
				r.reuse++
			}
		} else {
			r.check(s.Status == okStatus, "kill %d: %s had not taken effect, yet its retry got %d %s", kill, s.Kind, s.Status, s.Error)
			r.retriedOK++
		}
	}
}

// invariants checks what clients were told against the database and the
// server; all: every entry of the ledger, else those of the last run.
func (r *crashRun) invariants(db *sql.DB, all bool) {
	t := r.t
	t.Helper()
	l := &r.load.Ledger
	last := 0
	for _, c := range l.Chains {
		last = max(last, c.Batch)
	}
	for _, inv := range l.Invites {
		last = max(last, inv.Batch)
	}
	for _, is := range l.Issued {
		last = max(last, is.Batch)
	}
	recent := func(b int) bool { return all || b == last }
	ctx := t.Context()
	for _, c := range l.Chains {
		if c.Ended != "" && isConcurrentLoser(c.Ended) {
			// Retried within grant.ConcurrentRefreshWindow of the lost
			// rotation: refused as the loser of concurrent refreshes, and
			// not revoked. The grant holds one unused token, the successor
			// whose answer the kill lost.
			st := r.one(db, `SELECT count(*) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
				WHERE r.grant_id = $1 AND r.used_at IS NULL AND r.hash <> $2 AND g.revoked_at IS NULL`, c.GrantID, oauth.HashSecret(c.Refresh))
			r.check(st == "1", "grant %s, whose retried rotation lost as concurrent, has %s live successors", c.GrantID, st)
			continue
		}
		if c.Ended != "" {
			// Its retry was refused as reuse: the grant must be revoked.
			rev := r.one(db, "SELECT revoked_at IS NOT NULL FROM grants WHERE id = $1", c.GrantID)
			r.check(rev == "1" || rev == "true", "grant %s ended (%s) but is live (%s)", c.GrantID, c.Ended, rev)
			continue
		}
		st := r.one(db, `SELECT r.used_at IS NULL, g.revoked_at IS NULL, r.grant_id FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id
			WHERE r.hash = $1`, oauth.HashSecret(c.Refresh))
		r.check(st == "1|1|"+c.GrantID || st == "true|true|"+c.GrantID,
			"the refresh token a device holds (grant %s, %d rotations) is not live in its grant: %s", c.GrantID, c.Rotations, st)
		if recent(c.Batch) {
			active, err := r.env.Introspect(ctx, c.Access)
			r.check(err == nil && active, "the last access token of grant %s: active %v, %v", c.GrantID, active, err)
		}
	}
	for _, is := range l.Issued {
		if recent(is.Batch) {
			active, err := r.env.Introspect(ctx, is.Access)
			r.check(err == nil && active, "a client credentials token of %s: active %v, %v", is.ClientID, active, err)
		}
	}
	for _, inv := range l.Invites {
		if inv.Accepted && recent(inv.Batch) {
			got := r.one(db, "SELECT status, client_id FROM invitations WHERE id = $1", inv.ID)
			r.check(got == "accepted|"+inv.ClientID, "invitation %s accepted by %s is %s", inv.ID, inv.ClientID, got)
		}
	}
	// Over the whole database.
	none := func(what, q string, args ...any) {
		got := r.query(db, q, args...)
		r.check(len(got) == 0, "%s: %v", what, got)
	}
	none("grants with more than one unused refresh token",
		"SELECT grant_id FROM refresh_tokens WHERE used_at IS NULL GROUP BY grant_id HAVING count(*) > 1")
	none("grants redeemed from more than one device code",
		"SELECT grant_id FROM device_authorizations WHERE grant_id IS NOT NULL GROUP BY grant_id HAVING count(*) > 1")
	none("refresh tokens of missing grants",
		"SELECT r.hash FROM refresh_tokens r LEFT JOIN grants g ON g.id = r.grant_id WHERE g.id IS NULL")
	none("clients accepted from more than one invitation",
		"SELECT client_id FROM invitations WHERE client_id IS NOT NULL GROUP BY client_id HAVING count(*) > 1")
	grants := r.one(db, "SELECT count(*) FROM grants WHERE client_id = $1", workload.DeviceClient)
	codes := r.one(db, "SELECT count(*) FROM device_authorizations WHERE client_id = $1 AND grant_id IS NOT NULL", workload.DeviceClient)
	r.check(grants == codes, "%s grants of the device client but %s device codes redeemed", grants, codes)
	clients := r.one(db, "SELECT count(*) FROM clients WHERE org_id = $1", workload.Org)
	acc := r.one(db, "SELECT count(*) FROM invitations WHERE status = 'accepted'")
	r.check(clients == acc, "%s devices in the organization but %s invitations accepted", clients, acc)
	if all {
		n, _ := strconv.Atoi(acc)
		r.check(n >= accepted(l), "%d invitations accepted in the database, %d accepts answered 201", n, accepted(l))
	}
}

// replays tries every redeemed device code and accepted invitation again:
// each is refused.
func (r *crashRun) replays() {
	ctx := r.t.Context()
	l := &r.load.Ledger
	for _, inv := range l.Invites {
		if inv.Accepted {
			a := r.env.Accept(ctx, inv.Token)
			r.check(a.Status == http.StatusGone && a.Error() == org.CodeInvalidInvitation, "invitation %s accepted again: %s", inv.ID, a)
		}
	}
	for _, c := range l.Chains {
		a := r.env.PollAgain(ctx, c.DeviceCode)
		r.check(a.Error() == "invalid_grant", "device code of grant %s polled again: %s", c.GrantID, a)
	}
}
