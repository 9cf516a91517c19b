package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// TestConsoleInLanguagesInBrowser walks every page of the console in the
// table (so a new one cannot be left out), as a system administrator and
// then as an organization's admin, in headless Chromium with a German and
// a Finnish browser (Accept-Language): each page is in that language
// (<html lang>, no message key, its words), no text runs out of its box
// at a phone's width or a desktop's, and in Finnish axe-core's WCAG 2.1
// AA rules pass, light and dark. Screenshots of every page at both
// widths when LATCHKEY_SCREENSHOTS is set.
func TestConsoleInLanguagesInBrowser(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lang  string
		words []string // on the overview and its navigation
		axe   bool
	}{
		{"de", []string{"Übersicht", "Benutzer", "Signaturschlüssel", "Audit-Log"}, false},
		{"fi", []string{"Yleiskatsaus", "Käyttäjät", "Allekirjoitusavaimet", "Muutosloki"}, true},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			t.Parallel()
			s := newTestServerOn(t, backends[0], false, noSecondFactor) // a real clock: the browser keeps cookies by it
			makeSysadmin(t, s, true)
			ctx := t.Context()
			now := time.Now()
			mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: acmeOrg, Name: "Acme Sensors", AppLink: acmeAppLink, CreatedAt: now, UpdatedAt: now}))
			mustDo(t, s.Store.CreateClientGroup(ctx, &store.ClientGroup{ID: groupRead, OrgID: acmeOrg, Name: "Readers", Description: "Status readers",
				Scopes: []string{"read", "status"}, CreatedAt: now, UpdatedAt: now}))
			mustDo(t, s.Store.CreateClientGroup(ctx, &store.ClientGroup{ID: groupWrite, OrgID: acmeOrg, Name: "Writers", Scopes: []string{"write"}, CreatedAt: now, UpdatedAt: now}))
			mustDo(t, s.Store.PutOrgMember(ctx, &store.OrgMember{OrgID: acmeOrg, UserID: s.User.ID, Role: store.RoleAdmin, CreatedAt: now}))
			mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: memberUser, Email: "robin@example.com", Name: "Robin", CreatedAt: now, UpdatedAt: now}))
			mustDo(t, s.Store.PutOrgMember(ctx, &store.OrgMember{OrgID: acmeOrg, UserID: memberUser, Role: store.RoleMember, CreatedAt: now}))
			addConsoleDevice(t, s)
			const invitation = "inv-console-walk"
			mustDo(t, s.Store.CreateInvitation(ctx, &store.Invitation{ID: invitation, TokenHash: strings.Repeat("ab", 32), OrgID: acmeOrg,
				GroupIDs: []string{groupRead, groupWrite}, Email: "ops@acme.example", DeviceName: "Boiler room sensor", AllowRename: true,
				InvitedBy: s.User.ID, Status: store.InvitationPending, CreatedAt: now, ExpiresAt: now.Add(72 * time.Hour)}, nil))
			for i, kind := range []string{audit.GroupCreate, audit.InvitationSend, audit.ServiceKeyRotate} {
				mustDo(t, s.Store.AddAuditEntry(ctx, &store.AuditEntry{ID: fmt.Sprintf("e-walk-%d", i), At: now, ActorKind: store.ActorUser, ActorID: s.User.ID,
					Address: "192.0.2.7", Kind: kind, TargetID: groupRead, OrgID: acmeOrg, After: `{"name":"Readers","scope":"read status"}`}))
			}
			invited := addMemberInvitation(t, s, acmeOrg, "colleague@acme.example") // a pending invitation of a person
			pages, _ := consoleRoutes(t, s, map[string]string{
				"/console/clients": tvClient, "/console/users": memberUser, "/console/orgs": acmeOrg, "/console/invitations": invitation,
				"{group_id}": groupRead, "{client_id}": consoleDevice, "{invitation_id}": invitation, "{member_invitation_id}": invited,
			})
			keys := i18n.Builtin().Catalogs()[0].Keys()
			axe := ""
			if tt.axe {
				axe = axeSource(t)
			}
			bctx := browserWithin(t, 300*time.Second)
			mustDo(t, chromedp.Do(bctx, acceptLanguage(tt.lang)))
			navigate(t, bctx, s.URL+"/console")
			signIn(t, bctx, personEmail, personPassword)
			waitFor(t, bctx, `nav.console-nav`)
			if text := pageText(t, bctx); !containsAll(text, tt.words) {
				t.Errorf("the overview in %s lacks %v:\n%s", tt.lang, tt.words, text)
			}
			visit := func(name, path string) {
				t.Helper()
				navigate(t, bctx, s.URL+path)
				waitFor(t, bctx, "main")
				if lang, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != tt.lang {
					t.Errorf("%s: <html lang=%q>; want %q", path, lang, tt.lang)
				}
				html := pageHTML(t, bctx)
				for _, k := range keys {
					if strings.Contains(html, k) {
						t.Errorf("%s: the message key %q shows", path, k)
					}
				}
				for _, sw := range screenWidths {
					mustDo(t, chromedp.Do(bctx, chromedp.EmulateViewport(sw.width, 800)))
					if over, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
						t.Errorf("%s at %d px: text overflows its box: %v", path, sw.width, over)
					}
				}
				mustDo(t, chromedp.Do(bctx, chromedp.EmulateViewport(412, 915)))
				if tt.axe {
					checkAccessible(t, bctx, axe, path)
				}
				screenshots(t, bctx, "console-"+tt.lang+"-"+name)
			}
			seen := map[string]bool{}
			for _, p := range pages {
				name := strings.NewReplacer("/console", "", "/", "-", "{", "", "}", "").Replace(p.pattern)
				if name == "" {
					name = "-overview"
				}
				if seen[p.path] {
					continue
				}
				seen[p.path] = true
				visit(strings.TrimPrefix(name, "-"), p.path)
			}
			// A page nothing serves in the console, and a search that finds
			// nothing: the error page and the empty state, in the language.
			visit("no-client", "/console/clients/no-such-client")
			visit("clients-none", "/console/clients?q="+url.QueryEscape("no such thing"))
			// The organization's admin who is not a system administrator.
			makeSysadmin(t, s, false)
			visit("my-orgs", "/console")
		})
	}
}

func containsAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}
