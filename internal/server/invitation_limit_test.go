package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// TestInvitationMailLimits: invitations.mails_per_organization_per_hour
// and mails_per_sender_per_hour (docs/security.md INV-14) bound the
// invitation emails, device and member invitations alike, sent and
// resent, whoever asks (an organization's admin through the organization
// API or the OrgAdmin console, the admin token through the admin API). A
// caller refused for who they are spends nothing; one over a limit gets
// 429 with Retry-After (JSON, no-store) or, in the console, a page in
// words, and nothing is stored or mailed; the budget comes back within the
// hour. Both backends.
func TestInvitationMailLimits(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		is := newInvServer(t, b, func(c *config.Config) {
			noSecondFactor(c)
			c.Invitations.MailsPerOrgPerHour = 4
			c.Invitations.MailsPerSenderPerHour = 3
		})
		s := is.testServer
		ctx := t.Context()
		send := "/organizations/acme/client-group-invitations/send"
		device := func(email string) map[string]any {
			return map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": email}
		}
		mails := func() int {
			t.Helper()
			n := 0
			invs, err := s.Store.ListInvitations(ctx, acmeOrg)
			mustDo(t, err)
			minvs, err := s.Store.ListMemberInvitations(ctx, acmeOrg)
			mustDo(t, err)
			for _, inv := range invs {
				ms, err := s.Store.ListMail(ctx, inv.ID)
				mustDo(t, err)
				n += len(ms)
			}
			return n + len(minvs)
		}

		// Wrong callers are refused before the budget is asked: a
		// member's token, globex's admin, no token. They spend nothing.
		for range 5 {
			for _, bearer := range []string{is.memberAT, is.globexAT, ""} {
				if r := s.jsonRequest(t, "POST", send, bearer, device("x@acme.example")); r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
					t.Fatalf("a wrong caller: %d %s", r.Status, r.Raw)
				}
			}
		}

		// acme's admin: three emails (a send, its resend, a member
		// invitation in the console), then the sender's limit.
		first := is.send(t, device("one@acme.example"))
		if r := s.jsonRequest(t, "POST", send[:len(send)-len("send")]+first+"/resend", is.adminAT, nil); r.Status != http.StatusOK {
			t.Fatalf("resend: %d %s", r.Status, r.Raw)
		}
		person := newWebBrowser(t, s)
		person.signIn()
		csrf := csrfOf(t, person.get("/console/orgs/acme"))
		invite := func(email string) reply {
			return person.post("/console/orgs/acme/member-invitations", url.Values{"csrf_token": {csrf}, "email": {email}, "role": {store.RoleMember}})
		}
		if r := invite("colleague@acme.example"); r.Status != http.StatusSeeOther {
			t.Fatalf("invite a colleague in the console: %d %s", r.Status, r.Raw)
		}
		before := mails()
		r := s.jsonRequest(t, "POST", send, is.adminAT, device("two@acme.example"))
		wantOAuthError(t, r, http.StatusTooManyRequests, "too_many_requests")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if !strings.Contains(r.str("error_description"), "at most 3 in an hour") {
			t.Errorf("the refusal: %s", r.Raw)
		}
		// The console says so in words, with Retry-After, and keeps the form.
		page := invite("another@acme.example")
		if page.Status != http.StatusTooManyRequests || page.Header.Get("Retry-After") == "" ||
			!strings.Contains(page.Raw, "As many invitation emails as allowed were sent in the last hour") || !strings.Contains(page.Raw, "another@acme.example") {
			t.Errorf("the console over the limit: %d %q\n%s", page.Status, page.Header.Get("Retry-After"), page.Raw)
		}
		if got := mails(); got != before {
			t.Errorf("refused sends stored %d emails", got-before)
		}

		// The admin token is another sender: one more for acme, then the
		// organization's limit (4), for member invitations too; globex
		// has its own.
		admin := func(org, email string) reply {
			return s.jsonRequest(t, "POST", "/admin/v1/organizations/"+org+"/member-invitations", testAdminToken, map[string]string{"email": email, "role": store.RoleMember})
		}
		if r := admin(acmeOrg, "three@acme.example"); r.Status != http.StatusCreated {
			t.Fatalf("the admin token's first: %d %s", r.Status, r.Raw)
		}
		r = admin(acmeOrg, "four@acme.example")
		wantOAuthError(t, r, http.StatusTooManyRequests, "too_many_requests")
		if !strings.Contains(r.str("error_description"), "from this organization: at most 4") {
			t.Errorf("the organization's refusal: %s", r.Raw)
		}
		if r := admin(globexOrg, "one@globex.example"); r.Status != http.StatusCreated {
			t.Errorf("globex, another organization: %d %s", r.Status, r.Raw)
		}

		// An hour later the budgets are back.
		s.Clock.Advance(time.Hour + 7*time.Minute)
		if r := admin(acmeOrg, "four@acme.example"); r.Status != http.StatusCreated {
			t.Errorf("an hour later: %d %s", r.Status, r.Raw)
		}
		if r := s.jsonRequest(t, "POST", send, testAdminToken, device("two@acme.example")); r.Status != http.StatusCreated {
			t.Errorf("an hour later, a device invitation: %d %s", r.Status, r.Raw)
		}
	})
}

