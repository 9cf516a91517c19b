package sqlite_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return sqlitetest.Open(t) })
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	// A readiness check must not pass before the schema is there.
	err = s.Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "schema at version 0, want ") {
		t.Fatalf("Ping before Migrate = %v, want a schema version error", err)
	}
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after Migrate #%d: %v", i+1, err)
		}
	}
	// The second Migrate applied nothing: data written between them is intact
	// and a third run from another Store (another process) is a no-op too.
	c := &store.Client{ID: "tv", AuthMethod: store.AuthNone}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	s2, err := sqlite.OpenAndMigrate(ctx, path)
	if err != nil {
		t.Fatalf("OpenAndMigrate on a migrated file: %v", err)
	}
	defer s2.Close()
	if _, err := s2.GetClient(ctx, "tv"); err != nil {
		t.Errorf("GetClient after migrating again: %v", err)
	}
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:"} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error: each pooled connection would get its own database", path)
		}
	}
}

func TestOpenOddPath(t *testing.T) {
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
