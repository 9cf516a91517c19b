package console

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// consolePages renders every console page, with its optional parts
// shown, for rq: name → the rendered page.
func consolePages(t *testing.T, c *Console, lang string) map[string]string {
	t.Helper()
	at := time.Date(2026, 12, 3, 14, 5, 0, 0, time.UTC)
	admin := &store.User{ID: "u-admin", Email: "ada@example.com", Name: "Ada", Sysadmin: true, CreatedAt: at}
	robin := &store.User{ID: "u-robin", Email: "robin@example.com", Name: "Robin", CreatedAt: at}
	o := &store.Organization{ID: "acme", Name: "Acme Sensors", AppLink: "myapp://invitation", CreatedAt: at}
	g := &store.ClientGroup{ID: "g-read", OrgID: "acme", Name: "Readers", Description: "Status readers", Scopes: []string{"read", "status"}, CreatedAt: at}
	d := &store.Client{ID: "acme-sensor-1", Name: "Sensor 1", OrgID: "acme", AuthMethod: store.AuthClientSecretBasic,
		GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: at, UpdatedAt: at}
	tv := &store.Client{ID: "tv", Name: "Living Room TV", AuthMethod: store.AuthNone, GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken},
		CreatedAt: at, UpdatedAt: at}
	inv := func(state string) invitationView {
		return invitationView{Invitation: &store.Invitation{ID: "inv-" + state, OrgID: "acme", Email: "ops@acme.example", GroupIDs: []string{"g-read", "g-gone"},
			DeviceName: "Boiler", AllowRename: true, ExistingOnly: true, ClientID: "acme-sensor-1", CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour)},
			State: state, OrgName: o.Name}
	}
	var invs []invitationView
	for _, st := range []string{store.InvitationPending, store.InvitationExpired, store.InvitationAccepted, store.InvitationDeclined, store.InvitationRevoked} {
		invs = append(invs, inv(st))
	}
	restricted := inv(store.InvitationPending)
	restricted.RestrictClientID, restricted.ExistingOnly = "acme-sensor-1", false
	invs = append(invs, restricted)
	entry := &store.AuditEntry{ID: "e1", At: at, ActorKind: store.ActorUser, ActorID: admin.ID, Address: "192.0.2.1", OrgID: "acme",
		Kind: "group.create", TargetID: "g-read", Before: `{"name":"R"}`, After: `{"name":"Readers"}`}
	unknownKind := *entry
	unknownKind.Kind, unknownKind.ActorKind = "some.future-kind", store.ActorAdminToken
	pg := pager{Query: "re", Page: 2, Total: 30, Prev: "/console/x?page=1", Next: "/console/x?page=3"}

	r := httptest.NewRequest("GET", "/console?done=client-saved", nil)
	r.Header.Set("Accept-Language", lang)
	out := map[string]string{}
	render := func(name, tmpl string, sysadmin bool, org *store.Organization, notice string, data any) {
		t.Helper()
		w := httptest.NewRecorder()
		rq := &request{w: w, r: r, v: &web.Viewer{Session: &store.Session{Hash: "h", AuthTime: at}, User: admin}, loc: c.Pages.Locale(r)}
		if !sysadmin {
			rq.v.User = robin
		}
		var err error
		if cp, ok := data.(func(*request) confirmPage); ok {
			err = c.confirm(rq, http.StatusOK, notice, cp(rq))
		} else {
			nav := "orgs"
			if org == nil {
				nav = "clients"
			}
			err = c.renderIn(rq, http.StatusOK, tmpl, nav, org, "org", rq.T("console.nav.overview"), notice, data)
		}
		if err != nil {
			t.Fatalf("%s, %s: %v", lang, name, err)
		}
		out[name] = w.Body.String()
	}
	cf := formOf(tv)
	cf.GrantChoices = grantChoices
	newCF := newClientForm()
	newCF.GrantChoices = grantChoices
	render("overview", overviewTemplate, true, nil, "", overviewPage{Clients: 1, Users: 2, Orgs: 3})
	render("my_orgs", myOrgsTemplate, false, nil, "", myOrgsPage{Orgs: []*store.Organization{o}})
	render("clients", clientsTemplate, true, nil, "", clientsPage{Clients: []*store.Client{tv, d, {ID: "noname", AuthMethod: store.AuthNone}}, Pager: pg})
	render("clients-empty", clientsTemplate, true, nil, "", clientsPage{Pager: pager{Query: "zz"}})
	render("clients-none", clientsTemplate, true, nil, "", clientsPage{})
	render("client_form", clientFormTemplate, true, nil, "", cf)
	render("client_form-new", clientFormTemplate, true, nil, "", newCF)
	render("client_secret", clientSecretTemplate, true, nil, "", secretPage{Client: d, Secret: "lk_cs_x", Created: true})
	render("client_secret-public", clientSecretTemplate, true, nil, "", secretPage{Client: tv})
	render("users", usersTemplate, true, nil, "", usersPage{Users: []*store.User{admin, {ID: "u2", Email: "x@example.com", Disabled: true}}, Pager: pg})
	render("users-empty", usersTemplate, true, nil, "", usersPage{Pager: pager{Query: "zz"}})
	render("users-none", usersTemplate, true, nil, "", usersPage{})
	render("user_new", userNewTemplate, true, nil, "", userNewPage{Email: "x@example.com", MinPassword: 10})
	render("user", userPageTemplate, true, nil, "", userPage{Account: &store.User{ID: "u3", Email: "z@example.com", Sysadmin: true, EmailVerified: true, CreatedAt: at},
		Grants: []*store.GrantInfo{{Grant: &store.Grant{ID: "gr", Scopes: []string{"openid"}, CreatedAt: at}, ClientName: "TV", LastUsedAt: at, OriginIP: "192.0.2.1"}}, MinPassword: 10})
	render("user-disabled", userPageTemplate, true, nil, "", userPage{Account: &store.User{ID: "u4", Email: "y@example.com", Disabled: true}, MinPassword: 10})
	render("user-self", userPageTemplate, true, nil, "", userPage{Account: &store.User{ID: "u5", Email: "w@example.com"}, Self: true, MinPassword: 10})
	render("orgs", orgsTemplate, true, nil, "", orgsPage{Orgs: []*store.Organization{o}, Pager: pg})
	render("orgs-empty", orgsTemplate, true, nil, "", orgsPage{Pager: pager{Query: "zz"}})
	render("orgs-none", orgsTemplate, true, nil, "", orgsPage{})
	render("org", orgTemplate, true, o, "", orgPage{Org: o, Groups: []groupView{{ClientGroup: g, Devices: 1}, {ClientGroup: &store.ClientGroup{ID: "g2", Name: "Spare"}, Devices: 2}},
		Members:     []memberView{{OrgMember: &store.OrgMember{UserID: "u-robin", Role: store.RoleAdmin}, Email: "robin@example.com"}, {OrgMember: &store.OrgMember{UserID: "u-x", Role: store.RoleMember}}},
		Invitations: []*store.MemberInvitation{{ID: "mi1", OrgID: o.ID, Email: "grace@example.com", Role: store.RoleAdmin, CreatedAt: at, ExpiresAt: at}},
		Invite:      memberInviteForm{Email: "x@example.com", Role: store.RoleMember}, Group: groupForm{Name: "New"}})
	render("org-empty", orgTemplate, false, o, "", orgPage{Org: o})
	render("invitations", invitationsTemplate, true, nil, "", invitationsPage{Invitations: invs, Pager: pg})
	render("invitations-none", invitationsTemplate, true, nil, "", invitationsPage{})
	render("keys", keysTemplate, true, nil, "", keysPage{Keys: []keyView{{ID: "k1", Algorithm: "ES256", CreatedAt: at, NotBefore: at, State: keySigning},
		{ID: "k2", Algorithm: "RS256", CreatedAt: at, NotBefore: at, NotAfter: at, State: keyRetired}, {ID: "k3", Algorithm: "ES256", State: keyPublished}}})
	render("keys-none", keysTemplate, true, nil, "", keysPage{})
	render("audit", auditTemplate, true, nil, "", auditPage{Entries: []*store.AuditEntry{entry, &unknownKind}, Kind: "group.create", Kinds: []string{"group.create", "client.create"}, Next: "/console/audit?cursor=x"})
	render("audit-filtered", auditTemplate, true, nil, "", auditPage{Actor: "x", Kinds: []string{"group.create"}})
	render("audit-none", auditTemplate, true, nil, "", auditPage{})
	render("group", groupTemplate, false, o, "", groupPage{Group: g, Form: groupForm{Name: g.Name, Description: "d", Scope: "read"}, Devices: []deviceView{{Client: d}}, Pager: pg})
	render("group-empty", groupTemplate, false, o, "", groupPage{Group: g, Pager: pager{Query: "zz"}})
	render("group-none", groupTemplate, false, o, "", groupPage{Group: g})
	render("device", deviceTemplate, false, o, "", devicePage{Device: d, In: []*store.ClientGroup{g}, Others: []*store.ClientGroup{{ID: "g2", Name: "Writers"}}, Name: d.Name})
	render("device-nogroup", deviceTemplate, false, o, "", devicePage{Device: tv})
	render("device_secret", deviceSecretTemplate, false, o, "", deviceSecretPage{Device: d, Secret: "lk_cs_y"})
	render("devices", devicesTemplate, false, o, "", devicesPage{Devices: []*store.Client{d, tv}, Groups: map[string][]string{d.ID: {"Readers"}}, Query: "s", Next: "/n", First: "/f"})
	render("devices-none", devicesTemplate, false, o, "", devicesPage{})
	render("org_invitations", orgInvitationsTemplate, false, o, "", orgInvitationsPage{Invitations: invs, Groups: map[string]string{"g-read": "Readers"},
		State: store.InvitationPending, States: []string{store.InvitationPending, store.InvitationExpired}, Next: "/n", First: "/f"})
	render("org_invitations-none", orgInvitationsTemplate, false, o, "", orgInvitationsPage{State: store.InvitationRevoked, States: []string{store.InvitationRevoked}})
	render("org_invitations-all", orgInvitationsTemplate, false, o, "", orgInvitationsPage{})
	render("invitation_new", invitationNewTemplate, false, o, "", invitationForm{Groups: []*store.ClientGroup{g}, Chosen: map[string]bool{g.ID: true}, MaxDays: 90})
	render("invitation_new-nogroups", invitationNewTemplate, false, o, "", invitationForm{})
	render("org_audit", orgAuditTemplate, false, o, "", orgAuditPage{Entries: []*store.AuditEntry{entry, &unknownKind}, Names: map[string]string{admin.ID: admin.Email},
		Kind: "group.create", Kinds: []string{"group.create"}, Next: "/n"})
	render("org_audit-none", orgAuditTemplate, false, o, "", orgAuditPage{Kind: "group.create"})
	render("org_audit-all", orgAuditTemplate, false, o, "", orgAuditPage{})
	// Confirmations, with the notices their handlers show.
	for name, cp := range map[string]func(*request) confirmPage{
		"confirm-client-rotate": func(rq *request) confirmPage { return rotateConfirm(rq, tv) },
		"confirm-client-delete": func(rq *request) confirmPage { return deleteClientConfirm(rq, tv, true) },
		"confirm-user-disable":  func(rq *request) confirmPage { return statusConfirm(rq, robin) },
		"confirm-user-enable": func(rq *request) confirmPage {
			return statusConfirm(rq, &store.User{ID: "u", Email: "e@example.com", Disabled: true})
		},
		"confirm-sysadmin":     func(rq *request) confirmPage { return sysadminConfirm(rq, robin, true) },
		"confirm-sysadmin-off": func(rq *request) confirmPage { return sysadminConfirm(rq, admin, false) },
		"confirm-make-admin":   func(rq *request) confirmPage { return makeAdminConfirm(rq, o, robin.ID) },
		"confirm-invite-admin": func(rq *request) confirmPage { return inviteAdminConfirm(rq, o, "grace@example.com") },
		"confirm-member-invitation-revoke": func(rq *request) confirmPage {
			return revokeMemberInvitationConfirm(rq, o, &store.MemberInvitation{ID: "mi1", Email: "grace@example.com"})
		},
		"confirm-remove-member":  func(rq *request) confirmPage { return removeMemberConfirm(rq, o, robin.ID, robin.Email) },
		"confirm-org-delete":     func(rq *request) confirmPage { return deleteOrgConfirm(rq, o, true) },
		"confirm-invitation":     func(rq *request) confirmPage { return revokeInvitationConfirm(rq, inv("pending").Invitation) },
		"confirm-org-invitation": func(rq *request) confirmPage { return revokeOrgInvitationConfirm(rq, o, inv("pending").Invitation) },
		"confirm-group-delete":   func(rq *request) confirmPage { return deleteGroupConfirm(rq, o, g) },
		"confirm-device-remove":  func(rq *request) confirmPage { return removeDeviceConfirm(rq, o, d) },
		"confirm-device-rotate":  func(rq *request) confirmPage { return rotateDeviceConfirm(rq, o, d) },
		"confirm-device-revoke":  func(rq *request) confirmPage { return revokeDeviceConfirm(rq, o, d) },
		"confirm-keys":           func(rq *request) confirmPage { return rotateKeysConfirm(rq, true) },
	} {
		render(name, confirmTemplate, true, nil, "", cp)
	}
	return out
}

