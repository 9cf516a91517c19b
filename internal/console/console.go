// Package console serves the consoles (/console, issue 15): the SysAdmin
// console, where a system administrator manages clients, users,
// organizations, signing keys and invitations, and reads the audit log;
// and the OrgAdmin console (/console/orgs/{id}/…), where an
// organization's admins — and system administrators — manage its device
// client groups, its devices, its invitations and its members, and read
// its audit log. It renders in
// the pages' layout and posts through their forms (package web: CSRF,
// cross-origin refusal, the headers); every change goes through the
// admin API's own operations (package admin), so the console and the API
// apply one set of rules and record one audit log, with the signed-in
// user as the actor. Every handler asks package web's Roles on the
// server, on every request, whether the person is a system administrator
// or, on an organization's pages, an admin of that organization.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

var funcs = template.FuncMap{
	"join":       strings.Join,
	"pathEscape": url.PathEscape,
	"seconds":    func(d time.Duration) int64 { return int64(d / time.Second) },
	"scope":      oauth.JoinScope,
	// The message keys of what the store holds as identifiers: the
	// templates show the key's words ({{$.T (stateKey .State)}}), and
	// the identifier where an operator needs it (the audit log's kind).
	"stateKey":    labelKey(stateKeys),
	"roleKey":     labelKey(roleKeys),
	"actorKey":    labelKey(actorKeys),
	"kindKey":     labelKey(kindKeys),
	"keyStateKey": labelKey(keyStateKeys),
	"groupNames":  groupNames,
}

// labelKey is a template function that gives the message key of an
// identifier in keys, or the identifier itself when it has none (a kind
// newer than the catalogs is shown as it is, not as a missing key).
func labelKey(keys map[string]string) func(string) string {
	return func(id string) string {
		if k, ok := keys[id]; ok {
			return k
		}
		return id
	}
}

// Message keys of the invitations' states (org.State), members' roles,
// the audit log's actor kinds and kinds of change, and signing keys'
// states (keys.go).
var (
	stateKeys = map[string]string{
		store.InvitationPending: "console.state.pending", store.InvitationExpired: "console.state.expired",
		store.InvitationAccepted: "console.state.accepted", store.InvitationDeclined: "console.state.declined",
		store.InvitationRevoked: "console.state.revoked",
	}
	roleKeys  = map[string]string{store.RoleAdmin: "console.role.admin", store.RoleMember: "console.role.member"}
	actorKeys = map[string]string{
		store.ActorUser: "console.actor.user", store.ActorAdminToken: "console.actor.admin_token",
		store.ActorServiceKey: "console.actor.service_key", store.ActorDevice: "console.actor.device",
		store.ActorInvitation: "console.actor.invitation",
	}
	kindKeys = map[string]string{
		audit.ClientCreate: "console.kind.client_create", audit.ClientUpdate: "console.kind.client_update",
		audit.ClientDelete: "console.kind.client_delete", audit.ClientRotateSecret: "console.kind.client_rotate_secret",
		audit.ClientRevokeTokens: "console.kind.client_revoke_tokens", audit.UserCreate: "console.kind.user_create",
		audit.UserUpdate: "console.kind.user_update", audit.UserDelete: "console.kind.user_delete",
		audit.UserPasswordReset: "console.kind.user_password_reset", audit.GrantRevoke: "console.kind.grant_revoke",
		audit.OrgCreate: "console.kind.org_create", audit.OrgUpdate: "console.kind.org_update",
		audit.OrgDelete: "console.kind.org_delete", audit.MemberPut: "console.kind.member_put",
		audit.MemberDelete: "console.kind.member_delete", audit.GroupCreate: "console.kind.group_create",
		audit.GroupUpdate: "console.kind.group_update", audit.GroupDelete: "console.kind.group_delete",
		audit.GroupAddClient: "console.kind.group_add_client", audit.GroupRemoveClient: "console.kind.group_remove_client",
		audit.InvitationSend: "console.kind.invitation_send", audit.InvitationResend: "console.kind.invitation_resend",
		audit.InvitationRevoke: "console.kind.invitation_revoke", audit.InvitationAccept: "console.kind.invitation_accept",
		audit.InvitationDecline:      "console.kind.invitation_decline",
		audit.MemberInvitationCreate: "console.kind.member_invitation_create", audit.MemberInvitationResend: "console.kind.member_invitation_resend",
		audit.MemberInvitationRevoke: "console.kind.member_invitation_revoke", audit.MemberInvitationAccept: "console.kind.member_invitation_accept",
		audit.RegistrationTokenCreate: "console.kind.registration_token_create",
		audit.RegistrationTokenDelete: "console.kind.registration_token_delete", audit.SigningKeyRotate: "console.kind.signing_key_rotate",
		audit.ServiceKeyCreate: "console.kind.service_key_create", audit.ServiceKeyRotate: "console.kind.service_key_rotate",
		audit.ServiceKeyRevoke: "console.kind.service_key_revoke", audit.DeviceComplete: "console.kind.device_complete",
	}
	keyStateKeys = map[string]string{keySigning: "console.keys.signing", keyPublished: "console.keys.published", keyRetired: "console.keys.retired"}
)

