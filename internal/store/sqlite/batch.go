package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// Group commit. Every write in SQLite ends in a commit that appends frames
// to the WAL and takes and drops file locks. The hot writes (new device
// authorizations, throttle hits, refresh token rotations) therefore go
// through one goroutine that runs whatever is queued (up to MaxBatch writes)
// in one transaction. Each write is still atomic on its own: a failed
// statement is rolled back alone, and the others commit; a write of several
// statements makes sure a failure leaves nothing half done
// (RotateRefreshToken checks everything before its first write, and undoes
// its insert if its update fails). A caller hears back only once the
// transaction has committed, so nothing answers success that did not
// commit. Under no load a batch holds one write, as before.

type writeReq struct {
	ctx  context.Context
	fn   func(c conn) error
	done chan error
}

// batcher runs queued writes in shared transactions on the writer pool.
type batcher struct {
	q    *sqlstore.Batcher[writeReq]
	w    *pool
	errs []error // commit's, one a write of the batch in hand
}

var errClosed = errors.New("sqlite: store is closed")

func newBatcher(w *pool) *batcher {
	b := &batcher{w: w, errs: make([]error, sqlstore.MaxBatch)}
	b.q = sqlstore.NewBatcher(b.run, errClosed)
	return b
}

// do runs fn in the next shared transaction, given as its conn (with the
// pool's prepared statements), and returns fn's error, or the commit's
// when fn succeeded and the commit did not.
func (b *batcher) do(ctx context.Context, fn func(c conn) error) error {
	req := writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := b.q.Enqueue(ctx, req); err != nil {
		return err
	}
	// Once taken, the write is in a transaction that will commit or fail
	// soon: wait for it, so the answer says what happened.
	return <-req.done
}

// close stops the batcher after the batch in hand; closing twice is harmless.
func (b *batcher) close() { b.q.Close() }

// stats is the batcher's counts, named name.
func (b *batcher) stats(name string) store.BatcherStats { return b.q.Stats(name) }

// run commits one batch and answers each of its writes.
func (b *batcher) run(batch []writeReq) {
	errs := b.errs[:len(batch)]
	b.commit(batch, errs)
	for i, r := range batch {
		r.done <- errs[i]
	}
}

func (b *batcher) commit(batch []writeReq, errs []error) {
	tx, err := b.w.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range errs {
			errs[i] = mapErr(err)
		}
		return
	}
	var missed []string
	q := txQuerier{tx: tx, p: b.w, missed: &missed}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = r.fn(q)
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = mapErr(err)
			}
		}
	}
	for _, query := range missed {
		_, _ = b.w.stmt(context.Background(), query) // a failure shows on the next run
	}
}

// txQuerier runs the pool's prepared statements inside tx. A statement not
// prepared yet runs unprepared and is noted in missed, to be prepared once
// the transaction is over: preparing needs a connection, and the pool's one
// writer connection is the transaction's until it ends.
type txQuerier struct {
	tx     *sql.Tx
	p      *pool
	missed *[]string
}

func (t txQuerier) prepared(query string) *sql.Stmt {
	if st, ok := t.p.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	*t.missed = append(*t.missed, query)
	return nil
}

// The statements of a shared transaction run without their caller's
// cancellation (context.WithoutCancel): the driver interrupts a statement
// whose context ends, and SQLite answers an interrupted write inside a
// transaction by rolling back the whole transaction, the other callers'
// writes with it. A caller that has gone is skipped before its turn
// (commit); once its statements have started they finish, which is quick.

func (t txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := t.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := t.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}
