package sqlite_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

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

// TestFileModes: a new database, its WAL and its shared-memory file are
// readable by their owner only (docs/security.md DP-01); a file the
// operator created keeps the mode they gave it.
func TestFileModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no Unix modes")
	}
	dir := t.TempDir()
	chosen := filepath.Join(dir, "chosen.db")
	if err := os.WriteFile(chosen, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(chosen, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(dir, "new.db"), 0o600},
		{chosen, 0o640},
	} {
		s, err := sqlite.OpenAndMigrate(t.Context(), tt.path)
		if err != nil {
			t.Fatalf("OpenAndMigrate(%s): %v", tt.path, err)
		}
		// A write, so the WAL holds something while the store is open.
		u := &store.User{ID: "u1", Email: "ada@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{tt.path, tt.path + "-wal", tt.path + "-shm"} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("%s has mode %v; want %v", filepath.Base(f), got, tt.want)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
