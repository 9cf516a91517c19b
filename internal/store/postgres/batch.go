package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// Group commit. A poll, a new device authorization and a throttle hit are
// each one statement, and alone each costs a round trip and a commit: on a
// small machine the server's per-statement work, the context switches and
// the commit's WAL flush cost more than the statement itself. So these
// writes go to a batcher, which sends whatever is queued (up to
// sqlstore.MaxBatch, gathered by a sqlstore.Batcher)
// as one pgx.Batch: pipelined on one pooled connection, one round trip, one
// implicit transaction, one commit.
//
// Each write keeps its meaning:
//   - a caller hears success only once the commit that holds its statement
//     has succeeded;
//   - a statement that fails (a unique violation, say) aborts the implicit
//     transaction, so nothing of the batch is committed: every write of it
//     is then run again alone, and fails or commits on its own;
//   - when the connection fails, whether the batch committed is unknown:
//     every write of it answers the error (store.ErrUnavailable), as a lone
//     statement would, and none is run again, which could apply it twice;
//   - a write whose context is done before its batch is sent is not sent.
//
// Under no load a batch holds one write and goes out at once: nothing waits
// for company. pgx sends a batch as one Sync in its extended-protocol modes
// and as one multi-statement query in simple-protocol mode (PgBouncer):
// either way one implicit transaction, which fails as a whole.
//
// A Store has three batchers, each with one worker: polls, which commit
// without waiting for the disk (see PollDeviceAuth); the durable writes; and
// refresh token rotations, in explicit transactions. Apart, a poll batch is
// always a poll-only batch, and a poll never waits behind a throttle hit on
// a row another instance has locked. (More workers per batcher, tried for
// rotations, made smaller batches and more commits, each a WAL flush, and
// were slower.)

// write is one single-statement write for a batcher.
type write struct {
	ctx context.Context
	// key names the row the statement locks. A batch runs its statements
	// in key order, so that batches on several instances lock shared rows
	// (a client's throttle window, say) in the same order and do not
	// deadlock.
	key  sqlstore.RowKey
	sql  string
	args []any
	// scan reads the one row the statement returns; nil for a statement
	// that returns none. It may run twice (the batch failed and the write
	// runs again alone), so it must only assign.
	scan func(pgx.Row) error
	// undo, set by scan in a batcher with explicit transactions, is a
	// statement that goes out with the batch's COMMIT, ahead of it, to take
	// the write back: for a write that turns out, from its answer, not to
	// be wanted after all. The write's row locks are held until then, so
	// nobody has seen it.
	undo *undo

	err  error      // the write's own outcome, set by send: ErrNotFound for no row, a scan error
	done chan error // buffered: the worker never waits for a caller
}

// undo is a statement and its arguments (write.undo).
type undo struct {
	sql  string
	args []any
}

// batcher sends queued writes in shared batches.
type batcher struct {
	q    *sqlstore.Batcher[*write]
	pool *pgxpool.Pool
	// soft: the batches commit with synchronous_commit off.
	soft bool
	// explicit: the batch runs in an explicit transaction, and COMMIT goes
	// out only once every statement's answer is in. A connection lost
	// before that commits nothing, even when the server ran the statements
	// to their end after the client was gone: for writes whose retry must
	// not find them done (a refresh token rotation, which a retry would
	// take for reuse). One round trip more per batch.
	explicit bool
}

// stats is the batcher's counts, named name.
func (b *batcher) stats(name string) store.BatcherStats { return b.q.Stats(name) }

var errClosed = fmt.Errorf("postgres: store is closed: %w", store.ErrUnavailable)

func newBatcher(pool *pgxpool.Pool, soft bool) *batcher {
	return startBatcher(&batcher{pool: pool, soft: soft})
}

// newExplicitBatcher makes a batcher whose batches commit only once every
// statement has answered (batcher.explicit).
func newExplicitBatcher(pool *pgxpool.Pool) *batcher {
	return startBatcher(&batcher{pool: pool, explicit: true})
}

func startBatcher(b *batcher) *batcher {
	b.q = sqlstore.NewBatcher(b.commit, errClosed)
	return b
}

