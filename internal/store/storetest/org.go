package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testOrgs runs the store.OrgStore cases. They share one store, so each
// names its records with its own prefix.
func testOrgs(t *testing.T, s store.Store) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, s store.Store, p string)
	}{
		{"Organizations", testOrganizations},
		{"ClientOrgID", testClientOrgID},
		{"OrgClients", testOrgClients},
		{"Members", testOrgMembers},
		{"ClientGroups", testClientGroups},
		{"Invitations", testInvitations},
		{"AcceptNewClient", testAcceptNewClient},
		{"AcceptExistingClient", testAcceptExistingClient},
		{"DeleteGroupRevokes", testDeleteGroupRevokes},
		{"Mail", testMail},
		{"OddKeys", testOrgOddKeys},
		{"InvalidText", testOrgInvalidText},
		{"ConcurrentAccept", testConcurrentAccept},
		{"ConcurrentClaimMail", testConcurrentClaimMail},
		{"QueryInvitations", testQueryInvitations},
		{"ResendInvitation", testResendInvitation},
		{"ConcurrentResendAccept", testConcurrentResendAccept},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, s, tt.name+"-") })
	}
}

func newOrg(id string) *store.Organization {
	return &store.Organization{ID: id, Name: "Org " + id, AppLink: "com.example.app://invitation", CreatedAt: t0, UpdatedAt: t0}
}

func mustCreateOrg(t *testing.T, s store.Store, id string) *store.Organization {
	t.Helper()
	o := newOrg(id)
	if err := s.CreateOrganization(t.Context(), o); err != nil {
		t.Fatalf("CreateOrganization(%q): %v", id, err)
	}
	return o
}

func newGroup(id, orgID string, scopes ...string) *store.ClientGroup {
	return &store.ClientGroup{ID: id, OrgID: orgID, Name: "Group " + id, Description: "Devices of " + id,
		Scopes: scopes, CreatedAt: t0, UpdatedAt: t0}
}

func mustCreateGroup(t *testing.T, s store.Store, id, orgID string, scopes ...string) *store.ClientGroup {
	t.Helper()
	g := newGroup(id, orgID, scopes...)
	if err := s.CreateClientGroup(t.Context(), g); err != nil {
		t.Fatalf("CreateClientGroup(%q): %v", id, err)
	}
	return g
}

// newInvitation is a pending invitation id into groups of orgID, created at
// t0 and expiring a week later, with the token hash "token-"+id.
func newInvitation(id, orgID string, groups ...string) *store.Invitation {
	return &store.Invitation{
		ID: id, TokenHash: "token-" + id, OrgID: orgID, GroupIDs: groups,
		Email: "devices@example.com", Message: "Welcome,\nplease connect.", DeviceName: "Sensor",
		AllowRename: true, InvitedBy: "admin", Status: store.InvitationPending,
		CreatedAt: t0, ExpiresAt: at(7 * 24 * time.Hour),
	}
}

// newMail is inv's email, due at t0.
func newMail(inv *store.Invitation) *store.Mail {
	return &store.Mail{
		ID: "mail-" + inv.ID, InvitationID: inv.ID, Recipient: inv.Email, Subject: "You are invited",
		Body: "Open https://id.example/invitations/lk_inv_secret", Link: "https://id.example/invitations/lk_inv_secret",
		Status: store.MailPending, NextAttemptAt: t0, CreatedAt: t0,
	}
}

func mustCreateInvitation(t *testing.T, s store.Store, inv *store.Invitation, withMail bool) *store.Invitation {
	t.Helper()
	var m *store.Mail
	if withMail {
		m = newMail(inv)
	}
	if err := s.CreateInvitation(t.Context(), inv, m); err != nil {
		t.Fatalf("CreateInvitation(%q): %v", inv.ID, err)
	}
	return inv
}

func mustGetInvitation(t *testing.T, s store.Store, id string) *store.Invitation {
	t.Helper()
	inv, err := s.GetInvitation(t.Context(), id)
	if err != nil {
		t.Fatalf("GetInvitation(%q): %v", id, err)
	}
	return inv
}

// newDeviceClient is what accepting an invitation creates.
func newDeviceClient(id string) *store.Client {
	return &store.Client{
		ID: id, Name: "Device " + id, SecretHash: "5e" + id, AuthMethod: store.AuthClientSecretBasic,
		GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: t0, UpdatedAt: t0,
	}
}

// mailOf returns the mails of invitation id.
func mailOf(t *testing.T, s store.Store, id string) []*store.Mail {
	t.Helper()
	ms, err := s.ListMail(t.Context(), id)
	if err != nil {
		t.Fatalf("ListMail(%q): %v", id, err)
	}
	return ms
}

// wantMailCancelled checks that every mail of invitation id is cancelled and erased.
func wantMailCancelled(t *testing.T, s store.Store, id string) {
	t.Helper()
	ms := mailOf(t, s, id)
	if len(ms) == 0 {
		t.Fatalf("invitation %s has no mail", id)
	}
	for _, m := range ms {
		if m.Status != store.MailCancelled || m.Body != "" || m.Link != "" {
			t.Errorf("mail %s: status %q, body %q, link %q; want cancelled and erased", m.ID, m.Status, m.Body, m.Link)
		}
	}
}

