package sqlite

import (
	"fmt"
	"runtime"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The page caches of every connection in the process take their pages
// from one arena, reserved at start (SQLITE_CONFIG_PAGECACHE), rather than
// from malloc one page at a time.
//
// SQLite's C memory comes from modernc's allocator, which rounds a request
// up to a power of two: a cached page is its 4 KiB plus about 270 bytes of
// headers, so each took an 8 KiB slot and the caches' 26 MiB bound cost
// about 50 MiB. A reader's cache is emptied whenever another connection
// has committed (WAL mode) and refilled page by page, so the allocator
// also churned through millions of such slots an hour. In the arena a
// page takes its size, rounded to 8 bytes, and a freed page's slot is the
// next one taken. SQLite threads its free list through every slot when it
// initializes, so the whole arena (about 26 MiB with 2 cores) is resident
// from the first connection on: idle RSS is that much higher, and RSS
// under load that much lower and flat, since the caches fill what is
// already there (BENCHMARKS.md, the soak). Caches beyond it (many stores
// in one process, as in tests) fall back to malloc, as before.

// arenaPageSize is the database page size the arena's slots fit: SQLite's
// default, which Latchkey's databases use.
const arenaPageSize = 4096

// readerCacheKiB is SQLite's default page cache, which the readers and the
// checkpointer keep.
const readerCacheKiB = 2000

// readerConns is how many connections the reader pool opens at most.
func readerConns() int { return max(4, runtime.GOMAXPROCS(0)) }

// arena describes the page-cache arena set up at start; slots is 0 when
// SQLite refused it (then every page comes from malloc, as without it).
var arena struct {
	slots, slotSize int
	// mapped is what the arena's reservation counts in the allocator's
	// total (a power of two at least slots*slotSize, the part touched).
	mapped int64
}

// arenaErr is why the arena could not be set up, if it could not.
var arenaErr error

func init() {
	// One store's connections: the writer's cache, each reader's and the
	// checkpointer's.
	arenaErr = setupArena(writerCacheKiB + (readerConns()+1)*readerCacheKiB)
}

func arenaFailed(step string, rc int32) error {
	return fmt.Errorf("sqlite: page-cache arena: %s: code %d", step, rc)
}

// setupArena reserves room for kib KiB of pages and gives it to SQLite.
// It must run before the process opens its first connection: SQLite
// takes the setting only before it initializes.
func setupArena(kib int) error {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, 3*8)
	if va == 0 {
		return arenaFailed("allocating the argument list", sqlite3.SQLITE_NOMEM)
	}
	defer libc.Xfree(tls, va)
	hdr := libc.Xcalloc(tls, 1, 8)
	if hdr == 0 {
		return arenaFailed("allocating the header size", sqlite3.SQLITE_NOMEM)
	}
	defer libc.Xfree(tls, hdr)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, libc.VaList(va, hdr)); rc != sqlite3.SQLITE_OK {
		return arenaFailed("SQLITE_CONFIG_PCACHE_HDRSZ", rc)
	}
	size := (arenaPageSize + int(*(*int32)(cmem(hdr))) + 7) &^ 7
	slots := kib * 1024 / size
	before := libc.MemStat().Bytes
	buf := libc.Xmalloc(tls, uint64(slots*size)) // for the life of the process
	if buf == 0 {
		return arenaFailed("reserving the arena", sqlite3.SQLITE_NOMEM)
	}
	mapped := int64(libc.MemStat().Bytes - before)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(va, buf, int32(size), int32(slots))); rc != sqlite3.SQLITE_OK {
		libc.Xfree(tls, buf)
		return arenaFailed("SQLITE_CONFIG_PAGECACHE", rc)
	}
	arena.slots, arena.slotSize, arena.mapped = slots, size, mapped
	return nil
}

// cmem is the address of C memory (from libc.Xmalloc, outside Go's heap)
// as a pointer, to read what SQLite wrote there. It reads the uintptr's
// bits as a pointer rather than converting the integer, which vet rightly
// refuses for Go memory; C memory never moves and is never collected.
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
