package postgres_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	testenv.PostgresDSN(t) // skip here, not in every subtest, when there is no server
	storetest.Run(t, func(t *testing.T) store.Store { return pgtest.Open(t) })
}

// TestQueryExecModes runs the suite with the DSN telling pgx not to ask the
// server for parameter types (default_query_exec_mode=exec, or
// simple_protocol, where pgx quotes the arguments into the SQL itself), as
// deployments behind PgBouncer's transaction pooling do: strings must still
// reach their columns unchanged.
func TestQueryExecModes(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel() // each mode has its own schemas
			u, err := url.Parse(dsn)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				t.Skipf("LATCHKEY_TEST_POSTGRES is not a postgres:// URL: %v", err)
			}
			q := u.Query()
			q.Set("default_query_exec_mode", mode)
			u.RawQuery = q.Encode()
			storetest.Run(t, func(t *testing.T) store.Store { return pgtest.OpenDSN(t, u.String()) })

			// Text that means something to SQL quoting, which simple_protocol uses.
			s := pgtest.OpenDSN(t, u.String())
			c := &store.Client{ID: `\x41\`, Name: `'; DROP TABLE clients; --`, AuthMethod: store.AuthNone}
			if err := s.CreateClient(t.Context(), c); err != nil {
				t.Fatalf("CreateClient: %v", err)
			}
			got, err := s.GetClient(t.Context(), c.ID)
			if err != nil || got.ID != c.ID || got.Name != c.Name {
				t.Errorf("GetClient(%q) = %+v, %v; want %q, %q", c.ID, got, err, c.ID, c.Name)
			}
		})
	}
}

