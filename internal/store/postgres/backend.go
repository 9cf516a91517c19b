package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// flavor is how PostgreSQL spells what the dialects say differently.
var flavor = sqlstore.Flavor{
	// Lists are TEXT holding JSON (as in SQLite), read as jsonb to ask.
	ListHas: func(col, param string) string {
		return col + `::jsonb @> jsonb_build_array(CAST(` + param + ` AS TEXT))`
	},
	Greatest:   "GREATEST",
	ForUpdate:  " FOR UPDATE",
	SkipLocked: " FOR UPDATE OF o SKIP LOCKED",
}

// backend is the Store as sqlstore sees it (sqlstore.Backend): a type of
// its own, so that its methods do not collide with the store.Store methods
// the embedded sqlstore.Store gives.
type backend Store

// Reader and Writer are the pool: every connection reads and writes.
func (b *backend) Reader() sqlstore.Querier { return b.q }
func (b *backend) Writer() sqlstore.Querier { return b.q }

// Tx runs fn in a transaction on a pooled connection, at READ COMMITTED
// (Open sets it for every session).
func (b *backend) Tx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback(ctx) // a no-op once committed
	if err := fn(querier{tx}); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// Batch sends w with the durable writes' next batch (batch.go).
func (b *backend) Batch(ctx context.Context, w sqlstore.Write) error {
	bw := &write{ctx: ctx, key: w.Key, sql: w.Query, args: w.Args}
	if w.Scan != nil {
		bw.scan = func(r pgx.Row) error { return w.Scan(row{r}) }
	}
	return mapErr(b.writes.do(bw))
}

// ShowPolls changes nothing: a device authorization's row holds its polls.
func (b *backend) ShowPolls(*store.DeviceAuth) {}

// conn is what runs statements: the pool, a transaction, or the one
// connection Migrate holds.
type conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// querier is a conn as sqlstore runs it, its errors mapped to the store's.
type querier struct{ c conn }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return row{q.c.QueryRow(ctx, query, args...)}
}

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rs, err := q.c.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return rows{rs}, nil
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

type rows struct{ rs pgx.Rows }

func (r rows) Next() bool             { return r.rs.Next() }
func (r rows) Scan(dest ...any) error { return mapErr(r.rs.Scan(dest...)) }
func (r rows) Err() error             { return mapErr(r.rs.Err()) }
func (r rows) Close()                 { r.rs.Close() }
