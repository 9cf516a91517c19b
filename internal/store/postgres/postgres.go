// Package postgres is the store.Store backend for several Latchkey instances
// behind a load balancer: they share one PostgreSQL database through pgx's
// connection pool, and keep no state of their own. Its schema is in embedded
// numbered migrations, applied once however many instances start at once.
//
// The statements are package sqlstore's, shared with SQLite; this package
// keeps what is PostgreSQL's own: the pool and its session settings, the
// group-commit batchers, the migrations and their advisory lock, the
// mapping of the driver's errors, and the two hot operations it does in
// one statement each, polling a device code and rotating a refresh token.
// Every state change races correctly between instances because PostgreSQL
// decides it: row locks, and READ COMMITTED's re-check of a waiting
// UPDATE's WHERE clause against the row's newest version.
package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in a PostgreSQL database.
type Store struct {
	// Store runs the shared statements on this store's pool (backend.go).
	*sqlstore.Store

	pool   *pgxpool.Pool
	schema string // Options.Schema; "" for the server's search_path
	// The hot single-statement writes go out in shared batches (batch.go):
	// polls, which commit without waiting for the disk, and new device
	// authorizations and throttle hits; refresh token rotations in
	// explicit transactions.
	polls, writes, rotations *batcher
	// q is the pool as sqlstore runs it, made once.
	q sqlstore.Querier
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
	s := &Store{pool: pool, schema: opts.Schema, polls: newBatcher(pool, true), writes: newBatcher(pool, false), rotations: newExplicitBatcher(pool),
		q: querier{pool}}
	s.Store = sqlstore.New((*backend)(s), flavor)
	return s, nil
}

// OpenAndMigrate opens a pool for dsn and brings the schema up to date.
func OpenAndMigrate(ctx context.Context, dsn string, opts Options) (*Store, error) {
	s, err := Open(ctx, dsn, opts)
	return sqlstore.Migrated(ctx, s, err)
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
	ms, err := migrations()
	if err != nil {
		return err
	}
	if err := sqlstore.SchemaCurrent(have, ms); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Stats reports the connection pool and the batchers, for the metrics.
func (s *Store) Stats() store.Stats {
	st := s.pool.Stat()
	return store.Stats{
		Pools: []store.PoolStats{{Name: "pool", Max: int(st.MaxConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
			Waits: st.EmptyAcquireCount(), WaitTime: st.EmptyAcquireWaitTime()}},
		Batchers: []store.BatcherStats{s.polls.stats("polls"), s.writes.stats("writes"), s.rotations.stats("rotations")},
	}
}