func testOrganizations(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	b, a := newOrg(p+"b"), newOrg(p+"a")
	a.AppLink = ""
	for _, o := range []*store.Organization{b, a} {
		wantErr(t, "CreateOrganization", s.CreateOrganization(ctx, o), nil)
	}
	got, err := s.GetOrganization(ctx, a.ID)
	wantErr(t, "GetOrganization", err, nil)
	diff(t, "GetOrganization", a, got)

	all, err := s.ListOrganizations(ctx)
	wantErr(t, "ListOrganizations", err, nil)
	var mine []*store.Organization
	for _, o := range all {
		if o.ID == a.ID || o.ID == b.ID {
			mine = append(mine, o)
		}
	}
	diff(t, "ListOrganizations (ordered by id)", []*store.Organization{a, b}, mine)

	wantErr(t, "CreateOrganization with a taken id", s.CreateOrganization(ctx, newOrg(a.ID)), store.ErrConflict)
	_, err = s.GetOrganization(ctx, p+"nope")
	wantErr(t, "GetOrganization(missing)", err, store.ErrNotFound)
	wantErr(t, "UpdateOrganization(missing)", s.UpdateOrganization(ctx, newOrg(p+"nope")), store.ErrNotFound)
	wantErr(t, "DeleteOrganization(missing)", s.DeleteOrganization(ctx, p+"nope"), store.ErrNotFound)

	changed := *a
	changed.Name, changed.AppLink, changed.UpdatedAt = "Renamed", "myapp://join", at(time.Hour)
	changed.CreatedAt = at(time.Hour) // ignored
	wantErr(t, "UpdateOrganization", s.UpdateOrganization(ctx, &changed), nil)
	got, err = s.GetOrganization(ctx, a.ID)
	wantErr(t, "GetOrganization after update", err, nil)
	want := changed
	want.CreatedAt = t0
	diff(t, "organization after UpdateOrganization", &want, got)

	// Deleting takes its members, groups and invitations with it ...
	mustCreateUser(t, s, p+"ada")
	wantErr(t, "PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: a.ID, UserID: p + "ada", Role: store.RoleAdmin}), nil)
	g := mustCreateGroup(t, s, p+"g", a.ID, "read")
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", a.ID, g.ID), true)
	wantErr(t, "DeleteOrganization", s.DeleteOrganization(ctx, a.ID), nil)
	_, err = s.GetOrganization(ctx, a.ID)
	wantErr(t, "GetOrganization after delete", err, store.ErrNotFound)
	_, err = s.GetClientGroup(ctx, g.ID)
	wantErr(t, "GetClientGroup after its organization was deleted", err, store.ErrNotFound)
	_, err = s.GetInvitation(ctx, inv.ID)
	wantErr(t, "GetInvitation after its organization was deleted", err, store.ErrNotFound)
	_, err = s.GetOrgMember(ctx, a.ID, p+"ada")
	wantErr(t, "GetOrgMember after its organization was deleted", err, store.ErrNotFound)
	if ms := mailOf(t, s, inv.ID); len(ms) != 0 {
		t.Errorf("mail of a deleted organization's invitation: %d left", len(ms))
	}

	// ... but not while it owns a client.
	c := newClient(p+"device", false)
	c.OrgID = b.ID
	wantErr(t, "CreateClient owned by b", s.CreateClient(ctx, c), nil)
	wantErr(t, "DeleteOrganization owning a client", s.DeleteOrganization(ctx, b.ID), store.ErrConflict)
	if _, err := s.GetOrganization(ctx, b.ID); err != nil {
		t.Errorf("organization after a refused delete: %v", err)
	}
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, c.ID), nil)
	wantErr(t, "DeleteOrganization once its client is gone", s.DeleteOrganization(ctx, b.ID), nil)
}

// testClientOrgID: a client's owning organization round-trips through
// create, get, list and update, and must exist.
func testClientOrgID(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	c := newClient(p+"device", false)
	c.OrgID = o.ID
	wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
	got := mustGetClient(t, s, c.ID)
	if got.OrgID != o.ID {
		t.Errorf("GetClient: OrgID = %q, want %q", got.OrgID, o.ID)
	}
	all, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	for _, lc := range all {
		if lc.ID == c.ID && lc.OrgID != o.ID {
			t.Errorf("ListClients: OrgID = %q, want %q", lc.OrgID, o.ID)
		}
	}
	got.Name = "Renamed"
	wantErr(t, "UpdateClient keeping the owner", s.UpdateClient(ctx, got), nil)
	if again := mustGetClient(t, s, c.ID); again.OrgID != o.ID || again.Name != "Renamed" {
		t.Errorf("after UpdateClient: OrgID %q name %q", again.OrgID, again.Name)
	}
	got.OrgID = ""
	wantErr(t, "UpdateClient to no owner", s.UpdateClient(ctx, got), nil)
	if again := mustGetClient(t, s, c.ID); again.OrgID != "" {
		t.Errorf("after UpdateClient to no owner: OrgID %q", again.OrgID)
	}
	stray := newClient(p+"stray", false)
	stray.OrgID = p + "no-such-org"
	wantErr(t, "CreateClient owned by a missing organization", s.CreateClient(ctx, stray), store.ErrNotFound)
}

// testOrgClients: an organization's clients a page at a time, by id,
// searched in the id and name without case, LIKE's wildcards taken
// literally; another organization's and no organization's are not listed.
func testOrgClients(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	other := mustCreateOrg(t, s, p+"other")
	mk := func(id, name, orgID string) *store.Client {
		c := newClient(p+id, false)
		c.Name, c.OrgID = name, orgID
		wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
		return c
	}
	a1 := mk("a1", "Boiler Sensor", o.ID)
	a2 := mk("a2", "Kitchen 50%_x", o.ID)
	b3 := mk("b3", "Other", o.ID)
	mk("c4", "Boiler sensor of another", other.ID)
	mk("d5", "Boiler sensor of nobody", "")
	ids := func(cs []*store.Client) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		q    store.OrgClientQuery
		want []string
	}{
		{"all", store.OrgClientQuery{OrgID: o.ID, Limit: 10}, []string{a1.ID, a2.ID, b3.ID}},
		{"first page", store.OrgClientQuery{OrgID: o.ID, Limit: 2}, []string{a1.ID, a2.ID}},
		{"next page", store.OrgClientQuery{OrgID: o.ID, AfterID: a2.ID, Limit: 2}, []string{b3.ID}},
		{"by name, without case", store.OrgClientQuery{OrgID: o.ID, Search: "SENSOR", Limit: 10}, []string{a1.ID}},
		{"by id", store.OrgClientQuery{OrgID: o.ID, Search: "b3", Limit: 10}, []string{b3.ID}},
		{"wildcards are literal", store.OrgClientQuery{OrgID: o.ID, Search: "%_x", Limit: 10}, []string{a2.ID}},
		{"an underscore is literal", store.OrgClientQuery{OrgID: o.ID, Search: "n 5", Limit: 10}, []string{a2.ID}},
		{"no match", store.OrgClientQuery{OrgID: o.ID, Search: "_5", Limit: 10}, nil},
		{"searched and paged", store.OrgClientQuery{OrgID: o.ID, Search: "e", AfterID: a1.ID, Limit: 10}, []string{a2.ID, b3.ID}},
		{"another organization", store.OrgClientQuery{OrgID: other.ID, Limit: 10}, []string{p + "c4"}},
		{"no such organization", store.OrgClientQuery{OrgID: p + "nope", Limit: 10}, nil},
	} {
		got, err := s.ListOrgClients(ctx, tt.q)
		wantErr(t, "ListOrgClients "+tt.name, err, nil)
		diff(t, "ListOrgClients "+tt.name, tt.want, ids(got))
	}
	_, err := s.ListOrgClients(ctx, store.OrgClientQuery{OrgID: o.ID})
	wantErr(t, "ListOrgClients without a limit", err, store.ErrInvalid)
}

