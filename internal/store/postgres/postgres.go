// Package postgres is the store.Store backend for several Latchkey instances
// behind a load balancer: they share one PostgreSQL database through pgx's
// connection pool, and keep no state of their own. Its schema is in embedded
// numbered migrations, applied once however many instances start at once.
//
// Every state change a flow depends on is one SQL statement
// (UPDATE … WHERE <state> RETURNING …), or where it writes several rows one
// transaction beginning with such a statement (redeeming a device code,
// rotating a refresh token), so PostgreSQL decides its outcome when instances
// race, not a read followed by a write in Go, and it is never left half done.
// The SQL mirrors package sqlite's, and store/storetest holds both to the
// same answers.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkey/latchkey/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	schema string // Options.Schema; "" for the server's search_path
	// The hot single-statement writes go out in shared batches (batch.go):
	// polls, which commit without waiting for the disk, and new device
	// authorizations and throttle hits; refresh token rotations in
	// explicit transactions.
	polls, writes, rotations *batcher
}

// Options tune the connection pool. Zero fields keep the defaults: pgxpool's
// (or pool_max_conns and pool_min_conns in the DSN) and the server's.
type Options struct {
	MaxConns int32
	MinConns int32
	// StatementTimeout ends a statement that runs longer, so a stuck query
	// answers 503 (store.ErrUnavailable) instead of holding a request.
	StatementTimeout time.Duration
	// Schema is where the tables live, created by Migrate if missing; it
	// becomes the connections' only search_path entry. Tests use a fresh
	// one each; several Latchkey deployments can share a database this way.
	Schema string
}

// Open makes a connection pool for dsn (a postgres:// URL or key=value
// string). It does not connect: the pool connects on first use, so an
// instance starts while the database is down and /readyz (Ping) says so
// until it is back. It does not migrate: call Migrate, or use OpenAndMigrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	// Runtime parameters go in the startup message: no extra round trip per
	// connection, and they are the session's defaults, which RESET restores.
	params := cfg.ConnConfig.RuntimeParams
	// The single-statement state changes rely on READ COMMITTED: a statement
	// that waited for a concurrent update of its row re-checks that row's new
	// version (see PollDeviceAuth). Under REPEATABLE READ or SERIALIZABLE, set
	// as a server default, the loser would fail with a serialization error.
	params["default_transaction_isolation"] = "read committed"
	if opts.StatementTimeout > 0 {
		// In milliseconds, at least 1: 0 would mean no timeout at all.
		params["statement_timeout"] = strconv.FormatInt(max(opts.StatementTimeout.Milliseconds(), 1), 10)
	}
	if opts.Schema != "" {
		// PostgreSQL names are text: no NUL (it would also end the startup
		// message's value early), valid UTF-8.
		if !store.ValidText(opts.Schema) {
			return nil, fmt.Errorf("postgres: open: schema %q: not a PostgreSQL name", opts.Schema)
		}
		params["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool, schema: opts.Schema, polls: newBatcher(pool, true), writes: newBatcher(pool, false), rotations: newExplicitBatcher(pool)}, nil
}

// OpenAndMigrate opens a pool for dsn and brings the schema up to date.
func OpenAndMigrate(ctx context.Context, dsn string, opts Options) (*Store, error) {
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the batchers once the batches in hand are answered, then
// closes the pool, waiting for connections in use to be returned. Writes
// still waiting for a batch answer store.ErrUnavailable.
func (s *Store) Close() error {
	s.polls.close()
	s.writes.close()
	s.rotations.close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers and every migration this binary
// knows has been applied (readiness: /readyz). A schema that is behind (or
// ahead: a newer binary migrated it) is an error.
func (s *Store) Ping(ctx context.Context) error {
	have, err := schemaVersion(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", mapErr(err))
	}
	want, err := latestVersion()
	if err != nil {
		return err
	}
	if have != want {
		return fmt.Errorf("postgres: schema at version %d, want %d", have, want)
	}
	return nil
}

// querier is the pool, a transaction, or the one connection Migrate holds.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// execer is the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// execOne runs a write that must change exactly one row: ErrNotFound if it
// changed none.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// queryAll runs query and scans every row it returns with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	// Query's error is rows.Err() as well, which CollectRows returns.
	rows, _ := s.pool.Query(ctx, query, args...)
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	return all, mapErr(err)
}

// exists reports whether query (a SELECT 1 … LIMIT 1) finds a row, asked of
// db: the pool or a transaction.
func exists(ctx context.Context, db querier, query string, args ...any) (bool, error) {
	var one int
	err := db.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// Strings are TEXT (see migrations/0001_init.sql), which refuses NUL and
// invalid UTF-8 with an encoding error. So every method checks the strings it
// is given with store.ValidText before sending any: a key that is not text
// names no record (store.ErrNotFound, as for any unknown key), and a record
// holding one is refused (store.ErrInvalid). Package sqlite does the same,
// though SQLite would keep such bytes, so the backends agree.

// optional is how an optional reference (a user or grant id) is stored:
// NULL when empty, so a foreign key does not see "".
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// optionalCol scans what optional stored; NULL reads as "".
type optionalCol struct{ s *string }

func (c optionalCol) ScanText(v pgtype.Text) error {
	*c.s = v.String // "" when NULL
	return nil
}

// blob keeps an empty or nil byte slice a BYTEA: pgx binds nil as NULL,
// which a NOT NULL column refuses.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// millis is how a time is stored: unix milliseconds, NULL for the zero time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// timeCol scans what millis stored back into a UTC time.Time.
type timeCol struct{ t *time.Time }

func (c timeCol) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		*c.t = time.Time{}
		return nil
	}
	*c.t = time.UnixMilli(v.Int64).UTC()
	return nil
}

// durationCol scans a duration stored in milliseconds.
type durationCol struct{ d *time.Duration }

func (c durationCol) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		return errors.New("postgres: duration column is NULL")
	}
	*c.d = time.Duration(v.Int64) * time.Millisecond
	return nil
}

// jsonList is how a []string is stored: a JSON array, "[]" when empty.
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// listCol scans a list back; an empty list reads as nil.
type listCol struct{ l *[]string }

func (c listCol) ScanText(v pgtype.Text) error {
	if !v.Valid {
		return errors.New("postgres: list column is NULL")
	}
	var l []string
	if err := json.Unmarshal([]byte(v.String), &l); err != nil {
		return fmt.Errorf("postgres: list column: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c.l = l
	return nil
}