// groupNames are the names of the groups ids, by names; deleted for one
// that is gone.
func groupNames(ids []string, names map[string]string, deleted string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if n, ok := names[id]; ok {
			out[i] = n
		} else {
			out[i] = deleted
		}
	}
	return strings.Join(out, ", ")
}

// page registers one console page with package web (its layout and
// branding, the console's navigation and the page's content) and returns
// its name.
func page(name string) string {
	web.RegisterPage("console/"+name, templateFiles, funcs, "templates/nav.html", "templates/"+name+".html")
	pageNames = append(pageNames, "console/"+name)
	return "console/" + name
}

// pageNames are the registered pages (a test renders each in every
// language).
var pageNames []string

// Store is what the console reads itself; every change goes through
// Admin.
type Store interface {
	ListClients(ctx context.Context) ([]*store.Client, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
	ListUsers(ctx context.Context) ([]*store.User, error)
	GetUser(ctx context.Context, id string) (*store.User, error)
	ListOrganizations(ctx context.Context) ([]*store.Organization, error)
	ListUserGrants(ctx context.Context, userID string, now time.Time) ([]*store.GrantInfo, error)
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	GetUserByEmail(ctx context.Context, email string) (*store.User, error)
	GetOrganization(ctx context.Context, id string) (*store.Organization, error)
	GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error)
	ListOrgMembers(ctx context.Context, orgID string) ([]*store.OrgMember, error)
	ListInvitations(ctx context.Context, orgID string) ([]*store.Invitation, error)
	GetInvitation(ctx context.Context, id string) (*store.Invitation, error)
	ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error)
	QueryAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEntry, error)
	ListUserMemberships(ctx context.Context, userID string) ([]*store.OrgMember, error)
	ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error)
	ListGroupClients(ctx context.Context, groupID string) ([]string, error)
	ListOrgClients(ctx context.Context, q store.OrgClientQuery) ([]*store.Client, error)
	ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error)
	QueryInvitations(ctx context.Context, q store.InvitationQuery) ([]*store.Invitation, error)
	// Reauthenticate records a password entered again on the session.
	Reauthenticate(ctx context.Context, hash string, at time.Time) error
}

// Console is the SysAdmin and OrgAdmin console.
type Console struct {
	Pages *web.Pages // layout, CSRF, error pages, password checks
	Roles *web.Roles // who may use it: system administrators, organizations' admins
	Admin *admin.API // every change, by the admin API's rules
	Keys  Keys       // rotates signing keys
	Audit *audit.Log // records what the console changes itself (key rotations)
	Store Store
	Now   func() time.Time // time.Now in production, a fixed clock in tests
	Log   *slog.Logger
}

// ReauthWindow is how long after entering their password a system
// administrator may take the most sensitive actions (deleting a client or
// an organization, making an administrator, rotating signing keys)
// without entering it again.
const ReauthWindow = 10 * time.Minute

// PageSize is how many records a list shows at a time.
const PageSize = 25

// request is one request to the console from a system administrator, or
// from an organization's admin on that organization's pages.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context // carries the user as the audit log's actor
	v    *web.Viewer
	form oauth.Form   // a POST's, CSRF checked
	loc  *i18n.Locale // the person's language (web.Pages chose it)
}

// T is the message key in the person's language (i18n.Locale.T).
func (rq *request) T(key string, args ...any) string { return rq.loc.T(key, args...) }

var errNotAdmin = web.Error(http.StatusForbidden, "err.not_allowed.heading", "console.err.not_admin")

var errNotOrgAdmin = web.Error(http.StatusForbidden, "err.not_allowed.heading", "console.err.not_org_admin")