func testOrgMembers(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	mustCreateUser(t, s, p+"bob")
	mustCreateUser(t, s, p+"ada")
	bob := &store.OrgMember{OrgID: o.ID, UserID: p + "bob", Role: store.RoleMember, CreatedAt: t0}
	ada := &store.OrgMember{OrgID: o.ID, UserID: p + "ada", Role: store.RoleAdmin, CreatedAt: at(time.Minute)}
	for _, m := range []*store.OrgMember{bob, ada} {
		wantErr(t, "PutOrgMember", s.PutOrgMember(ctx, m), nil)
	}
	got, err := s.GetOrgMember(ctx, o.ID, p+"ada")
	wantErr(t, "GetOrgMember", err, nil)
	diff(t, "GetOrgMember", ada, got)

	// A second put changes the role and keeps when the member joined.
	promoted := *bob
	promoted.Role, promoted.CreatedAt = store.RoleAdmin, at(time.Hour)
	wantErr(t, "PutOrgMember (change role)", s.PutOrgMember(ctx, &promoted), nil)
	wantBob := *bob
	wantBob.Role = store.RoleAdmin
	list, err := s.ListOrgMembers(ctx, o.ID)
	wantErr(t, "ListOrgMembers", err, nil)
	diff(t, "ListOrgMembers (ordered by user id)", []*store.OrgMember{ada, &wantBob}, list)

	// A user's memberships, across organizations, ordered by organization.
	o2 := mustCreateOrg(t, s, p+"another")
	adaThere := &store.OrgMember{OrgID: o2.ID, UserID: p + "ada", Role: store.RoleMember, CreatedAt: t0}
	wantErr(t, "PutOrgMember (a second organization)", s.PutOrgMember(ctx, adaThere), nil)
	mine, err := s.ListUserMemberships(ctx, p+"ada")
	wantErr(t, "ListUserMemberships", err, nil)
	want := []*store.OrgMember{adaThere, ada}
	if o.ID < o2.ID {
		want = []*store.OrgMember{ada, adaThere}
	}
	diff(t, "ListUserMemberships (ordered by organization id)", want, mine)
	none, err := s.ListUserMemberships(ctx, p+"nobody")
	wantErr(t, "ListUserMemberships(no memberships)", err, nil)
	diff(t, "ListUserMemberships(no memberships)", []*store.OrgMember(nil), none)

	for _, tt := range []struct {
		name string
		m    *store.OrgMember
	}{
		{"missing organization", &store.OrgMember{OrgID: p + "nope", UserID: p + "ada", Role: store.RoleAdmin}},
		{"missing user", &store.OrgMember{OrgID: o.ID, UserID: p + "nobody", Role: store.RoleAdmin}},
	} {
		wantErr(t, "PutOrgMember, "+tt.name, s.PutOrgMember(ctx, tt.m), store.ErrNotFound)
	}
	_, err = s.GetOrgMember(ctx, o.ID, p+"nobody")
	wantErr(t, "GetOrgMember(not a member)", err, store.ErrNotFound)
	wantErr(t, "DeleteOrgMember", s.DeleteOrgMember(ctx, o.ID, p+"bob"), nil)
	wantErr(t, "DeleteOrgMember again", s.DeleteOrgMember(ctx, o.ID, p+"bob"), store.ErrNotFound)
	// Deleting a user ends their memberships.
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, p+"ada"), nil)
	list, err = s.ListOrgMembers(ctx, o.ID)
	wantErr(t, "ListOrgMembers after deletes", err, nil)
	diff(t, "ListOrgMembers after deletes", []*store.OrgMember(nil), list)
}

