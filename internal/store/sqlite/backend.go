package sqlite

import (
	"context"
	"database/sql"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// flavor is how SQLite spells what the dialects say differently.
var flavor = sqlstore.Flavor{
	ListHas: func(col, param string) string {
		return `EXISTS (SELECT 1 FROM json_each(` + col + `) WHERE value = ` + param + `)`
	},
	Greatest: "max", // the scalar max of two or more arguments
	// One writer at a time: its transaction (BEGIN IMMEDIATE) has locked
	// everything already.
	ForUpdate:  "",
	SkipLocked: "",
}

// backend is the Store as sqlstore sees it (sqlstore.Backend): a type of
// its own, so that its methods do not collide with the store.Store methods
// the embedded sqlstore.Store gives.
type backend Store

// Reader runs reads on the reader pool: in WAL mode a reader never waits
// for the writer.
func (b *backend) Reader() sqlstore.Querier { return b.reader }

// Writer runs writes on the one writer connection.
func (b *backend) Writer() sqlstore.Querier { return b.writer }

// Tx runs fn in a transaction on the writer. BEGIN IMMEDIATE (the pool's
// _txlock) takes the write lock at once, so of concurrent transactions the
// second starts only when the first has ended, and sees what it did.
func (b *backend) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	if err := fn(querier{tx}); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// Batch runs w in the batcher's next shared transaction (batch.go).
func (b *backend) Batch(ctx context.Context, w sqlstore.Write) error {
	return b.batch.do(ctx, func(c conn) error {
		q := querier{c}
		if w.Scan != nil {
			return w.Scan(q.QueryRow(ctx, w.Query, w.Args...))
		}
		_, err := q.Exec(ctx, w.Query, w.Args...)
		return err
	})
}

// conn is what runs statements: a pool, a transaction, or a batch's shared
// transaction (batch.go).
type conn interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// querier is a conn as sqlstore runs it, its errors mapped to the store's.
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	p := toPositional(query)
	res, err := q.c.ExecContext(ctx, p.sql, p.args(args)...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	p := toPositional(query)
	return row{q.c.QueryRowContext(ctx, p.sql, p.args(args)...)}
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	p := toPositional(query)
	rs, err := q.c.QueryContext(ctx, p.sql, p.args(args)...)
	if err != nil {
		return nil, mapErr(err)
	}
	return rows{rs}, nil
}

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

type rows struct{ rs *sql.Rows }

func (r rows) Next() bool             { return r.rs.Next() }
func (r rows) Scan(dest ...any) error { return mapErr(r.rs.Scan(dest...)) }
func (r rows) Err() error             { return mapErr(r.rs.Err()) }
func (r rows) Close()                 { r.rs.Close() }
