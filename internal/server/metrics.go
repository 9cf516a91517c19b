package server

//go:generate go run ./storegen

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/store"
)

// meterStore returns st behind the generated wrapper that times every
// store operation and counts its failures (metered_store.go), and
// registers what is read at each scrape: the backend's pools and
// batchers, the outbox's depth, the signing keys' ages. st is returned
// as it is when metrics are off.
func (s *Server) meterStore(st store.Store) store.Store {
	if s.metrics == nil {
		return st
	}
	backend, _ := st.(interface{ Stats() store.Stats }) // both backends; a test's other store may not
	s.metrics.ObserveState(func(ctx context.Context) metrics.State {
		return s.state(ctx, st, backend)
	})
	return &meteredStore{Store: st, ops: s.metrics.StoreOps(storeOps)}
}

// storeFailed says whether a store operation's error is a failure (the
// database away, a timeout, a row that does not open) rather than one of
// the answers the interfaces name for an ordinary outcome.
func storeFailed(err error) bool {
	return err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) &&
		!errors.Is(err, store.ErrInvalid) && !errors.Is(err, context.Canceled)
}

// state is what a scrape reports of the store and the keys.
func (s *Server) state(ctx context.Context, st store.Store, backend interface{ Stats() store.Stats }) metrics.State {
	var out metrics.State
	if backend != nil {
		bs := backend.Stats()
		for _, p := range bs.Pools {
			out.Pools = append(out.Pools, metrics.Pool{Name: p.Name, Max: p.Max, InUse: p.InUse, Idle: p.Idle, Waits: p.Waits, WaitTime: p.WaitTime})
		}
		for _, b := range bs.Batchers {
			out.Batchers = append(out.Batchers, metrics.Batcher{Name: b.Name, Batches: b.Batches, Writes: b.Writes,
				Full: b.Full, Waiting: b.Waiting, MaxBatch: b.MaxBatch})
		}
		out.SQLiteMemory = bs.EngineMemory
	}
	out.OutboxPending = -1
	if n, err := st.PendingMail(ctx); err == nil {
		out.OutboxPending = n
	} else {
		s.log.Warn("metrics: counting the outbox failed", "err", err)
	}
	out.KeyAges = map[string]time.Duration{}
	for _, alg := range []string{"ES256", "RS256"} {
		if k, err := s.keys.Signer(ctx, alg); err == nil {
			out.KeyAges[alg] = s.now().Sub(k.Record.CreatedAt)
		}
	}
	return out
}