// TestColumnsAreText: what the store keeps is readable in psql. Strings are
// TEXT, so a plain query finds a client by its id and shows its name; only
// the secrets, which are bytes, are BYTEA, and so are a passkey's COSE
// public key and authenticator model (AAGUID), bytes by WebAuthn.
func TestColumnsAreText(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	schema := pgtest.Schema(t, dsn)
	s, err := postgres.OpenAndMigrate(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	defer s.Close()
	if err := s.CreateClient(ctx, &store.Client{ID: "tv", Name: "Zoë's TV", AuthMethod: store.AuthNone}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var name string
	err = conn.QueryRow(ctx, `SELECT name FROM `+pgx.Identifier{schema, "clients"}.Sanitize()+` WHERE id = 'tv'`).Scan(&name)
	if err != nil || name != "Zoë's TV" {
		t.Errorf("SELECT name FROM clients WHERE id = 'tv' = %q, %v; want %q", name, err, "Zoë's TV")
	}
	rows, _ := conn.Query(ctx, `SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = $1 AND data_type = 'bytea' ORDER BY 1`, schema)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read columns: %v", err)
	}
	if want := []string{"passkeys.aaguid", "passkeys.public_key", "server_secrets.value", "signing_keys.private_key", "totp.secret"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("BYTEA columns = %q, want only %q", got, want)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	opts := postgres.Options{Schema: pgtest.Schema(t, dsn)}
	storetest.RunMigrate(t, func(t *testing.T) storetest.Migrator {
		s, err := postgres.Open(t.Context(), dsn, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, func(t *testing.T) store.Store {
		s, err := postgres.OpenAndMigrate(t.Context(), dsn, opts)
		if err != nil {
			t.Fatalf("OpenAndMigrate on a migrated schema: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestMigrateSearchPath: with no Options.Schema, Migrate works in the first
// schema of the server's search_path, here one a DBA created and named in
// the DSN.
func TestMigrateSearchPath(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	schema := pgtest.Schema(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("LATCHKEY_TEST_POSTGRES is not a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters to the server as settings
	u.RawQuery = q.Encode()

	s, err := postgres.OpenAndMigrate(ctx, u.String(), postgres.Options{})
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&n); err != nil || n < 2 {
		t.Errorf("tables in schema %s = %d, %v; want them all there", schema, n, err)
	}
}

// TestMigrateConcurrently: instances that start together on a new schema
// all succeed, and each migration is applied once. Without the advisory
// lock they would race to create the schema and its tables, and fail.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	opts := postgres.Options{Schema: pgtest.Schema(t, dsn)}
	const instances = 5
	stores := make([]*postgres.Store, instances)
	for i := range stores {
		s, err := postgres.Open(ctx, dsn, opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		stores[i] = s
	}
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on instance %d: %v", i, err)
		}
	}

	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT version FROM `+pgx.Identifier{opts.Schema, "schema_migrations"}.Sanitize()+` ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if got, want := fmt.Sprint(versions), fmt.Sprint(seq(len(files))); got != want {
		t.Errorf("schema_migrations versions = %s, want %s, each once", got, want)
	}
	for i, s := range stores {
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping on instance %d: %v", i, err)
		}
	}
}

// seq returns 1, 2, …, n.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

// TestUnavailable: with no server to reach, every call fails with
// store.ErrUnavailable, so endpoints answer 503. It needs no PostgreSQL.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// Port 1 on loopback: nothing listens there, so the dial is refused at once.
	s, err := postgres.Open(ctx, "postgres://latchkey@127.0.0.1:1/latchkey?sslmode=disable&connect_timeout=5", postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v (it should not connect yet)", err)
	}
	defer s.Close()
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"Ping", s.Ping(ctx)},
		{"Migrate", s.Migrate(ctx)},
		{"GetClient", lookupErr(s.GetClient(ctx, "tv"))},
		{"ListClients", lookupErr(s.ListClients(ctx))},
		{"CreateUser", s.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com"})},
		{"DeleteUser", s.DeleteUser(ctx, "ada")},
		{"DecideDeviceAuth", lookupErr(s.DecideDeviceAuth(ctx, "user-code-hash", "ada", "", true, time.Now()))},
		{"PollDeviceAuth", lookupErr(s.PollDeviceAuth(ctx, "device-code-hash", "tv", true, time.Now()))},
		{"RevokeGrant", s.RevokeGrant(ctx, "g1", time.Now())},
		{"RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, "device-code-hash", &store.Grant{ID: "g1", ClientID: "tv"}, nil, time.Now())},
		{"RotateRefreshToken", lookupErr(s.RotateRefreshToken(ctx, "rt1", "rt2", time.Time{}, time.Now(), allow))},
		{"DeleteSession", s.DeleteSession(ctx, "s1")},
		{"ServerSecret", lookupErr(s.ServerSecret(ctx, "csrf", []byte("x")))},
		{"Hit", lookupErr(s.Hit(ctx, "ip:192.0.2.7", time.Now(), time.Now()))},
		{"Count", lookupErr(s.Count(ctx, "ip:192.0.2.7", time.Now()))},
		{"Sweep", lookupErr(s.Sweep(ctx, time.Now()))},
	} {
		if !errors.Is(tt.err, store.ErrUnavailable) {
			t.Errorf("%s with the server unreachable: error = %v, want ErrUnavailable", tt.name, tt.err)
		}
	}
}

// TestStatementTimeout: Options.StatementTimeout holds on every pooled
// connection, and a statement it ends is store.ErrUnavailable.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	schema := pgtest.Schema(t, dsn)
	s, err := postgres.OpenAndMigrate(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	defer s.Close()
	rt := &store.RefreshToken{Hash: "rt1", GrantID: "g1", ClientID: "tv", ExpiresAt: time.Now().Add(time.Hour)}
	for _, err := range []error{
		s.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}),
		s.CreateGrant(ctx, &store.Grant{ID: "g1", ClientID: "tv"}),
		s.CreateRefreshToken(ctx, rt),
	} {
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	impatient, err := postgres.Open(ctx, dsn, postgres.Options{Schema: schema, StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer impatient.Close()

	// Another session holds the token's row lock, so RotateRefreshToken waits.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	tokens := pgx.Identifier{schema, "refresh_tokens"}.Sanitize()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+tokens+` WHERE hash = $1 FOR UPDATE`, rt.Hash); err != nil {
		t.Fatalf("lock the token: %v", err)
	}
	const next = "rt2"
	start := time.Now()
	_, err = impatient.RotateRefreshToken(ctx, rt.Hash, next, time.Time{}, time.Now(), allow)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("RotateRefreshToken on a locked row = %v, want ErrUnavailable after the statement timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("RotateRefreshToken gave up after %v; want about 200ms", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	// The cancelled statement changed nothing; the token is still unused.
	if _, err := impatient.RotateRefreshToken(ctx, rt.Hash, next, time.Time{}, time.Now(), allow); err != nil {
		t.Errorf("RotateRefreshToken once the lock is gone: %v", err)
	}
}

// TestConnectionLost: a connection that breaks while a rotation waits for
// its answer is store.ErrUnavailable (503, and the client retries), and the
// transaction it was in is rolled back: the old token still works.
func TestConnectionLost(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		t.Skipf("LATCHKEY_TEST_POSTGRES is not a postgres://host URL: %v", err)
	}
	schema := pgtest.Schema(t, dsn)
	s, err := postgres.OpenAndMigrate(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	defer s.Close()
	rt := &store.RefreshToken{Hash: "rt1", GrantID: "g1", ClientID: "tv", ExpiresAt: time.Now().Add(time.Hour)}
	for _, err := range []error{
		s.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}),
		s.CreateGrant(ctx, &store.Grant{ID: "g1", ClientID: "tv"}),
		s.CreateRefreshToken(ctx, rt),
	} {
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}

	// A proxy between a second store and the server, to cut.
	p := newProxy(t, u.Host)
	proxied := *u
	proxied.Host = p.addr
	app := "latchkey-test-" + strings.ToLower(rand.Text())
	q := proxied.Query()
	q.Set("application_name", app)
	proxied.RawQuery = q.Encode()
	cut, err := postgres.Open(ctx, proxied.String(), postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer cut.Close()

	// Another session holds the token's row lock, so the rotation waits,
	// its UPDATE sent.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{schema, "refresh_tokens"}.Sanitize()+` WHERE hash = $1 FOR UPDATE`, rt.Hash); err != nil {
		t.Fatalf("lock the token: %v", err)
	}
	const next = "rt2"
	done := make(chan error, 1)
	go func() {
		_, err := cut.RotateRefreshToken(ctx, rt.Hash, next, time.Time{}, time.Now(), allow)
		done <- err
	}()
	// Watched from a third session: inside the lock holder's transaction,
	// pg_stat_activity would show the snapshot it took first, forever.
	watch, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer watch.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("RotateRefreshToken returned %v before the connection was cut", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("RotateRefreshToken not waiting for the row lock after 10s")
		}
		err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock')`, app).Scan(&waiting)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
	}
	p.cut()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("RotateRefreshToken on a lost connection = %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RotateRefreshToken still waiting 10s after its connection was cut")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	// Nothing committed: the retry rotates the old token.
	if _, err := s.RotateRefreshToken(ctx, rt.Hash, next, time.Time{}, time.Now(), allow); err != nil {
		t.Errorf("RotateRefreshToken after the lost connection: %v", err)
	}
}

// proxy forwards TCP connections to a server until cut.
type proxy struct {
	addr string
	mu   sync.Mutex
	open []net.Conn
}

func newProxy(t *testing.T, server string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{addr: ln.Addr().String()}
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", server)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, client, upstream)
			p.mu.Unlock()
			go func() { io.Copy(upstream, client); upstream.Close() }()
			go func() { io.Copy(client, upstream); client.Close() }()
		}
	}()
	return p
}

// cut closes every connection the proxy forwards, both ends.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

func TestOpenRefusesBadSchema(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{"a\x00b", "\xff"} {
		if s, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/x", postgres.Options{Schema: schema}); err == nil {
			s.Close()
			t.Errorf("Open with schema %q succeeded; want an error", schema)
		}
	}
}

// lookupErr keeps the error of a call that returns a value too.
func lookupErr[T any](_ T, err error) error { return err }

// allow is a RotateRefreshToken check that lets every token through.
func allow(*store.RefreshFamily) error { return nil }
