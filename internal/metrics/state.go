package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is what the composition root reads at each scrape: the database
// pools and write batchers, the outbox and the signing keys.
type State struct {
	Pools    []Pool
	Batchers []Batcher
	// OutboxPending is the mail waiting to be sent; negative when the
	// store could not say (the gauge is then left out of the scrape).
	OutboxPending int64
	// KeyAges is, per JWS algorithm, the age of the key signing now.
	KeyAges map[string]time.Duration
	// SQLiteMemory is what the embedded SQLite engine holds outside Go's
	// heap, in bytes; 0 (left out of the scrape) with PostgreSQL.
	SQLiteMemory int64
}

// Pool is one database connection pool.
type Pool struct {
	Name        string
	Max         int
	InUse, Idle int
	Waits       int64
	WaitTime    time.Duration
}

// Batcher is one group-commit write batcher.
type Batcher struct {
	Name                  string
	Batches, Writes, Full uint64
	Waiting               int64
	MaxBatch              int
}

// ScrapeTimeout bounds what a scrape asks the database.
const ScrapeTimeout = 2 * time.Second

// stateCollector turns a State read at each scrape into metrics.
type stateCollector struct {
	read func(ctx context.Context) State

	conns, connsMax, waits, waitTime                        *prometheus.Desc
	batches, batchWrites, batchFull, batchWaiting, batchMax *prometheus.Desc
	outbox, keyAge, sqliteMemory                            *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

// ObserveState registers a collector that calls read at each scrape, with
// a context bounded by ScrapeTimeout.
func (m *Metrics) ObserveState(read func(ctx context.Context) State) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&stateCollector{
		read:         read,
		conns:        desc("db_connections", "Open database connections, by pool and state (in_use, idle).", "pool", "state"),
		connsMax:     desc("db_connections_max", "The most connections a pool opens (0: no bound).", "pool"),
		waits:        desc("db_connection_waits_total", "Times a caller found no free connection in a pool and waited.", "pool"),
		waitTime:     desc("db_connection_wait_seconds_total", "Time spent waiting for a free connection, by pool.", "pool"),
		batches:      desc("store_batches_total", "Group-commit batches (shared transactions or pipelines) run, by batcher.", "batcher"),
		batchWrites:  desc("store_batch_writes_total", "Writes run in group-commit batches, by batcher.", "batcher"),
		batchFull:    desc("store_batches_full_total", "Batches that held the most writes a batch takes: writes were waiting behind them.", "batcher"),
		batchWaiting: desc("store_batch_waiting", "Writes waiting to be taken into a batch now, by batcher.", "batcher"),
		batchMax:     desc("store_batch_max_size", "The most writes one batch takes, by batcher.", "batcher"),
		outbox:       desc("outbox_pending", "Mail in the outbox still to be sent (invitations, account links)."),
		keyAge:       desc("signing_key_age_seconds", "Age of the key signing now, by JWS algorithm.", "alg"),
		sqliteMemory: desc("sqlite_memory_bytes", "Memory the embedded SQLite engine holds outside Go's heap (page caches, schemas, statements); SQLite only."),
	})
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.connsMax, c.waits, c.waitTime, c.batches, c.batchWrites,
		c.batchFull, c.batchWaiting, c.batchMax, c.outbox, c.keyAge, c.sqliteMemory} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	s := c.read(ctx)
	gauge := prometheus.GaugeValue
	counter := prometheus.CounterValue
	for _, p := range s.Pools {
		ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(p.InUse), p.Name, "in_use")
		ch <- prometheus.MustNewConstMetric(c.conns, gauge, float64(p.Idle), p.Name, "idle")
		ch <- prometheus.MustNewConstMetric(c.connsMax, gauge, float64(p.Max), p.Name)
		ch <- prometheus.MustNewConstMetric(c.waits, counter, float64(p.Waits), p.Name)
		ch <- prometheus.MustNewConstMetric(c.waitTime, counter, p.WaitTime.Seconds(), p.Name)
	}
	for _, b := range s.Batchers {
		ch <- prometheus.MustNewConstMetric(c.batches, counter, float64(b.Batches), b.Name)
		ch <- prometheus.MustNewConstMetric(c.batchWrites, counter, float64(b.Writes), b.Name)
		ch <- prometheus.MustNewConstMetric(c.batchFull, counter, float64(b.Full), b.Name)
		ch <- prometheus.MustNewConstMetric(c.batchWaiting, gauge, float64(b.Waiting), b.Name)
		ch <- prometheus.MustNewConstMetric(c.batchMax, gauge, float64(b.MaxBatch), b.Name)
	}
	if s.OutboxPending >= 0 {
		ch <- prometheus.MustNewConstMetric(c.outbox, gauge, float64(s.OutboxPending))
	}
	if s.SQLiteMemory > 0 {
		ch <- prometheus.MustNewConstMetric(c.sqliteMemory, gauge, float64(s.SQLiteMemory))
	}
	for alg, age := range s.KeyAges {
		ch <- prometheus.MustNewConstMetric(c.keyAge, gauge, age.Seconds(), alg)
	}
}
