package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testQueryInvitations: pages of an organization's invitations, newest
// first, by state; paging through them with any page size gives each
// invitation once, in ListInvitations' order, invitations created in the
// same millisecond included.
func testQueryInvitations(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	other := mustCreateOrg(t, s, p+"other")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	og := mustCreateGroup(t, s, p+"og", other.ID, "read")
	now := at(time.Hour)
	byState := map[string][]string{}
	for i := range 9 {
		inv := newInvitation(fmt.Sprintf("%sinv%d", p, i), o.ID, g.ID)
		inv.CreatedAt = at(time.Duration(i/3) * time.Minute) // three at a time in one millisecond
		state := []string{store.InvitationPending, store.InvitationExpired, store.InvitationAccepted,
			store.InvitationDeclined, store.InvitationRevoked}[i%5]
		if state == store.InvitationExpired {
			inv.ExpiresAt = now // expired at now, exactly
		}
		mustCreateInvitation(t, s, inv, false)
		var err error
		switch state {
		case store.InvitationAccepted:
			_, err = s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(inv.ID + "-dev")}, t0)
		case store.InvitationDeclined:
			_, err = s.DeclineInvitation(ctx, inv.TokenHash, t0)
		case store.InvitationRevoked:
			_, err = s.RevokeInvitation(ctx, inv.ID, t0)
		}
		wantErr(t, "ending "+inv.ID, err, nil)
		byState[state] = append(byState[state], inv.ID)
	}
	mustCreateInvitation(t, s, newInvitation(p+"theirs", other.ID, og.ID), false)

	all, err := s.ListInvitations(ctx, o.ID)
	wantErr(t, "ListInvitations", err, nil)
	ids := func(invs []*store.Invitation) []string {
		var out []string
		for _, inv := range invs {
			out = append(out, inv.ID)
		}
		return out
	}
	// pages reads every page of q, limit at a time.
	pages := func(q store.InvitationQuery, limit int) []*store.Invitation {
		t.Helper()
		q.OrgID, q.Now, q.Limit = o.ID, now, limit
		var got []*store.Invitation
		for range 20 {
			page, err := s.QueryInvitations(ctx, q)
			wantErr(t, "QueryInvitations", err, nil)
			if len(page) > limit {
				t.Fatalf("QueryInvitations(limit %d) gave %d", limit, len(page))
			}
			got = append(got, page...)
			if len(page) < limit {
				return got
			}
			last := page[len(page)-1]
			q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
		}
		t.Fatalf("paging with limit %d does not end", limit)
		return nil
	}
	for _, limit := range []int{1, 2, 3, 4, 9, 100} {
		diff(t, fmt.Sprintf("every page, %d at a time", limit), all, pages(store.InvitationQuery{}, limit))
	}
	for state, want := range byState {
		var wantOrdered []string
		for _, id := range ids(all) {
			for _, w := range want {
				if w == id {
					wantOrdered = append(wantOrdered, id)
				}
			}
		}
		diff(t, "state "+state, wantOrdered, ids(pages(store.InvitationQuery{State: state}, 2)))
	}

	// After a position that no longer names an invitation: between inv3
	// and inv4, created in the same millisecond.
	page, err := s.QueryInvitations(ctx, store.InvitationQuery{OrgID: o.ID, Now: now, Limit: 100,
		AfterCreated: at(time.Minute), AfterID: p + "inv3x"})
	wantErr(t, "QueryInvitations after a gone invitation", err, nil)
	diff(t, "after a gone invitation", []string{p + "inv4", p + "inv5", p + "inv0", p + "inv1", p + "inv2"}, ids(page))

	for _, tt := range []struct {
		name string
		q    store.InvitationQuery
	}{
		{"an unknown state", store.InvitationQuery{OrgID: o.ID, State: "lost", Limit: 1}},
		{"the state of a mail", store.InvitationQuery{OrgID: o.ID, State: store.MailSent, Limit: 1}},
		{"a zero limit", store.InvitationQuery{OrgID: o.ID}},
		{"a negative limit", store.InvitationQuery{OrgID: o.ID, Limit: -1}},
	} {
		_, err := s.QueryInvitations(ctx, tt.q)
		wantErr(t, "QueryInvitations with "+tt.name, err, store.ErrInvalid)
	}
	for _, key := range oddKeys {
		if err := none(s.QueryInvitations(ctx, store.InvitationQuery{OrgID: key, Limit: 10})); err != nil {
			t.Errorf("QueryInvitations(org %q): %v; want nothing", key, err)
		}
		if key == "" {
			continue
		}
		if _, err := s.QueryInvitations(ctx, store.InvitationQuery{OrgID: o.ID, AfterID: key, AfterCreated: now, Limit: 10}); err != nil {
			t.Errorf("QueryInvitations(after %q): %v", key, err)
		}
	}
}

