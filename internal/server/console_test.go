package server

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// makeSysadmin makes the test person a system administrator, or not.
func makeSysadmin(t *testing.T, s *testServer, yes bool) {
	t.Helper()
	u := mustGetUser(t, s, s.User.ID)
	u.Sysadmin = yes
	mustDo(t, s.Store.UpdateUser(t.Context(), u))
}

// consoleRoute is one console route of the table, its wildcards filled in.
type consoleRoute struct {
	pattern string // as in the table, without the method
	path    string
}

// orgScoped reports whether a console route is the OrgAdmin console's: an
// organization's page or form, which its admins reach as well as system
// administrators. Deleting an organization is the system administrators'.
func (r consoleRoute) orgScoped() bool {
	return strings.HasPrefix(r.pattern, "/console/orgs/{id}") && r.pattern != "/console/orgs/{id}/delete"
}

// consoleRoutes are the console's routes of the table: its pages (GET) and
// its forms (POST). A wildcard is filled in with a record of its kind
// that exists: {id} by ids, keyed by the path before it; {group_id},
// {client_id}, {invitation_id} and {member_invitation_id} by ids, keyed
// by the wildcard.
func consoleRoutes(t *testing.T, s *testServer, ids map[string]string) (pages, forms []consoleRoute) {
	t.Helper()
	routes, _ := table(t, s)
	for _, rt := range routes {
		method, pattern, ok := strings.Cut(rt.pattern, " ")
		if !ok || !strings.HasPrefix(pattern, "/console") {
			continue
		}
		path := pattern
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix+"/{id}") {
				path = strings.Replace(path, "{id}", url.PathEscape(id), 1)
			}
		}
		for _, w := range []string{"{group_id}", "{client_id}", "{invitation_id}", "{member_invitation_id}"} {
			if id, ok := ids[w]; ok {
				path = strings.Replace(path, w, url.PathEscape(id), 1)
			}
		}
		if strings.Contains(path, "{") {
			t.Fatalf("no id for %s", rt.pattern)
		}
		if method == "GET" && strings.HasSuffix(pattern, "/members/remove") {
			path += "?user_id=" + url.QueryEscape(memberUser) // the confirmation names a member
		}
		switch method {
		case "GET":
			pages = append(pages, consoleRoute{pattern, path})
		case "POST":
			forms = append(forms, consoleRoute{pattern, path})
		}
	}
	if len(pages) == 0 || len(forms) == 0 {
		t.Fatalf("no console routes in the table: %v %v", pages, forms)
	}
	return pages, forms
}

// snapshot is what a console form could change, to show that a refused
// one changed nothing.
type snapshot struct {
	Clients     []*store.Client
	Users       []*store.User
	Orgs        []*store.Organization
	Members     []*store.OrgMember
	Groups      []*store.ClientGroup
	InGroups    map[string][]string // client ids by group
	Invitations []*store.Invitation
	Invited     []*store.MemberInvitation
	Grants      []*store.Grant
	Keys        []string
	Audit       int
}

func takeSnapshot(t *testing.T, s *testServer) snapshot {
	t.Helper()
	ctx := t.Context()
	cs, err := s.Store.ListClients(ctx)
	mustDo(t, err)
	us, err := s.Store.ListUsers(ctx)
	mustDo(t, err)
	os, err := s.Store.ListOrganizations(ctx)
	mustDo(t, err)
	es, err := s.Store.QueryAudit(ctx, store.AuditQuery{Limit: 10000})
	mustDo(t, err)
	snap := snapshot{Clients: cs, Users: us, Orgs: os, Audit: len(es), InGroups: map[string][]string{}}
	for _, o := range os {
		ms, err := s.Store.ListOrgMembers(ctx, o.ID)
		mustDo(t, err)
		snap.Members = append(snap.Members, ms...)
		invs, err := s.Store.ListInvitations(ctx, o.ID)
		mustDo(t, err)
		snap.Invitations = append(snap.Invitations, invs...)
		minvs, err := s.Store.ListMemberInvitations(ctx, o.ID)
		mustDo(t, err)
		snap.Invited = append(snap.Invited, minvs...)
		gs, err := s.Store.ListClientGroups(ctx, o.ID)
		mustDo(t, err)
		snap.Groups = append(snap.Groups, gs...)
		for _, g := range gs {
			ids, err := s.Store.ListGroupClients(ctx, g.ID)
			mustDo(t, err)
			snap.InGroups[g.ID] = ids
		}
	}
	for _, u := range us {
		gs, err := s.Store.ListGrantsByUser(ctx, u.ID)
		mustDo(t, err)
		snap.Grants = append(snap.Grants, gs...)
	}
	ks, err := s.Store.ListSigningKeys(ctx)
	mustDo(t, err)
	for _, k := range ks {
		snap.Keys = append(snap.Keys, k.ID+" "+k.NotAfter.String())
	}
	return snap
}

