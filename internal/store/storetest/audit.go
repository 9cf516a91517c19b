package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func newAuditEntry(id string, d time.Duration, actor, org, kind string) *store.AuditEntry {
	return &store.AuditEntry{
		ID: id, At: at(d), ActorKind: store.ActorUser, ActorID: actor, Address: "198.51.100.7",
		Kind: kind, TargetID: "t-" + id, OrgID: org,
		Before: `{"name":"old"}`, After: `{"name":"new ✓"}`,
	}
}

// testAudit: entries round-trip; pages come newest first, by (at, id),
// filtered by actor, organization, kind and time, and a cursor continues
// exactly after the last entry of the page before; PruneAudit deletes the
// old ones only.
func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	entries := []*store.AuditEntry{
		newAuditEntry("a1", 0, "ada", "acme", "client.create"),
		newAuditEntry("a2", time.Second, "bob", "acme", "invitation.send"),
		newAuditEntry("a3", time.Second, "ada", "", "user.update"), // the same time as a2: id decides
		newAuditEntry("a4", 2*time.Second, "admin-token", "globex", "invitation.send"),
		newAuditEntry("a5", 3*time.Second, "ada", "globex", "client.delete"),
	}
	entries[3].ActorKind, entries[3].Address, entries[3].Before = store.ActorAdminToken, "", ""
	for _, e := range entries {
		wantErr(t, "AddAuditEntry "+e.ID, s.AddAuditEntry(ctx, e), nil)
	}
	wantErr(t, "AddAuditEntry with a taken id", s.AddAuditEntry(ctx, newAuditEntry("a1", 0, "eve", "", "x")), store.ErrConflict)
	bad := newAuditEntry("a9", 0, "eve", "", "x")
	bad.After = "\xff"
	wantErr(t, "AddAuditEntry holding invalid UTF-8", s.AddAuditEntry(ctx, bad), store.ErrInvalid)

	e := func(ids ...string) []*store.AuditEntry {
		var out []*store.AuditEntry
		for _, id := range ids {
			for _, en := range entries {
				if en.ID == id {
					out = append(out, en)
				}
			}
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    store.AuditQuery
		want []*store.AuditEntry
	}{
		{"all, newest first", store.AuditQuery{Limit: 10}, e("a5", "a4", "a3", "a2", "a1")},
		{"a page", store.AuditQuery{Limit: 2}, e("a5", "a4")},
		{"after a page", store.AuditQuery{Limit: 2, BeforeAt: at(2 * time.Second), BeforeID: "a4"}, e("a3", "a2")},
		{"after a tie", store.AuditQuery{Limit: 10, BeforeAt: at(time.Second), BeforeID: "a3"}, e("a2", "a1")},
		{"after a deleted entry", store.AuditQuery{Limit: 10, BeforeAt: at(time.Second), BeforeID: "a25"}, e("a2", "a1")},
		{"by actor", store.AuditQuery{Limit: 10, ActorID: "ada"}, e("a5", "a3", "a1")},
		{"by organization", store.AuditQuery{Limit: 10, OrgID: "acme"}, e("a2", "a1")},
		{"by kind", store.AuditQuery{Limit: 10, Kind: "invitation.send"}, e("a4", "a2")},
		{"by actor and organization", store.AuditQuery{Limit: 10, ActorID: "ada", OrgID: "globex"}, e("a5")},
		{"since", store.AuditQuery{Limit: 10, Since: at(2 * time.Second)}, e("a5", "a4")},
		{"until", store.AuditQuery{Limit: 10, Until: at(time.Second)}, e("a1")},
		{"nothing matches", store.AuditQuery{Limit: 10, ActorID: "nobody"}, nil},
		{"a key that is not text", store.AuditQuery{Limit: 10, OrgID: "\xff"}, nil},
	} {
		got, err := s.QueryAudit(ctx, tt.q)
		wantErr(t, "QueryAudit "+tt.name, err, nil)
		diff(t, "QueryAudit "+tt.name, tt.want, got)
	}
	_, err := s.QueryAudit(ctx, store.AuditQuery{})
	wantErr(t, "QueryAudit without a limit", err, store.ErrInvalid)

	n, err := s.PruneAudit(ctx, at(time.Second))
	wantErr(t, "PruneAudit", err, nil)
	if n != 1 {
		t.Errorf("PruneAudit deleted %d entries, want 1 (a1)", n)
	}
	got, err := s.QueryAudit(ctx, store.AuditQuery{Limit: 10})
	wantErr(t, "QueryAudit after PruneAudit", err, nil)
	diff(t, "QueryAudit after PruneAudit", e("a5", "a4", "a3", "a2"), got)
}
