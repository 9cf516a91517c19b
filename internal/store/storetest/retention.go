package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testSweepMail: Sweep deletes mail of no device invitation (here a member
// invitation's) once its link has expired MailGrace ago and it is not
// waiting to be sent; pending mail past its expiry is left for
// CancelStaleMail, and then deleted.
func testSweepMail(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "mail-org")
	now := at(time.Hour)
	sent := newMemberInvitation("sent", o.ID, "sent@example.com", store.RoleMember)
	sent.ExpiresAt = now.Add(-time.Millisecond)
	waiting := newMemberInvitation("waiting", o.ID, "waiting@example.com", store.RoleMember)
	waiting.ExpiresAt = now.Add(-time.Millisecond)
	live := newMemberInvitation("live", o.ID, "live@example.com", store.RoleMember)
	live.ExpiresAt = now.Add(store.MailGrace + time.Minute)
	for _, inv := range []*store.MemberInvitation{sent, waiting, live} {
		mustCreateMemberInvitation(t, s, inv)
	}
	wantErr(t, "MarkMailSent", s.MarkMailSent(ctx, sent.MailID, t0), nil)
	wantErr(t, "MarkMailSent(live)", s.MarkMailSent(ctx, live.MailID, t0), nil)

	n, err := s.Sweep(ctx, now)
	wantErr(t, "Sweep within the grace", err, nil)
	if n != 0 {
		t.Errorf("Sweep deleted %d rows within MailGrace of the links' expiry, want 0", n)
	}
	now = now.Add(store.MailGrace)
	n, err = s.Sweep(ctx, now)
	wantErr(t, "Sweep", err, nil)
	if n != 1 {
		t.Errorf("Sweep deleted %d rows, want 1 (the sent mail whose link expired)", n)
	}
	// The pending one is still there to be cancelled, and goes after.
	c, err := s.CancelStaleMail(ctx, now)
	wantErr(t, "CancelStaleMail", err, nil)
	if c != 1 {
		t.Errorf("CancelStaleMail cancelled %d, want 1", c)
	}
	n, err = s.Sweep(ctx, now)
	wantErr(t, "Sweep after cancelling", err, nil)
	if n != 1 {
		t.Errorf("Sweep after cancelling deleted %d rows, want 1", n)
	}
	n, err = s.Sweep(ctx, now)
	wantErr(t, "Sweep again", err, nil)
	if n != 0 {
		t.Errorf("Sweep again deleted %d rows, want 0 (the live link's mail stays)", n)
	}
}

// testPruneInvitations: invitations, device and member, that were decided
// or expired pending before the cut-off are deleted, a device invitation's
// mail with it; those that ended after it, and pending ones still valid,
// stay.
func testPruneInvitations(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "prune-org")
	g := mustCreateGroup(t, s, "prune-g", o.ID, "read")
	cut := at(2 * time.Hour)
	device := func(id, status string, decided, expires time.Time) *store.Invitation {
		inv := newInvitation(id, o.ID, g.ID)
		inv.Status, inv.DecidedAt, inv.ExpiresAt = status, decided, expires
		return mustCreateInvitation(t, s, inv, true)
	}
	member := func(id, status string, decided, expires time.Time) *store.MemberInvitation {
		inv := newMemberInvitation(id, o.ID, id+"@example.com", store.RoleMember)
		inv.Status, inv.DecidedAt, inv.ExpiresAt = status, decided, expires
		return mustCreateMemberInvitation(t, s, inv)
	}
	week := at(7 * 24 * time.Hour)
	gone := []string{
		device("accepted-before", store.InvitationAccepted, at(time.Hour), week).ID,
		device("expired-before", store.InvitationPending, time.Time{}, at(time.Hour)).ID,
	}
	kept := []string{
		device("revoked-after", store.InvitationRevoked, at(3*time.Hour), week).ID,
		device("pending", store.InvitationPending, time.Time{}, week).ID,
		device("expired-after", store.InvitationPending, time.Time{}, at(3*time.Hour)).ID,
	}
	memberGone := member("declined-before", store.InvitationDeclined, at(time.Hour), week).ID
	memberKept := member("member-pending", store.InvitationPending, time.Time{}, week).ID

	n, err := s.PruneInvitations(ctx, cut)
	wantErr(t, "PruneInvitations", err, nil)
	if n != 3 {
		t.Errorf("PruneInvitations deleted %d, want 3", n)
	}
	n, err = s.PruneInvitations(ctx, cut)
	wantErr(t, "PruneInvitations again", err, nil)
	if n != 0 {
		t.Errorf("PruneInvitations again deleted %d, want 0", n)
	}
	for _, id := range gone {
		wantErr(t, "GetInvitation("+id+")", lookupErr(s.GetInvitation(ctx, id)), store.ErrNotFound)
		ms, err := s.ListMail(ctx, id)
		wantErr(t, "ListMail("+id+")", err, nil)
		if len(ms) != 0 {
			t.Errorf("invitation %s pruned, %d of its mails kept", id, len(ms))
		}
	}
	for _, id := range kept {
		wantErr(t, "GetInvitation("+id+")", lookupErr(s.GetInvitation(ctx, id)), nil)
	}
	wantErr(t, "GetMemberInvitation("+memberGone+")", lookupErr(s.GetMemberInvitation(ctx, memberGone)), store.ErrNotFound)
	wantErr(t, "GetMemberInvitation("+memberKept+")", lookupErr(s.GetMemberInvitation(ctx, memberKept)), nil)
}

// testSweepBacklog: a backlog larger than one chunk (store.SweepChunk) is
// swept whole, chunk after chunk, and the count says so; a live grant
// among them stays.
func testSweepBacklog(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "backlog-tv", true)
	mustCreateUser(t, s, "backlog-ada")
	now := at(time.Hour)
	const expired = store.SweepChunk + 3
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			var err error
			for i := w; i < expired && err == nil; i += 8 {
				g := newGrant(fmt.Sprint("backlog-", i), "backlog-ada", c.ID, t0)
				g.ExpiresAt = now.Add(-time.Millisecond)
				err = s.CreateGrant(ctx, g)
			}
			errs <- err
		}()
	}
	for range 8 {
		wantErr(t, "CreateGrant", <-errs, nil)
	}
	live := newGrant("backlog-live", "backlog-ada", c.ID, t0)
	live.ExpiresAt = now.Add(time.Minute)
	mustCreateGrant(t, s, live)
	n, err := s.Sweep(ctx, now)
	wantErr(t, "Sweep", err, nil)
	if n != expired {
		t.Errorf("Sweep deleted %d rows, want %d (every expired grant, in chunks of %d)", n, expired, store.SweepChunk)
	}
	gs, err := s.ListGrantsByUser(ctx, "backlog-ada")
	wantErr(t, "ListGrantsByUser", err, nil)
	if len(gs) != 1 || gs[0].ID != live.ID {
		t.Errorf("after the sweep %d grants are left, want only %s", len(gs), live.ID)
	}
}