// consoleForm is every field any console form takes, filled in as a
// person would, so that only the check under test can refuse it.
func consoleForm(csrf string) url.Values {
	return url.Values{
		"csrf_token": {csrf}, "client_name": {"Changed"}, "client_id": {"new-client"}, "scope": {"openid"},
		"token_endpoint_auth_method": {"none"}, "session_attachment": {"attached"}, "grant_device_code": {"on"},
		"refresh_token_policy": {"offline_access"}, "password": {personPassword},
		"email": {"new@example.com"}, "name": {"New Person"}, "new_password": {"a brand new pass phrase"},
		"role": {"member"}, "user_id": {memberUser}, "disabled": {"true"}, "sysadmin": {"true"}, "email_verified": {"true"}, "grant_id": {"g"},
		"id": {"new-org"}, "app_link": {""}, "description": {"changed"}, "from": {groupRead}, "to": {groupWrite},
		"group_" + groupRead: {"on"}, "device_name": {"Renamed"},
	}
}

// consoleDevice is a device client of acme in its group Readers.
const consoleDevice = "acme-sensor-1"

func addConsoleDevice(t *testing.T, s *testServer) {
	t.Helper()
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateClient(t.Context(), &store.Client{ID: consoleDevice, Name: "Sensor 1", OrgID: acmeOrg,
		AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret("lk_cs_not-a-real-secret"),
		GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: now, UpdatedAt: now}))
	mustDo(t, s.Store.AddGroupClient(t.Context(), groupRead, consoleDevice, now))
}