// do runs w in the next batch and returns its outcome: an error mapped
// already (mapErr), or w.ctx's.
func (b *batcher) do(w *write) error {
	w.done = make(chan error, 1)
	if err := b.q.Enqueue(w.ctx, w); err != nil {
		return err
	}
	select {
	case err := <-w.done:
		return err
	case <-w.ctx.Done():
		// As when a caller gives up on its own statement: the caller hears
		// an error, and the write may commit all the same.
		return w.ctx.Err()
	}
}

// close stops the batcher once the batch in hand is answered; writes still
// waiting to be taken answer errClosed. Closing twice is harmless.
func (b *batcher) close() { b.q.Close() }

// commit sends batch and answers every write in it.
func (b *batcher) commit(batch []*write) {
	live := batch[:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.done <- err // not sent
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	slices.SortStableFunc(live, func(x, y *write) int { return x.key.Compare(y.key) })

	ctx, stop := batchContext(live)
	err := b.send(ctx, live)
	stop()
	switch {
	case err == nil:
	case statementFailed(err) && len(live) > 1:
		// Nothing was committed: run each write alone, so a bad write fails
		// alone. Rare (a user code collision, a deadlock with a sweep), so
		// one after the other.
		for i, w := range live {
			if err := w.ctx.Err(); err != nil {
				w.err = err
				continue
			}
			if err := b.send(w.ctx, live[i:i+1]); err != nil {
				w.err = mapErr(err)
			}
		}
	default:
		// The write's own failure, or the connection's: then the commit may
		// or may not have happened.
		for _, w := range live {
			w.err = mapErr(err)
		}
	}
	for _, w := range live {
		w.done <- w.err
	}
}

// batchContext is what a batch is sent with: done once every write's
// context is done, so a batch that nobody waits for any more (stuck behind
// a row lock, say) is cancelled, as a lone statement would be, and frees
// its connection and worker. Until then it runs for whoever still waits.
func batchContext(ws []*write) (context.Context, func()) {
	if len(ws) == 1 {
		return ws[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int32
	waiting.Store(int32(len(ws)))
	stops := make([]func() bool, len(ws))
	for i, w := range ws {
		stops[i] = context.AfterFunc(w.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// setSoft makes the rest of the batch's implicit transaction commit
// without waiting for its WAL to reach the disk. set_config's third
// argument makes it last until the transaction ends, like SET LOCAL but
// without SET LOCAL's warning outside an explicit transaction block.
const setSoft = `SELECT set_config('synchronous_commit', 'off', true)`

// send runs ws as one batch, in one round trip and one implicit
// transaction. It sets each write's own outcome (w.err) and returns the
// batch's error: a statement's, after which nothing was committed, or the
// connection's.
func (b *batcher) send(ctx context.Context, ws []*write) error {
	ignore := func(pgconn.CommandTag) error { return nil }
	var batch pgx.Batch
	if b.explicit {
		batch.Queue("BEGIN").Exec(ignore)
	}
	if b.soft {
		batch.Queue(setSoft).Exec(ignore)
	}
	for _, w := range ws {
		w.err, w.undo = nil, nil
		q := batch.Queue(w.sql, w.args...)
		if w.scan == nil {
			q.Exec(ignore)
			continue
		}
		q.QueryRow(func(row pgx.Row) error {
			err := w.scan(row)
			var se pgx.ScanArgError
			if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, store.ErrNotFound) || errors.As(err, &se) {
				// The statement ran: this is the write's answer, not the batch's.
				w.err = mapErr(err)
				return nil
			}
			return err
		})
	}
	if !b.explicit {
		return b.pool.SendBatch(ctx, &batch).Close()
	}
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection given back inside a transaction (a failed ROLLBACK) is
	// closed by the pool, never reused.
	defer conn.Release()
	if err := conn.SendBatch(ctx, &batch).Close(); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	// The undos and the COMMIT, in the one round trip.
	var commit pgx.Batch
	for _, w := range ws {
		if w.undo != nil {
			commit.Queue(w.undo.sql, w.undo.args...).Exec(ignore)
		}
	}
	commit.Queue("COMMIT").Exec(ignore)
	if err := conn.SendBatch(ctx, &commit).Close(); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return nil
}

// statementFailed reports whether err is a statement's error (severity
// ERROR), which aborted the batch's implicit transaction and left the
// connection usable, rather than the connection's or the session's (FATAL).
func statementFailed(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	severity := pe.SeverityUnlocalized // PostgreSQL 9.6 and later; Severity may be translated
	if severity == "" {
		severity = pe.Severity
	}
	return severity == "ERROR"
}