// tags are the markup between a page's words.
var tags = regexp.MustCompile(`<[^>]*>`)

// placeholderRE finds a message's placeholders, between which its words
// stretch.
var placeholderRE = regexp.MustCompile(`\{[a-z]+\}`)

// TestEveryConsolePageEveryLanguage renders every console page (each one
// registered must have data here), with its optional parts, empty states
// and confirmations, in every language: each says <html lang>, no message
// key shows through, and — in every language but English — no console
// message's English words appear where the language has words of its
// own (a template or handler that kept an English string, or a key
// looked up in the wrong place).
func TestEveryConsolePageEveryLanguage(t *testing.T) {
	t.Parallel()
	c := &Console{Pages: &web.Pages{CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Sessions: &session.Manager{}}}
	set := i18n.Builtin()
	en := set.Locale("en")
	var keys, consoleKeys []string
	for _, k := range set.Catalogs()[0].Keys() {
		keys = append(keys, k)
		if strings.HasPrefix(k, "console.") {
			consoleKeys = append(consoleKeys, k)
		}
	}
	rendered := consolePages(t, c, "en")
	covered := map[string]bool{} // "clients-empty" is console/clients
	for name := range rendered {
		covered["console/"+strings.SplitN(name, "-", 2)[0]] = true
	}
	if len(pageNames) < 20 {
		t.Fatalf("only %d console pages are registered", len(pageNames))
	}
	for _, p := range pageNames {
		if !covered[p] {
			t.Errorf("the console page %s has no data in this test", p)
		}
	}
	for _, lang := range set.Languages() {
		loc := set.Locale(lang)
		pages := rendered
		if lang != "en" {
			pages = consolePages(t, c, lang)
		}
		// The English stretches of every console message the language
		// words otherwise: none may show on a page in that language.
		var english []string
		if lang != "en" {
			for _, k := range consoleKeys {
				if en.T(k, "n", 2) == loc.T(k, "n", 2) && en.T(k, "n", 1) == loc.T(k, "n", 1) {
					continue // the same word in both ("ID", "Tokens")
				}
				for _, n := range []int{1, 2} {
					for _, part := range placeholderRE.Split(en.T(k, "n", n), -1) {
						part = strings.TrimSpace(part)
						// Phrases, not single words: "administrator" is
						// in German's "Systemadministrator".
						if len(part) >= 12 && strings.Contains(part, " ") && !strings.Contains(loc.T(k, "n", n), part) && !slices.Contains(english, part) {
							english = append(english, part)
						}
					}
				}
			}
			if len(english) < 200 {
				t.Fatalf("%s: only %d English phrases to look for", lang, len(english))
			}
		}
		for name, body := range pages {
			if !strings.Contains(body, `<html lang="`+lang+`" dir="ltr">`) {
				t.Errorf("%s, %s: no <html lang=%s>", lang, name, lang)
			}
			for _, k := range keys {
				if strings.Contains(body, k) {
					t.Errorf("%s, %s: the key %q shows through", lang, name, k)
				}
			}
			text := html.UnescapeString(tags.ReplaceAllString(body, " "))
			for _, e := range english {
				if strings.Contains(text, e) {
					t.Errorf("%s, %s: English words %q where %s has its own", lang, name, e, lang)
				}
			}
		}
	}
	// The page a refused change shows: an English description of the admin
	// API's, after a word of refusal in the person's language.
	for lang, want := range map[string]string{"en": "Redirect URIs are used only by the authorization_code grant.",
		"de": "Abgelehnt: redirect_uris are used only by the authorization_code grant", "fi": "Hylätty: redirect_uris"} {
		rq := &request{loc: set.Locale(lang)}
		if got := rq.describe(&oauth.Error{Code: oauth.InvalidRequest, Description: "redirect_uris are used only by the authorization_code grant"}); !strings.Contains(got, want) {
			t.Errorf("%s: describe = %q; want %q", lang, got, want)
		}
	}
}

// TestConsoleKindsHaveWords: every kind of change the audit log records,
// every invitation state and every actor kind has words in the console.
func TestConsoleKindsHaveWords(t *testing.T) {
	t.Parallel()
	for _, k := range audit.Kinds {
		if kindKeys[k] == "" {
			t.Errorf("the audit kind %q has no words", k)
		}
	}
	for _, s := range []string{store.InvitationPending, store.InvitationExpired, store.InvitationAccepted, store.InvitationDeclined, store.InvitationRevoked} {
		if stateKeys[s] == "" {
			t.Errorf("the invitation state %q has no words", s)
		}
	}
	for _, a := range []string{store.ActorUser, store.ActorAdminToken, store.ActorServiceKey, store.ActorDevice, store.ActorInvitation} {
		if actorKeys[a] == "" {
			t.Errorf("the actor kind %q has no words", a)
		}
	}
}
