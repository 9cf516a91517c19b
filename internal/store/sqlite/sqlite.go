// Package sqlite is Latchkey's default store.Store backend: one SQLite file,
// opened with the pure-Go driver modernc.org/sqlite in WAL mode, with its
// schema in embedded numbered migrations. It suits one Latchkey instance;
// several instances behind a load balancer share package postgres instead.
//
// The statements are package sqlstore's, shared with PostgreSQL; this
// package keeps what is SQLite's own: the connections (one writer, a pool
// of readers, statements prepared once), the group-commit batcher, the
// background checkpoints, the migrations, the mapping of the driver's
// errors, and the in-memory poll book that lets a pending poll write
// nothing (polls.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in one SQLite file.
type Store struct {
	// Store runs the shared statements on this store's connections
	// (backend.go).
	*sqlstore.Store

	// w is the only connection that writes. SQLite lets one writer in at a
	// time anyway; queueing writers here, in Go, is fair and immediate, where
	// queueing them in SQLite's busy handler means sleeping and retrying.
	// busy_timeout still covers another process (latchkey migrate) writing.
	w *pool
	// r serves reads; in WAL mode readers never wait for the writer.
	r *pool
	// batch runs the hot writes on w in shared transactions (batch.go).
	batch *batcher
	// ckpt copies the WAL into the database file beside the writer
	// (checkpoint.go).
	ckpt *checkpointer
	// polls holds the device codes' poll times and intervals (polls.go).
	polls *pollBook
	// reader and writer are r and w as sqlstore runs them, made once.
	reader, writer sqlstore.Querier
}

// pool is a connection pool whose statements are prepared the first time
// they run and reused after: parsing is half the cost of a pending poll in
// SQLite, and the store's statements are a fixed set of constant strings.
// database/sql keeps each prepared statement per connection. Transactions
// and migrations, which run rarely, use the *sql.DB directly.
type pool struct {
	*sql.DB
	stmts sync.Map // query -> *sql.Stmt
}

func newPool(db *sql.DB) *pool { return &pool{DB: db} }

func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// QueryRowContext runs query as a prepared statement. If it cannot be
// prepared, the unprepared call reports why through the Row.
func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext runs query as a prepared statement.
func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// ExecContext runs query as a prepared statement.
func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Close closes the prepared statements, then the pool.
func (p *pool) Close() error {
	p.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return p.DB.Close()
}

// writerCacheKiB is the writer connection's page cache (see Open).
const writerCacheKiB = 16 << 10

// busyTimeout is how long a statement waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Open opens the SQLite database at path, creating the file if it is
// missing. It does not migrate: call Migrate, or use OpenAndMigrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// Each pooled connection to ":memory:" would be its own empty database.
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// _pragma values run on every new connection, so each one the pools open
	// has them; busy_timeout comes first so the others can wait for locks.
	common := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"foreign_keys(1)",
	}
	// The writer's page cache is 16 MiB, the readers' SQLite's default 2 MiB.
	// A reader's cache is dropped whenever another connection has committed
	// (WAL mode), so under load a bigger one would hold nothing; the
	// writer's survives its own commits, and holding the random index leaves
	// that new device codes and refresh tokens land on saves reading each
	// back from the file: device_authorization 0.28 -> 0.32, pending_poll
	// 0.42 -> 0.48 and refresh 0.20 -> 0.24 of the baseline (BENCHMARKS.md).
	// It is a bound, filled only as pages are used: idle memory is the same.
	w, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": append(common, "journal_mode(WAL)", "synchronous(NORMAL)", fmt.Sprintf("cache_size(%d)", -writerCacheKiB),
			fmt.Sprintf("wal_autocheckpoint(%d)", walLimitPages)),
		// BEGIN IMMEDIATE takes the write lock at once, so a transaction never
		// has to upgrade a read lock, which SQLite may refuse without waiting.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first so the file exists and is in WAL mode (which
	// is recorded in the file) before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma":     common,
		"_query_only": {"1"}, // a write sent to the reader pool by mistake fails loudly
	}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := readerConns()
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	c, err := sql.Open("sqlite", dsn(path, url.Values{"_pragma": common}))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxIdleTime(0)
	wp := newPool(w)
	rp := newPool(r)
	s := &Store{w: wp, r: rp, batch: newBatcher(wp), ckpt: newCheckpointer(c), polls: newPollBook(),
		reader: querier{rp}, writer: querier{wp}}
	s.Store = sqlstore.New((*backend)(s), flavor)
	return s, nil
}

// createPrivate creates the database file at path, readable and writable
// by its owner only, unless it exists. The database holds password hashes,
// e-mail addresses and the private signing keys (docs/security.md DP-01),
// and SQLite would create it 0644 less the umask. SQLite gives the -wal and
// -shm files it creates beside it the database file's permissions, so they
// are 0600 too. An existing file keeps the permissions its operator chose.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// OpenAndMigrate opens the database at path and brings its schema up to date.
func OpenAndMigrate(ctx context.Context, path string) (*Store, error) {
	s, err := Open(ctx, path)
	return sqlstore.Migrated(ctx, s, err)
}

// dsn makes a SQLite URI for path: a file: URI keeps a '?' or '#' in the
// path from being read as the start of the parameters.
func dsn(path string, params url.Values) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + params.Encode()
}

// Close stops the batcher and the checkpoints and closes the connections.
func (s *Store) Close() error {
	s.batch.close()
	return errors.Join(s.ckpt.close(), s.r.Close(), s.w.Close())
}

// Ping reports whether the database answers and every migration this binary
// knows has been applied (readiness: /readyz).
func (s *Store) Ping(ctx context.Context) error {
	have, err := s.schemaVersion(ctx, s.r.DB)
	if err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	if err := sqlstore.SchemaCurrent(have, ms); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// mapErr turns driver errors the store contract names into store errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// The client or user the record belongs to does not exist.
			return fmt.Errorf("%w: referenced record: %v", store.ErrNotFound, err)
		}
	}
	return err
}

// Stats reports the reader and writer pools and the batcher, for the
// metrics.
func (s *Store) Stats() store.Stats {
	pool := func(name string, p *pool) store.PoolStats {
		st := p.Stats()
		return store.PoolStats{Name: name, Max: st.MaxOpenConnections, InUse: st.InUse, Idle: st.Idle,
			Waits: st.WaitCount, WaitTime: st.WaitDuration}
	}
	return store.Stats{
		Pools:        []store.PoolStats{pool("reader", s.r), pool("writer", s.w)},
		Batchers:     []store.BatcherStats{s.batch.stats("writes")},
		EngineMemory: memoryUsed(),
	}
}

// memoryUsed is the memory the SQLite library's allocator (modernc's C
// runtime, outside Go's heap) holds for all of this process's connections:
// the page-cache arena (pagecache.go; all of it resident, not the rounding
// of its mapping), schemas, prepared statements, pages beyond the arena,
// freed memory kept for reuse. Go's memory statistics do not show it; an
// RSS that grows while Go's heap does not is told apart with it
// (BENCHMARKS.md, the soak). The allocator counts only in a build with the
// memory.counters tag (scripts/release, hence the image, and the soak
// build with it: an addition per mapping and per allocation, under a lock
// it takes anyway); otherwise 0.
func memoryUsed() int64 {
	held := int64(libc.MemStat().Bytes)
	if held == 0 {
		return 0
	}
	return held - arena.mapped + int64(arena.slots*arena.slotSize)
}

// EngineMemoryCounted says whether this build counts the SQLite
// allocator's memory (the memory.counters build tag), for tests.
func EngineMemoryCounted() bool { return memoryUsed() > 0 }