// Who may use a console page.
type role int

const (
	sysadminOnly role = iota // a system administrator
	orgAdmin                 // a system administrator, or an admin of the path's organization ({id})
	signedIn                 // anyone signed in; the handler decides (the console's home)
)

// Page adapts a GET handler of the SysAdmin console: signed out, to
// sign-in and back; signed in but not a system administrator, 403.
func (c *Console) Page(h func(*request) error) web.PageFunc { return c.page(sysadminOnly, h) }

// Form adapts a POST handler of the SysAdmin console (routed through
// web.Pages.Form, which refuses cross-origin POSTs): the role is checked,
// then the form's csrf_token, before h runs.
func (c *Console) Form(h func(*request) error) web.PageFunc { return c.form(sysadminOnly, h) }

// OrgPage adapts a GET handler of an organization's console
// (/console/orgs/{id}/…): a system administrator, or an admin of
// organization {id}; anyone else 403, whether or not it exists.
func (c *Console) OrgPage(h func(*request) error) web.PageFunc { return c.page(orgAdmin, h) }

// OrgForm adapts a POST handler of an organization's console, as OrgPage
// and Form.
func (c *Console) OrgForm(h func(*request) error) web.PageFunc { return c.form(orgAdmin, h) }

// HomePage adapts GET /console, which anyone signed in reaches; the
// handler decides what they see.
func (c *Console) HomePage(h func(*request) error) web.PageFunc { return c.page(signedIn, h) }

func (c *Console) page(who role, h func(*request) error) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rq, err := c.admit(w, r, who)
		if err != nil || rq == nil {
			return err
		}
		return h(rq)
	}
}

func (c *Console) form(who role, h func(*request) error) web.PageFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		f, err := web.ParseForm(w, r)
		if err != nil {
			return err
		}
		rq, err := c.admit(w, r, who)
		if err != nil || rq == nil {
			return err
		}
		if err := c.Pages.CheckCSRF(r, rq.v.Session, f); err != nil {
			return err
		}
		rq.form = f
		return h(rq)
	}
}

// admit returns the request of someone who may use the page (who); nil,
// having redirected to sign-in, for a signed-out browser; a 403 for
// anyone else. The role is read from the store on every request.
func (c *Console) admit(w http.ResponseWriter, r *http.Request, who role) (*request, error) {
	v, err := c.Roles.Who(r)
	if err != nil {
		return nil, err
	}
	if v == nil {
		back := "/console"
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			back = r.URL.RequestURI()
		}
		return nil, web.SeeOther(w, web.LoginURL(back))
	}
	switch who {
	case sysadminOnly:
		if !v.Sysadmin() {
			return nil, errNotAdmin
		}
	case orgAdmin:
		ok, err := c.Roles.CanManageOrg(r.Context(), v, r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errNotOrgAdmin
		}
	}
	// Someone who must set up a second factor first is sent to do so.
	if enrol, err := c.Pages.EnrolFirst(w, r, v.User); err != nil || enrol {
		return nil, err
	}
	actor := audit.Actor{Kind: store.ActorUser, ID: v.User.ID, Address: c.Pages.ClientIP(r)}
	return &request{w: w, r: r, ctx: audit.WithActor(r.Context(), actor), v: v, loc: c.Pages.Locale(r)}, nil
}

// view is what every console page's template gets.
type view struct {
	web.Base
	Sysadmin bool   // the full console's navigation, and its actions
	Nav      string // the section the page belongs to
	Org      *store.Organization
	OrgNav   string // the section of the organization's console, when Org is set
	Done     string // what the last change did, from ?done=, in words
	Page     any    // the page's own data
}

// render renders template t in section nav. title and notice are words
// (rq.T), or data such as a client's name.
func (c *Console) render(rq *request, status int, t string, nav, title, notice string, data any) error {
	return c.renderIn(rq, status, t, nav, nil, "", title, notice, data)
}

// renderOrgPage renders a page of organization o's console, in section
// orgNav.
func (c *Console) renderOrgPage(rq *request, status int, t string, o *store.Organization, orgNav, title, notice string, data any) error {
	return c.renderIn(rq, status, t, "orgs", o, orgNav, title, notice, data)
}

