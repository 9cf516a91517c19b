package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Invitations of people into organizations (store.MemberInvitationStore),
// and the last-admin rule's changes (PutOrgMemberKeepAdmin,
// DeleteOrgMemberKeepAdmin).

// newMemberInvitation is a pending invitation id of email into orgID with
// role, created at t0 and expiring a week later, with the token hash
// "token-"+id and the mail "mail-"+id.
func newMemberInvitation(id, orgID, email, role string) *store.MemberInvitation {
	return &store.MemberInvitation{ID: id, OrgID: orgID, Email: email, Role: role, TokenHash: "token-" + id,
		InvitedBy: "admin", Status: store.InvitationPending, MailID: "mail-" + id, CreatedAt: t0, ExpiresAt: at(7 * 24 * time.Hour)}
}

// newMemberMail is the mail mailID to email, due at t0, with a link.
func newMemberMail(mailID, email string) *store.Mail {
	link := "https://id.example/invitations/members/lk_minv_" + mailID
	return &store.Mail{ID: mailID, Recipient: email, Subject: "Join", Body: "Open " + link, Link: link,
		Status: store.MailPending, NextAttemptAt: t0, CreatedAt: t0}
}

func mustCreateMemberInvitation(t *testing.T, s store.Store, inv *store.MemberInvitation) *store.MemberInvitation {
	t.Helper()
	if err := s.CreateMemberInvitation(t.Context(), inv, newMemberMail(inv.MailID, inv.Email)); err != nil {
		t.Fatalf("CreateMemberInvitation(%q): %v", inv.ID, err)
	}
	return inv
}

// claimed is the ids of the mail ClaimMail hands out at now.
func claimed(t *testing.T, s store.Store, now time.Time) map[string]*store.Mail {
	t.Helper()
	ms, err := s.ClaimMail(t.Context(), now, time.Minute, 100)
	wantErr(t, "ClaimMail", err, nil)
	got := map[string]*store.Mail{}
	for _, m := range ms {
		got[m.ID] = m
	}
	return got
}