// setRole makes the test person's membership of orgID role, or none ("").
func setRole(t *testing.T, s *testServer, orgID, role string) {
	t.Helper()
	if role == "" {
		if err := s.Store.DeleteOrgMember(t.Context(), orgID, s.User.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return
	}
	mustDo(t, s.Store.PutOrgMember(t.Context(), &store.OrgMember{OrgID: orgID, UserID: s.User.ID, Role: role, CreatedAt: s.Clock.Now()}))
}

// TestConsoleRoles walks every console route of the table (so a new one
// cannot be left out): with a signed-out browser, each page sends to
// sign-in; with a plain member of acme, and with an admin of another
// organization (globex), every page and form of acme's OrgAdmin console
// and of the SysAdmin console is 403 and nothing changed; with an admin of
// acme who is not a system administrator, acme's pages answer and the
// SysAdmin console's are 403; every form without its CSRF token, or with
// another browser's, 403 and nothing changed; a system administrator
// reaches every page.
func TestConsoleRoles(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		// The person is an admin of acme, not a system administrator; the
		// second factor they would be sent to set up is TestEnrolFirstEverywhere's.
		is := newInvServer(t, b, noSecondFactor)
		s := is.testServer
		invitation := is.send(t, map[string]any{"clientGroupIds": []string{groupRead}})
		invited := addMemberInvitation(t, s, acmeOrg, "colleague@acme.example")
		addConsoleDevice(t, s)
		pages, forms := consoleRoutes(t, s, map[string]string{
			"/console/clients": tvClient, "/console/users": memberUser, "/console/orgs": acmeOrg, "/console/invitations": invitation,
			"{group_id}": groupRead, "{client_id}": consoleDevice, "{invitation_id}": invitation, "{member_invitation_id}": invited,
		})
		var orgPages, orgForms int
		for _, p := range pages {
			if p.orgScoped() {
				orgPages++
			}
		}
		for _, p := range forms {
			if p.orgScoped() {
				orgForms++
			}
		}
		if orgPages < 8 || orgForms < 12 {
			t.Fatalf("%d pages and %d forms of the OrgAdmin console in the table", orgPages, orgForms)
		}

		out := newWebBrowser(t, s)
		for _, p := range pages {
			r := out.get(p.path)
			if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?return_to="+url.QueryEscape(p.path)) {
				t.Errorf("signed out: GET %s: %d to %q; want 303 to sign-in and back", p.path, r.Status, loc)
			}
		}

		person := newWebBrowser(t, s)
		person.signIn()
		csrf := csrfOf(t, person.get("/account"))
		refused := func(who string, allowed func(consoleRoute) bool) {
			t.Helper()
			before := takeSnapshot(t, s)
			for _, p := range pages {
				if allowed(p) {
					continue
				}
				if r := person.get(p.path); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "Not allowed") {
					t.Errorf("%s: GET %s: %d; want 403", who, p.path, r.Status)
				}
			}
			for _, p := range forms {
				if allowed(p) {
					continue
				}
				if r := person.post(p.path, consoleForm(csrf)); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "Not allowed") {
					t.Errorf("%s: POST %s: %d; want 403", who, p.path, r.Status)
				}
			}
			if diff := cmp.Diff(before, takeSnapshot(t, s)); diff != "" {
				t.Errorf("%s: refused forms changed something (-before +after):\n%s", who, diff)
			}
		}
		none := func(consoleRoute) bool { return false }

		// A plain member of acme: nothing, not even /console.
		setRole(t, s, acmeOrg, store.RoleMember)
		refused("a member of acme", none)

		// An admin of globex only: /console lists globex, nothing of acme's.
		setRole(t, s, acmeOrg, "")
		setRole(t, s, globexOrg, store.RoleAdmin)
		refused("globex's admin", func(p consoleRoute) bool { return p.pattern == "/console" })
		if r := person.get("/console"); r.Status != http.StatusOK || !strings.Contains(r.Raw, "Globex") || strings.Contains(r.Raw, "Acme") {
			t.Errorf("globex's admin: GET /console: %d\n%s", r.Status, r.Raw)
		}

		// An admin of acme: acme's pages, none of the SysAdmin console's.
		setRole(t, s, globexOrg, "")
		setRole(t, s, acmeOrg, store.RoleAdmin)
		refused("acme's admin", func(p consoleRoute) bool { return p.orgScoped() || p.pattern == "/console" })
		for _, p := range pages {
			if !p.orgScoped() && p.pattern != "/console" {
				continue
			}
			if r := person.get(p.path); r.Status != http.StatusOK {
				t.Errorf("acme's admin: GET %s: %d\n%s", p.path, r.Status, r.Raw)
			} else if strings.Contains(r.Raw, `href="/console/clients"`) {
				t.Errorf("acme's admin: GET %s links to the SysAdmin console", p.path)
			}
		}
		// Another organization's records through acme's paths: 404, and
		// nothing changed.
		globexDevice := "globex-sensor"
		mustDo(t, s.Store.CreateClient(t.Context(), &store.Client{ID: globexDevice, Name: "Globex sensor", OrgID: globexOrg,
			AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret("lk_cs_not-a-real-secret"),
			GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: s.Clock.Now(), UpdatedAt: s.Clock.Now()}))
		globexInvitation := is.sendAs(t, globexOrg, is.globexAT, map[string]any{"clientGroupIds": []string{groupGlobex}})
		globexInvited := addMemberInvitation(t, s, globexOrg, "colleague@globex.example")
		before := takeSnapshot(t, s)
		for _, path := range []string{"/console/orgs/acme/groups/" + groupGlobex, "/console/orgs/acme/devices/" + globexDevice,
			"/console/orgs/acme/devices/" + tvClient, "/console/orgs/acme/invitations/" + globexInvitation + "/revoke",
			"/console/orgs/acme/member-invitations/" + globexInvited + "/revoke", "/console/orgs/acme/member-invitations/" + invitation + "/revoke"} {
			if r := person.get(path); r.Status != http.StatusNotFound {
				t.Errorf("acme's admin: GET %s: %d; want 404", path, r.Status)
			}
		}
		for _, path := range []string{"/console/orgs/acme/groups/" + groupGlobex, "/console/orgs/acme/groups/" + groupGlobex + "/delete",
			"/console/orgs/acme/devices/" + globexDevice + "/remove", "/console/orgs/acme/devices/" + globexDevice + "/name",
			"/console/orgs/acme/devices/" + globexDevice + "/secret", "/console/orgs/acme/devices/" + globexDevice + "/revoke",
			"/console/orgs/acme/invitations/" + globexInvitation + "/revoke", "/console/orgs/acme/invitations/" + globexInvitation + "/resend",
			"/console/orgs/acme/member-invitations/" + globexInvited + "/revoke", "/console/orgs/acme/member-invitations/" + globexInvited + "/resend"} {
			if r := person.post(path, consoleForm(csrf)); r.Status != http.StatusNotFound {
				t.Errorf("acme's admin: POST %s: %d; want 404", path, r.Status)
			}
		}
		f := consoleForm(csrf)
		f.Set("to", groupGlobex)
		if r := person.post("/console/orgs/acme/devices/"+consoleDevice+"/move", f); r.Status != http.StatusNotFound {
			t.Errorf("acme's admin: moving acme's device into globex's group: %d; want 404", r.Status)
		}
		if diff := cmp.Diff(before, takeSnapshot(t, s)); diff != "" {
			t.Errorf("another organization's records through acme's paths changed (-before +after):\n%s", diff)
		}

		// Without the CSRF token, as acme's admin and as a system administrator.
		for _, sysadmin := range []bool{false, true} {
			makeSysadmin(t, s, sysadmin)
			before := takeSnapshot(t, s)
			for _, p := range forms {
				if !sysadmin && !p.orgScoped() {
					continue
				}
				for name, csrf := range map[string]string{"without": "", "with another browser's": csrfOf(t, out.get("/login"))} {
					f := consoleForm(csrf)
					if csrf == "" {
						f.Del("csrf_token")
					}
					if r := person.post(p.path, f); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "This form has expired") {
						t.Errorf("sysadmin %v: POST %s %s CSRF token: %d; want 403", sysadmin, p.path, name, r.Status)
					}
				}
			}
			if diff := cmp.Diff(before, takeSnapshot(t, s)); diff != "" {
				t.Errorf("forms without CSRF changed something (-before +after):\n%s", diff)
			}
		}
		for _, p := range pages {
			if r := person.get(p.path); r.Status != http.StatusOK {
				t.Errorf("sysadmin: GET %s: %d\n%s", p.path, r.Status, r.Raw)
			}
		}
	})
}