func testClientGroups(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	other := mustCreateOrg(t, s, p+"other")
	sensors := newGroup(p+"g1", o.ID, "telemetry:write", "config:read")
	sensors.Name = "Sensors"
	cameras := newGroup(p+"g2", o.ID)
	cameras.Name = "Cameras"
	for _, g := range []*store.ClientGroup{sensors, cameras} {
		wantErr(t, "CreateClientGroup", s.CreateClientGroup(ctx, g), nil)
	}
	got, err := s.GetClientGroup(ctx, sensors.ID)
	wantErr(t, "GetClientGroup", err, nil)
	diff(t, "GetClientGroup", sensors, got)
	list, err := s.ListClientGroups(ctx, o.ID)
	wantErr(t, "ListClientGroups", err, nil)
	diff(t, "ListClientGroups (ordered by name)", []*store.ClientGroup{cameras, sensors}, list)

	sameName := newGroup(p+"g3", o.ID)
	sameName.Name = "Sensors"
	wantErr(t, "CreateClientGroup with a name taken in the organization", s.CreateClientGroup(ctx, sameName), store.ErrConflict)
	sameName.OrgID = other.ID
	wantErr(t, "CreateClientGroup with that name in another organization", s.CreateClientGroup(ctx, sameName), nil)
	wantErr(t, "CreateClientGroup with a taken id", s.CreateClientGroup(ctx, newGroup(sensors.ID, o.ID)), store.ErrConflict)
	wantErr(t, "CreateClientGroup in a missing organization", s.CreateClientGroup(ctx, newGroup(p+"g4", p+"nope")), store.ErrNotFound)
	_, err = s.GetClientGroup(ctx, p+"nope")
	wantErr(t, "GetClientGroup(missing)", err, store.ErrNotFound)

	changed := *cameras
	changed.Name, changed.Description, changed.Scopes, changed.UpdatedAt = "Doorbells", "Front doors", []string{"video:write"}, at(time.Hour)
	changed.CreatedAt = at(time.Hour) // ignored
	wantErr(t, "UpdateClientGroup", s.UpdateClientGroup(ctx, &changed), nil)
	want := changed
	want.CreatedAt = t0
	got, err = s.GetClientGroup(ctx, cameras.ID)
	wantErr(t, "GetClientGroup after update", err, nil)
	diff(t, "group after UpdateClientGroup", &want, got)
	changed.Name = "Sensors"
	wantErr(t, "UpdateClientGroup to a taken name", s.UpdateClientGroup(ctx, &changed), store.ErrConflict)
	wantErr(t, "UpdateClientGroup(missing)", s.UpdateClientGroup(ctx, newGroup(p+"nope", o.ID)), store.ErrNotFound)

	// Members come only by invitation; they can be listed and removed.
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, sensors.ID, cameras.ID), false)
	_, err = s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, t0)
	wantErr(t, "AcceptInvitation", err, nil)
	ids, err := s.ListGroupClients(ctx, sensors.ID)
	wantErr(t, "ListGroupClients", err, nil)
	diff(t, "ListGroupClients", []string{p + "dev"}, ids)
	of, err := s.ListClientGroupsOf(ctx, p+"dev")
	wantErr(t, "ListClientGroupsOf", err, nil)
	diff(t, "ListClientGroupsOf (ordered by name)", []*store.ClientGroup{&want, sensors}, of)
	wantErr(t, "RemoveGroupClient", s.RemoveGroupClient(ctx, sensors.ID, p+"dev"), nil)
	wantErr(t, "RemoveGroupClient again", s.RemoveGroupClient(ctx, sensors.ID, p+"dev"), store.ErrNotFound)
	of, err = s.ListClientGroupsOf(ctx, p+"dev")
	wantErr(t, "ListClientGroupsOf after removal", err, nil)
	diff(t, "ListClientGroupsOf after removal", []*store.ClientGroup{&want}, of)

	// AddGroupClient (an import's and an admin's way back in) takes only a
	// client of the group's organization; again, it changes nothing.
	wantErr(t, "AddGroupClient", s.AddGroupClient(ctx, sensors.ID, p+"dev", t0), nil)
	wantErr(t, "AddGroupClient again", s.AddGroupClient(ctx, sensors.ID, p+"dev", t0), nil)
	ids, err = s.ListGroupClients(ctx, sensors.ID)
	wantErr(t, "ListGroupClients after AddGroupClient", err, nil)
	diff(t, "ListGroupClients after AddGroupClient", []string{p + "dev"}, ids)
	wantErr(t, "CreateClient (no organization)", s.CreateClient(ctx, newDeviceClient(p+"loose")), nil)
	wantErr(t, "AddGroupClient of a client of no organization", s.AddGroupClient(ctx, sensors.ID, p+"loose", t0), store.ErrConflict)
	wantErr(t, "AddGroupClient of a missing client", s.AddGroupClient(ctx, sensors.ID, p+"nope", t0), store.ErrNotFound)
	wantErr(t, "AddGroupClient into a missing group", s.AddGroupClient(ctx, p+"nope", p+"dev", t0), store.ErrNotFound)
	wantErr(t, "RemoveGroupClient after AddGroupClient", s.RemoveGroupClient(ctx, sensors.ID, p+"dev"), nil)

	wantErr(t, "DeleteClientGroup", s.DeleteClientGroup(ctx, cameras.ID, t0), nil)
	wantErr(t, "DeleteClientGroup again", s.DeleteClientGroup(ctx, cameras.ID, t0), store.ErrNotFound)
	of, err = s.ListClientGroupsOf(ctx, p+"dev")
	wantErr(t, "ListClientGroupsOf after the group was deleted", err, nil)
	diff(t, "ListClientGroupsOf after the group was deleted", []*store.ClientGroup(nil), of)
	// Deleting a client ends its memberships.
	inv2 := mustCreateInvitation(t, s, newInvitation(p+"inv2", o.ID, sensors.ID), false)
	_, err = s.AcceptInvitation(ctx, inv2.TokenHash, &store.Acceptance{ClientID: p + "dev"}, t0)
	wantErr(t, "AcceptInvitation by the existing client", err, nil)
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, p+"dev"), nil)
	ids, err = s.ListGroupClients(ctx, sensors.ID)
	wantErr(t, "ListGroupClients after the client was deleted", err, nil)
	diff(t, "ListGroupClients after the client was deleted", []string(nil), ids)
}

func testInvitations(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	older := newInvitation(p+"older", o.ID, g.ID)
	older.ExistingOnly, older.RestrictClientID, older.AllowRename, older.AppLink = true, "some-client", false, "other://x"
	newer := newInvitation(p+"newer", o.ID, g.ID)
	newer.CreatedAt = at(time.Minute)
	mustCreateInvitation(t, s, older, true)
	mustCreateInvitation(t, s, newer, false)

	got := mustGetInvitation(t, s, older.ID)
	diff(t, "GetInvitation", older, got)
	got, err := s.GetInvitationByToken(ctx, newer.TokenHash)
	wantErr(t, "GetInvitationByToken", err, nil)
	diff(t, "GetInvitationByToken", newer, got)
	list, err := s.ListInvitations(ctx, o.ID)
	wantErr(t, "ListInvitations", err, nil)
	diff(t, "ListInvitations (newest first)", []*store.Invitation{newer, older}, list)
	diff(t, "ListMail", []*store.Mail{newMail(older)}, mailOf(t, s, older.ID))

	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"create with a taken id", s.CreateInvitation(ctx, newInvitation(older.ID, o.ID), nil), store.ErrConflict},
		{"create with a taken token hash", func() error {
			i := newInvitation(p+"x", o.ID)
			i.TokenHash = older.TokenHash
			return s.CreateInvitation(ctx, i, nil)
		}(), store.ErrConflict},
		{"create in a missing organization", s.CreateInvitation(ctx, newInvitation(p+"y", p+"nope"), nil), store.ErrNotFound},
		{"get a missing invitation", lookupErr(s.GetInvitation(ctx, p+"nope")), store.ErrNotFound},
		{"get by an unknown token", lookupErr(s.GetInvitationByToken(ctx, "token-"+p+"nope")), store.ErrNotFound},
		{"revoke a missing invitation", lookupErr(s.RevokeInvitation(ctx, p+"nope", t0)), store.ErrNotFound},
		{"decline an unknown token", lookupErr(s.DeclineInvitation(ctx, "token-"+p+"nope", t0)), store.ErrNotFound},
	} {
		wantErr(t, tt.name, tt.err, tt.want)
	}
	// A failed create wrote neither the invitation nor its mail.
	dup := newInvitation(p+"dup", o.ID)
	dup.TokenHash = older.TokenHash
	wantErr(t, "create with a taken token hash and a mail", s.CreateInvitation(ctx, dup, newMail(dup)), store.ErrConflict)
	if ms := mailOf(t, s, dup.ID); len(ms) != 0 {
		t.Errorf("a refused invitation left %d mails", len(ms))
	}

	// Revoke: pending to revoked, mail cancelled and erased; only once.
	revoked, err := s.RevokeInvitation(ctx, older.ID, at(time.Hour))
	wantErr(t, "RevokeInvitation", err, nil)
	want := *older
	want.Status, want.DecidedAt = store.InvitationRevoked, at(time.Hour)
	diff(t, "revoked invitation", &want, revoked)
	diff(t, "stored revoked invitation", &want, mustGetInvitation(t, s, older.ID))
	wantMailCancelled(t, s, older.ID)
	_, err = s.RevokeInvitation(ctx, older.ID, at(time.Hour))
	wantErr(t, "RevokeInvitation again", err, store.ErrConflict)
	_, err = s.DeclineInvitation(ctx, older.TokenHash, at(time.Hour))
	wantErr(t, "DeclineInvitation of a revoked one", err, store.ErrConflict)

	// Decline: only while pending and unexpired.
	_, err = s.DeclineInvitation(ctx, newer.TokenHash, newer.ExpiresAt)
	wantErr(t, "DeclineInvitation at its expiry", err, store.ErrConflict)
	declined, err := s.DeclineInvitation(ctx, newer.TokenHash, at(2*time.Hour))
	wantErr(t, "DeclineInvitation", err, nil)
	want = *newer
	want.Status, want.DecidedAt = store.InvitationDeclined, at(2*time.Hour)
	diff(t, "declined invitation", &want, declined)
	_, err = s.DeclineInvitation(ctx, newer.TokenHash, at(2*time.Hour))
	wantErr(t, "DeclineInvitation again", err, store.ErrConflict)
	_, err = s.AcceptInvitation(ctx, newer.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, at(2*time.Hour))
	wantErr(t, "AcceptInvitation of a declined one", err, store.ErrConflict)
	_, err = s.RevokeInvitation(ctx, newer.ID, at(2*time.Hour))
	wantErr(t, "RevokeInvitation of a declined one", err, store.ErrConflict)

	// An expired invitation that is still pending can be revoked.
	expired := mustCreateInvitation(t, s, newInvitation(p+"expired", o.ID, g.ID), false)
	if _, err := s.RevokeInvitation(ctx, expired.ID, at(30*24*time.Hour)); err != nil {
		t.Errorf("RevokeInvitation of an expired pending one: %v", err)
	}
}

