package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return sqlitetest.Open(t) })
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	storetest.RunMigrate(t, func(t *testing.T) storetest.Migrator {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, func(t *testing.T) store.Store {
		s, err := sqlite.OpenAndMigrate(t.Context(), path)
		if err != nil {
			t.Fatalf("OpenAndMigrate on a migrated file: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpenRefusesMemory(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", ":memory:", "file::memory:"} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error: each pooled connection would get its own database", path)
		}
	}
}

func TestOpenOddPath(t *testing.T) {
	t.Parallel()
	// '?', '#' and '%' are file name characters, not URI syntax.
	path := filepath.Join(t.TempDir(), "odd ?name#100%.db")
	s, err := sqlite.OpenAndMigrate(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenAndMigrate(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path asked for: %v", err)
	}
}