// TestConsoleReauthentication: deleting a client asks for the password
// once the last one was entered more than ten minutes ago; a wrong or
// missing one changes nothing; the right one deletes, and counts as
// entered for the next ten minutes.
func TestConsoleReauthentication(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, noSecondFactor)
		makeSysadmin(t, s, true)
		br := newWebBrowser(t, s)
		br.signIn()

		page := br.get("/console/clients/" + printerClient + "/delete")
		if strings.Contains(page.Raw, `name="password"`) {
			t.Error("the password is asked for just after sign-in")
		}
		s.Clock.Advance(11 * time.Minute)
		page = br.get("/console/clients/" + printerClient + "/delete")
		if !strings.Contains(page.Raw, `name="password"`) {
			t.Fatalf("no password asked for 11 minutes after sign-in:\n%s", page.Raw)
		}
		csrf := csrfOf(t, page)
		for name, pw := range map[string]string{"no": "", "a wrong": "not the password"} {
			f := url.Values{"csrf_token": {csrf}}
			if pw != "" {
				f.Set("password", pw)
			}
			if r := br.post("/console/clients/"+printerClient+"/delete", f); r.Status != http.StatusForbidden {
				t.Errorf("%s password: %d; want 403", name, r.Status)
			}
			if _, err := s.Store.GetClient(t.Context(), printerClient); err != nil {
				t.Fatalf("%s password: the client is gone: %v", name, err)
			}
		}
		r := br.post("/console/clients/"+printerClient+"/delete", url.Values{"csrf_token": {csrf}, "password": {personPassword}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("the right password: %d\n%s", r.Status, r.Raw)
		}
		if _, err := s.Store.GetClient(t.Context(), printerClient); err == nil {
			t.Error("the client is still there")
		}
		s.Clock.Advance(5 * time.Minute)
		if page := br.get("/console/clients/" + tvClient + "/delete"); strings.Contains(page.Raw, `name="password"`) {
			t.Error("the password is asked for again 5 minutes after it was entered")
		}
		es, err := s.Store.QueryAudit(t.Context(), store.AuditQuery{Kind: "client.delete", Limit: 10})
		mustDo(t, err)
		if len(es) != 1 || es[0].ActorKind != store.ActorUser || es[0].ActorID != s.User.ID || es[0].TargetID != printerClient {
			t.Errorf("audit of the deletion: %+v", es)
		}
	})
}