func testAcceptNewClient(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g1 := mustCreateGroup(t, s, p+"g1", o.ID, "read")
	g2 := mustCreateGroup(t, s, p+"g2", o.ID, "write")
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, g1.ID, g2.ID), true)

	_, err := s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, inv.ExpiresAt)
	wantErr(t, "AcceptInvitation at its expiry", err, store.ErrConflict)
	_, err = s.AcceptInvitation(ctx, "token-"+p+"nope", &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, t0)
	wantErr(t, "AcceptInvitation of an unknown token", err, store.ErrNotFound)
	if _, err := s.GetClient(ctx, p+"dev"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused acceptance created its client: %v", err)
	}

	c := newDeviceClient(p + "dev")
	got, err := s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: c}, at(time.Hour))
	wantErr(t, "AcceptInvitation", err, nil)
	want := *inv
	want.Status, want.DecidedAt, want.ClientID = store.InvitationAccepted, at(time.Hour), c.ID
	diff(t, "accepted invitation", &want, got)
	diff(t, "stored accepted invitation", &want, mustGetInvitation(t, s, inv.ID))

	stored := mustGetClient(t, s, c.ID)
	if stored.OrgID != o.ID || stored.SecretHash != c.SecretHash || stored.Name != c.Name ||
		!slices.Equal(stored.GrantTypes, c.GrantTypes) || stored.AuthMethod != c.AuthMethod {
		t.Errorf("new client = %+v; want %+v owned by %s", stored, c, o.ID)
	}
	of, err := s.ListClientGroupsOf(ctx, c.ID)
	wantErr(t, "ListClientGroupsOf", err, nil)
	diff(t, "groups of the new client", []*store.ClientGroup{g1, g2}, of)
	wantMailCancelled(t, s, inv.ID)

	// Used: a second acceptance changes nothing.
	_, err = s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev2")}, at(time.Hour))
	wantErr(t, "AcceptInvitation again", err, store.ErrConflict)
	if _, err := s.GetClient(ctx, p+"dev2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second acceptance created a client: %v", err)
	}
	// A new client whose id is taken rolls the acceptance back.
	inv2 := mustCreateInvitation(t, s, newInvitation(p+"inv2", o.ID, g1.ID), false)
	_, err = s.AcceptInvitation(ctx, inv2.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, at(time.Hour))
	wantErr(t, "AcceptInvitation creating a taken client id", err, store.ErrConflict)
	diff(t, "invitation after a failed acceptance", inv2, mustGetInvitation(t, s, inv2.ID))
}

func testAcceptExistingClient(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	other := mustCreateOrg(t, s, p+"other")
	g1 := mustCreateGroup(t, s, p+"g1", o.ID, "read")
	g2 := mustCreateGroup(t, s, p+"g2", o.ID, "write")

	// A client of no organization is taken into this one and renamed.
	free := newDeviceClient(p + "free")
	wantErr(t, "CreateClient", s.CreateClient(ctx, free), nil)
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, g1.ID), true)
	got, err := s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{ClientID: free.ID, Rename: "Boiler room"}, at(time.Minute))
	wantErr(t, "AcceptInvitation by a client of no organization", err, nil)
	if got.ClientID != free.ID || got.Status != store.InvitationAccepted {
		t.Errorf("accepted invitation: client %q status %q", got.ClientID, got.Status)
	}
	c := mustGetClient(t, s, free.ID)
	if c.OrgID != o.ID || c.Name != "Boiler room" || c.SecretHash != free.SecretHash || !c.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("client after acceptance: org %q name %q updated %v", c.OrgID, c.Name, c.UpdatedAt)
	}
	wantMailCancelled(t, s, inv.ID)

	// Joining a second group, without a new name, keeps the name; a group
	// it is in already is no error.
	inv2 := mustCreateInvitation(t, s, newInvitation(p+"inv2", o.ID, g1.ID, g2.ID), false)
	_, err = s.AcceptInvitation(ctx, inv2.TokenHash, &store.Acceptance{ClientID: free.ID}, at(time.Minute))
	wantErr(t, "AcceptInvitation into a second group", err, nil)
	if c := mustGetClient(t, s, free.ID); c.Name != "Boiler room" {
		t.Errorf("name after an acceptance without one = %q", c.Name)
	}
	of, err := s.ListClientGroupsOf(ctx, free.ID)
	wantErr(t, "ListClientGroupsOf", err, nil)
	diff(t, "groups after two acceptances", []*store.ClientGroup{g1, g2}, of)

	// A client of another organization cannot join: nothing changes.
	foreign := newDeviceClient(p + "foreign")
	foreign.OrgID = other.ID
	wantErr(t, "CreateClient", s.CreateClient(ctx, foreign), nil)
	inv3 := mustCreateInvitation(t, s, newInvitation(p+"inv3", o.ID, g1.ID), true)
	_, err = s.AcceptInvitation(ctx, inv3.TokenHash, &store.Acceptance{ClientID: foreign.ID, Rename: "Mine now"}, at(time.Minute))
	wantErr(t, "AcceptInvitation by another organization's client", err, store.ErrConflict)
	_, err = s.AcceptInvitation(ctx, inv3.TokenHash, &store.Acceptance{ClientID: p + "nobody"}, at(time.Minute))
	wantErr(t, "AcceptInvitation by a missing client", err, store.ErrNotFound)
	diff(t, "invitation after refused acceptances", inv3, mustGetInvitation(t, s, inv3.ID))
	diff(t, "mail after refused acceptances", []*store.Mail{newMail(inv3)}, mailOf(t, s, inv3.ID))
	if c := mustGetClient(t, s, foreign.ID); c.OrgID != other.ID || c.Name != foreign.Name {
		t.Errorf("foreign client after a refused acceptance: org %q name %q", c.OrgID, c.Name)
	}
	of, err = s.ListClientGroupsOf(ctx, foreign.ID)
	wantErr(t, "ListClientGroupsOf", err, nil)
	diff(t, "groups of the foreign client", []*store.ClientGroup(nil), of)
}

