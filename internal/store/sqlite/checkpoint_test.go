package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestBackgroundCheckpoint: the WAL is copied into the database file by the
// store's own checkpointer: a few thousand writes stay far below the
// writer's backstop (walLimitPages), yet frames get checkpointed.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	s, err := OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	for i := range 2000 {
		if _, err := s.Hit(ctx, fmt.Sprint("key-", i), time.Unix(0, 0), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.ckpt.frames.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no frames checkpointed 10s after 2000 writes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestCacheSizes: the writer connection has the bigger page cache, the
// readers SQLite's default (see Open).
func TestCacheSizes(t *testing.T) {
	t.Parallel()
	s, err := OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name string
		p    *pool
		want int
	}{{"writer", s.w, -writerCacheKiB}, {"reader", s.r, -readerCacheKiB}} {
		var got int
		if err := c.p.QueryRowContext(t.Context(), `PRAGMA cache_size`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: cache_size = %d, want %d", c.name, got, c.want)
		}
	}
}
