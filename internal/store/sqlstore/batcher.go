package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/latchkey/latchkey/internal/store"
)

// MaxBatch bounds a batch of a Batcher: more than the requests a busy
// instance has in flight, few enough that a batch holds its locks briefly.
const MaxBatch = 64

// Batcher is the queue of a backend's group commit: writes queued by many
// goroutines are taken by one worker, which hands whatever is waiting (up
// to MaxBatch) to the backend's commit in one batch, and then takes the
// next. What a batch is and how it commits differ between the backends
// (SQLite runs it in one transaction on its one writer; PostgreSQL sends it
// as one pipelined round trip): commit is theirs, and answers every write
// of the batch itself. The queue, its counts and its closing are this.
type Batcher[W any] struct {
	reqs    chan W
	quit    chan struct{}
	closing sync.Once
	stopped sync.WaitGroup
	commit  func(batch []W)
	closed  error

	// What Stats reports: batches, the writes in them, the full ones, and
	// the writes waiting to be taken.
	batches, writes, full atomic.Uint64
	waiting               atomic.Int64
}

// NewBatcher starts a Batcher whose worker passes each batch to commit;
// a write queued after Close is refused with closed. With a nil commit it
// starts no worker: a test takes the writes itself (Take) and forms the
// batches it wants.
func NewBatcher[W any](commit func(batch []W), closed error) *Batcher[W] {
	b := &Batcher[W]{reqs: make(chan W), quit: make(chan struct{}), commit: commit, closed: closed}
	if commit != nil {
		b.stopped.Add(1)
		go b.run()
	}
	return b
}

// Take receives one queued write, for a Batcher without a worker; ctx's
// error if none comes before ctx ends.
func (b *Batcher[W]) Take(ctx context.Context) (W, error) {
	select {
	case w := <-b.reqs:
		return w, nil
	case <-ctx.Done():
		var zero W
		return zero, ctx.Err()
	}
}

// Enqueue hands w to the worker. It returns nil once the worker has taken
// w (commit will answer it), the closed error if the Batcher is closing,
// or ctx's error if ctx ends first; then w was not taken.
func (b *Batcher[W]) Enqueue(ctx context.Context, w W) error {
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case b.reqs <- w:
		return nil
	case <-b.quit:
		return b.closed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the worker once the batch in hand is committed; writes still
// waiting to be taken get the closed error. Closing twice is harmless.
func (b *Batcher[W]) Close() {
	b.closing.Do(func() { close(b.quit) })
	b.stopped.Wait()
}

// Stats is the Batcher's counts, named name.
func (b *Batcher[W]) Stats(name string) store.BatcherStats {
	return store.BatcherStats{Name: name, Batches: b.batches.Load(), Writes: b.writes.Load(), Full: b.full.Load(),
		Waiting: b.waiting.Load(), MaxBatch: MaxBatch}
}

func (b *Batcher[W]) run() {
	defer b.stopped.Done()
	batch := make([]W, 0, MaxBatch)
	for {
		// Once closing, take nothing more.
		select {
		case <-b.quit:
			return
		default:
		}
		select {
		case w := <-b.reqs:
			batch = append(batch[:0], w)
		case <-b.quit:
			return
		}
	gather:
		for len(batch) < MaxBatch {
			select {
			case w := <-b.reqs:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		b.batches.Add(1)
		b.writes.Add(uint64(len(batch)))
		if len(batch) == MaxBatch {
			b.full.Add(1)
		}
		b.commit(batch)
		clear(batch) // let the answered writes go
	}
}
