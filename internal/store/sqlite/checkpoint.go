package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints. In WAL mode a commit appends the pages it changed to the
// WAL, and by default the connection whose commit takes the WAL past 1000
// pages then copies them back into the database file, with two fsyncs,
// before its commit returns. Here that connection is the only writer, so
// every queued write would wait for it: under a stream of new device
// authorizations it was a third of the writer's time. Instead a goroutine
// on a connection of its own checkpoints every checkpointInterval in
// PASSIVE mode, which never blocks the writer or readers, so the copying
// runs beside the writes; the writer's own automatic checkpoint stays as a
// backstop at walLimitPages, should the background ones fall behind.

const (
	checkpointInterval = 250 * time.Millisecond
	walLimitPages      = 16384 // 64 MiB of WAL with 4 KiB pages
)

// checkpointer runs PASSIVE checkpoints on its own connection until closed.
type checkpointer struct {
	db      *sql.DB
	quit    chan struct{}
	closing sync.Once
	stopped sync.WaitGroup
	// frames counts the WAL frames the checkpoints copied, for tests and
	// curiosity.
	frames atomic.Int64
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, quit: make(chan struct{})}
	c.stopped.Add(1)
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer c.stopped.Done()
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
			c.checkpoint()
		}
	}
}

// checkpoint copies what it can of the WAL into the database file. A
// failure is left for the next tick: the writer's backstop checkpoint
// keeps the WAL bounded meanwhile.
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, logFrames, copied int64
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err == nil && copied > 0 {
		c.frames.Add(copied)
	}
}

// close stops the goroutine and closes its connection; closing twice is harmless.
func (c *checkpointer) close() error {
	c.closing.Do(func() { close(c.quit) })
	c.stopped.Wait()
	return c.db.Close()
}