func testMemberInvitations(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	mustCreateOrg(t, s, "globex")
	ada := mustCreateUser(t, s, "ada")
	bob := mustCreateUser(t, s, "bob")

	// Create: round trip, by id and token; the mail expires with it and
	// is claimed with its link.
	inv := mustCreateMemberInvitation(t, s, newMemberInvitation("inv1", o.ID, "ada@example.com", store.RoleAdmin))
	got, err := s.GetMemberInvitation(ctx, "inv1")
	wantErr(t, "GetMemberInvitation", err, nil)
	diff(t, "GetMemberInvitation", inv, got)
	got, err = s.GetMemberInvitationByToken(ctx, "token-inv1")
	wantErr(t, "GetMemberInvitationByToken", err, nil)
	diff(t, "GetMemberInvitationByToken", inv, got)
	_, err = s.GetMemberInvitation(ctx, "nope")
	wantErr(t, "GetMemberInvitation unknown", err, store.ErrNotFound)
	_, err = s.GetMemberInvitationByToken(ctx, "token-nope")
	wantErr(t, "GetMemberInvitationByToken unknown", err, store.ErrNotFound)
	ms := claimed(t, s, t0)
	if m := ms["mail-inv1"]; m == nil || m.Link != "https://id.example/invitations/members/lk_minv_mail-inv1" ||
		m.InvitationID != "" || !m.ExpiresAt.Equal(inv.ExpiresAt) {
		t.Fatalf("ClaimMail after CreateMemberInvitation = %+v", ms)
	}

	// Refused: a taken id or token hash, a missing organization, a mail
	// that is not the invitation's.
	dup := newMemberInvitation("inv1", o.ID, "x@example.com", store.RoleMember)
	dup.TokenHash, dup.MailID = "token-other", "mail-other"
	wantErr(t, "CreateMemberInvitation taken id", s.CreateMemberInvitation(ctx, dup, newMemberMail(dup.MailID, dup.Email)), store.ErrConflict)
	dup = newMemberInvitation("inv-dup", o.ID, "x@example.com", store.RoleMember)
	dup.TokenHash = "token-inv1"
	wantErr(t, "CreateMemberInvitation taken token", s.CreateMemberInvitation(ctx, dup, newMemberMail(dup.MailID, dup.Email)), store.ErrConflict)
	lost := newMemberInvitation("inv-lost", "no-such-org", "x@example.com", store.RoleMember)
	wantErr(t, "CreateMemberInvitation unknown organization", s.CreateMemberInvitation(ctx, lost, newMemberMail(lost.MailID, lost.Email)), store.ErrNotFound)
	odd := newMemberInvitation("inv-odd", o.ID, "x@example.com", store.RoleMember)
	wantErr(t, "CreateMemberInvitation without mail", s.CreateMemberInvitation(ctx, odd, nil), store.ErrInvalid)
	wantErr(t, "CreateMemberInvitation another mail", s.CreateMemberInvitation(ctx, odd, newMemberMail("mail-else", odd.Email)), store.ErrInvalid)
	bad := newMemberInvitation("inv-bad", o.ID, "x\x00@example.com", store.RoleMember)
	wantErr(t, "CreateMemberInvitation bad text", s.CreateMemberInvitation(ctx, bad, newMemberMail(bad.MailID, bad.Email)), store.ErrInvalid)
	if _, err := s.GetMemberInvitation(ctx, "inv-odd"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused invitation was stored: %v", err)
	}

	// List: newest first, one organization's.
	later := newMemberInvitation("inv2", o.ID, "bob@example.com", store.RoleMember)
	later.CreatedAt = at(time.Minute)
	mustCreateMemberInvitation(t, s, later)
	other := mustCreateMemberInvitation(t, s, newMemberInvitation("inv3", "globex", "bob@example.com", store.RoleMember))
	list, err := s.ListMemberInvitations(ctx, o.ID)
	wantErr(t, "ListMemberInvitations", err, nil)
	diff(t, "ListMemberInvitations", []*store.MemberInvitation{later, inv}, list)

	// Resend: a new token and mail; the old token is gone and its mail
	// cancelled.
	resent, err := s.ResendMemberInvitation(ctx, "inv1", "token-inv1b", newMemberMail("mail-inv1b", inv.Email), at(time.Hour))
	wantErr(t, "ResendMemberInvitation", err, nil)
	if resent.TokenHash != "token-inv1b" || resent.MailID != "mail-inv1b" || resent.Status != store.InvitationPending {
		t.Errorf("ResendMemberInvitation = %+v", resent)
	}
	_, err = s.GetMemberInvitationByToken(ctx, "token-inv1")
	wantErr(t, "the old token after the resend", err, store.ErrNotFound)
	_, err = s.AcceptMemberInvitation(ctx, "token-inv1", ada.ID, at(time.Hour))
	wantErr(t, "AcceptMemberInvitation with the old token", err, store.ErrNotFound)
	ms = claimed(t, s, at(2*time.Hour)) // past the first claim's lease
	if ms["mail-inv1"] != nil || ms["mail-inv1b"] == nil || !ms["mail-inv1b"].ExpiresAt.Equal(inv.ExpiresAt) {
		t.Errorf("ClaimMail after the resend = %v; want mail-inv1b alone of inv1's", ms)
	}
	_, err = s.ResendMemberInvitation(ctx, "nope", "token-x", newMemberMail("mail-x", "x@example.com"), at(time.Hour))
	wantErr(t, "ResendMemberInvitation unknown", err, store.ErrNotFound)
	_, err = s.ResendMemberInvitation(ctx, "inv1", "token-inv2", newMemberMail("mail-y", inv.Email), at(time.Hour))
	wantErr(t, "ResendMemberInvitation taken token", err, store.ErrConflict)
	_, err = s.ResendMemberInvitation(ctx, "inv1", "token-z", nil, at(time.Hour))
	wantErr(t, "ResendMemberInvitation without mail", err, store.ErrInvalid)
	_, err = s.ResendMemberInvitation(ctx, "inv1", "token-z", newMemberMail("mail-z", inv.Email), at(8*24*time.Hour))
	wantErr(t, "ResendMemberInvitation expired", err, store.ErrConflict)

	// Accept: the membership with the role, the mail cancelled; once.
	_, err = s.AcceptMemberInvitation(ctx, "token-inv1b", ada.ID, at(8*24*time.Hour))
	wantErr(t, "AcceptMemberInvitation expired", err, store.ErrConflict)
	_, err = s.AcceptMemberInvitation(ctx, "token-inv1b", "no-such-user", at(2*time.Hour))
	wantErr(t, "AcceptMemberInvitation by a missing user", err, store.ErrNotFound)
	if got, _ := s.GetMemberInvitation(ctx, "inv1"); got.Status != store.InvitationPending {
		t.Errorf("a failed acceptance left the invitation %s", got.Status)
	}
	acc, err := s.AcceptMemberInvitation(ctx, "token-inv1b", ada.ID, at(2*time.Hour))
	wantErr(t, "AcceptMemberInvitation", err, nil)
	if acc.Status != store.InvitationAccepted || acc.UserID != ada.ID || !acc.DecidedAt.Equal(at(2*time.Hour)) {
		t.Errorf("AcceptMemberInvitation = %+v", acc)
	}
	m, err := s.GetOrgMember(ctx, o.ID, ada.ID)
	wantErr(t, "GetOrgMember after the acceptance", err, nil)
	if m.Role != store.RoleAdmin || !m.CreatedAt.Equal(at(2*time.Hour)) {
		t.Errorf("the accepted membership = %+v", m)
	}
	_, err = s.AcceptMemberInvitation(ctx, "token-inv1b", ada.ID, at(2*time.Hour))
	wantErr(t, "AcceptMemberInvitation again", err, store.ErrConflict)
	_, err = s.AcceptMemberInvitation(ctx, "token-nope", ada.ID, at(2*time.Hour))
	wantErr(t, "AcceptMemberInvitation unknown", err, store.ErrNotFound)
	if ms := claimed(t, s, at(3*time.Hour)); ms["mail-inv1b"] != nil {
		t.Error("the accepted invitation's mail is still claimed")
	}
	_, err = s.RevokeMemberInvitation(ctx, "inv1", at(3*time.Hour))
	wantErr(t, "RevokeMemberInvitation accepted", err, store.ErrConflict)

	// An admin accepting an invitation as a member stays an admin.
	asMember := mustCreateMemberInvitation(t, s, newMemberInvitation("inv4", o.ID, "ada@example.com", store.RoleMember))
	_, err = s.AcceptMemberInvitation(ctx, asMember.TokenHash, ada.ID, at(time.Hour))
	wantErr(t, "AcceptMemberInvitation by an admin", err, nil)
	if m, _ := s.GetOrgMember(ctx, o.ID, ada.ID); m.Role != store.RoleAdmin {
		t.Errorf("an admin accepting a member's invitation became %s", m.Role)
	}

	// Revoke: pending (expired too) only; the mail is cancelled.
	rev, err := s.RevokeMemberInvitation(ctx, "inv2", at(9*24*time.Hour))
	wantErr(t, "RevokeMemberInvitation expired", err, nil)
	if rev.Status != store.InvitationRevoked || !rev.DecidedAt.Equal(at(9*24*time.Hour)) {
		t.Errorf("RevokeMemberInvitation = %+v", rev)
	}
	_, err = s.RevokeMemberInvitation(ctx, "inv2", at(9*24*time.Hour))
	wantErr(t, "RevokeMemberInvitation again", err, store.ErrConflict)
	_, err = s.RevokeMemberInvitation(ctx, "nope", t0)
	wantErr(t, "RevokeMemberInvitation unknown", err, store.ErrNotFound)
	_, err = s.AcceptMemberInvitation(ctx, "token-inv2", bob.ID, at(time.Hour))
	wantErr(t, "AcceptMemberInvitation revoked", err, store.ErrConflict)
	if _, err := s.GetOrgMember(ctx, o.ID, bob.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob joined with a revoked invitation: %v", err)
	}

	// Deleting an organization cancels its invitations' mail and deletes them.
	if ms := claimed(t, s, at(4*time.Hour)); ms["mail-inv3"] == nil {
		t.Fatal("globex's invitation mail is not claimed")
	}
	wantErr(t, "DeleteOrganization", s.DeleteOrganization(ctx, "globex"), nil)
	if ms := claimed(t, s, at(5*time.Hour)); ms["mail-inv3"] != nil {
		t.Error("the deleted organization's invitation mail is still claimed")
	}
	_, err = s.GetMemberInvitation(ctx, other.ID)
	wantErr(t, "GetMemberInvitation of a deleted organization", err, store.ErrNotFound)
}

