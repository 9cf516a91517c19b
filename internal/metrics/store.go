package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StoreBuckets are the store operation histogram's buckets, in seconds:
// from an indexed SQLite read (tens of µs) to a statement timeout.
var StoreBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}

// StoreOps times the store's operations and counts their failures, by
// operation name: the composition root wraps the store once (a generated
// wrapper, server/metered_store.go) and calls Done after each call.
type StoreOps struct {
	names    []string
	ops      []storeOp
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// storeOp is one operation's children, made on its first use so that a
// scrape lists only the operations that ran.
type storeOp struct {
	once   sync.Once
	obs    prometheus.Observer
	failed prometheus.Counter
}

// StoreOps registers the store's collectors for the operations names
// (indexed as Done's i); nil when metrics are off.
func (m *Metrics) StoreOps(names []string) *StoreOps {
	if m == nil {
		return nil
	}
	o := &StoreOps{
		names: names,
		ops:   make([]storeOp, len(names)),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "store_operation_duration_seconds",
			Help:    "Time of a store operation (one method of the store: a statement, a transaction or a batched write), by operation.",
			Buckets: StoreBuckets,
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_operation_errors_total",
			Help: "Store operations that failed (the database unreachable, a timeout, a broken row), by operation; not-found, conflict and invalid answers are outcomes, not failures.",
		}, []string{"op"}),
	}
	m.reg.MustRegister(o.duration, o.errors)
	return o
}

// Done records operation i, begun at start; failed says it failed.
func (o *StoreOps) Done(i int, start time.Time, failed bool) {
	if o == nil {
		return
	}
	op := &o.ops[i]
	op.once.Do(func() {
		op.obs = o.duration.WithLabelValues(o.names[i])
		op.failed = o.errors.WithLabelValues(o.names[i])
	})
	op.obs.Observe(time.Since(start).Seconds())
	if failed {
		op.failed.Inc()
	}
}
