package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestRoles: who the signed-in person is and what they may manage, read
// from the store on every call.
func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "TV")
	ctx := t.Context()
	rs := &Roles{Sessions: e.pages.Sessions, Members: e.st}
	for _, o := range []string{"acme", "globex"} {
		if err := e.st.CreateOrganization(ctx, &store.Organization{ID: o, Name: o, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// u1 (Ada) administers acme; u3 (Bob) is a member of acme.
	for _, m := range []*store.OrgMember{
		{OrgID: "acme", UserID: "u1", Role: store.RoleAdmin, CreatedAt: t0},
		{OrgID: "acme", UserID: "u3", Role: store.RoleMember, CreatedAt: t0},
	} {
		if err := e.st.PutOrgMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(u *store.User) *http.Request {
		w := httptest.NewRecorder()
		if _, err := e.pages.Sessions.Start(w, httptest.NewRequest("POST", "/login", nil), u); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/console", nil)
		for _, c := range w.Result().Cookies() {
			r.AddCookie(c)
		}
		return r
	}
	bob, err := e.st.GetUser(ctx, "u3")
	if err != nil {
		t.Fatal(err)
	}
	adaReq, bobReq := signIn(e.user), signIn(bob)

	if v, err := rs.Who(httptest.NewRequest("GET", "/console", nil)); v != nil || err != nil {
		t.Errorf("Who, signed out = %+v, %v; want nil, nil", v, err)
	}
	if (*Viewer)(nil).Sysadmin() {
		t.Error("a nil viewer is a system administrator")
	}
	for _, tt := range []struct {
		name                                string
		r                                   *http.Request
		sysadmin                            bool
		adminAcme, manageAcme, manageGlobex bool
	}{
		{"org admin", adaReq, false, true, true, false},
		{"member", bobReq, false, false, false, false},
	} {
		v, err := rs.Who(tt.r)
		if err != nil || v == nil {
			t.Fatalf("%s: Who = %v, %v", tt.name, v, err)
		}
		if v.Sysadmin() != tt.sysadmin {
			t.Errorf("%s: Sysadmin = %v", tt.name, v.Sysadmin())
		}
		if got, err := rs.OrgAdmin(ctx, v, "acme"); got != tt.adminAcme || err != nil {
			t.Errorf("%s: OrgAdmin(acme) = %v, %v", tt.name, got, err)
		}
		if got, err := rs.CanManageOrg(ctx, v, "acme"); got != tt.manageAcme || err != nil {
			t.Errorf("%s: CanManageOrg(acme) = %v, %v", tt.name, got, err)
		}
		if got, err := rs.CanManageOrg(ctx, v, "globex"); got != tt.manageGlobex || err != nil {
			t.Errorf("%s: CanManageOrg(globex) = %v, %v", tt.name, got, err)
		}
		if got, err := rs.CanManageOrg(ctx, v, "nowhere"); got || err != nil {
			t.Errorf("%s: CanManageOrg(an organization that does not exist) = %v, %v", tt.name, got, err)
		}
	}

	// Bob is made a system administrator: the next request knows it, and
	// he may manage every organization though he administers none.
	bob.Sysadmin = true
	if err := e.st.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	v, err := rs.Who(bobReq)
	if err != nil || !v.Sysadmin() {
		t.Fatalf("after UpdateUser sysadmin: Who = %+v, %v", v, err)
	}
	if got, _ := rs.OrgAdmin(ctx, v, "globex"); got {
		t.Error("a system administrator counts as an admin of an organization he is not a member of")
	}
	if got, _ := rs.CanManageOrg(ctx, v, "globex"); !got {
		t.Error("a system administrator may not manage globex")
	}
	// Disabled: signed out at once, whatever the role.
	bob.Disabled = true
	if err := e.st.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if v, err := rs.Who(bobReq); v != nil || err != nil {
		t.Errorf("Who, disabled system administrator = %+v, %v; want nil", v, err)
	}
	// Ada's admin role taken away: a member now.
	if err := e.st.PutOrgMember(ctx, &store.OrgMember{OrgID: "acme", UserID: "u1", Role: store.RoleMember, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	v, _ = rs.Who(adaReq)
	if got, _ := rs.CanManageOrg(ctx, v, "acme"); got {
		t.Error("a demoted admin may still manage acme")
	}
}