// testConcurrentAcceptMemberInvitation: of acceptances racing for one
// invitation, by different users, exactly one wins, and only its user
// becomes a member.
func testConcurrentAcceptMemberInvitation(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := make([]*store.User, racers)
	for i := range racers {
		users[i] = mustCreateUser(t, s, fmt.Sprintf("u%02d", i))
	}
	for round := range rounds {
		o := mustCreateOrg(t, s, fmt.Sprintf("acme%d", round))
		inv := mustCreateMemberInvitation(t, s, newMemberInvitation(fmt.Sprintf("inv%d", round), o.ID, "x@example.com", store.RoleMember))
		errs := race(func(i int) error {
			_, err := s.AcceptMemberInvitation(ctx, inv.TokenHash, users[i].ID, at(time.Minute))
			return err
		})
		winner := oneWinner(t, "acceptance", "acceptances", errs)
		got, err := s.GetMemberInvitation(ctx, inv.ID)
		wantErr(t, "GetMemberInvitation", err, nil)
		if got.UserID != users[winner].ID {
			t.Errorf("round %d: the invitation names %s; the winner was %s", round, got.UserID, users[winner].ID)
		}
		ms, err := s.ListOrgMembers(ctx, o.ID)
		wantErr(t, "ListOrgMembers", err, nil)
		if len(ms) != 1 || ms[0].UserID != users[winner].ID || ms[0].Role != store.RoleMember {
			t.Errorf("round %d: members %+v; want the winner %s alone", round, ms, users[winner].ID)
		}
	}
}

