package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// Migrator is a backend's store opened without its schema: Migrate brings
// it up to date.
type Migrator interface {
	store.Store
	Migrate(ctx context.Context) error
}

// RunMigrate checks a backend's migrations. open opens a store on a new,
// empty database without migrating it; reopen opens that same database
// again as another instance or process would, migrating it (a no-op once
// it is current). Both stores are closed by the caller's cleanups.
func RunMigrate(t *testing.T, open func(t *testing.T) Migrator, reopen func(t *testing.T) store.Store) {
	ctx := t.Context()
	s := open(t)
	// A readiness check must not pass before the schema is there.
	err := s.Ping(ctx)
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
	// The second Migrate applied nothing: data written between them is
	// intact, and a third run from another store (another instance or
	// process) is a no-op too.
	if err := s.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	s2 := reopen(t)
	if _, err := s2.GetClient(ctx, "tv"); err != nil {
		t.Errorf("GetClient after migrating again: %v", err)
	}
}