// testDeleteGroupRevokes: deleting a group revokes the pending invitations
// into it (and cancels their mail), and leaves the others alone
// (docs/security.md INV-09).
func testDeleteGroupRevokes(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g1 := mustCreateGroup(t, s, p+"g1", o.ID, "read")
	g2 := mustCreateGroup(t, s, p+"g2", o.ID, "write")
	both := mustCreateInvitation(t, s, newInvitation(p+"both", o.ID, g1.ID, g2.ID), true)
	only2 := mustCreateInvitation(t, s, newInvitation(p+"only2", o.ID, g2.ID), true)
	used := mustCreateInvitation(t, s, newInvitation(p+"used", o.ID, g1.ID), false)
	_, err := s.AcceptInvitation(ctx, used.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, t0)
	wantErr(t, "AcceptInvitation", err, nil)

	wantErr(t, "DeleteClientGroup", s.DeleteClientGroup(ctx, g1.ID, at(time.Hour)), nil)
	got := mustGetInvitation(t, s, both.ID)
	if got.Status != store.InvitationRevoked || !got.DecidedAt.Equal(at(time.Hour)) {
		t.Errorf("invitation into the deleted group: %q at %v; want revoked at %v", got.Status, got.DecidedAt, at(time.Hour))
	}
	wantMailCancelled(t, s, both.ID)
	diff(t, "invitation into another group", only2, mustGetInvitation(t, s, only2.ID))
	diff(t, "mail of the invitation into another group", []*store.Mail{newMail(only2)}, mailOf(t, s, only2.ID))
	if got := mustGetInvitation(t, s, used.ID); got.Status != store.InvitationAccepted {
		t.Errorf("accepted invitation into the deleted group is now %q", got.Status)
	}
	_, err = s.AcceptInvitation(ctx, both.TokenHash, &store.Acceptance{NewClient: newDeviceClient(p + "dev2")}, at(time.Hour))
	wantErr(t, "AcceptInvitation into a deleted group", err, store.ErrConflict)
}

