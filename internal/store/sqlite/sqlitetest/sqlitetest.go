// Package sqlitetest gives tests a real SQLite store: a new, migrated
// database file under the test's temporary directory, closed when the test
// ends. It is the SQLite twin of package pgtest, and a package of its own so
// that the conformance suite (storetest) imports no backend and the latchkey
// binary does not link package testing.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// Open returns a migrated SQLite store in a new file under t.TempDir(),
// closed when the test ends. Never ":memory:": every pooled connection would
// get a database of its own.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenAndMigrate(t.Context(), filepath.Join(t.TempDir(), "latchkey.db"))
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