// TestOrgAdminMembers: an organization's admin who is not a system
// administrator makes a member an admin only with a password entered in
// the last ten minutes (asked for on a confirmation page, a wrong one
// refused, nothing changed), and cannot demote or remove the last admin;
// a system administrator can. Both backends.
func TestOrgAdminMembers(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		is := newInvServer(t, b, noSecondFactor) // the person is acme's only admin; memberUser a member
		s := is.testServer
		ctx := t.Context()
		br := newWebBrowser(t, s)
		br.signIn()
		csrf := csrfOf(t, br.get("/console/orgs/acme"))
		role := func(userID string) string {
			t.Helper()
			m, err := s.Store.GetOrgMember(ctx, acmeOrg, userID)
			mustDo(t, err)
			return m.Role
		}
		post := func(path string, f url.Values) reply {
			t.Helper()
			f.Set("csrf_token", csrf)
			return br.post(path, f)
		}

		// The last admin stays.
		if r := post("/console/orgs/acme/members", url.Values{"user_id": {s.User.ID}, "role": {store.RoleMember}}); r.Status != http.StatusConflict || !strings.Contains(r.Raw, "last admin") {
			t.Errorf("demoting the last admin: %d", r.Status)
		}
		if r := post("/console/orgs/acme/members/remove", url.Values{"user_id": {s.User.ID}}); r.Status != http.StatusConflict {
			t.Errorf("removing the last admin: %d", r.Status)
		}
		if role(s.User.ID) != store.RoleAdmin {
			t.Fatal("the last admin is no longer one")
		}

		// Making an admin, eleven minutes after sign-in: the password first.
		s.Clock.Advance(11 * time.Minute)
		r := post("/console/orgs/acme/members", url.Values{"user_id": {memberUser}, "role": {store.RoleAdmin}})
		if r.Status != http.StatusOK || !strings.Contains(r.Raw, `name="password"`) {
			t.Errorf("make admin with a stale sign-in: %d\n%s", r.Status, r.Raw)
		}
		r = post("/console/orgs/acme/members", url.Values{"user_id": {memberUser}, "role": {store.RoleAdmin}, "password": {"not the password"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("make admin with a wrong password: %d", r.Status)
		}
		if role(memberUser) != store.RoleMember {
			t.Fatal("made an admin without the password")
		}
		r = post("/console/orgs/acme/members", url.Values{"user_id": {memberUser}, "role": {store.RoleAdmin}, "password": {personPassword}})
		if r.Status != http.StatusSeeOther || role(memberUser) != store.RoleAdmin {
			t.Fatalf("make admin with the password: %d, role %s", r.Status, role(memberUser))
		}
		// Two admins: one may now step down.
		if r := post("/console/orgs/acme/members", url.Values{"user_id": {s.User.ID}, "role": {store.RoleMember}}); r.Status != http.StatusSeeOther || role(s.User.ID) != store.RoleMember {
			t.Errorf("demoting one of two admins: %d", r.Status)
		}
		if r := br.get("/console/orgs/acme"); r.Status != http.StatusForbidden {
			t.Errorf("the demoted admin's next request: %d; want 403", r.Status)
		}

		// A system administrator may leave an organization without admins.
		makeSysadmin(t, s, true)
		if r := post("/console/orgs/acme/members/remove", url.Values{"user_id": {memberUser}}); r.Status != http.StatusSeeOther {
			t.Errorf("a system administrator removing the last admin: %d", r.Status)
		}
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{OrgID: acmeOrg, Kind: "member.put", Limit: 10})
		mustDo(t, err)
		if len(es) != 2 || es[0].ActorID != s.User.ID || es[0].ActorKind != store.ActorUser {
			t.Errorf("member.put entries: %+v", es)
		}
	})
}

