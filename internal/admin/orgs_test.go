package admin

import (
	"crypto/rand"
	"github.com/latchkey/latchkey/internal/clientauth"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// newOrgFixture is newFixture with the invitation service.
func newOrgFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.api.Orgs = &org.Service{
		Store: f.store, Clients: clientauth.Direct{Store: f.store}, Issuer: "https://id.example", Now: f.api.Now, Rand: rand.Reader, Lifetime: 7 * 24 * time.Hour,
	}
	mustCreate(t, f.store.CreateUser(t.Context(), &store.User{ID: "u-ada", Email: "ada@example.com"}))
	return f
}

func mustCreate(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOrganizations(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	w := f.do(t, "POST", "/admin/v1/organizations", `{"id":"acme","name":"Acme","app_link":"com.acme.app://invitation"}`)
	if w.Code != 201 || w.Header().Get("Location") != "/admin/v1/organizations/acme" {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	got := decode[Organization](t, w)
	if got.ID != "acme" || got.Name != "Acme" || got.AppLink != "com.acme.app://invitation" || got.CreatedAt != "2026-03-04T05:06:07Z" {
		t.Errorf("created: %+v", got)
	}
	w = f.do(t, "POST", "/admin/v1/organizations", `{"name":"Generated"}`)
	if gen := decode[Organization](t, w); w.Code != 201 || len(gen.ID) != oauth.IDLength {
		t.Errorf("create with a generated id: %d %s", w.Code, w.Body)
	}
	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"taken id", `{"id":"acme","name":"Again"}`, 409, codeConflict},
		{"no name", `{"id":"x"}`, 400, "invalid_request"},
		{"bad id", `{"id":"a/b","name":"x"}`, 400, "invalid_request"},
		{"script app link", `{"name":"x","app_link":"javascript:alert(1)"}`, 400, "invalid_request"},
		{"http app link", `{"name":"x","app_link":"http://example.com/x"}`, 400, "invalid_request"},
		{"server's member", `{"name":"x","created_at":"2020-01-01T00:00:00Z"}`, 400, "invalid_request"},
		{"unknown member", `{"name":"x","owner":"me"}`, 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "POST", "/admin/v1/organizations", tt.body), tt.status, tt.code, "")
		})
	}
	w = f.do(t, "PATCH", "/admin/v1/organizations/acme", `{"name":"Acme Sensors","app_link":""}`)
	if p := decode[Organization](t, w); w.Code != 200 || p.Name != "Acme Sensors" || p.AppLink != "" {
		t.Errorf("patch: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "GET", "/admin/v1/organizations", ""); w.Code != 200 || len(decode[OrganizationList](t, w).Organizations) != 2 {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/organizations/nope", ""), 404, codeNotFound, "nope")

	// Members.
	w = f.do(t, "PUT", "/admin/v1/organizations/acme/members/u-ada", `{"role":"admin"}`)
	if m := decode[Member](t, w); w.Code != 200 || m.Role != "admin" || m.Email != "ada@example.com" {
		t.Errorf("put member: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "PUT", "/admin/v1/organizations/acme/members/u-nobody", `{"role":"admin"}`), 404, codeNotFound, "")
	wantError(t, f.do(t, "PUT", "/admin/v1/organizations/acme/members/u-ada", `{"role":"owner"}`), 400, "invalid_request", "role")
	if w := f.do(t, "GET", "/admin/v1/organizations/acme/members", ""); len(decode[MemberList](t, w).Members) != 1 {
		t.Errorf("members: %s", w.Body)
	}
	if w := f.do(t, "DELETE", "/admin/v1/organizations/acme/members/u-ada", ""); w.Code != 204 {
		t.Errorf("delete member: %d", w.Code)
	}
	wantError(t, f.do(t, "DELETE", "/admin/v1/organizations/acme/members/u-ada", ""), 404, codeNotFound, "")

	// An organization that owns a client cannot be deleted.
	mustCreate(t, f.store.CreateClient(t.Context(), &store.Client{ID: "dev", AuthMethod: store.AuthClientSecretBasic, SecretHash: "x",
		GrantTypes: []string{store.GrantClientCredentials}, OrgID: "acme"}))
	wantError(t, f.do(t, "DELETE", "/admin/v1/organizations/acme", ""), 409, codeConflict, "owns device clients")
	mustCreate(t, f.store.DeleteClient(t.Context(), "dev"))
	if w := f.do(t, "DELETE", "/admin/v1/organizations/acme", ""); w.Code != 204 {
		t.Errorf("delete: %d %s", w.Code, w.Body)
	}
}

func TestClientGroupsAndInvitations(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	ctx := t.Context()
	f.do(t, "POST", "/admin/v1/organizations", `{"id":"acme","name":"Acme"}`)
	f.do(t, "POST", "/admin/v1/organizations", `{"id":"globex","name":"Globex"}`)
	w := f.do(t, "POST", "/admin/v1/organizations/acme/client-groups", `{"name":"Sensors","description":"All sensors","scope":"read write"}`)
	g := decode[ClientGroup](t, w)
	if w.Code != 201 || g.OrganizationID != "acme" || g.Scope != "read write" {
		t.Fatalf("create group: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "POST", "/admin/v1/organizations/acme/client-groups", `{"name":"Sensors"}`), 409, codeConflict, "Sensors")
	wantError(t, f.do(t, "POST", "/admin/v1/organizations/acme/client-groups", `{"name":"Bad","scope":"a  b"}`), 400, "invalid_request", "scope")
	wantError(t, f.do(t, "POST", "/admin/v1/organizations/nope/client-groups", `{"name":"X"}`), 404, codeNotFound, "")
	other := decode[ClientGroup](t, f.do(t, "POST", "/admin/v1/organizations/globex/client-groups", `{"name":"Sensors"}`))
	// A group is found only under its own organization.
	wantError(t, f.do(t, "GET", "/admin/v1/organizations/acme/client-groups/"+other.ID, ""), 404, codeNotFound, "")
	w = f.do(t, "PATCH", "/admin/v1/organizations/acme/client-groups/"+g.ID, `{"scope":"read"}`)
	if p := decode[ClientGroup](t, w); w.Code != 200 || p.Scope != "read" || p.Name != "Sensors" {
		t.Errorf("patch group: %d %s", w.Code, w.Body)
	}
	if l := decode[ClientGroupList](t, f.do(t, "GET", "/admin/v1/organizations/acme/client-groups", "")); len(l.ClientGroups) != 1 {
		t.Errorf("list groups: %+v", l)
	}

	// Invitations.
	w = f.do(t, "POST", "/admin/v1/organizations/acme/invitations",
		`{"client_group_ids":["`+g.ID+`"],"email":"ops@acme.example","lifetime":3600,"allow_rename":true,"device_name":"Boiler"}`)
	inv := decode[Invitation](t, w)
	if w.Code != 201 || inv.State != "pending" || !strings.HasPrefix(inv.Link, "https://id.example/invitations/lk_inv_") ||
		inv.InvitedBy != org.InvitedByAdmin || inv.ExpiresAt != "2026-03-04T06:06:07Z" {
		t.Fatalf("create invitation: %d %s", w.Code, w.Body)
	}
	got := decode[Invitation](t, f.do(t, "GET", "/admin/v1/invitations/"+inv.ID, ""))
	if got.Link != inv.Link {
		t.Errorf("show: link %q, want %q", got.Link, inv.Link)
	}
	l := decode[InvitationList](t, f.do(t, "GET", "/admin/v1/organizations/acme/invitations", ""))
	if len(l.Invitations) != 1 || l.Invitations[0].Link != "" {
		t.Errorf("list invitations: %+v", l)
	}
	for _, tt := range []struct{ name, body, part string }{
		{"another organization's group", `{"client_group_ids":["` + other.ID + `"],"email":"a@example.com"}`, "has no client group"},
		{"no groups", `{"client_group_ids":[],"email":"a@example.com"}`, "client groups"},
		{"bad email", `{"client_group_ids":["` + g.ID + `"],"email":"Ada <a@example.com>"}`, "email"},
		{"too short", `{"client_group_ids":["` + g.ID + `"],"email":"a@example.com","lifetime":5}`, "lifetime"},
		{"a scope", `{"client_group_ids":["` + g.ID + `"],"email":"a@example.com","scope":"admin"}`, "unknown member"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "POST", "/admin/v1/organizations/acme/invitations", tt.body), 400, "invalid_request", tt.part)
		})
	}
	w = f.do(t, "POST", "/admin/v1/invitations/"+inv.ID+"/revoke", "")
	if r := decode[Invitation](t, w); w.Code != 200 || r.State != "revoked" || r.Link != "" {
		t.Errorf("revoke: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "POST", "/admin/v1/invitations/"+inv.ID+"/revoke", ""), 409, codeConflict, "not pending")
	wantError(t, f.do(t, "POST", "/admin/v1/invitations/nope/revoke", ""), 404, codeNotFound, "")

	// Deleting a group revokes its pending invitations.
	inv2 := decode[Invitation](t, f.do(t, "POST", "/admin/v1/organizations/acme/invitations",
		`{"client_group_ids":["`+g.ID+`"],"email":"ops@acme.example"}`))
	if w := f.do(t, "GET", "/admin/v1/organizations/acme/client-groups/"+g.ID+"/clients", ""); w.Code != 200 ||
		len(decode[GroupClients](t, w).ClientIDs) != 0 {
		t.Errorf("group clients: %d %s", w.Code, w.Body)
	}
	if w := f.do(t, "DELETE", "/admin/v1/organizations/acme/client-groups/"+g.ID, ""); w.Code != 204 {
		t.Errorf("delete group: %d %s", w.Code, w.Body)
	}
	if s, _ := f.store.GetInvitation(ctx, inv2.ID); s.Status != store.InvitationRevoked {
		t.Errorf("invitation into a deleted group is %q", s.Status)
	}
}

// TestGroupClientsAddRemove: PUT puts a device of the group's organization
// into the group, and again changes nothing; a client of no organization or
// another is refused, an unknown one is not found; DELETE takes it out.
func TestGroupClientsAddRemove(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	ctx := t.Context()
	f.do(t, "POST", "/admin/v1/organizations", `{"id":"acme","name":"Acme"}`)
	g := decode[ClientGroup](t, f.do(t, "POST", "/admin/v1/organizations/acme/client-groups", `{"name":"Sensors","scope":"read"}`))
	now := time.Now()
	for _, c := range []*store.Client{
		{ID: "sensor-1", OrgID: "acme"},
		{ID: "loose"}, // of no organization
	} {
		c.Name, c.AuthMethod, c.SecretHash = c.ID, store.AuthClientSecretBasic, oauth.HashSecret("lk_cs_"+c.ID)
		c.GrantTypes, c.CreatedAt, c.UpdatedAt = []string{store.GrantClientCredentials}, now, now
		if err := f.store.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	path := "/admin/v1/organizations/acme/client-groups/" + g.ID + "/clients/"
	members := func() []string {
		t.Helper()
		return decode[GroupClients](t, f.do(t, "GET", "/admin/v1/organizations/acme/client-groups/"+g.ID+"/clients", "")).ClientIDs
	}
	for i := range 2 {
		if w := f.do(t, "PUT", path+"sensor-1", ""); w.Code != 204 {
			t.Fatalf("PUT %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if got := members(); !slices.Equal(got, []string{"sensor-1"}) {
		t.Errorf("members after PUT = %v", got)
	}
	wantError(t, f.do(t, "PUT", path+"loose", ""), 409, codeConflict, "not a device client of organization acme")
	wantError(t, f.do(t, "PUT", path+"nope", ""), 404, codeNotFound, "")
	wantError(t, f.do(t, "PUT", "/admin/v1/organizations/acme/client-groups/nope/clients/sensor-1", ""), 404, codeNotFound, "")
	if w := f.do(t, "DELETE", path+"sensor-1", ""); w.Code != 204 {
		t.Errorf("DELETE: %d %s", w.Code, w.Body)
	}
	if got := members(); len(got) != 0 {
		t.Errorf("members after DELETE = %v", got)
	}
}

// TestOrgRoutesWithoutService: an API built without the invitation
// service answers its paths with a JSON 404, not a panic.
func TestOrgRoutesWithoutService(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, p := range []string{"/admin/v1/organizations", "/admin/v1/invitations/x"} {
		w := f.do(t, http.MethodGet, p, "")
		wantError(t, w, 404, codeNotFound, "not enabled")
	}
}

// TestMemberInvitationsAPI: the admin token invites an address into an
// organization with a role (201, pending, no token or link in the
// answer), lists them; a second invitation of a pending address and one
// of a member are 409, a bad role or address 400, an unknown organization
// 404, a repeated member 400; nothing refused is stored.
func TestMemberInvitationsAPI(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	mustCreate(t, f.store.CreateOrganization(t.Context(), &store.Organization{ID: "acme", Name: "Acme"}))
	mustCreate(t, f.store.PutOrgMember(t.Context(), &store.OrgMember{OrgID: "acme", UserID: "u-ada", Role: store.RoleMember}))
	path := "/admin/v1/organizations/acme/member-invitations"
	w := f.do(t, "POST", path, `{"email":"Grace@Example.com","role":"admin"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	got := decode[org.MemberInvitationJSON](t, w)
	if got.Email != "grace@example.com" || got.Role != "admin" || got.State != "pending" || got.InvitedBy != org.InvitedByAdmin ||
		got.OrganizationID != "acme" || strings.Contains(w.Body.String(), "lk_minv_") || strings.Contains(w.Body.String(), "token") {
		t.Errorf("create answered %s", w.Body)
	}
	for _, tt := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"pending already", path, `{"email":"grace@example.com","role":"member"}`, 409, codeConflict},
		{"a member already", path, `{"email":"ada@example.com","role":"member"}`, 409, codeConflict},
		{"no such role", path, `{"email":"x@example.com","role":"owner"}`, 400, oauth.InvalidRequest},
		{"not an address", path, `{"email":"x","role":"member"}`, 400, oauth.InvalidRequest},
		{"a repeated member", path, `{"email":"x@example.com","email":"y@example.com","role":"member"}`, 400, oauth.InvalidRequest},
		{"an unknown member", path, `{"email":"x@example.com","role":"member","token":"t"}`, 400, oauth.InvalidRequest},
		{"no such organization", "/admin/v1/organizations/nope/member-invitations", `{"email":"x@example.com","role":"member"}`, 404, codeNotFound},
	} {
		w := f.do(t, "POST", tt.path, tt.body)
		wantError(t, w, tt.status, tt.code, "")
	}
	w = f.do(t, "GET", path, "")
	list := decode[MemberInvitationList](t, w)
	if w.Code != 200 || len(list.MemberInvitations) != 1 || list.MemberInvitations[0].ID != got.ID {
		t.Errorf("list: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/organizations/nope/member-invitations", ""), 404, codeNotFound, "")
}

// TestMemberInvitationResendRevokeAPI: the admin token resends a pending
// member invitation (a new token, the same expiry) and revokes it; one of
// another organization is 404 through this one's path, a body other than
// {} is 400, an ended one 409; each change is in the audit log.
func TestMemberInvitationResendRevokeAPI(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	f.api.Orgs.Audit = &audit.Log{Store: f.store, Now: f.api.Now, Rand: rand.Reader}
	ctx := t.Context()
	for _, id := range []string{"acme", "globex"} {
		mustCreate(t, f.store.CreateOrganization(ctx, &store.Organization{ID: id, Name: id}))
	}
	w := f.do(t, "POST", "/admin/v1/organizations/acme/member-invitations", `{"email":"grace@example.com","role":"member"}`)
	inv := decode[org.MemberInvitationJSON](t, w)
	w = f.do(t, "POST", "/admin/v1/organizations/globex/member-invitations", `{"email":"grace@example.com","role":"member"}`)
	other := decode[org.MemberInvitationJSON](t, w)
	before, err := f.store.GetMemberInvitation(ctx, inv.ID)
	mustCreate(t, err)

	base := "/admin/v1/organizations/acme/member-invitations/"
	wantError(t, f.do(t, "POST", base+other.ID+"/resend", ""), 404, codeNotFound, "")
	wantError(t, f.do(t, "POST", base+other.ID+"/revoke", ""), 404, codeNotFound, "")
	wantError(t, f.do(t, "POST", base+inv.ID+"/resend", `{"email":"x@example.com"}`), 400, oauth.InvalidRequest, "")

	w = f.do(t, "POST", base+inv.ID+"/resend", "")
	if got := decode[org.MemberInvitationJSON](t, w); w.Code != 200 || got.State != "pending" || got.ExpiresAt != inv.ExpiresAt {
		t.Errorf("resend: %d %s", w.Code, w.Body)
	}
	after, err := f.store.GetMemberInvitation(ctx, inv.ID)
	mustCreate(t, err)
	if after.TokenHash == before.TokenHash || after.MailID == before.MailID {
		t.Error("resending kept the old token or mail")
	}
	w = f.do(t, "POST", base+inv.ID+"/revoke", "{}")
	if got := decode[org.MemberInvitationJSON](t, w); w.Code != 200 || got.State != "revoked" {
		t.Errorf("revoke: %d %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "POST", base+inv.ID+"/revoke", ""), 409, codeConflict, "")
	wantError(t, f.do(t, "POST", base+inv.ID+"/resend", ""), 409, codeConflict, "")
	if g, err := f.store.GetMemberInvitation(ctx, other.ID); err != nil || g.Status != store.InvitationPending {
		t.Errorf("globex's invitation after acme's path was tried: %+v %v", g, err)
	}
	es, err := f.store.QueryAudit(ctx, store.AuditQuery{Limit: 100})
	mustCreate(t, err)
	kinds := map[string]int{}
	for _, e := range es {
		kinds[e.Kind]++
	}
	if kinds[audit.MemberInvitationResend] != 1 || kinds[audit.MemberInvitationRevoke] != 1 {
		t.Errorf("audit: %v", kinds)
	}
}