// testLastAdmin: the …KeepAdmin changes refuse to leave an organization
// without an admin, and keep one when admins demote and remove each
// other at the same instant.
func testLastAdmin(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, "acme")
	put := func(userID, role string) {
		t.Helper()
		wantErr(t, "PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: o.ID, UserID: userID, Role: role, CreatedAt: t0}), nil)
	}
	admins := func() int {
		t.Helper()
		ms, err := s.ListOrgMembers(ctx, o.ID)
		wantErr(t, "ListOrgMembers", err, nil)
		n := 0
		for _, m := range ms {
			if m.Role == store.RoleAdmin {
				n++
			}
		}
		return n
	}
	for _, id := range []string{"ada", "bob", "cy"} {
		mustCreateUser(t, s, id)
	}
	put("ada", store.RoleAdmin)
	put("cy", store.RoleMember)

	// One admin: they can be neither demoted nor removed; a member can.
	wantErr(t, "demote the last admin", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "ada", Role: store.RoleMember}), store.ErrLastAdmin)
	wantErr(t, "remove the last admin", s.DeleteOrgMemberKeepAdmin(ctx, o.ID, "ada"), store.ErrLastAdmin)
	if !errors.Is(store.ErrLastAdmin, store.ErrConflict) {
		t.Error("ErrLastAdmin is not an ErrConflict")
	}
	wantErr(t, "make the last admin an admin again", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "ada", Role: store.RoleAdmin}), nil)
	wantErr(t, "add a member", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "bob", Role: store.RoleMember, CreatedAt: t0}), nil)
	wantErr(t, "remove a member", s.DeleteOrgMemberKeepAdmin(ctx, o.ID, "bob"), nil)
	wantErr(t, "remove a non-member", s.DeleteOrgMemberKeepAdmin(ctx, o.ID, "bob"), store.ErrNotFound)
	wantErr(t, "in a missing organization", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: "nope", UserID: "ada", Role: store.RoleMember}), store.ErrNotFound)
	wantErr(t, "a missing user", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "nobody", Role: store.RoleMember}), store.ErrNotFound)
	if m, _ := s.GetOrgMember(ctx, o.ID, "ada"); m == nil || m.Role != store.RoleAdmin {
		t.Fatalf("ada after the refusals: %+v", m)
	}

	// Two admins: one may go, then the other is the last.
	put("cy", store.RoleAdmin)
	wantErr(t, "demote one of two admins", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "cy", Role: store.RoleMember}), nil)
	wantErr(t, "then demote the other", s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: "ada", Role: store.RoleMember}), store.ErrLastAdmin)

	// The race: two admins demoting (or removing) each other at once.
	// Exactly one succeeds; one admin stays.
	for round := range rounds {
		put("ada", store.RoleAdmin)
		put("cy", store.RoleAdmin)
		pair := [2]string{"ada", "cy"}
		errs := make([]error, 2)
		start := make(chan struct{})
		done := make(chan int)
		for i := range 2 {
			go func() {
				<-start
				other := pair[1-i]
				if round%2 == 0 {
					errs[i] = s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: other, Role: store.RoleMember})
				} else {
					errs[i] = s.DeleteOrgMemberKeepAdmin(ctx, o.ID, other)
				}
				done <- i
			}()
		}
		close(start)
		<-done
		<-done
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrLastAdmin):
			default:
				t.Errorf("round %d, %s: %v", round, pair[i], err)
			}
		}
		if n := admins(); won != 1 || n != 1 {
			t.Fatalf("round %d: %d of 2 admins demoting each other succeeded, %d admins left; want 1 and 1", round, won, n)
		}
	}

	// Many admins, each demoting the next at once: at least one stays.
	ids := make([]string, racers)
	for i := range racers {
		ids[i] = fmt.Sprintf("admin%02d", i)
		mustCreateUser(t, s, ids[i])
		put(ids[i], store.RoleAdmin)
	}
	wantErr(t, "DeleteOrgMember", s.DeleteOrgMember(ctx, o.ID, "ada"), nil)
	wantErr(t, "DeleteOrgMember", s.DeleteOrgMember(ctx, o.ID, "cy"), nil)
	errs := race(func(i int) error {
		return s.PutOrgMemberKeepAdmin(ctx, &store.OrgMember{OrgID: o.ID, UserID: ids[(i+1)%racers], Role: store.RoleMember})
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrLastAdmin):
			t.Errorf("demotion %d: %v", i, err)
		}
	}
	if n := admins(); n != 1 || won != racers-1 {
		t.Errorf("%d admins demoting each other: %d succeeded, %d admins left; want %d and 1", racers, won, n, racers-1)
	}
}