func testMail(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID)
	a := mustCreateInvitation(t, s, newInvitation(p+"a", o.ID, g.ID), true)
	b := newInvitation(p+"b", o.ID, g.ID)
	b.CreatedAt = at(time.Second)
	mb := newMail(b)
	mb.CreatedAt, mb.NextAttemptAt = at(time.Second), at(time.Minute) // not due before then
	wantErr(t, "CreateInvitation", s.CreateInvitation(ctx, b, mb), nil)
	revoked := mustCreateInvitation(t, s, newInvitation(p+"revoked", o.ID, g.ID), true)
	_, err := s.RevokeInvitation(ctx, revoked.ID, t0)
	wantErr(t, "RevokeInvitation", err, nil)

	mine := func(ms []*store.Mail) []string {
		var ids []string
		for _, m := range ms {
			if m.InvitationID == a.ID || m.InvitationID == b.ID || m.InvitationID == revoked.ID {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	claim := func(now time.Time) []*store.Mail {
		t.Helper()
		ms, err := s.ClaimMail(ctx, now, time.Minute, 100)
		wantErr(t, "ClaimMail", err, nil)
		return ms
	}

	// Only a's mail is due at t0: b's is not yet, revoked's is cancelled.
	got := claim(t0)
	diff(t, "mail claimed at t0", []string{"mail-" + a.ID}, mine(got))
	for _, m := range got {
		if m.ID == "mail-"+a.ID {
			want := newMail(a)
			want.NextAttemptAt = at(time.Minute) // the lease
			diff(t, "claimed mail", want, m)
		}
	}
	// Leased: claimed by nobody else until the lease ends.
	diff(t, "mail claimed again within the lease", []string(nil), mine(claim(at(30*time.Second))))
	got = claim(at(time.Minute))
	diff(t, "mail claimed when the lease ended and b fell due", []string{"mail-" + a.ID, "mail-" + b.ID}, mine(got))

	// A failure is counted and reschedules the mail.
	wantErr(t, "MarkMailFailed", s.MarkMailFailed(ctx, "mail-"+a.ID, "connection refused", at(5*time.Minute)), nil)
	ms := mailOf(t, s, a.ID)
	if len(ms) != 1 || ms[0].Attempts != 1 || ms[0].LastError != "connection refused" ||
		!ms[0].NextAttemptAt.Equal(at(5*time.Minute)) || ms[0].Status != store.MailPending || ms[0].Body == "" {
		t.Errorf("mail after a failure: %+v", ms[0])
	}
	// b's lease ended at 2 minutes; a waits for its retry.
	diff(t, "mail claimed before a's retry is due", []string{"mail-" + b.ID}, mine(claim(at(4*time.Minute))))

	// Sent: erased, and never claimed again.
	wantErr(t, "MarkMailSent", s.MarkMailSent(ctx, "mail-"+a.ID, at(5*time.Minute)), nil)
	ms = mailOf(t, s, a.ID)
	if ms[0].Status != store.MailSent || ms[0].Body != "" || ms[0].Link != "" || ms[0].Attempts != 2 ||
		!ms[0].SentAt.Equal(at(5*time.Minute)) {
		t.Errorf("mail after sending: %+v", ms[0])
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"MarkMailSent(missing)", s.MarkMailSent(ctx, p+"nope", t0)},
		{"MarkMailFailed(missing)", s.MarkMailFailed(ctx, p+"nope", "x", t0)},
	} {
		wantErr(t, tt.name, tt.err, store.ErrNotFound)
	}

	// An expired invitation's mail is not claimed, and CancelStaleMail
	// erases it.
	late := b.ExpiresAt
	diff(t, "mail claimed after the invitations expired", []string(nil), mine(claim(late)))
	n, err := s.CancelStaleMail(ctx, late)
	wantErr(t, "CancelStaleMail", err, nil)
	if n < 1 {
		t.Errorf("CancelStaleMail = %d, want at least b's mail", n)
	}
	wantMailCancelled(t, s, b.ID)
	if ms := mailOf(t, s, a.ID); ms[0].Status != store.MailSent {
		t.Errorf("CancelStaleMail touched a sent mail: %q", ms[0].Status)
	}
}

// testOrgOddKeys: lookups by keys no record has answer ErrNotFound (or
// nothing), and change nothing (see oddKeys).
func testOrgOddKeys(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	mustCreateUser(t, s, p+"ada")
	wantErr(t, "PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: o.ID, UserID: p + "ada", Role: store.RoleAdmin}), nil)
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, g.ID), true)
	keys := slices.Clone(oddKeys)
	for _, k := range []string{o.ID, p + "ada", g.ID, inv.ID, inv.TokenHash} {
		keys = append(keys, k+"\x00", k+"\x00evil", k+"\xff")
	}
	for _, key := range keys {
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"GetOrganization", lookupErr(s.GetOrganization(ctx, key))},
			{"UpdateOrganization", s.UpdateOrganization(ctx, newOrg(key))},
			{"DeleteOrganization", s.DeleteOrganization(ctx, key)},
			{"GetOrgMember(key, user)", lookupErr(s.GetOrgMember(ctx, key, p+"ada"))},
			{"GetOrgMember(org, key)", lookupErr(s.GetOrgMember(ctx, o.ID, key))},
			{"DeleteOrgMember", s.DeleteOrgMember(ctx, o.ID, key)},
			{"GetClientGroup", lookupErr(s.GetClientGroup(ctx, key))},
			{"UpdateClientGroup", s.UpdateClientGroup(ctx, newGroup(key, o.ID))},
			{"DeleteClientGroup", s.DeleteClientGroup(ctx, key, t0)},
			{"RemoveGroupClient", s.RemoveGroupClient(ctx, g.ID, key)},
			{"AddGroupClient(group, key)", s.AddGroupClient(ctx, g.ID, key, t0)},
			{"AddGroupClient(key, client)", s.AddGroupClient(ctx, key, p+"dev", t0)},
			{"GetInvitation", lookupErr(s.GetInvitation(ctx, key))},
			{"GetInvitationByToken", lookupErr(s.GetInvitationByToken(ctx, key))},
			{"RevokeInvitation", lookupErr(s.RevokeInvitation(ctx, key, t0))},
			{"ResendInvitation", lookupErr(s.ResendInvitation(ctx, key, "token-"+p+"odd", resendMail(&store.Invitation{ID: key}, 1), t0))},
			{"DeclineInvitation", lookupErr(s.DeclineInvitation(ctx, key, t0))},
			{"AcceptInvitation(key, new client)", lookupErr(s.AcceptInvitation(ctx, key, &store.Acceptance{NewClient: newDeviceClient(p + "dev")}, t0))},
			{"MarkMailSent", s.MarkMailSent(ctx, key, t0)},
			{"MarkMailFailed", s.MarkMailFailed(ctx, key, "x", t0)},
		} {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Errorf("%s(%q) error = %v, want ErrNotFound", tt.name, key, tt.err)
			}
		}
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"ListOrgMembers", none(s.ListOrgMembers(ctx, key))},
			{"ListClientGroups", none(s.ListClientGroups(ctx, key))},
			{"ListClientGroupsOf", none(s.ListClientGroupsOf(ctx, key))},
			{"ListGroupClients", none(s.ListGroupClients(ctx, key))},
			{"ListInvitations", none(s.ListInvitations(ctx, key))},
			{"ListMail", none(s.ListMail(ctx, key))},
		} {
			if tt.err != nil {
				t.Errorf("%s(%q): %v; want nothing", tt.name, key, tt.err)
			}
		}
	}
	// An existing client named by an odd key: no such client.
	inv2 := mustCreateInvitation(t, s, newInvitation(p+"inv2", o.ID, g.ID), false)
	for _, key := range oddKeys {
		_, err := s.AcceptInvitation(ctx, inv2.TokenHash, &store.Acceptance{ClientID: key}, t0)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("AcceptInvitation(existing client %q) error = %v, want ErrNotFound", key, err)
		}
	}
	diff(t, "invitation after odd acceptances", inv2, mustGetInvitation(t, s, inv2.ID))
	diff(t, "invitation after odd lookups", inv, mustGetInvitation(t, s, inv.ID))
	diff(t, "mail after odd lookups", []*store.Mail{newMail(inv)}, mailOf(t, s, inv.ID))
	if _, err := s.GetClientGroup(ctx, g.ID); err != nil {
		t.Errorf("group after odd lookups: %v", err)
	}
}

// none is err, or an error when a list that should be empty is not.
func none[T any](l []T, err error) error {
	if err == nil && len(l) > 0 {
		err = fmt.Errorf("%d records", len(l))
	}
	return err
}