// resendMail is the email of inv's nth resend.
func resendMail(inv *store.Invitation, n int) *store.Mail {
	m := newMail(inv)
	m.ID = fmt.Sprintf("mail-%s-resend%d", inv.ID, n)
	m.Link = fmt.Sprintf("https://id.example/invitations/lk_inv_resent%d", n)
	m.Body = "Open " + m.Link
	m.CreatedAt, m.NextAttemptAt = at(time.Hour), at(time.Hour)
	return m
}

// testResendInvitation: a resend gives a pending invitation a new token
// and new mail; the old token finds nothing, the old mail is erased, and
// only a pending, unexpired invitation can be resent.
func testResendInvitation(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, g.ID), true)

	m := resendMail(inv, 1)
	got, err := s.ResendInvitation(ctx, inv.ID, "token-"+p+"new", m, at(time.Hour))
	wantErr(t, "ResendInvitation", err, nil)
	want := *inv
	want.TokenHash = "token-" + p + "new"
	diff(t, "resent invitation", &want, got)
	diff(t, "stored resent invitation", &want, mustGetInvitation(t, s, inv.ID))
	_, err = s.GetInvitationByToken(ctx, inv.TokenHash)
	wantErr(t, "GetInvitationByToken(the old token)", err, store.ErrNotFound)
	if got, err := s.GetInvitationByToken(ctx, want.TokenHash); err != nil || got.ID != inv.ID {
		t.Errorf("GetInvitationByToken(the new token) = %v, %v", got, err)
	}
	old := newMail(inv)
	old.Status, old.Body, old.Link = store.MailCancelled, "", ""
	diff(t, "mail after a resend", []*store.Mail{old, m}, mailOf(t, s, inv.ID))
	_, err = s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev1")}, at(time.Hour))
	wantErr(t, "AcceptInvitation with the old token", err, store.ErrNotFound)
	_, err = s.DeclineInvitation(ctx, inv.TokenHash, at(time.Hour))
	wantErr(t, "DeclineInvitation with the old token", err, store.ErrNotFound)

	// A second resend replaces the first one's mail in turn.
	m2 := resendMail(inv, 2)
	_, err = s.ResendInvitation(ctx, inv.ID, "token-"+p+"newer", m2, at(2*time.Hour))
	wantErr(t, "ResendInvitation again", err, nil)
	m.Status, m.Body, m.Link = store.MailCancelled, "", ""
	diff(t, "mail after a second resend", []*store.Mail{old, m, m2}, mailOf(t, s, inv.ID))

	// Refusals change nothing.
	taken := mustCreateInvitation(t, s, newInvitation(p+"taken", o.ID, g.ID), false)
	before := mustGetInvitation(t, s, inv.ID)
	wrongInv := resendMail(inv, 3)
	wrongInv.InvitationID = taken.ID
	for _, tt := range []struct {
		name      string
		id, token string
		mail      *store.Mail
		now       time.Time
		want      error
	}{
		{"a missing invitation", p + "nope", "token-x", resendMail(&store.Invitation{ID: p + "nope"}, 3), at(time.Hour), store.ErrNotFound},
		{"a token hash that is taken", inv.ID, taken.TokenHash, resendMail(inv, 3), at(time.Hour), store.ErrConflict},
		{"at its expiry", inv.ID, "token-x", resendMail(inv, 3), inv.ExpiresAt, store.ErrConflict},
		{"no mail", inv.ID, "token-x", nil, at(time.Hour), store.ErrInvalid},
		{"another invitation's mail", inv.ID, "token-x", wrongInv, at(time.Hour), store.ErrInvalid},
		{"a token hash that is not text", inv.ID, "token-\x00", resendMail(inv, 3), at(time.Hour), store.ErrInvalid},
	} {
		_, err := s.ResendInvitation(ctx, tt.id, tt.token, tt.mail, tt.now)
		wantErr(t, "ResendInvitation of "+tt.name, err, tt.want)
	}
	for i, spoil := range []func(*store.Mail){
		func(m *store.Mail) { m.Body = "\xff" },
		func(m *store.Mail) { m.Link = "a\x00b" },
		func(m *store.Mail) { m.Recipient = "\xc0\x80" },
	} {
		m := resendMail(inv, 10+i)
		spoil(m)
		_, err := s.ResendInvitation(ctx, inv.ID, "token-x", m, at(time.Hour))
		wantErr(t, fmt.Sprintf("ResendInvitation with mail that is not text (%d)", i), err, store.ErrInvalid)
	}
	diff(t, "invitation after refused resends", before, mustGetInvitation(t, s, inv.ID))
	diff(t, "mail after refused resends", []*store.Mail{old, m, m2}, mailOf(t, s, inv.ID))

	// Only a pending invitation: one that ended cannot be resent.
	for _, end := range []struct {
		name string
		end  func(inv *store.Invitation) error
	}{
		{"accepted", func(inv *store.Invitation) error {
			_, err := s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(inv.ID + "-dev")}, t0)
			return err
		}},
		{"declined", func(inv *store.Invitation) error { _, err := s.DeclineInvitation(ctx, inv.TokenHash, t0); return err }},
		{"revoked", func(inv *store.Invitation) error { _, err := s.RevokeInvitation(ctx, inv.ID, t0); return err }},
	} {
		ended := mustCreateInvitation(t, s, newInvitation(p+end.name, o.ID, g.ID), false)
		wantErr(t, end.name, end.end(ended), nil)
		_, err := s.ResendInvitation(ctx, ended.ID, "token-"+p+end.name+"-new", resendMail(ended, 1), at(time.Hour))
		wantErr(t, "ResendInvitation of one "+end.name, err, store.ErrConflict)
		if ms := mailOf(t, s, ended.ID); len(ms) != 0 {
			t.Errorf("a refused resend of one %s queued %d mails", end.name, len(ms))
		}
	}

	// The new token is the one that works.
	if _, err := s.AcceptInvitation(ctx, "token-"+p+"newer", &store.Acceptance{NewClient: newDeviceClient(p + "dev2")}, at(3*time.Hour)); err != nil {
		t.Errorf("AcceptInvitation with the new token: %v", err)
	}
	wantMailCancelled(t, s, inv.ID)
}