func (c *Console) renderIn(rq *request, status int, t string, nav string, o *store.Organization, orgNav, title, notice string, data any) error {
	done, err := web.Query(rq.r, "done")
	if err != nil {
		return err
	}
	var doneWords string
	if key, ok := doneKeys[done]; ok {
		doneWords = rq.T(key)
	}
	return c.Pages.Render(rq.w, rq.r, status, t, view{
		Base:     web.Base{Title: title, CSRF: c.Pages.CSRFToken(rq.w, rq.r, rq.v.Session), User: rq.v.User, Notice: notice, Wide: true},
		Sysadmin: rq.v.Sysadmin(), Nav: nav, Org: o, OrgNav: orgNav, Done: doneWords, Page: data,
	})
}

// doneKeys are the confirmations a change redirects with (?done=), as
// message keys.
var doneKeys = map[string]string{
	"client-saved":              "console.done.client_saved",
	"client-deleted":            "console.done.client_deleted",
	"user-saved":                "console.done.user_saved",
	"password-set":              "console.done.password_set",
	"reset-sent":                "console.done.reset_sent",
	"email-confirmed":           "console.done.email_confirmed",
	"email-unconfirmed":         "console.done.email_unconfirmed",
	"grant-revoked":             "console.done.grant_revoked",
	"org-created":               "console.done.org_created",
	"org-deleted":               "console.done.org_deleted",
	"member-saved":              "console.done.member_saved",
	"member-removed":            "console.done.member_removed",
	"member-invited":            "console.done.member_invited",
	"member-invitation-resent":  "console.done.member_invitation_resent",
	"member-invitation-revoked": "console.done.member_invitation_revoked",
	"invitation-gone":           "console.done.invitation_gone",
	"invitation-sent":           "console.done.invitation_sent",
	"invitation-resent":         "console.done.invitation_resent",
	"group-created":             "console.done.group_created",
	"group-saved":               "console.done.group_saved",
	"group-deleted":             "console.done.group_deleted",
	"device-renamed":            "console.done.device_renamed",
	"device-moved":              "console.done.device_moved",
	"device-removed":            "console.done.device_removed",
	"tokens-revoked":            "console.done.tokens_revoked",
	"keys-rotated":              "console.done.keys_rotated",
}

// userError is the admin API's answer to what was sent, shown to the
// person above the form; nil for any other error.
func userError(err error) *oauth.Error {
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.StatusCode() < 500 {
		return oe
	}
	return nil
}

// describe is an admin API error as a sentence in the person's language.
// The admin API's descriptions are English (they are the JSON API's too):
// in English they are shown with the form's labels for the API's member
// names; in another language after a word of refusal in it, as the API
// wrote them, member names and all, which match the API's documentation.
//
// A limit's refusal (429: the invitation emails of an organization or a
// sender in an hour, org.SendLimits) is said in the person's words, with
// how long to wait, and the answer carries Retry-After as the API's does.
func (rq *request) describe(oe *oauth.Error) string {
	if oe.StatusCode() == http.StatusTooManyRequests {
		if oe.RetryAfter > 0 {
			rq.w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
		}
		return rq.T("console.err.invitation_limit", "n", max(1, (oe.RetryAfter+59)/60))
	}
	if rq.loc.Lang() != i18n.Base {
		d := oe.Description
		if d == "" {
			d = oe.Code
		}
		return rq.T("console.refused", "reason", d)
	}
	return describe(oe)
}

// describe is an admin API error as an English sentence.
func describe(oe *oauth.Error) string {
	d := oe.Description
	if d == "" {
		d = oe.Code
	}
	// The API names members as JSON does; the form's labels are words.
	for name, label := range memberLabels {
		if strings.HasPrefix(d, name+" ") || strings.HasPrefix(d, name+":") {
			d = label + d[len(name):]
			break
		}
	}
	if d != "" {
		d = strings.ToUpper(d[:1]) + d[1:]
	}
	if !strings.HasSuffix(d, ".") {
		d += "."
	}
	return d
}

// memberLabels are the admin API's member names as the forms label them.
var memberLabels = map[string]string{
	"redirect_uris": "Redirect URIs", "post_logout_redirect_uris": "Post-logout redirect URIs", "grant_types": "Grant types",
	"scope": "Scopes", "client_name": "The name", "client_id": "The client ID", "email": "The email address",
	"password": "The password", "name": "The name",
}