// testOrgInvalidText: records holding a string that is not text are
// refused with ErrInvalid, and nothing of them is written.
func testOrgInvalidText(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	mustCreateUser(t, s, p+"ada")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	inv := mustCreateInvitation(t, s, newInvitation(p+"inv", o.ID, g.ID), false)
	for _, bad := range invalidText {
		refused := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s with %q: error = %v, want ErrInvalid", what, bad, err)
			}
		}
		for i, spoil := range []func(*store.Organization){
			func(x *store.Organization) { x.ID = bad },
			func(x *store.Organization) { x.Name = bad },
			func(x *store.Organization) { x.AppLink = bad },
		} {
			x := newOrg(p + "new")
			spoil(x)
			refused(fmt.Sprintf("CreateOrganization (string %d)", i), s.CreateOrganization(ctx, x))
			if i > 0 {
				x.ID = o.ID
				refused(fmt.Sprintf("UpdateOrganization (string %d)", i), s.UpdateOrganization(ctx, x))
			}
		}
		refused("PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: o.ID, UserID: p + "ada", Role: bad}))
		for i, spoil := range []func(*store.ClientGroup){
			func(x *store.ClientGroup) { x.Name = bad },
			func(x *store.ClientGroup) { x.Description = bad },
			func(x *store.ClientGroup) { x.Scopes = []string{"read", bad} },
		} {
			x := newGroup(p+"g2", o.ID)
			spoil(x)
			refused(fmt.Sprintf("CreateClientGroup (string %d)", i), s.CreateClientGroup(ctx, x))
			x.ID = g.ID
			refused(fmt.Sprintf("UpdateClientGroup (string %d)", i), s.UpdateClientGroup(ctx, x))
		}
		for i, spoil := range []func(*store.Invitation, *store.Mail){
			func(x *store.Invitation, _ *store.Mail) { x.TokenHash = bad },
			func(x *store.Invitation, _ *store.Mail) { x.Email = bad },
			func(x *store.Invitation, _ *store.Mail) { x.Message = bad },
			func(x *store.Invitation, _ *store.Mail) { x.DeviceName = bad },
			func(x *store.Invitation, _ *store.Mail) { x.GroupIDs = []string{bad} },
			func(x *store.Invitation, _ *store.Mail) { x.AppLink = bad },
			func(_ *store.Invitation, m *store.Mail) { m.Body = bad },
			func(_ *store.Invitation, m *store.Mail) { m.Recipient = bad },
		} {
			x := newInvitation(p+"inv2", o.ID, g.ID)
			m := newMail(x)
			spoil(x, m)
			refused(fmt.Sprintf("CreateInvitation (string %d)", i), s.CreateInvitation(ctx, x, m))
		}
		c := newDeviceClient(p + "dev")
		c.Name = bad
		refused("AcceptInvitation (new client's name)", lookupErr(s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{NewClient: c}, t0)))
		refused("AcceptInvitation (rename)", lookupErr(s.AcceptInvitation(ctx, inv.TokenHash, &store.Acceptance{ClientID: p + "dev", Rename: bad}, t0)))
		refused("MarkMailFailed", s.MarkMailFailed(ctx, "mail-x", bad, t0))
	}
	diff(t, "organization after refused writes", o, mustGetOrganization(t, s, o.ID))
	diff(t, "invitation after refused writes", inv, mustGetInvitation(t, s, inv.ID))
	if _, err := s.GetInvitation(ctx, p+"inv2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused invitation was stored: %v", err)
	}
	if gs, _ := s.ListClientGroups(ctx, o.ID); len(gs) != 1 {
		t.Errorf("groups after refused writes: %d, want 1", len(gs))
	}
}

func mustGetOrganization(t *testing.T, s store.Store, id string) *store.Organization {
	t.Helper()
	o, err := s.GetOrganization(t.Context(), id)
	if err != nil {
		t.Fatalf("GetOrganization(%q): %v", id, err)
	}
	return o
}

// testConcurrentAccept: of racers accepting one invitation at once, half
// as new devices and half as an existing one, exactly one wins; exactly one
// client joins the groups, and a losing new device's client is not created
// (docs/security.md INV-03).
func testConcurrentAccept(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID, "read")
	existing := newDeviceClient(p + "existing")
	wantErr(t, "CreateClient", s.CreateClient(ctx, existing), nil)
	for r := range rounds {
		inv := mustCreateInvitation(t, s, newInvitation(fmt.Sprintf("%sinv%d", p, r), o.ID, g.ID), true)
		accs := make([]*store.Acceptance, racers)
		for i := range racers {
			if i%2 == 0 {
				accs[i] = &store.Acceptance{NewClient: newDeviceClient(fmt.Sprintf("%sdev%d-%d", p, r, i))}
			} else {
				accs[i] = &store.Acceptance{ClientID: existing.ID, Rename: fmt.Sprint("name ", i)}
			}
		}
		errs := race(func(i int) error {
			_, err := s.AcceptInvitation(ctx, inv.TokenHash, accs[i], t0)
			return err
		})
		winner := oneWinner(t, "acceptance", "acceptances", errs)
		winnerID := existing.ID
		if c := accs[winner].NewClient; c != nil {
			winnerID = c.ID
		}
		if got := mustGetInvitation(t, s, inv.ID); got.ClientID != winnerID || got.Status != store.InvitationAccepted {
			t.Errorf("invitation after the race: client %q status %q; want the winner %q, accepted", got.ClientID, got.Status, winnerID)
		}
		for i, acc := range accs {
			if acc.NewClient == nil {
				continue
			}
			_, err := s.GetClient(ctx, acc.NewClient.ID)
			if i == winner {
				wantErr(t, "GetClient of the winner", err, nil)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("losing acceptance %d created its client: %v", i, err)
			}
		}
		wantMailCancelled(t, s, inv.ID)
	}
	ids, err := s.ListGroupClients(ctx, g.ID)
	wantErr(t, "ListGroupClients", err, nil)
	if len(ids) < 1 || len(ids) > rounds {
		t.Errorf("group members after %d races: %v", rounds, ids)
	}
}

// testConcurrentClaimMail: senders claiming at once, on any number of
// instances, never claim the same mail twice, and together claim it all.
func testConcurrentClaimMail(t *testing.T, s store.Store, p string) {
	ctx := t.Context()
	o := mustCreateOrg(t, s, p+"org")
	g := mustCreateGroup(t, s, p+"g", o.ID)
	const mails = 30
	want := map[string]bool{}
	for i := range mails {
		inv := mustCreateInvitation(t, s, newInvitation(fmt.Sprintf("%sinv%02d", p, i), o.ID, g.ID), true)
		want["mail-"+inv.ID] = true
	}
	claimed := make([][]*store.Mail, racers)
	errs := race(func(i int) error {
		ms, err := s.ClaimMail(ctx, t0, time.Minute, 3)
		claimed[i] = ms
		return err
	})
	seen := map[string]int{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("claim %d: %v", i, err)
		}
		for _, m := range claimed[i] {
			seen[m.ID]++
		}
	}
	// A claim may come back short when others took the rows it saw, never
	// with a row another one has: what is left, one more claim takes.
	rest, err := s.ClaimMail(ctx, t0, time.Minute, 1000)
	wantErr(t, "ClaimMail after the race", err, nil)
	for _, m := range rest {
		seen[m.ID]++
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("mail %s claimed %d times; want once", id, seen[id])
		}
	}
}
