// Package sqlstore is Latchkey's one SQL implementation of store.Store: the
// statements, column lists, scanning and the checks of what may be stored,
// written once for every SQL database. A backend (store/sqlite,
// store/postgres) gives it connections (Backend) and the few fragments its
// dialect spells differently (Flavor), and keeps only what truly differs:
// the driver and its pool, the group-commit batcher, migrations, error
// mapping, and the two hot operations each database does its own way,
// polling a device code and rotating a refresh token.
//
// Statements use numbered placeholders ($1, $2, …), which PostgreSQL takes
// natively and SQLite reads as the argument with that number, so one text
// serves both. Times are unix milliseconds (NULL for the zero time), lists
// JSON arrays of strings, booleans TRUE and FALSE: the schemas of both
// backends keep them so (see their migrations).
//
// Every state change a flow depends on is a single conditional statement
// (UPDATE … WHERE <state> … RETURNING …) or a transaction that begins with
// one, so the database decides the outcome when requests, or instances,
// race: PostgreSQL by row locks and READ COMMITTED's re-check of the WHERE
// clause, SQLite by its single writer (BEGIN IMMEDIATE). The conformance
// suite in store/storetest holds every backend to the same answers.
package sqlstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Querier runs statements: a pool, or a transaction. Its errors are the
// store's already (store.ErrNotFound for no row, store.ErrConflict for a
// taken key, store.ErrUnavailable for a lost database), mapped by the
// backend.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// QueryRow runs a statement that returns at most one row; its Scan
	// reports store.ErrNotFound for none.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a statement that returns rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set, read with Next and Scan, then Err; Close releases it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Write is one single-statement write for a backend's group-commit batcher:
// the hot writes (new device authorizations, grants, throttle hits) share
// commits with their neighbours, each still succeeding or failing on its own.
type Write struct {
	// Key names the row the statement locks. PostgreSQL's batcher runs a
	// batch in key order, so that instances lock shared rows (one throttle
	// window, say) in the same order and never deadlock.
	Key   RowKey
	Query string
	Args  []any
	// Scan reads the one row the statement returns; nil for a statement
	// that returns none. It may run more than once (a batch run again), so
	// it must only assign. It may also run after Batch has returned an
	// error: PostgreSQL's batcher answers a caller whose context ended at
	// once, and may still send its write with the batch (the caller then
	// does not know whether it committed). So what Scan assigns is read
	// only when Batch returned nil.
	Scan func(Row) error
}

// RowKey names a row: its table, and its key there (a string, and a number
// for a key of two columns). Keys order by table, then string, then number.
type RowKey struct {
	Table string
	Key   string
	N     int64
}

// Compare orders keys: -1 if k comes before l, 1 after, 0 the same row.
func (k RowKey) Compare(l RowKey) int {
	if c := strings.Compare(k.Table, l.Table); c != 0 {
		return c
	}
	if c := strings.Compare(k.Key, l.Key); c != 0 {
		return c
	}
	return cmp.Compare(k.N, l.N)
}

// Backend is what a database gives the shared SQL: connections, and the
// operations it does its own way. The arguments it gets are checked
// already (store.ValidText).
type Backend interface {
	// Reader runs reads. On SQLite a pool of reader connections, which in
	// WAL mode never wait for the writer.
	Reader() Querier
	// Writer runs single-statement writes.
	Writer() Querier
	// Tx runs fn in a transaction on the writer, committed if fn returns
	// nil and rolled back otherwise; fn's error is returned as it is.
	Tx(ctx context.Context, fn func(q Querier) error) error
	// Batch runs w in the backend's next shared batch (group commit) and
	// answers once the batch has committed, or failed.
	Batch(ctx context.Context, w Write) error

	// PollDeviceAuth decides and records one poll (store.DeviceStore).
	PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error)
	// RotateRefreshToken rotates a refresh token (store.GrantStore).
	RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error)
	// ShowPolls lays over a device authorization read from its row what
	// the backend keeps of its polls elsewhere (SQLite's in-memory poll
	// book); PostgreSQL keeps them in the row and changes nothing.
	ShowPolls(a *store.DeviceAuth)
}

// Flavor is how a dialect spells the few things the databases say
// differently.
type Flavor struct {
	// ListHas returns a condition true when the JSON list in column col
	// holds the text of parameter param.
	ListHas func(col, param string) string
	// Greatest is the function that returns the larger of two values.
	Greatest string
	// ForUpdate locks the rows a SELECT reads until the transaction ends.
	// SQLite has one writer, whose transaction locks everything already.
	ForUpdate string
	// SkipLocked, after ForUpdate, passes over rows another transaction has
	// locked, so concurrent claims take different rows.
	SkipLocked string
}

// Store is store.Store over a Backend.
type Store struct {
	b Backend
	f Flavor
	// sealer seals the recoverable secrets (sealed.go); nil: plaintext.
	sealer atomic.Pointer[sealerBox]
}

// New returns the store that runs its statements on b, spelled in f.
func New(b Backend, f Flavor) *Store { return &Store{b: b, f: f} }

