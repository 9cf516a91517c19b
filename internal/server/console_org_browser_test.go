package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

var (
	latchkeyBinOnce sync.Once
	latchkeyBin     string
	latchkeyBinErr  error
)

// latchkeyBinary builds the latchkey command once per test run, for the
// tests that drive it as a device would (device-enrol).
func latchkeyBinary(t *testing.T) string {
	t.Helper()
	latchkeyBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "latchkey-bin-")
		if err != nil {
			latchkeyBinErr = err
			return
		}
		latchkeyBin = filepath.Join(dir, "latchkey")
		out, err := exec.Command("go", "build", "-o", latchkeyBin, "github.com/latchkey/latchkey/cmd/latchkey").CombinedOutput()
		if err != nil {
			latchkeyBinErr = err
			latchkeyBin = string(out)
		}
	})
	if latchkeyBinErr != nil {
		t.Fatalf("go build latchkey: %v\n%s", latchkeyBinErr, latchkeyBin)
	}
	return latchkeyBin
}

// TestOrgAdminConsoleInBrowser: an organization's admin who is not a
// system administrator finds the console from /account, sees only their
// organization, creates device client groups, sends an invitation from the
// console; the email reaches the mail server; a device accepts it with
// `latchkey device-enrol` and appears in its group in the console; the
// admin renames it, moves it to another group (its next token has the new
// group's scopes), revokes its tokens (introspection says inactive),
// rotates its secret (the old one is refused), resends and revokes
// another invitation, edits and deletes a group, manages members (the
// last admin stays) and removes the device; the organization's audit log
// shows every change with the admin as the actor. Both backends, headless
// Chromium, screenshots of each page light and dark.
func TestOrgAdminConsoleInBrowser(t *testing.T) {
	t.Parallel()
	bin := latchkeyBinary(t)
	onEachBackend(t, func(t *testing.T, b backend) {
		mta := startSMTP(t, "127.0.0.1:0")
		s := newTestServerOn(t, b, false, func(c *config.Config) { // a real clock: the browser keeps cookies by it
			noSecondFactor(c)
			c.SMTP = config.SMTP{Host: "127.0.0.1", Port: mta.port(), TLS: "none", From: "noreply@latchkey.test"}
			c.Invitations.RetryInterval = config.Duration(50 * time.Millisecond)
		})
		ctx := t.Context()
		now := time.Now()
		mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: acmeOrg, Name: "Acme Sensors", CreatedAt: now, UpdatedAt: now}))
		mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: globexOrg, Name: "Globex", CreatedAt: now, UpdatedAt: now}))
		mustDo(t, s.Store.PutOrgMember(ctx, &store.OrgMember{OrgID: acmeOrg, UserID: s.User.ID, Role: store.RoleAdmin, CreatedAt: now}))
		mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: memberUser, Email: "robin@example.com", CreatedAt: now, UpdatedAt: now}))
		bctx := browser(t)
		shots := func(name string) {
			t.Helper()
			if b.name == backends[0].name { // the pages are the same on both
				schemeShots(t, bctx, "orgadmin-"+name)
			}
		}
		tick := func(sel string) { // a checkbox or a summary: no answer to wait for
			t.Helper()
			mustDo(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(sel))))
		}

		// The account page leads to the console, which lists only acme.
		navigate(t, bctx, s.URL+"/account")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `a[href="/console"]`)
		shots("account")
		click(t, bctx, `a[href="/console"]`)
		waitFor(t, bctx, `a[href="/console/orgs/acme"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Acme Sensors") || strings.Contains(text, "Globex") || strings.Contains(text, "Clients") {
			t.Errorf("the console of acme's admin:\n%s", text)
		}
		shots("my-orgs")

		// Groups: create two, with a refused one between.
		navigate(t, bctx, s.URL+"/console/orgs/acme")
		waitFor(t, bctx, `#group_name`)
		createGroup := func(name, scope string) {
			t.Helper()
			navigate(t, bctx, s.URL+"/console/orgs/acme")
			tick(`details summary`)
			setValue(t, bctx, `#group_name`, name)
			setValue(t, bctx, `#group_scope`, scope)
			click(t, bctx, `form[action="/console/orgs/acme/groups"] button[type=submit]`)
		}
		createGroup("Readers", "read status")
		if text := pageText(t, bctx); !strings.Contains(text, "The group is created") {
			t.Fatalf("after creating a group:\n%s", text)
		}
		createGroup("Readers", "read")
		if text := pageText(t, bctx); !strings.Contains(text, "has a group named Readers already") {
			t.Errorf("a second group named Readers:\n%s", text)
		}
		shots("org-refused")
		createGroup("Writers", "write")
		createGroup("Spare", "")
		gs, err := s.Store.ListClientGroups(ctx, acmeOrg)
		mustDo(t, err)
		group := map[string]string{}
		for _, g := range gs {
			group[g.Name] = g.ID
		}
		if len(gs) != 3 || group["Readers"] == "" || group["Writers"] == "" {
			t.Fatalf("acme's groups: %+v", gs)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme")
		waitFor(t, bctx, `#members-h`)
		shots("org")

		// Send an invitation from the console.
		navigate(t, bctx, s.URL+"/console/orgs/acme/invitations/new")
		waitFor(t, bctx, `#email`)
		shots("invitation-new")
		setValue(t, bctx, `#email`, "ops@acme.example")
		setValue(t, bctx, `#message`, "For the boiler room.")
		tick(`input[name="group_` + group["Readers"] + `"]`)
		tick(`input[name="allow_rename"]`)
		click(t, bctx, `form[action="/console/orgs/acme/invitations/new"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The invitation is sent") || !strings.Contains(text, "ops@acme.example") {
			t.Fatalf("after sending:\n%s", text)
		}
		shots("invitations")
		eventually(t, "the invitation at the mail server", func() bool { return len(mta.received()) == 1 })
		_, mailText := readInvitationMail(t, mta.received()[0])
		link := invitationLink.FindStringSubmatch(mailText)
		if link == nil || !strings.Contains(mailText, "For the boiler room.") {
			t.Fatalf("the invitation mail:\n%s", mailText)
		}

		// The device enrols with the CLI, and appears in Readers.
		credFile := filepath.Join(t.TempDir(), "device.json")
		cmd := exec.CommandContext(ctx, bin, "device-enrol", "--issuer", s.URL, "--link", s.URL+"/invitations/"+link[1],
			"--out", credFile, "--name", "Boiler sensor")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("latchkey device-enrol: %v\n%s", err, out)
		}
		var creds struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		raw, err := os.ReadFile(credFile)
		mustDo(t, err)
		mustDo(t, json.Unmarshal(raw, &creds))
		dev := creds.ClientID
		navigate(t, bctx, s.URL+"/console/orgs/acme/groups/"+group["Readers"])
		waitFor(t, bctx, `a[href="/console/orgs/acme/devices/`+dev+`"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Boiler sensor") {
			t.Errorf("the group's devices:\n%s", text)
		}
		shots("group")
		navigate(t, bctx, s.URL+"/console/orgs/acme/groups/"+group["Readers"]+"?q=nothing-like-it")
		waitFor(t, bctx, `nav.org-nav`)
		if text := pageText(t, bctx); strings.Contains(text, "Boiler sensor") {
			t.Errorf("searching the group for something else:\n%s", text)
		}

		// Every device of the organization, searched in the store.
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices?q=BOILER")
		waitFor(t, bctx, `a[href="/console/orgs/acme/devices/`+dev+`"]`)
		shots("devices")
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices?q=kitchen")
		waitFor(t, bctx, `nav.org-nav`)
		if text := pageText(t, bctx); strings.Contains(text, "Boiler sensor") || !strings.Contains(text, "No device matches") {
			t.Errorf("searching the devices for another name:\n%s", text)
		}

		// Rename and move.
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices/"+dev)
		waitFor(t, bctx, `#device_name`)
		shots("device")
		setValue(t, bctx, `#device_name`, "Boiler room sensor")
		click(t, bctx, `form[action$="/name"] button[type=submit]`)
		if cl, err := s.Store.GetClient(ctx, dev); err != nil || cl.Name != "Boiler room sensor" {
			t.Errorf("after renaming: %+v %v", cl, err)
		}
		setValue(t, bctx, `#move_to`, group["Writers"])
		click(t, bctx, `form[action$="/move"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The device is moved") {
			t.Errorf("after moving:\n%s", text)
		}
		in, err := s.Store.ListClientGroupsOf(ctx, dev)
		mustDo(t, err)
		if len(in) != 1 || in[0].ID != group["Writers"] {
			t.Errorf("the device's groups after the move: %+v", in)
		}
		tok, claims := s.deviceToken(t, dev, creds.ClientSecret)
		if claims.Scope != "write" {
			t.Errorf("the moved device's token scope %q; want write", claims.Scope)
		}

		// Revoke its tokens: introspection, as the device, says inactive.
		introspect := func() bool {
			t.Helper()
			r := s.post(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, dev, creds.ClientSecret)
			if r.Status != http.StatusOK {
				t.Fatalf("introspect: %d %s", r.Status, r.Raw)
			}
			return strings.Contains(r.Raw, `"active":true`)
		}
		if !introspect() {
			t.Fatal("the device's token is not active before the revocation")
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices/"+dev+"/revoke")
		waitFor(t, bctx, `form[action$="/revoke"] button[type=submit]`)
		shots("device-revoke")
		click(t, bctx, `form[action$="/revoke"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "tokens are revoked") {
			t.Errorf("after revoking:\n%s", text)
		}
		if introspect() {
			t.Error("the device's token is still active after its tokens were revoked")
		}

		// Rotate its secret: shown once; the old one is refused.
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices/"+dev+"/secret")
		click(t, bctx, `form[action$="/secret"] button[type=submit]`)
		waitFor(t, bctx, `#client-secret`)
		fresh := textOf(t, bctx, `#client-secret`)
		shots("device-secret")
		if !strings.HasPrefix(fresh, oauth.PrefixClientSecret) || fresh == creds.ClientSecret {
			t.Fatalf("the rotated secret %q", fresh)
		}
		token := func(secret string) reply {
			return s.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, dev, secret)
		}
		wantOAuthError(t, token(creds.ClientSecret), http.StatusUnauthorized, oauth.InvalidClient)
		if r := token(fresh); r.Status != http.StatusOK {
			t.Errorf("a token with the new secret: %d %s", r.Status, r.Raw)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices/"+dev)
		waitFor(t, bctx, `#device_name`)
		if strings.Contains(pageHTML(t, bctx), fresh) {
			t.Error("the device page shows the secret again")
		}

		// Invitations: the accepted one under its state; another sent, resent, revoked.
		navigate(t, bctx, s.URL+"/console/orgs/acme/invitations?state=accepted")
		waitFor(t, bctx, `nav.org-nav`)
		if text := pageText(t, bctx); !strings.Contains(text, "ops@acme.example") || !strings.Contains(text, "accepted") {
			t.Errorf("accepted invitations:\n%s", text)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/invitations/new?group="+group["Writers"])
		setValue(t, bctx, `#email`, "spare@acme.example")
		click(t, bctx, `form[action="/console/orgs/acme/invitations/new"] button[type=submit]`)
		navigate(t, bctx, s.URL+"/console/orgs/acme/invitations?state=pending")
		waitFor(t, bctx, `nav.org-nav`)
		if text := pageText(t, bctx); strings.Contains(text, "ops@acme.example") || !strings.Contains(text, "spare@acme.example") {
			t.Errorf("pending invitations:\n%s", text)
		}
		click(t, bctx, `form[action$="/resend"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "sent again") {
			t.Errorf("after resending:\n%s", text)
		}
		eventually(t, "the first mail and the resent second one, and the other", func() bool { return len(mta.received()) == 3 })
		invs, err := s.Store.QueryInvitations(ctx, store.InvitationQuery{OrgID: acmeOrg, State: store.InvitationPending, Now: time.Now(), Limit: 10})
		mustDo(t, err)
		if len(invs) != 1 {
			t.Fatalf("pending invitations: %+v", invs)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/invitations/"+invs[0].ID+"/revoke")
		waitFor(t, bctx, `form[action$="/revoke"] button[type=submit]`)
		shots("invitation-revoke")
		click(t, bctx, `form[action$="/revoke"] button[type=submit]`)
		if inv, err := s.Store.GetInvitation(ctx, invs[0].ID); err != nil || inv.Status != store.InvitationRevoked {
			t.Errorf("the invitation after revoking: %+v %v", inv, err)
		}

		// Edit a group; delete another.
		navigate(t, bctx, s.URL+"/console/orgs/acme/groups/"+group["Writers"])
		setValue(t, bctx, `#group_description`, "Devices that write")
		setValue(t, bctx, `#group_scope`, "write status")
		click(t, bctx, `form[method=post][action="/console/orgs/acme/groups/`+group["Writers"]+`"] button[type=submit]`)
		if g, err := s.Store.GetClientGroup(ctx, group["Writers"]); err != nil || g.Description != "Devices that write" || strings.Join(g.Scopes, " ") != "write status" {
			t.Errorf("the group after saving: %+v %v", g, err)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/groups/"+group["Spare"]+"/delete")
		waitFor(t, bctx, `form[action$="/delete"] button[type=submit]`)
		shots("group-delete")
		click(t, bctx, `form[action$="/delete"] button[type=submit]`)
		if _, err := s.Store.GetClientGroup(ctx, group["Spare"]); err == nil {
			t.Error("the Spare group is still there")
		}

		// Members (who join by invitation: TestMemberInvitationInBrowser):
		// the last admin stays; Robin is made an admin.
		mustDo(t, s.Store.PutOrgMember(ctx, &store.OrgMember{OrgID: acmeOrg, UserID: memberUser, Role: store.RoleMember, CreatedAt: now}))
		navigate(t, bctx, s.URL+"/console/orgs/acme")
		demote := `input[name=user_id][value="` + s.User.ID + `"] ~ button`
		click(t, bctx, demote)
		if text := pageText(t, bctx); !strings.Contains(text, "last admin") {
			t.Errorf("demoting the last admin:\n%s", text)
		}
		shots("org-last-admin")
		if m, _ := s.Store.GetOrgMember(ctx, acmeOrg, s.User.ID); m == nil || m.Role != store.RoleAdmin {
			t.Errorf("the last admin was demoted: %+v", m)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme")
		click(t, bctx, `input[name=user_id][value="`+memberUser+`"] ~ button`)
		if strings.Contains(pageHTML(t, bctx), `name="password"`) { // more than 10 minutes since sign-in
			setValue(t, bctx, `#password`, personPassword)
			click(t, bctx, `form[action="/console/orgs/acme/members"] button[type=submit]`)
		}
		if m, err := s.Store.GetOrgMember(ctx, acmeOrg, memberUser); err != nil || m.Role != store.RoleAdmin {
			t.Fatalf("robin's membership after making them an admin: %+v %v", m, err)
		}
		navigate(t, bctx, s.URL+"/console/orgs/acme/members/remove?user_id="+memberUser)
		waitFor(t, bctx, `form[action$="/members/remove"] button[type=submit]`)
		shots("member-remove")
		click(t, bctx, `form[action$="/members/remove"] button[type=submit]`)
		if _, err := s.Store.GetOrgMember(ctx, acmeOrg, memberUser); err == nil {
			t.Error("robin is still a member")
		}

		// Remove the device.
		navigate(t, bctx, s.URL+"/console/orgs/acme/devices/"+dev+"/remove")
		waitFor(t, bctx, `form[action$="/remove"] button[type=submit]`)
		shots("device-remove")
		click(t, bctx, `form[action$="/remove"] button[type=submit]`)
		if _, err := s.Store.GetClient(ctx, dev); err == nil {
			t.Error("the device is still a client")
		}
		if text := pageText(t, bctx); !strings.Contains(text, "The device is removed") || strings.Contains(text, "Boiler") {
			t.Errorf("the devices after removing it:\n%s", text)
		}

		// The organization's audit log: every change by the admin.
		navigate(t, bctx, s.URL+"/console/orgs/acme/audit")
		waitFor(t, bctx, `#kind`)
		shots("audit")
		if text := textOf(t, bctx, `ul.items`); !strings.Contains(text, "client.rotate-secret") || !strings.Contains(text, personEmail) {
			t.Errorf("the organization's audit page:\n%s", text)
		}
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{OrgID: acmeOrg, Limit: 100})
		mustDo(t, err)
		got := map[string]int{}
		for _, e := range es {
			if e.Kind == "invitation.accept" {
				continue // the device's own doing
			}
			if e.ActorKind != store.ActorUser || e.ActorID != s.User.ID {
				t.Errorf("entry by %s %s: %+v", e.ActorKind, e.ActorID, e)
			}
			if strings.Contains(e.Before+e.After, fresh) || strings.Contains(e.Before+e.After, creds.ClientSecret) {
				t.Errorf("a secret in the audit log: %+v", e)
			}
			got[e.Kind]++
		}
		for kind, n := range map[string]int{"group.create": 3, "group.update": 1, "group.delete": 1, "invitation.send": 2,
			"invitation.resend": 1, "invitation.revoke": 1, "client.update": 1, "group.add-client": 1, "group.remove-client": 1,
			"client.revoke-tokens": 1, "client.rotate-secret": 1, "member.put": 1, "member.delete": 1, "client.delete": 1} {
			if got[kind] != n {
				t.Errorf("audit: %d × %s by the admin; want %d (all: %v)", got[kind], kind, n, got)
			}
		}
	})
}
