package sqlite

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestRotateUpdateFails: RotateRefreshToken inserts the successor before it
// marks the old token used, with no savepoint around the two; when marking
// fails, the successor is deleted again, so the old token is left as it was
// (unused, still good for a retry) and no successor exists. The failure is
// made with a trigger, the one way to fail that UPDATE on demand.
func TestRotateUpdateFails(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := OpenAndMigrate(ctx, filepath.Join(t.TempDir(), "rotate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateClient(ctx, &store.Client{ID: "app", Name: "App", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantRefreshToken}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	g := &store.Grant{ID: "g1", ClientID: "app", Scopes: []string{"read"}, AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshToken(ctx, &store.RefreshToken{Hash: "old", GrantID: "g1", ClientID: "app",
		Scopes: []string{"read"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER fail_use BEFORE UPDATE OF used_at ON refresh_tokens
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	allow := func(*store.RefreshFamily) error { return nil }
	_, err = s.RotateRefreshToken(ctx, "old", "new", time.Time{}, t0.Add(time.Minute), allow)
	if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateRefreshToken with the update failing = %v, want another error", err)
	}
	old, err := s.GetRefreshToken(ctx, "old")
	if err != nil || !old.UsedAt.IsZero() {
		t.Errorf("old token after the failed rotation: %+v, %v; want it unused", old, err)
	}
	if _, err := s.GetRefreshToken(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("successor after the failed rotation: %v, want ErrNotFound", err)
	}

	// With the trigger gone, the same rotation goes through.
	if _, err := s.w.ExecContext(ctx, `DROP TRIGGER fail_use`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefreshToken(ctx, "old", "new", time.Time{}, t0.Add(time.Minute), allow); err != nil {
		t.Fatalf("RotateRefreshToken after the trigger is gone: %v", err)
	}
}