func (c *Console) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// reauthenticated reports whether the viewer entered their password
// within ReauthWindow, or enters it now with the form (password); a
// password entered now is recorded on the session.
func (c *Console) reauthenticated(rq *request) (bool, error) {
	now := c.now()
	if now.Sub(rq.v.Session.AuthTime) < ReauthWindow {
		return true, nil
	}
	ok, err := c.Pages.CheckPassword(rq.ctx, rq.w, rq.v.User, rq.form["password"])
	if err != nil || !ok {
		return false, err
	}
	if err := c.Store.Reauthenticate(rq.ctx, rq.v.Session.Hash, now); err != nil {
		return false, err
	}
	rq.v.Session.AuthTime = now
	return true, nil
}

// reauthNotice is shown when a sensitive action's password is missing or
// wrong.
func (rq *request) reauthNotice() string {
	return rq.T("console.reauth", "n", int(ReauthWindow/time.Minute))
}

// needsPassword reports whether a sensitive action now would ask for the
// password.
func (c *Console) needsPassword(rq *request) bool {
	return c.now().Sub(rq.v.Session.AuthTime) >= ReauthWindow
}

// pager is one page of a server-side search.
type pager struct {
	Query      string
	Page       int // from 1
	Total      int
	Prev, Next string // links, "" for none
}

// paginate reads q and page from the request and returns the page of
// items (already filtered by the caller through match) to show.
func paginate[T any](rq *request, base string, items []T, match func(T, string) bool) ([]T, pager, error) {
	q, err := web.Query(rq.r, "q")
	if err != nil {
		return nil, pager{}, err
	}
	ps, err := web.Query(rq.r, "page")
	if err != nil {
		return nil, pager{}, err
	}
	q = strings.TrimSpace(q)
	if len(q) > 200 {
		q = q[:200]
	}
	n := 1
	if ps != "" {
		if n, err = strconv.Atoi(ps); err != nil || n < 1 || n > 1_000_000 {
			return nil, pager{}, web.Error(http.StatusBadRequest, "console.err.no_page", "console.err.page_number")
		}
	}
	var found []T
	lq := strings.ToLower(q)
	for _, it := range items {
		if q == "" || match(it, lq) {
			found = append(found, it)
		}
	}
	p := pager{Query: q, Page: n, Total: len(found)}
	link := func(page int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		v.Set("page", strconv.Itoa(page))
		return base + "?" + v.Encode()
	}
	if n > 1 {
		p.Prev = link(n - 1)
	}
	start := (n - 1) * PageSize
	if start >= len(found) {
		return nil, p, nil
	}
	end := min(start+PageSize, len(found))
	if end < len(found) {
		p.Next = link(n + 1)
	}
	return found[start:end], p, nil
}

// contains reports whether any of fields holds lq (lower case).
func contains(lq string, fields ...string) bool {
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), lq) {
			return true
		}
	}
	return false
}

// confirmPage is a confirmation page for a destructive action.
type confirmPage struct {
	Heading, Text string
	Action        string // the form's path
	Button        string
	Danger        bool
	Password      bool              // the password is asked for (re-authentication)
	ReauthMinutes int               // ReauthWindow, for the password's hint
	Fields        map[string]string // hidden fields
	Back          string
	Nav           string              // the section it belongs to
	Org           *store.Organization // the organization's console it belongs to, if any
	OrgNav        string              // its section there
}

var confirmTemplate = page("confirm")

func (c *Console) confirm(rq *request, status int, notice string, p confirmPage) error {
	nav := p.Nav
	p.ReauthMinutes = int(ReauthWindow / time.Minute)
	if p.Org != nil {
		nav = "orgs"
	}
	return c.renderIn(rq, status, confirmTemplate, nav, p.Org, p.OrgNav, p.Heading, notice, p)
}

var overviewTemplate = page("overview")

type overviewPage struct {
	Clients, Users, Orgs int
}

// Overview serves GET /console: a system administrator's overview; for
// anyone else, the organizations they administer (403 when none).
func (c *Console) Overview(rq *request) error {
	if !rq.v.Sysadmin() {
		return c.MyOrgs(rq)
	}
	cs, err := c.Store.ListClients(rq.ctx)
	if err != nil {
		return err
	}
	us, err := c.Store.ListUsers(rq.ctx)
	if err != nil {
		return err
	}
	os, err := c.Store.ListOrganizations(rq.ctx)
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusOK, overviewTemplate, "overview", rq.T("console.overview.heading"), "",
		overviewPage{Clients: len(cs), Users: len(us), Orgs: len(os)})
}