// testConcurrentResendAccept: resends racing acceptances with the old
// token, on any number of instances. Either one acceptance succeeds and no
// resend does, or resends succeed and no acceptance does: an acceptance
// never uses a token a resend replaced, and a resend never revives an
// accepted invitation. When resends won, the invitation holds the token of
// one of them, only its mail is pending, and no client was made
// (docs/security.md INV-11).
func testConcurrentResendAccept(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	outcomes := map[string]int{}
	for r := range rounds {
		inv := mustCreateInvitation(t, s, newInvitation(fmt.Sprintf("%sinv%d", p, r), o.ID, g.ID), true)
		// Odd racers resend (each with its own token), even ones accept.
		resends := func(i int) bool { return i%2 == 1 }
		hash := func(i int) string { return fmt.Sprintf("token-%s-resent%d", inv.ID, i) }
		errs := race(func(i int) error {
			if resends(i) {
				_, err := s.ResendInvitation(ctx, inv.ID, hash(i), resendMail(inv, i), t0)
				return err
			}
			_, err := s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(fmt.Sprintf("%s-dev%d", inv.ID, i))}, t0)
			return err
		})
		accepted, resent := -1, map[string]bool{}
		for i, err := range errs {
			switch {
			case err == nil && resends(i):
				resent[hash(i)] = true
			case err == nil && accepted >= 0:
				t.Fatalf("round %d: acceptances %d and %d both succeeded", r, accepted, i)
			case err == nil:
				accepted = i
			case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound) && !resends(i):
				// Lost: to an acceptance, or (an acceptance) to a resend.
			default:
				t.Errorf("round %d, racer %d: %v", r, i, err)
			}
		}
		got := mustGetInvitation(t, s, inv.ID)
		pending := 0
		for _, m := range mailOf(t, s, inv.ID) {
			if m.Status == store.MailPending {
				pending++
			}
		}
		switch {
		case accepted >= 0 && len(resent) > 0:
			t.Fatalf("round %d: acceptance %d and %d resends all succeeded", r, accepted, len(resent))
		case accepted >= 0:
			outcomes["accepted"]++
			if got.Status != store.InvitationAccepted || got.TokenHash != inv.TokenHash || pending != 0 {
				t.Errorf("round %d, acceptance won: invitation %s with %q, %d mails pending", r, got.Status, got.TokenHash, pending)
			}
		case len(resent) > 0:
			outcomes["resent"]++
			if got.Status != store.InvitationPending || !resent[got.TokenHash] || pending != 1 {
				t.Errorf("round %d, resends won: invitation %s with %q, %d mails pending; want pending, a winner's token, 1",
					r, got.Status, got.TokenHash, pending)
			}
		default:
			t.Fatalf("round %d: nobody succeeded", r)
		}
		for i := 0; i < racers; i += 2 {
			_, err := s.GetClient(ctx, fmt.Sprintf("%s-dev%d", inv.ID, i))
			if i == accepted {
				wantErr(t, "GetClient of the accepting winner", err, nil)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: losing acceptance %d created its client: %v", r, i, err)
			}
		}
	}
	t.Logf("outcomes of %d rounds: %v", rounds, outcomes)
}
