package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestConformance(t *testing.T) {
	testenv.PostgresDSN(t) // skip here, not in every subtest, when there is no server
	storetest.Run(t, func(t *testing.T) store.Store { return OpenTest(t) })
}

// TestQueryExecModes runs the suite with the DSN telling pgx not to ask the
// server for parameter types (default_query_exec_mode=exec, or
// simple_protocol, where pgx quotes the arguments into the SQL itself), as
// deployments behind PgBouncer's transaction pooling do: strings must still
// reach BYTEA columns as their bytes.
func TestQueryExecModes(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			u, err := url.Parse(dsn)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				t.Skipf("LATCHKEY_TEST_POSTGRES is not a postgres:// URL: %v", err)
			}
			q := u.Query()
			q.Set("default_query_exec_mode", mode)
			u.RawQuery = q.Encode()
			storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, u.String()) })

			// Bytes that mean something to bytea's text input or to SQL quoting.
			s := openTest(t, u.String())
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

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	opts := Options{Schema: testSchema(t, dsn)}
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	// A readiness check must not pass before the schema is there.
	err = s.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "schema at version 0, want ") {
		t.Fatalf("Ping before Migrate = %v, want a schema version error", err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after Migrate #%d: %v", i+1, err)
		}
	}
	// The second Migrate applied nothing: data written between them is intact
	// and a third run from another Store (another instance) is a no-op too.
	if err := s.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	s2, err := OpenAndMigrate(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("OpenAndMigrate on a migrated schema: %v", err)
	}
	defer s2.Close()
	if _, err := s2.GetClient(ctx, "tv"); err != nil {
		t.Errorf("GetClient after migrating again: %v", err)
	}
}

// TestMigrateSearchPath: with no Options.Schema, Migrate works in the first
// schema of the server's search_path, here one a DBA created and named in
// the DSN.
func TestMigrateSearchPath(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	schema := testSchema(t, dsn)
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

	s, err := OpenAndMigrate(ctx, u.String(), Options{})
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
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	opts := Options{Schema: testSchema(t, dsn)}
	const instances = 5
	stores := make([]*Store, instances)
	for i := range stores {
		s, err := Open(ctx, dsn, opts)
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
	var versions []int
	rows, _ := stores[0].pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
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
	ctx := t.Context()
	// Port 1 on loopback: nothing listens there, so the dial is refused at once.
	s, err := Open(ctx, "postgres://latchkey@127.0.0.1:1/latchkey?sslmode=disable&connect_timeout=5", Options{})
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
		{"DecideDeviceAuth", lookupErr(s.DecideDeviceAuth(ctx, "user-code-hash", "ada", true, time.Now()))},
		{"PollDeviceAuth", lookupErr(s.PollDeviceAuth(ctx, "device-code-hash", "tv", true, time.Now()))},
		{"RevokeGrant", s.RevokeGrant(ctx, "g1", time.Now())},
		{"UseRefreshToken", lookupErr(s.UseRefreshToken(ctx, "rt1", time.Now()))},
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
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	s := OpenTest(t)
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
	impatient, err := Open(ctx, dsn, Options{Schema: s.schema, StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer impatient.Close()

	// Another session holds the token's row lock, so UseRefreshToken waits.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, bytea(rt.Hash)); err != nil {
		t.Fatalf("lock the token: %v", err)
	}
	start := time.Now()
	_, err = impatient.UseRefreshToken(ctx, rt.Hash, time.Now())
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UseRefreshToken on a locked row = %v, want ErrUnavailable after the statement timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("UseRefreshToken gave up after %v; want about 200ms", d)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	// The cancelled statement changed nothing; the token is still unused.
	if _, err := impatient.UseRefreshToken(ctx, rt.Hash, time.Now()); err != nil {
		t.Errorf("UseRefreshToken once the lock is gone: %v", err)
	}
}

func TestOpenRefusesBadSchema(t *testing.T) {
	for _, schema := range []string{"a\x00b", "\xff"} {
		if s, err := Open(t.Context(), "postgres://127.0.0.1:1/x", Options{Schema: schema}); err == nil {
			s.Close()
			t.Errorf("Open with schema %q succeeded; want an error", schema)
		}
	}
}

func TestMapErr(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tt := range []struct {
		name string
		err  error
		want error // nil: passed on as it is
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, store.ErrConflict},
		{"foreign key violation", &pgconn.PgError{Code: "23503"}, store.ErrNotFound},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, store.ErrUnavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, store.ErrUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, store.ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"wrapped server error", fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P01"}), store.ErrUnavailable},
		{"deadline while waiting for a connection", context.DeadlineExceeded, store.ErrUnavailable},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
		{"invalid byte sequence", &pgconn.PgError{Code: "22021"}, nil},
		{"the caller gave up", context.Canceled, nil},
		{"a lost connection", fmt.Errorf("receive message: %w", dialErr), nil},
		{"mapped already", fmt.Errorf("%w: x", store.ErrUnavailable), store.ErrUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr(tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("mapErr(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if strings.Count(got.Error(), tt.want.Error()) != 1 {
				t.Errorf("mapErr(%v) = %q, want %q in it once", tt.err, got, tt.want)
			}
		})
	}
}

// lookupErr keeps the error of a call that returns a value too.
func lookupErr[T any](_ T, err error) error { return err }