// Sweep deletes the device authorizations, sessions, refresh tokens,
// throttle windows, authorization requests and codes, registration and
// account tokens and records of revoked access tokens that ended before
// now, in one transaction, each by an indexed expires_at; then every grant
// past its absolute expiry (its tokens can never be used again; its
// refresh tokens go with it), a person's as well as a client's own, and
// mail of no device invitation whose link expired more than store.MailGrace
// before now and that is no longer waiting to be sent (CancelStaleMail
// cancels that first), each in chunks (deleteChunked). It returns how many
// rows went. Instances sweeping at once do no harm: a row another sweep
// deleted first is not counted twice.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.b.Tx(ctx, func(q Querier) error {
		for _, table := range []string{
			`device_authorizations`, `sessions`, `refresh_tokens`, `throttles`,
			`authorization_requests`, `authorization_codes`, `revoked_jtis`, `registration_tokens`, `account_tokens`,
		} {
			n, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at < $1`, now.UnixMilli())
			if err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	for _, d := range []struct {
		table, cond string
		before      time.Time
	}{
		{`grants`, `expires_at < $1`, now},
		{`outbox`, `invitation_id IS NULL AND expires_at < $1 AND status <> 'pending'`, now.Add(-store.MailGrace)},
	} {
		n, err := s.deleteChunked(ctx, d.table, d.cond, d.before.UnixMilli())
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep: %w", err)
		}
	}
	return total, nil
}

// deleteChunked deletes table's rows that match cond (with args) at most
// store.SweepChunk at a time, each chunk its own statement, until a chunk comes
// short, and returns how many went.
func (s *Store) deleteChunked(ctx context.Context, table, cond string, args ...any) (int64, error) {
	query := `DELETE FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table + ` WHERE ` + cond +
		` LIMIT ` + strconv.Itoa(store.SweepChunk) + `)`
	var total int64
	for {
		n, err := s.b.Writer().Exec(ctx, query, args...)
		if err != nil {
			return total, fmt.Errorf("%s: %w", table, err)
		}
		total += n
		if n < store.SweepChunk {
			return total, nil
		}
	}
}

// PruneInvitations deletes the device and member invitations that ended
// before before: decided (accepted, declined, revoked) then, or, still
// pending, expired then, in chunks (deleteChunked). A device invitation's
// mail goes with it; a member invitation's expired with it and Sweep
// deletes it.
func (s *Store) PruneInvitations(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, table := range []string{`invitations`, `member_invitations`} {
		n, err := s.deleteChunked(ctx, table, `COALESCE(decided_at, expires_at) < $1`, before.UnixMilli())
		total += n
		if err != nil {
			return total, fmt.Errorf("prune invitations: %w", err)
		}
	}
	return total, nil
}

// execOne runs a write on q that must change exactly one row: ErrNotFound
// if it changed none.
func execOne(ctx context.Context, q Querier, query string, args ...any) error {
	n, err := q.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// exists reports whether query (a SELECT 1 …) finds a row on q.
func exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRow(ctx, query, args...).Scan(&one)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// queryAll runs query on q and scans every row it returns with scan.
func queryAll[T any](ctx context.Context, q Querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// Millis is how a time is stored: unix milliseconds, NULL for the zero time.
func Millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// optional is how an optional reference (a user or grant id) is stored:
// NULL when empty, so a foreign key does not see "".
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// blob keeps an empty or nil byte slice a BLOB or BYTEA: the drivers bind
// nil as NULL, which a NOT NULL column refuses.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// jsonList is how a []string is stored: a JSON array, "[]" when empty.
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// The column types below scan what the functions above stored. Each is a
// database/sql Scanner, which both drivers take: database/sql for SQLite,
// and pgx, which hands a Scanner the value as database/sql would.

// TimeCol scans what Millis stored back into a UTC time.Time.
type TimeCol struct{ T *time.Time }

// Scan implements sql.Scanner.
func (c TimeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.T = time.Time{}
	case int64:
		*c.T = time.UnixMilli(v).UTC()
	default:
		return fmt.Errorf("sqlstore: time column holds %T", v)
	}
	return nil
}

// durationCol scans a duration stored in milliseconds.
type durationCol struct{ d *time.Duration }

func (c durationCol) Scan(v any) error {
	ms, ok := v.(int64)
	if !ok {
		return fmt.Errorf("sqlstore: duration column holds %T", v)
	}
	*c.d = time.Duration(ms) * time.Millisecond
	return nil
}

// listCol scans what jsonList stored; an empty list reads as nil.
type listCol struct{ l *[]string }

func (c listCol) Scan(v any) error {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: list column holds %T", v)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("sqlstore: list column: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c.l = l
	return nil
}

// optionalCol scans what optional stored; NULL reads as "".
type optionalCol struct{ s *string }

func (c optionalCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("sqlstore: text column holds %T", v)
	}
	return nil
}

// qualify qualifies each column of a column list with prefix ("g.").
func qualify(prefix, columns string) string {
	out := []byte(prefix)
	for i := 0; i < len(columns); i++ {
		out = append(out, columns[i])
		if columns[i] == ',' {
			// Skip the blanks after the comma, then qualify the next name.
			for i+1 < len(columns) && (columns[i+1] == ' ' || columns[i+1] == '\n' || columns[i+1] == '\t') {
				i++
			}
			out = append(out, ' ')
			out = append(out, prefix...)
		}
	}
	return string(out)
}
