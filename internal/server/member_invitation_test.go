package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/store"
)

// memberLink returns the path of the member invitation link in the
// outbox's mail to email (no mail server here: the mail waits there).
func memberLink(t *testing.T, s *testServer, email string) string {
	t.Helper()
	ms, err := s.Store.ClaimMail(t.Context(), s.Clock.Now(), time.Second, 100)
	mustDo(t, err)
	link := ""
	for _, m := range ms {
		if m.Recipient == email && strings.Contains(m.Link, "/invitations/members/") {
			link = m.Link
		}
	}
	if link == "" {
		t.Fatalf("no member invitation mail to %s in the outbox: %+v", email, ms)
	}
	u, err := url.Parse(link)
	mustDo(t, err)
	return u.Path
}

// TestMemberInvitationForms: inviting answers alike whether or not the
// address has an account; a member, a pending address, a bad address and
// a bad role are refused with nothing stored; inviting an admin asks for
// the password as making one does. The invitation page: a signed-out
// browser is offered sign-in and registration (the address filled in);
// a signed-in person with another address is told so and cannot join,
// nor can a form without its CSRF token or a signed-out POST; unknown and
// malformed tokens get the human 410 page; the invited person joins once,
// with the role, recorded in the audit log. Both backends.
func TestMemberInvitationForms(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		is := newInvServer(t, b, noSecondFactor) // the person is acme's admin; memberUser a member
		s := is.testServer
		ctx := t.Context()
		admin := newWebBrowser(t, s)
		admin.signIn()
		csrf := csrfOf(t, admin.get("/console/orgs/acme"))
		invite := func(email, role string, more url.Values) reply {
			t.Helper()
			f := url.Values{"csrf_token": {csrf}, "email": {email}, "role": {role}}
			for k, v := range more {
				f[k] = v
			}
			return admin.post("/console/orgs/acme/member-invitations", f)
		}
		count := func() int {
			t.Helper()
			invs, err := s.Store.ListMemberInvitations(ctx, acmeOrg)
			mustDo(t, err)
			return len(invs)
		}

		// The same answer for an address with an account and one without.
		withAccount, without := invite(globexAdmin+"@example.com", store.RoleMember, nil), invite("Nobody@Example.com", store.RoleMember, nil)
		for name, r := range map[string]reply{"with an account": withAccount, "without": without} {
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/orgs/acme?done=member-invited" {
				t.Errorf("inviting an address %s: %d %q", name, r.Status, r.Header.Get("Location"))
			}
		}
		if count() != 2 {
			t.Fatalf("%d invitations after two", count())
		}
		for _, tt := range []struct {
			name, email, role string
			status            int
			text              string
		}{
			{"a member already", memberUser + "@example.com", store.RoleMember, http.StatusConflict, "is a member of Acme Sensors already"},
			{"a pending address", "nobody@example.com", store.RoleMember, http.StatusConflict, "pending already"},
			{"not an address", "nobody at example.com", store.RoleMember, http.StatusBadRequest, "one address"},
			{"two addresses", "a@example.com, b@example.com", store.RoleMember, http.StatusBadRequest, "one address"},
			{"no such role", "x@example.com", "owner", http.StatusBadRequest, "must be admin or member"},
		} {
			if r := invite(tt.email, tt.role, nil); r.Status != tt.status || !strings.Contains(r.Raw, tt.text) {
				t.Errorf("%s: %d; want %d with %q", tt.name, r.Status, tt.status, tt.text)
			}
		}
		if count() != 2 {
			t.Fatalf("refused invitations were stored: %d", count())
		}

		// Inviting an admin, eleven minutes after sign-in: the password first.
		s.Clock.Advance(11 * time.Minute)
		if r := invite("boss@example.com", store.RoleAdmin, nil); r.Status != http.StatusOK || !strings.Contains(r.Raw, `name="password"`) {
			t.Errorf("inviting an admin with a stale sign-in: %d\n%s", r.Status, r.Raw)
		}
		if r := invite("boss@example.com", store.RoleAdmin, url.Values{"password": {"not the password"}}); r.Status != http.StatusForbidden {
			t.Errorf("inviting an admin with a wrong password: %d", r.Status)
		}
		if count() != 2 {
			t.Fatal("an admin was invited without the password")
		}
		if r := invite("boss@example.com", store.RoleAdmin, url.Values{"password": {personPassword}}); r.Status != http.StatusSeeOther {
			t.Fatalf("inviting an admin with the password: %d\n%s", r.Status, r.Raw)
		}

		// The page, signed out: sign in or register, returning here.
		link := memberLink(t, s, "nobody@example.com")
		anon := newWebBrowser(t, s)
		page := anon.get(link)
		back := url.QueryEscape(link)
		if page.Status != http.StatusOK || !strings.Contains(page.Raw, "Join Acme Sensors") ||
			!strings.Contains(page.Raw, `/register?login_hint=nobody%40example.com&amp;return_to=`+back) ||
			!strings.Contains(page.Raw, `/login?login_hint=nobody%40example.com&amp;return_to=`+back) {
			t.Errorf("the invitation page, signed out: %d\n%s", page.Status, page.Raw)
		}
		if r := anon.post(link, url.Values{"csrf_token": {csrfOf(t, anon.get("/login"))}}); r.Status != http.StatusSeeOther ||
			r.Header.Get("Location") != "/login?return_to="+back {
			t.Errorf("joining signed out: %d %q", r.Status, r.Header.Get("Location"))
		}

		// Signed in with another address: told so; joining refused.
		if r := admin.get(link); r.Status != http.StatusOK || !strings.Contains(r.Raw, `id="wrong-account"`) || strings.Contains(r.Raw, `action="`+link+`"`) {
			t.Errorf("the invitation page for another address: %d\n%s", r.Status, r.Raw)
		}
		if r := admin.post(link, url.Values{"csrf_token": {csrf}}); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, `id="wrong-account"`) {
			t.Errorf("joining with another address: %d", r.Status)
		}
		if r := admin.post(link, url.Values{}); r.Status != http.StatusForbidden || !strings.Contains(r.Raw, "This form has expired") {
			t.Errorf("joining without the CSRF token: %d", r.Status)
		}
		invs, err := s.Store.ListMemberInvitations(ctx, acmeOrg)
		mustDo(t, err)
		for _, inv := range invs {
			if inv.Status != store.InvitationPending {
				t.Errorf("a refused join changed %s: %+v", inv.Email, inv)
			}
		}

		// Tokens that cannot be used: one human page.
		for _, path := range []string{"/invitations/members/lk_minv_unknown", "/invitations/members/not-a-token",
			"/invitations/members/" + strings.Repeat("lk_minv_", 40)} {
			if r := anon.get(path); r.Status != http.StatusGone || !strings.Contains(r.Raw, "This invitation cannot be used") {
				t.Errorf("GET %s: %d", path, r.Status)
			}
		}
		if r := anon.get("/invitations/members/x/y"); r.Status != http.StatusNotFound {
			t.Errorf("a path below a token: %d", r.Status)
		}

		// The invited person joins, once.
		hash, err := account.HashPassword("carol's long password")
		mustDo(t, err)
		now := s.Clock.Now()
		mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: "u-carol", Email: "carol@example.com", PasswordHash: hash, CreatedAt: now, UpdatedAt: now}))
		if r := invite("carol@example.com", store.RoleMember, nil); r.Status != http.StatusSeeOther {
			t.Fatalf("inviting carol: %d", r.Status)
		}
		carolLink := memberLink(t, s, "carol@example.com")
		carol := newWebBrowser(t, s)
		if r := carol.post("/login", url.Values{"username": {"Carol@example.com"}, "password": {"carol's long password"},
			"csrf_token": {csrfOf(t, carol.get("/login"))}}); r.Status != http.StatusSeeOther {
			t.Fatalf("carol signs in: %d", r.Status)
		}
		page = carol.get(carolLink)
		if page.Status != http.StatusOK || !strings.Contains(page.Raw, `action="`+carolLink+`"`) {
			t.Fatalf("carol's invitation page: %d\n%s", page.Status, page.Raw)
		}
		r := carol.post(carolLink, url.Values{"csrf_token": {csrfOf(t, page)}})
		if r.Status != http.StatusOK || !strings.Contains(r.Raw, "You joined Acme Sensors") {
			t.Fatalf("carol joins: %d\n%s", r.Status, r.Raw)
		}
		if m, err := s.Store.GetOrgMember(ctx, acmeOrg, "u-carol"); err != nil || m.Role != store.RoleMember {
			t.Errorf("carol's membership: %+v %v", m, err)
		}
		if r := carol.post(carolLink, url.Values{"csrf_token": {csrfOf(t, page)}}); r.Status != http.StatusGone {
			t.Errorf("joining again: %d", r.Status)
		}
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{OrgID: acmeOrg, Kind: "member-invitation.accept", Limit: 10})
		mustDo(t, err)
		if len(es) != 1 || es[0].ActorKind != store.ActorUser || es[0].ActorID != "u-carol" || strings.Contains(es[0].After, "lk_minv_") {
			t.Errorf("the acceptance in the audit log: %+v", es)
		}
		es, err = s.Store.QueryAudit(ctx, store.AuditQuery{OrgID: acmeOrg, Kind: "member-invitation.create", Limit: 10})
		mustDo(t, err)
		if len(es) != 4 || es[0].ActorID != s.User.ID {
			t.Errorf("the invitations in the audit log: %d, %+v", len(es), es)
		}
	})
}