// addMemberInvitation stores a pending invitation of email into orgID as
// a member, with its mail, and returns its id. Its token is made up: the
// console's pages never need it.
func addMemberInvitation(t *testing.T, s *testServer, orgID, email string) string {
	t.Helper()
	now := s.Clock.Now()
	id := "minv-" + orgID
	inv := &store.MemberInvitation{ID: id, OrgID: orgID, Email: email, Role: store.RoleMember,
		TokenHash: oauth.HashSecret("lk_minv_made-up-" + orgID), InvitedBy: "admin", Status: store.InvitationPending,
		MailID: "mail-" + id, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
	mustDo(t, s.Store.CreateMemberInvitation(t.Context(), inv, &store.Mail{ID: inv.MailID, Recipient: email, Subject: "Join",
		Body: "Join", Link: "https://id.example/invitations/members/lk_minv_made-up", Status: store.MailPending, NextAttemptAt: now, CreatedAt: now}))
	return id
}

// sendAs sends an invitation into orgID through the organization API with
// bearer, an admin's access token of that organization.
func (s *invServer) sendAs(t *testing.T, orgID, bearer string, body map[string]any) string {
	t.Helper()
	if body["recipientEmail"] == nil {
		body["recipientEmail"] = "devices@" + orgID + ".example"
	}
	r := s.jsonRequest(t, "POST", "/organizations/"+orgID+"/client-group-invitations/send", bearer, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("send into %s: %d %s", orgID, r.Status, r.Raw)
	}
	return r.str("id")
}

// TestConsoleRefusedInput: input the admin API refuses without naming a
// status (a plain invalid_request, 400 by default) comes back as the form
// with the reason and a 400, on every console form that shows such
// refusals, never a 500 from a status of zero; nothing changes.
func TestConsoleRefusedInput(t *testing.T) {
	t.Parallel()
	is := newInvServer(t, backends[0], noSecondFactor)
	s := is.testServer
	br := newWebBrowser(t, s)
	br.signIn()
	csrf := csrfOf(t, br.get("/console/orgs/acme"))
	post := func(path string, f url.Values) reply {
		t.Helper()
		f.Set("csrf_token", csrf)
		return br.post(path, f)
	}
	before, err := s.Store.GetClientGroup(t.Context(), groupRead)
	mustDo(t, err)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/orgs/acme/groups/" + groupRead, url.Values{"name": {""}, "scopes": {"read"}}},
		{"/console/orgs/acme/groups/" + groupRead, url.Values{"name": {strings.Repeat("n", 5000)}, "scopes": {"read"}}},
		{"/console/orgs/acme/groups", url.Values{"name": {""}}},
	} {
		r := post(tc.path, tc.form)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "<form") {
			t.Errorf("POST %s, a name of %d bytes: %d; want 400 with the form\n%.400s", tc.path, len(tc.form.Get("name")), r.Status, r.Raw)
		}
	}
	after, err := s.Store.GetClientGroup(t.Context(), groupRead)
	mustDo(t, err)
	if after.Name != before.Name {
		t.Errorf("the group's name changed to %q", after.Name)
	}
}
