package store

import "time"

// Stats is a snapshot of a backend's connection pools and group-commit
// batchers, for the metrics: how close the database's side of an instance
// is to saturation. Both backends give one (their Stats method); it is no
// part of Store, which is about records.
type Stats struct {
	Pools    []PoolStats
	Batchers []BatcherStats
	// EngineMemory is the memory an embedded database engine holds outside
	// Go's heap, in bytes (SQLite: its page caches, schemas and statements,
	// sqlite3_memory_used); 0 for a database server, whose memory is its own.
	EngineMemory int64
}

// PoolStats is one connection pool's state.
type PoolStats struct {
	Name        string // SQLite: "reader", "writer"; PostgreSQL: "pool"
	Max         int    // the most connections it opens (0: no bound)
	InUse, Idle int
	// Waits counts the times a caller found no free connection and waited,
	// for WaitTime in all.
	Waits    int64
	WaitTime time.Duration
}

// BatcherStats is one write batcher's counts since the store opened.
type BatcherStats struct {
	Name     string // SQLite: "writes"; PostgreSQL: "polls", "writes", "rotations"
	Batches  uint64 // transactions (or pipelines) committed or failed
	Writes   uint64 // writes in them
	Full     uint64 // batches that held MaxBatch writes: more were waiting
	Waiting  int64  // writes queued for the next batch now
	MaxBatch int
}
