package server

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

var memberInvitationLink = regexp.MustCompile(`http://[^\s]+(/invitations/members/lk_minv_[A-Za-z0-9_-]+)`)

// TestMemberInvitationInBrowser: an organization's admin invites two
// addresses from the console's organization page, one as an admin; each
// email arrives at the mail server with its link. The second invitation
// is resent (its first link dies), opened by the admin, who is told it is
// for another address, and revoked (its link dies too). The first address,
// which has no account and whose domain accounts.registration does not
// list, registers from the invitation page with the address filled in,
// signs in, joins, and appears in the members list as an admin. The audit
// log holds each step with its actor and no token. Both backends,
// headless Chromium, screenshots of each new page.
func TestMemberInvitationInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		mta := startSMTP(t, "127.0.0.1:0")
		s := newTestServerOn(t, b, false, func(c *config.Config) { // a real clock: the browser keeps cookies by it
			noSecondFactor(c)
			c.SMTP = config.SMTP{Host: "127.0.0.1", Port: mta.port(), TLS: "none", From: "noreply@latchkey.test"}
			c.Invitations.RetryInterval = config.Duration(50 * time.Millisecond)
			// Accounts only at acme.example: the invited address, elsewhere, may register all the same.
			c.Accounts.Registration = "domains"
			c.Accounts.RegistrationDomains = []string{"acme.example"}
		})
		ctx := t.Context()
		now := time.Now()
		mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: acmeOrg, Name: "Acme Sensors", CreatedAt: now, UpdatedAt: now}))
		mustDo(t, s.Store.PutOrgMember(ctx, &store.OrgMember{OrgID: acmeOrg, UserID: s.User.ID, Role: store.RoleAdmin, CreatedAt: now}))
		shots := func(bctx context.Context, name string) {
			t.Helper()
			if b.name == backends[0].name { // the pages are the same on both
				schemeShots(t, bctx, name)
			}
		}
		mail := func(n int) (subject, text, link string) {
			t.Helper()
			eventually(t, "mail at the mail server", func() bool { return len(mta.received()) >= n })
			subject, text = readInvitationMail(t, mta.received()[n-1])
			m := memberInvitationLink.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("no member invitation link in mail %d:\n%s", n, text)
			}
			return subject, text, m[1]
		}
		invite := func(bctx context.Context, email, role string) {
			t.Helper()
			navigate(t, bctx, s.URL+"/console/orgs/acme")
			waitFor(t, bctx, `#invite_email`)
			setValue(t, bctx, `#invite_email`, email)
			setValue(t, bctx, `#invite_role`, role)
			click(t, bctx, `form[action="/console/orgs/acme/member-invitations"] button[type=submit]`)
			if text := pageText(t, bctx); !strings.Contains(text, "The invitation is on its way") || !strings.Contains(text, strings.ToLower(email)) {
				t.Fatalf("after inviting %s:\n%s", email, text)
			}
		}
		gone := func(bctx context.Context, link, what string) {
			t.Helper()
			navigate(t, bctx, s.URL+link)
			waitFor(t, bctx, `main h1`)
			if text := pageText(t, bctx); !strings.Contains(text, "This invitation cannot be used") {
				t.Errorf("%s:\n%s", what, text)
			}
		}

		// The admin invites a newcomer as an admin.
		admin := browser(t)
		navigate(t, admin, s.URL+"/console/orgs/acme")
		signIn(t, admin, personEmail, personPassword)
		invite(admin, "Newcomer@Elsewhere.example", store.RoleAdmin)
		shots(admin, "org-member-invited")
		subject, text, newcomerLink := mail(1)
		if subject != "Join Acme Sensors" || !strings.Contains(text, "as an admin") || !strings.Contains(text, personEmail) ||
			!strings.Contains(mta.received()[0].To, "newcomer@elsewhere.example") {
			t.Errorf("the invitation mail to %s: %q\n%s", mta.received()[0].To, subject, text)
		}

		// A second, as a member: resent, opened by the admin, revoked.
		invite(admin, "robin@acme.example", store.RoleMember)
		_, _, firstRobin := mail(2)
		invs, err := s.Store.ListMemberInvitations(ctx, acmeOrg)
		mustDo(t, err)
		var robin *store.MemberInvitation
		for _, inv := range invs {
			if inv.Email == "robin@acme.example" {
				robin = inv
			}
		}
		if robin == nil {
			t.Fatalf("no invitation to robin: %+v", invs)
		}
		click(t, admin, `form[action="/console/orgs/acme/member-invitations/`+robin.ID+`/resend"] button[type=submit]`)
		if text := pageText(t, admin); !strings.Contains(text, "sent again") {
			t.Errorf("after resending:\n%s", text)
		}
		_, _, robinLink := mail(3)
		if robinLink == firstRobin {
			t.Fatal("the resent mail carries the first link")
		}
		gone(admin, firstRobin, "the first link after the resend")
		navigate(t, admin, s.URL+robinLink)
		waitFor(t, admin, `#wrong-account`)
		if text := pageText(t, admin); !strings.Contains(text, "signed in as "+personEmail) || !strings.Contains(text, "robin@acme.example") {
			t.Errorf("the invitation page for another address:\n%s", text)
		}
		shots(admin, "member-invitation-wrong-account")
		navigate(t, admin, s.URL+"/console/orgs/acme/member-invitations/"+robin.ID+"/revoke")
		waitFor(t, admin, `form[action$="/revoke"] button[type=submit]`)
		shots(admin, "member-invitation-revoke")
		click(t, admin, `form[action$="/revoke"] button[type=submit]`)
		if text := pageText(t, admin); !strings.Contains(text, "The invitation is revoked") || strings.Contains(text, "robin@acme.example") {
			t.Errorf("after revoking:\n%s", text)
		}
		gone(admin, robinLink, "the revoked invitation's link")

		// The newcomer registers from the invitation, signs in and joins.
		rb := browser(t)
		navigate(t, rb, s.URL+newcomerLink)
		waitFor(t, rb, `#register`)
		if text := pageText(t, rb); !strings.Contains(text, "Join Acme Sensors") || !strings.Contains(text, "as an admin") ||
			!strings.Contains(text, "newcomer@elsewhere.example") {
			t.Errorf("the invitation page, signed out:\n%s", text)
		}
		shots(rb, "member-invitation")
		click(t, rb, `#register`)
		waitFor(t, rb, `input[name=email]`)
		if got := inputValue(t, rb, `input[name=email]`); got != "newcomer@elsewhere.example" {
			t.Errorf("the registration page's email: %q", got)
		}
		if text := pageText(t, rb); strings.Contains(text, "acme.example") {
			t.Errorf("the registration page names the domains to the invited address:\n%s", text)
		}
		registerAndSignIn(t, rb, s, "New Comer", "newcomer@elsewhere.example", "a long enough password")
		waitFor(t, rb, `form[action^="/invitations/members/"] button[type=submit]`)
		shots(rb, "member-invitation-signed-in")
		click(t, rb, `form[action^="/invitations/members/"] button[type=submit]`)
		if text := pageText(t, rb); !strings.Contains(text, "You joined Acme Sensors") || !strings.Contains(text, "You are an admin of Acme Sensors") {
			t.Errorf("after joining:\n%s", text)
		}
		shots(rb, "member-invitation-joined")
		u, err := s.Store.GetUserByEmail(ctx, "newcomer@elsewhere.example")
		mustDo(t, err)
		if m, err := s.Store.GetOrgMember(ctx, acmeOrg, u.ID); err != nil || m.Role != store.RoleAdmin {
			t.Errorf("the newcomer's membership: %+v %v", m, err)
		}
		gone(rb, newcomerLink, "the used link")
		shots(rb, "member-invitation-gone")

		// The admin sees them among the members, as an admin.
		navigate(t, admin, s.URL+"/console/orgs/acme")
		waitFor(t, admin, `#members-h`)
		members := textOf(t, admin, `#members-h + ul`)
		if !strings.Contains(members, "newcomer@elsewhere.example admin") {
			t.Errorf("the members list:\n%s", members)
		}
		if text := pageText(t, admin); !strings.Contains(text, "No invitations are waiting") {
			t.Errorf("pending invitations after all that:\n%s", text)
		}
		shots(admin, "org-members")

		// The audit log: each step, by whom, and no token.
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{OrgID: acmeOrg, Limit: 100})
		mustDo(t, err)
		got := map[string]int{}
		for _, e := range es {
			if !strings.HasPrefix(e.Kind, "member-invitation.") {
				continue
			}
			got[e.Kind]++
			wantActor := s.User.ID
			if e.Kind == "member-invitation.accept" {
				wantActor = u.ID
			}
			if e.ActorKind != store.ActorUser || e.ActorID != wantActor || e.Address == "" {
				t.Errorf("%s by %s %s from %q; want the user %s", e.Kind, e.ActorKind, e.ActorID, e.Address, wantActor)
			}
			if strings.Contains(e.Before+e.After, "lk_minv_") || strings.Contains(e.Before+e.After, "token") {
				t.Errorf("a token in the audit log: %+v", e)
			}
		}
		for kind, n := range map[string]int{"member-invitation.create": 2, "member-invitation.resend": 1,
			"member-invitation.revoke": 1, "member-invitation.accept": 1} {
			if got[kind] != n {
				t.Errorf("audit: %d × %s; want %d (all: %v)", got[kind], kind, n, got)
			}
		}
	})
}
