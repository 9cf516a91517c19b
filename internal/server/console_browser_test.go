package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// setValue fills in a form field.
func setValue(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	js, _ := json.Marshal([]string{sel, value})
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`((a) => { const e = document.querySelector(a[0]); if (!e) return false; e.value = a[1]; return true })(`+string(js)+`)`))
	if err != nil || !ok {
		t.Fatalf("set %s: %v (found: %v)", sel, err, ok)
	}
}

// textOf returns the visible text of the element sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestConsoleClientsInBrowser: an operator signs in to the console,
// creates a confidential device client, and a device completes the device
// flow with it through golang.org/x/oauth2; the secret is shown once and
// never again; the operator edits the client's settings, rotates its
// secret (the old one stops working) and deletes it; the audit log has
// each change with the operator as the actor. Both backends, headless
// Chromium, screenshots of each page.
func TestConsoleClientsInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, noSecondFactor)
		makeSysadmin(t, s, true)
		bctx := browser(t)
		ctx := t.Context()

		// Signed out, the console sends to sign-in and back.
		navigate(t, bctx, s.URL+"/console/clients")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `a[href="/console/clients/new"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Living Room TV") || !strings.Contains(text, "Office Printer") {
			t.Fatalf("the clients list:\n%s", text)
		}
		screenshots(t, bctx, "console-clients")
		navigate(t, bctx, s.URL+"/console")
		waitFor(t, bctx, `nav.console-nav`)
		screenshots(t, bctx, "console-overview")

		// Server-side search.
		navigate(t, bctx, s.URL+"/console/clients")
		setValue(t, bctx, `#q`, "printer")
		click(t, bctx, `form.search button`)
		if text := pageText(t, bctx); !strings.Contains(text, "Office Printer") || strings.Contains(text, "Living Room TV") {
			t.Errorf("searching for printer:\n%s", text)
		}

		// Create a confidential device client.
		navigate(t, bctx, s.URL+"/console/clients/new")
		waitFor(t, bctx, `#client_name`)
		screenshots(t, bctx, "console-client-new")
		setValue(t, bctx, `#client_name`, "Kitchen Radio")
		setValue(t, bctx, `#client_id`, "kitchen-radio")
		setValue(t, bctx, `#token_endpoint_auth_method`, store.AuthClientSecretPost)
		setValue(t, bctx, `#scope`, scopesAll)
		click(t, bctx, `form[action="/console/clients/new"] button[type=submit]`)
		waitFor(t, bctx, `#client-secret`)
		screenshots(t, bctx, "console-client-created")
		secret := textOf(t, bctx, `#client-secret`)
		if !strings.HasPrefix(secret, oauth.PrefixClientSecret) || textOf(t, bctx, `#client-id`) != "kitchen-radio" {
			t.Fatalf("the created client's page:\n%s", pageText(t, bctx))
		}
		cl, err := s.Store.GetClient(ctx, "kitchen-radio")
		mustDo(t, err)
		if cl.Name != "Kitchen Radio" || cl.AuthMethod != store.AuthClientSecretPost || !cl.HasGrant(store.GrantDeviceCode) ||
			!cl.HasGrant(store.GrantRefreshToken) || cl.SecretHash != oauth.HashSecret(secret) {
			t.Fatalf("the stored client: %+v", cl)
		}

		// A device completes the device flow with it; the operator approves.
		// x/oauth2 sends no secret to the device authorization endpoint on
		// its own: client_secret_post, with the secret as a parameter.
		endpoint := mustProvider(t, s).Endpoint()
		endpoint.AuthStyle = oauth2.AuthStyleInParams
		conf := &oauth2.Config{ClientID: "kitchen-radio", ClientSecret: secret, Endpoint: endpoint, Scopes: strings.Fields(scopesAll)}
		tok := deviceFlowInBrowser(t, bctx, conf, oauth2.SetAuthURLParam("client_secret", secret))
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}

		// The secret is never shown again.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio")
		waitFor(t, bctx, `#client_name`)
		if html := pageHTML(t, bctx); strings.Contains(html, secret) {
			t.Error("the client's page shows its secret")
		}
		screenshots(t, bctx, "console-client-edit")

		// Edit settings.
		setValue(t, bctx, `#access_token_lifetime`, "300")
		setValue(t, bctx, `#session_attachment`, store.SessionAttached)
		setValue(t, bctx, `#redirect_uris`, "https://radio.example.com/cb")
		click(t, bctx, `form[action="/console/clients/kitchen-radio"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Redirect URIs are used only by the authorization_code grant") {
			t.Errorf("a redirect URI without the code grant was not refused with the API's rule:\n%s", text)
		}
		screenshots(t, bctx, "console-client-refused")
		setValue(t, bctx, `#redirect_uris`, "")
		click(t, bctx, `form[action="/console/clients/kitchen-radio"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The client is saved") {
			t.Fatalf("after saving:\n%s", text)
		}
		cl, err = s.Store.GetClient(ctx, "kitchen-radio")
		mustDo(t, err)
		if cl.Tokens.AccessTokenLifetime != 300*time.Second || cl.SessionAttachment != store.SessionAttached {
			t.Errorf("after the edit: %+v", cl)
		}

		// Rotate the secret: confirmed, shown once, the old one refused.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio/secret")
		waitFor(t, bctx, `form[action="/console/clients/kitchen-radio/secret"] button[type=submit]`)
		screenshots(t, bctx, "console-client-rotate")
		click(t, bctx, `form[action="/console/clients/kitchen-radio/secret"] button[type=submit]`)
		waitFor(t, bctx, `#client-secret`)
		fresh := textOf(t, bctx, `#client-secret`)
		if fresh == secret || !strings.HasPrefix(fresh, oauth.PrefixClientSecret) {
			t.Fatalf("the rotated secret %q", fresh)
		}
		refresh := func(secret string) reply {
			return s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
				"client_id": {"kitchen-radio"}, "client_secret": {secret}}, "", "")
		}
		wantOAuthError(t, refresh(secret), http.StatusUnauthorized, oauth.InvalidClient)
		if r := refresh(fresh); r.Status != http.StatusOK {
			t.Errorf("refresh with the new secret: %d %s", r.Status, r.Raw)
		}

		// Delete: a confirmation page, then the client is gone.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio/delete")
		waitFor(t, bctx, `form[action="/console/clients/kitchen-radio/delete"] button[type=submit]`)
		screenshots(t, bctx, "console-client-delete")
		click(t, bctx, `form[action="/console/clients/kitchen-radio/delete"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The client is deleted") || strings.Contains(text, "Kitchen Radio") {
			t.Errorf("after deleting:\n%s", text)
		}
		if _, err := s.Store.GetClient(ctx, "kitchen-radio"); err == nil {
			t.Error("the client is still stored")
		}

		// The audit log has every change, by the operator, without a secret.
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{ActorID: s.User.ID, Limit: 100})
		mustDo(t, err)
		var kinds []string
		for _, e := range es {
			if e.ActorKind != store.ActorUser || e.TargetID != "kitchen-radio" {
				t.Errorf("entry %+v", e)
			}
			if strings.Contains(e.Before+e.After, secret) || strings.Contains(e.Before+e.After, fresh) {
				t.Errorf("a secret in the audit log: %+v", e)
			}
			kinds = append([]string{e.Kind}, kinds...)
		}
		if got, want := strings.Join(kinds, " "), "client.create client.update client.rotate-secret client.delete"; got != want {
			t.Errorf("audit kinds %q; want %q", got, want)
		}
	})
}

// deviceFlowInBrowser runs the device flow of conf: the device asks for
// codes, the browser (signed in) approves, and the device's polling gets
// the tokens.
func deviceFlowInBrowser(t *testing.T, bctx context.Context, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	ctx := t.Context()
	da, err := conf.DeviceAuth(ctx, opts...)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	waitTokens := pollInBackground(t, ctx, conf, da)
	navigate(t, bctx, da.VerificationURIComplete)
	click(t, bctx, `button[name=decision][value=approve]`)
	return waitTokens()
}

// pageHTML returns the page's whole markup, hidden fields and all.
func pageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// mustProvider reads s's discovery document, as an integrator's library
// would.
func mustProvider(t *testing.T, s *testServer) *oidc.Provider {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConsoleUsersOrgsInBrowser: an operator creates a user, sees and
// revokes a user's grant (the device's next refresh fails), disables and
// enables them, sets their password (their sessions end), makes them a
// system administrator after entering the password again; creates an
// organization, adds the user as a member and makes them its admin,
// removes them, revokes an organization's invitation, rotates the signing
// keys and deletes the organization; the audit page shows it all, by the
// operator, and filters. Both backends, headless Chromium, screenshots.
func TestConsoleUsersOrgsInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, noSecondFactor) // a real clock: the browser keeps cookies by it
		makeSysadmin(t, s, true)
		ctx := t.Context()
		now := time.Now()
		mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: acmeOrg, Name: "Acme Sensors", CreatedAt: now, UpdatedAt: now}))
		mustDo(t, s.Store.CreateClientGroup(ctx, &store.ClientGroup{ID: groupRead, OrgID: acmeOrg, Name: "Readers", Scopes: []string{"read"}}))
		bctx := browser(t)
		navigate(t, bctx, s.URL+"/console/users")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `a[href="/console/users/new"]`)
		screenshots(t, bctx, "console-users")

		// Create a user; the API's password rules apply.
		navigate(t, bctx, s.URL+"/console/users/new")
		waitFor(t, bctx, `#email`)
		setValue(t, bctx, `#email`, "Robin@Example.com")
		setValue(t, bctx, `#name`, "Robin Rota")
		setValue(t, bctx, `#password`, "password123")
		click(t, bctx, `form[action="/console/users/new"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "common") {
			t.Errorf("a common password was not refused:\n%s", text)
		}
		screenshots(t, bctx, "console-user-new-refused")
		setValue(t, bctx, `#password`, "robin's long pass phrase")
		click(t, bctx, `form[action="/console/users/new"] button[type=submit]`)
		robin, err := s.Store.GetUserByEmail(ctx, "robin@example.com")
		mustDo(t, err)
		waitFor(t, bctx, `form[action$="/password"]`)

		// Robin's address is not confirmed: the list says so, and the
		// operator vouches for it (the admin API's email_verified).
		navigate(t, bctx, s.URL+"/console/users?q=robin")
		waitFor(t, bctx, `ul.items`)
		if text := textOf(t, bctx, `ul.items`); !strings.Contains(text, "robin@example.com") || !strings.Contains(text, "address not confirmed") {
			t.Errorf("the users list does not say robin's address is unconfirmed:\n%s", text)
		}
		schemeShots(t, bctx, "console-users-unconfirmed")
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID)
		click(t, bctx, `a[href="/console/users/`+robin.ID+`/email"]`)
		waitFor(t, bctx, `form[action$="/email"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Mark the address robin@example.com as confirmed") {
			t.Errorf("the vouching confirmation:\n%s", text)
		}
		schemeShots(t, bctx, "console-user-email-vouch")
		click(t, bctx, `form[action$="/email"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The address is marked confirmed") || !strings.Contains(text, "address confirmed") {
			t.Errorf("after vouching:\n%s", text)
		}
		if !mustGetUser(t, s, robin.ID).EmailVerified {
			t.Fatal("robin's address is not confirmed after vouching")
		}
		schemeShots(t, bctx, "console-user-vouched")

		// Robin pairs a TV (the address confirmed, the gate lets him);
		// the operator sees the grant and revokes it.
		rb := newWebBrowser(t, s)
		r := rb.post("/login", url.Values{"username": {"robin@example.com"}, "password": {"robin's long pass phrase"}, "csrf_token": {csrfOf(t, rb.get("/login"))}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("robin signs in: %d", r.Status)
		}
		a := s.startDevice(t, tvClient, scopesAll)
		rb.approve(a.str("user_code"))
		time.Sleep(1100 * time.Millisecond) // the poll interval
		tv := s.poll(t, tvClient, a.str("device_code"))
		if tv.Status != http.StatusOK {
			t.Fatalf("poll: %d %s", tv.Status, tv.Raw)
		}
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID)
		waitFor(t, bctx, `form[action$="/grants/revoke"] button[type=submit]`)
		screenshots(t, bctx, "console-user")
		if text := pageText(t, bctx); !strings.Contains(text, "Living Room TV") {
			t.Errorf("the user's grants:\n%s", text)
		}
		click(t, bctx, `form[action$="/grants/revoke"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The grant is revoked") {
			t.Errorf("after revoking:\n%s", text)
		}
		wantOAuthError(t, s.refresh(t, tvClient, tv.str("refresh_token")), http.StatusBadRequest, oauth.InvalidGrant)

		// Disable, then enable.
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID+"/status")
		waitFor(t, bctx, `form[action$="/status"] button[type=submit]`)
		screenshots(t, bctx, "console-user-disable")
		click(t, bctx, `form[action$="/status"] button[type=submit]`)
		if !mustGetUser(t, s, robin.ID).Disabled {
			t.Error("not disabled")
		}
		if rb.signedIn() {
			t.Error("a disabled user is still signed in")
		}
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID+"/status")
		click(t, bctx, `form[action$="/status"] button[type=submit]`)
		if mustGetUser(t, s, robin.ID).Disabled {
			t.Error("not enabled again")
		}

		// A new password: Robin's sessions end.
		rb.post("/login", url.Values{"username": {"robin@example.com"}, "password": {"robin's long pass phrase"}, "csrf_token": {csrfOf(t, rb.get("/login"))}})
		if !rb.signedIn() {
			t.Fatal("robin did not sign in again")
		}
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID)
		setValue(t, bctx, `#new_password`, "a fresh phrase for robin")
		click(t, bctx, `form[action$="/password"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The password is set") {
			t.Errorf("after setting the password:\n%s", text)
		}
		if rb.signedIn() {
			t.Error("robin's session outlived the new password")
		}

		// Make Robin a system administrator: confirmed (the password is fresh).
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID+"/sysadmin")
		waitFor(t, bctx, `form[action$="/sysadmin"] button[type=submit]`)
		screenshots(t, bctx, "console-user-sysadmin")
		click(t, bctx, `form[action$="/sysadmin"] button[type=submit]`)
		if !mustGetUser(t, s, robin.ID).Sysadmin {
			t.Error("robin is not a system administrator")
		}

		// Ask Robin to confirm the address again.
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID+"/email")
		waitFor(t, bctx, `form[action$="/email"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Ask robin@example.com to confirm the address again") {
			t.Errorf("the confirmation of asking again:\n%s", text)
		}
		schemeShots(t, bctx, "console-user-email-unvouch")
		click(t, bctx, `form[action$="/email"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "counts as not confirmed") {
			t.Errorf("after asking again:\n%s", text)
		}
		if mustGetUser(t, s, robin.ID).EmailVerified {
			t.Error("robin's address is still confirmed")
		}
		// Signed in, Robin is sent to confirm it before approving a device.
		rb.post("/login", url.Values{"username": {"robin@example.com"}, "password": {"a fresh phrase for robin"}, "csrf_token": {csrfOf(t, rb.get("/login"))}})
		if r := rb.get("/device"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/verify-email/required") {
			t.Errorf("robin, unconfirmed, opens /device: %d to %q; want the gate", r.Status, r.Header.Get("Location"))
		}

		// Organizations: create, add Robin, make admin, remove.
		navigate(t, bctx, s.URL+"/console/orgs")
		waitFor(t, bctx, `#org_name`)
		screenshots(t, bctx, "console-orgs")
		setValue(t, bctx, `#org_name`, "Initech")
		setValue(t, bctx, `#org_id`, "initech")
		click(t, bctx, `form[action="/console/orgs/new"] button[type=submit]`)
		// Members come by invitation (mailed; TestMemberInvitationInBrowser
		// follows the link): here Robin is invited, then put in by the
		// admin API, and the console changes the role.
		waitFor(t, bctx, `#invite_email`)
		setValue(t, bctx, `#invite_email`, "robin@example.com")
		click(t, bctx, `form[action="/console/orgs/initech/member-invitations"] button[type=submit]`)
		waitFor(t, bctx, `form[action$="/resend"]`)
		if invs, err := s.Store.ListMemberInvitations(ctx, "initech"); err != nil || len(invs) != 1 || invs[0].Email != "robin@example.com" || invs[0].Role != store.RoleMember {
			t.Fatalf("robin's invitation: %+v %v", invs, err)
		}
		if r := s.jsonRequest(t, "PUT", "/admin/v1/organizations/initech/members/"+robin.ID, testAdminToken, map[string]string{"role": store.RoleMember}); r.Status/100 != 2 {
			t.Fatalf("put robin in: %d %s", r.Status, r.Raw)
		}
		navigate(t, bctx, s.URL+"/console/orgs/initech")
		click(t, bctx, `form[action="/console/orgs/initech/members"] button`)
		if m, err := s.Store.GetOrgMember(ctx, "initech", robin.ID); err != nil || m.Role != store.RoleAdmin {
			t.Errorf("robin's membership after make admin: %+v %v", m, err)
		}
		screenshots(t, bctx, "console-org")
		navigate(t, bctx, s.URL+"/console/orgs/initech/members/remove?user_id="+robin.ID)
		click(t, bctx, `form[action="/console/orgs/initech/members/remove"] button[type=submit]`)
		if _, err := s.Store.GetOrgMember(ctx, "initech", robin.ID); err == nil {
			t.Error("robin is still a member")
		}

		// Invitations of every organization; revoke acme's.
		sent := s.jsonRequest(t, "POST", "/admin/v1/organizations/"+acmeOrg+"/invitations", testAdminToken,
			map[string]any{"client_group_ids": []string{groupRead}, "email": "sensors@acme.example"})
		if sent.Status != http.StatusCreated {
			t.Fatalf("send an invitation: %d %s", sent.Status, sent.Raw)
		}
		id := sent.str("id")
		navigate(t, bctx, s.URL+"/console/invitations")
		waitFor(t, bctx, `a[href="/console/invitations/`+id+`/revoke"]`)
		screenshots(t, bctx, "console-invitations")
		navigate(t, bctx, s.URL+"/console/invitations/"+id+"/revoke")
		click(t, bctx, `form[action="/console/invitations/`+id+`/revoke"] button[type=submit]`)
		if inv, err := s.Store.GetInvitation(ctx, id); err != nil || inv.Status != store.InvitationRevoked {
			t.Errorf("the invitation after revoking: %+v %v", inv, err)
		}

		// Signing keys: rotate both.
		before, err := s.Store.ListSigningKeys(ctx)
		mustDo(t, err)
		navigate(t, bctx, s.URL+"/console/keys")
		waitFor(t, bctx, `a[href="/console/keys/rotate"]`)
		screenshots(t, bctx, "console-keys")
		navigate(t, bctx, s.URL+"/console/keys/rotate")
		click(t, bctx, `form[action="/console/keys/rotate"] button[type=submit]`)
		after, err := s.Store.ListSigningKeys(ctx)
		mustDo(t, err)
		if len(after) != len(before)+2 {
			t.Errorf("%d keys after rotating, %d before", len(after), len(before))
		}
		screenshots(t, bctx, "console-keys-rotated")

		// Delete the organization.
		navigate(t, bctx, s.URL+"/console/orgs/initech/delete")
		click(t, bctx, `form[action="/console/orgs/initech/delete"] button[type=submit]`)
		if _, err := s.Store.GetOrganization(ctx, "initech"); err == nil {
			t.Error("the organization is still there")
		}

		// The audit log: every change by the operator; filtered by kind and organization.
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{ActorID: s.User.ID, Limit: 100})
		mustDo(t, err)
		got := map[string]int{}
		for _, e := range es {
			if e.ActorKind != store.ActorUser {
				t.Errorf("entry %+v", e)
			}
			got[e.Kind]++
		}
		for kind, n := range map[string]int{"user.create": 1, "grant.revoke": 1, "user.update": 6, "organization.create": 1,
			"member-invitation.create": 1, "member.put": 1, "member.delete": 1, "invitation.revoke": 1, "signing-key.rotate": 2, "organization.delete": 1} {
			if got[kind] != n {
				t.Errorf("audit: %d × %s by the operator; want %d (all: %v)", got[kind], kind, n, got)
			}
		}
		navigate(t, bctx, s.URL+"/console/audit")
		waitFor(t, bctx, `#kind`)
		screenshots(t, bctx, "console-audit")
		navigate(t, bctx, s.URL+"/console/audit?kind=member.put&organization=initech")
		waitFor(t, bctx, `#kind`)
		text := textOf(t, bctx, `ul.items`)
		if strings.Count(text, "member.put") != 2 || strings.Contains(text, "organization.create") || !strings.Contains(text, "User "+s.User.ID) || !strings.Contains(text, "Member added or changed") {
			t.Errorf("the audit page filtered by kind and organization:\n%s", text)
		}
		if strings.Contains(text, "a fresh phrase for robin") || strings.Contains(text, "robin's long pass phrase") {
			t.Error("a password in the audit page")
		}
	})
}

// noSecondFactor turns off the second factor system administrators are
// asked for by default (accounts.second_factor: admins), which these tests
// are not about.
func noSecondFactor(c *config.Config) { c.Accounts.SecondFactor = "off" }
