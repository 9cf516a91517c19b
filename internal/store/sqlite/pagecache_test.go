package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// TestPageCacheArena: the process's page caches take their pages from the
// arena set up at start, which holds one store's caches; the metric's
// figure counts the arena (resident from the start) and what is beyond it.
func TestPageCacheArena(t *testing.T) {
	t.Parallel()
	if arenaErr != nil {
		t.Fatalf("no arena: %v", arenaErr)
	}
	if got, want := arena.slots*arena.slotSize, (writerCacheKiB+(readerConns()+1)*readerCacheKiB)*1024-arena.slotSize; got < want {
		t.Errorf("arena of %d slots of %d bytes: %d bytes, want at least %d", arena.slots, arena.slotSize, got, want)
	}
	t.Logf("arena: %d slots of %d bytes (%.1f MiB)", arena.slots, arena.slotSize, float64(arena.slots*arena.slotSize)/(1<<20))
	if arena.slotSize < arenaPageSize || arena.slotSize > arenaPageSize+1024 || arena.slotSize%8 != 0 {
		t.Errorf("slot size %d for pages of %d", arena.slotSize, arenaPageSize)
	}
	s, err := OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "arena.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	for i := range 500 {
		if _, err := s.Hit(ctx, fmt.Sprint("key-", i), time.Unix(0, 0), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM throttles`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	used, peak := pageCacheStatus()
	if used < 1 || peak < used || peak > int64(arena.slots) {
		t.Errorf("arena slots used %d, at most %d of %d; want pages in the arena", used, peak, arena.slots)
	}
	if m, a := memoryUsed(), int64(arena.slots*arena.slotSize); EngineMemoryCounted() && (m < a || m > a+64<<20) {
		t.Errorf("memoryUsed %d with an arena of %d", m, a)
	}
}

// pageCacheStatus is SQLite's count of the arena's slots in use now and at
// most since start.
func pageCacheStatus() (used, peak int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	p := libc.Xcalloc(tls, 2, 8)
	if p == 0 {
		return 0, 0
	}
	defer libc.Xfree(tls, p)
	cur, hi := p, p+8
	if sqlite3.Xsqlite3_status64(tls, sqlite3.SQLITE_STATUS_PAGECACHE_USED, cur, hi, 0) == sqlite3.SQLITE_OK {
		used, peak = *(*int64)(cmem(cur)), *(*int64)(cmem(hi))
	}
	return used, peak
}
