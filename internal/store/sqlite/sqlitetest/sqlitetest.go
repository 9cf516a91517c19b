// Package sqlitetest gives tests a real SQLite store: a new, migrated
// database file under the test's temporary directory, closed when the test
// ends. It is the SQLite twin of package pgtest, and a package of its own so
// that the conformance suite (storetest) imports no backend and the latchkey
// binary does not link package testing.
package sqlitetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// Open returns a migrated SQLite store in a new file under t.TempDir(),
// closed when the test ends. Never ":memory:": every pooled connection would
// get a database of its own.
//
// The file is a copy of one database migrated once per test binary
// (migrated), opened with sqlite.OpenAndMigrate, which finds it current:
// running every migration for each of the hundreds of stores a test run
// opens was, under the race detector, a third of some packages' CPU. The
// migrations themselves run from an empty file in each backend's TestMigrate
// and in every test that opens a database through the configuration.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	db, err := migrated()
	if err != nil {
		t.Fatalf("migrate the template SQLite database: %v", err)
	}
	path := filepath.Join(t.TempDir(), "latchkey.db")
	// 0600, as sqlite.Open creates a database (docs/security.md DP-01).
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatalf("copy the template SQLite database: %v", err)
	}
	s, err := sqlite.OpenAndMigrate(t.Context(), path)
	if err != nil {
		t.Fatalf("open SQLite store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close SQLite store: %v", err)
		}
	})
	return s
}

// migrated returns the bytes of a database file with every migration
// applied, made once per test binary in a directory removed afterwards.
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "latchkey-sqlitetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	s, err := sqlite.OpenAndMigrate(context.Background(), path)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, err
	}
	// Closing the last connection copies the WAL into the file and deletes
	// it; a WAL left behind would hold part of the schema.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%s-wal is left with %d bytes after Close", path, fi.Size())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.ReadFile(path)
})