// TestInvitationMailLimitOneEvent: a refusal by the invitation mail limit
// is one security event, the limit's own (which limit, whose budget), not
// one more for the route that answered 429 (INV-14): through the
// organization API (a JSON endpoint, whose other 429s are logged by
// route), the admin API and the console alike.
func TestInvitationMailLimitOneEvent(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	is := newInvServerLogging(t, backends[0], func(c *config.Config) {
		noSecondFactor(c)
		c.Invitations.MailsPerSenderPerHour = 1
	}, &logged)
	s := is.testServer
	send := func(bearer, email string) reply {
		return s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", bearer,
			map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": email})
	}
	admin := func(email string) reply {
		return s.jsonRequest(t, "POST", "/admin/v1/organizations/"+acmeOrg+"/member-invitations", testAdminToken,
			map[string]string{"email": email, "role": store.RoleMember})
	}
	person := newWebBrowser(t, s)
	person.signIn()
	invite := func(email string) reply {
		return person.post("/console/orgs/acme/member-invitations", url.Values{"csrf_token": {csrfOf(t, person.get("/console/orgs/acme"))},
			"email": {email}, "role": {store.RoleMember}})
	}

	// The person (acme's admin) sends one, then is refused by the
	// organization API and by the console; the admin token, another
	// sender, sends one, then is refused.
	is.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "one@acme.example"})
	wantOAuthError(t, send(is.adminAT, "two@acme.example"), http.StatusTooManyRequests, "too_many_requests")
	if r := invite("three@acme.example"); r.Status != http.StatusTooManyRequests {
		t.Errorf("the console over the limit: %d", r.Status)
	}
	if r := admin("four@acme.example"); r.Status != http.StatusCreated {
		t.Fatalf("the admin token's first: %d %s", r.Status, r.Raw)
	}
	wantOAuthError(t, admin("five@acme.example"), http.StatusTooManyRequests, "too_many_requests")

	var got []map[string]any
	for line := range strings.Lines(logged.String()) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if l["msg"] == secevent.Message && l["event"] == secevent.Throttle {
			got = append(got, l)
		}
	}
	want := []string{s.User.ID, s.User.ID, ""} // the sender: the person twice, then the admin token
	if len(got) != len(want) {
		t.Fatalf("%d throttle events; want %d, one per refusal:\n%v", len(got), len(want), got)
	}
	for i, l := range got {
		if l["reason"] != "invitation mails per sender" || l["outcome"] != secevent.Tripped || l["user_id"] != want[i] {
			t.Errorf("event %d: %v", i, l)
		}
	}
}
