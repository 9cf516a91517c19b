package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/store"
)

// makeSysadmin makes the test person a system administrator, or not.
func makeSysadmin(t *testing.T, s *testServer, yes bool) {
	t.Helper()
	u := mustGetUser(t, s, s.User.ID)
	u.Sysadmin = yes
	mustDo(t, s.Store.UpdateUser(t.Context(), u))
}

// consoleRoutes are the console's routes of the table: its pages (GET) and
// its forms (POST).
// A wildcard {id} is filled in with a record of its kind that exists:
// ids names them.
func consoleRoutes(t *testing.T, s *testServer, ids map[string]string) (pages, forms []string) {
	t.Helper()
	routes, _ := table(t, s)
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok || !strings.HasPrefix(path, "/console") {
			continue
		}
		for prefix, id := range ids {
			if strings.HasPrefix(path, prefix+"/{id}") {
				path = strings.Replace(path, "{id}", url.PathEscape(id), 1)
			}
		}
		if strings.Contains(path, "{") {
			t.Fatalf("no id for %s", rt.pattern)
		}
		switch method {
		case "GET":
			pages = append(pages, path)
		case "POST":
			forms = append(forms, path)
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
	Invitations []*store.Invitation
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
	snap := snapshot{Clients: cs, Users: us, Orgs: os, Audit: len(es)}
	for _, o := range os {
		ms, err := s.Store.ListOrgMembers(ctx, o.ID)
		mustDo(t, err)
		snap.Members = append(snap.Members, ms...)
		invs, err := s.Store.ListInvitations(ctx, o.ID)
		mustDo(t, err)
		snap.Invitations = append(snap.Invitations, invs...)
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
		"role": {"admin"}, "user_id": {memberUser}, "disabled": {"true"}, "sysadmin": {"true"}, "grant_id": {"g"},
		"id": {"new-org"}, "app_link": {""},
	}
}

// TestConsoleRoles: every console page and form, with a signed-out
// browser, sends to sign-in; with a person who is not a system
// administrator, 403 and nothing changed; every form without its CSRF
// token, or with another browser's, 403 and nothing changed.
func TestConsoleRoles(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		is := newInvServer(t, b, nil) // the person is an admin of acme, not a system administrator
		s := is.testServer
		invitation := is.send(t, map[string]any{"clientGroupIds": []string{groupRead}})
		pages, forms := consoleRoutes(t, s, map[string]string{
			"/console/clients": tvClient, "/console/users": memberUser, "/console/orgs": acmeOrg, "/console/invitations": invitation,
		})

		out := newWebBrowser(t, s)
		for _, p := range pages {
			r := out.get(p)
			if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?return_to="+url.QueryEscape(p)) {
				t.Errorf("signed out: GET %s: %d to %q; want 303 to sign-in and back", p, r.Status, loc)
			}
		}

		person := newWebBrowser(t, s)
		person.signIn()
		csrf := csrfOf(t, person.get("/account"))
		before := takeSnapshot(t, s)
		for _, p := range pages {
			if r := person.get(p); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "system administrators") {
				t.Errorf("not a sysadmin: GET %s: %d; want 403", p, r.Status)
			}
		}
		for _, p := range forms {
			if r := person.post(p, consoleForm(csrf)); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "system administrators") {
				t.Errorf("not a sysadmin: POST %s: %d; want 403", p, r.Status)
			}
		}
		if diff := cmp.Diff(before, takeSnapshot(t, s)); diff != "" {
			t.Errorf("refused forms changed something (-before +after):\n%s", diff)
		}

		makeSysadmin(t, s, true)
		before = takeSnapshot(t, s)
		for _, p := range forms {
			for name, csrf := range map[string]string{"without": "", "with another browser's": csrfOf(t, out.get("/login"))} {
				f := consoleForm(csrf)
				if csrf == "" {
					f.Del("csrf_token")
				}
				if r := person.post(p, f); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "This form has expired") {
					t.Errorf("POST %s %s CSRF token: %d; want 403", p, name, r.Status)
				}
			}
		}
		if diff := cmp.Diff(before, takeSnapshot(t, s)); diff != "" {
			t.Errorf("forms without CSRF changed something (-before +after):\n%s", diff)
		}
		for _, p := range pages {
			if r := person.get(p); r.Status != http.StatusOK {
				t.Errorf("sysadmin: GET %s: %d\n%s", p, r.Status, r.Raw)
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
		s := newTestServerOn(t, b, true, nil)
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
