package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The organizations' pages: a searchable list with the form that creates
// one (system administrators), and an organization's page — the front of
// its OrgAdmin console, for its admins and system administrators — with
// its device client groups and its members (invited by email, see
// members.go; change the role, remove; the last admin stays); deleting an organization
// (system administrators) is confirmed and re-authenticated. The
// invitations of every organization have a page of their own.

var (
	orgsTemplate        = page("orgs")
	orgTemplate         = page("org")
	invitationsTemplate = page("invitations")
)

type orgsPage struct {
	Orgs              []*store.Organization
	Pager             pager
	ID, Name, AppLink string // the create form, as sent
}

// Orgs serves GET /console/orgs: ?q= searches id and name.
func (c *Console) Orgs(rq *request) error {
	return c.renderOrgs(rq, http.StatusOK, "", orgsPage{})
}

func (c *Console) renderOrgs(rq *request, status int, notice string, p orgsPage) error {
	all, err := c.Store.ListOrganizations(rq.ctx)
	if err != nil {
		return err
	}
	p.Orgs, p.Pager, err = paginate(rq, "/console/orgs", all, func(o *store.Organization, q string) bool {
		return contains(q, o.ID, o.Name)
	})
	if err != nil {
		return err
	}
	return c.render(rq, status, orgsTemplate, "orgs", rq.T("console.nav.orgs"), notice, p)
}

// CreateOrg serves POST /console/orgs/new, by the admin API's rules.
func (c *Console) CreateOrg(rq *request) error {
	p := orgsPage{ID: strings.TrimSpace(rq.form["id"]), Name: strings.TrimSpace(rq.form["name"]), AppLink: strings.TrimSpace(rq.form["app_link"])}
	req := &admin.OrgRequest{Name: &p.Name, AppLink: &p.AppLink}
	if p.ID != "" {
		req.ID = &p.ID
	}
	o, err := c.Admin.NewOrg(rq.ctx, req)
	if oe := userError(err); oe != nil {
		return c.renderOrgs(rq, http.StatusBadRequest, rq.describe(oe), p)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=org-created")
}

func orgPath(id string) string { return "/console/orgs/" + url.PathEscape(id) }

func (c *Console) loadOrg(rq *request) (*store.Organization, error) {
	o, err := c.Store.GetOrganization(rq.ctx, rq.r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, web.Error(http.StatusNotFound, "console.err.no_org", "console.err.no_org_text")
	}
	return o, err
}

type memberView struct {
	*store.OrgMember
	Email string
}

type invitationView struct {
	*store.Invitation
	State   string
	OrgName string
}

type orgPage struct {
	Org         *store.Organization
	Groups      []groupView
	Members     []memberView
	Invitations []*store.MemberInvitation // pending invitations of people
	Invite      memberInviteForm          // the invitation form, as sent
	Group       groupForm                 // the new group form, as sent
}

func (c *Console) renderOrg(rq *request, status int, notice string, o *store.Organization, p orgPage) error {
	ms, err := c.Store.ListOrgMembers(rq.ctx, o.ID)
	if err != nil {
		return err
	}
	p.Org = o
	for _, m := range ms {
		v := memberView{OrgMember: m}
		if u, err := c.Store.GetUser(rq.ctx, m.UserID); err == nil {
			v.Email = u.Email
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		p.Members = append(p.Members, v)
	}
	if p.Groups, err = c.groups(rq, o); err != nil {
		return err
	}
	if p.Invitations, err = c.pendingMemberInvitations(rq, o); err != nil {
		return err
	}
	if p.Invite.Role == "" {
		p.Invite.Role = store.RoleMember
	}
	return c.renderOrgPage(rq, status, orgTemplate, o, "org", o.Name, notice, p)
}

// invitations are o's, newest first.
func (c *Console) invitations(rq *request, o *store.Organization) ([]invitationView, error) {
	invs, err := c.Store.ListInvitations(rq.ctx, o.ID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := make([]invitationView, 0, len(invs))
	for _, inv := range invs {
		out = append(out, invitationView{Invitation: inv, State: org.State(inv, now), OrgName: o.Name})
	}
	slices.SortFunc(out, func(a, b invitationView) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// Org serves GET /console/orgs/{id}.
func (c *Console) Org(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	return c.renderOrg(rq, http.StatusOK, "", o, orgPage{})
}

// PutMember serves POST /console/orgs/{id}/members: member user_id's
// role becomes role. Members join by invitation (members.go); this form
// changes only the role of someone who is one already.
func (c *Console) PutMember(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	userID, role := rq.form["user_id"], rq.form["role"]
	m, err := c.Store.GetOrgMember(rq.ctx, o.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoMember
	}
	if err != nil {
		return err
	}
	if role == store.RoleAdmin && m.Role != store.RoleAdmin {
		// Making an admin is re-authenticated (issue 15 item 6): a
		// confirmation asks for the password when it was last entered
		// more than ReauthWindow ago. It is asked for first without
		// spending the password budget; a wrong one is refused.
		if c.needsPassword(rq) && rq.form["password"] == "" {
			return c.confirm(rq, http.StatusOK, "", makeAdminConfirm(rq, o, userID))
		}
		if ok, err := c.reauthenticated(rq); err != nil {
			return err
		} else if !ok {
			return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), makeAdminConfirm(rq, o, userID))
		}
	}
	// The last-admin rule binds an organization's admin, not a system
	// administrator (who manages every organization anyway); the store
	// decides it in the change's own transaction.
	_, err = c.Admin.SetMember(rq.ctx, o.ID, userID, role, !rq.v.Sysadmin())
	if oe := userError(err); oe != nil {
		return c.renderOrg(rq, oe.StatusCode(), memberNotice(rq, oe), o, orgPage{})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=member-saved")
}

var errNoMember = web.Error(http.StatusNotFound, "console.err.no_member", "console.err.no_member_text")

// memberNotice is the admin API's refusal of a member's change, in words.
func memberNotice(rq *request, oe *oauth.Error) string {
	if oe.Description == admin.LastAdmin {
		return rq.T("console.org.last_admin")
	}
	return rq.describe(oe)
}

func makeAdminConfirm(rq *request, o *store.Organization, userID string) confirmPage {
	return confirmPage{Heading: rq.T("console.org.make_admin_heading", "org", o.Name),
		Text:   rq.T("console.org.make_admin_text"),
		Action: orgPath(o.ID) + "/members", Button: rq.T("console.org.make_admin_button"), Password: true,
		Fields: map[string]string{"user_id": userID, "role": store.RoleAdmin}, Back: orgPath(o.ID), Org: o, OrgNav: "org"}
}

func removeMemberConfirm(rq *request, o *store.Organization, userID, email string) confirmPage {
	return confirmPage{Heading: rq.T("console.org.remove_heading", "email", email, "org", o.Name),
		Text:   rq.T("console.org.remove_text"),
		Action: orgPath(o.ID) + "/members/remove", Button: rq.T("console.org.remove_button"), Danger: true,
		Fields: map[string]string{"user_id": userID}, Back: orgPath(o.ID), Org: o, OrgNav: "org"}
}

// RemoveMemberForm serves GET /console/orgs/{id}/members/remove?user_id=:
// the confirmation.
func (c *Console) RemoveMemberForm(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	userID, err := web.Query(rq.r, "user_id")
	if err != nil {
		return err
	}
	// Only a member is named: an organization's admin learns nothing of
	// other users from a made-up user_id.
	if _, err := c.Store.GetOrgMember(rq.ctx, o.ID, userID); errors.Is(err, store.ErrNotFound) {
		return errNoMember
	} else if err != nil {
		return err
	}
	email := userID
	if u, err := c.Store.GetUser(rq.ctx, userID); err == nil {
		email = u.Email
	}
	return c.confirm(rq, http.StatusOK, "", removeMemberConfirm(rq, o, userID, email))
}

// RemoveMember serves POST /console/orgs/{id}/members/remove; the
// last-admin rule as PutMember's.
func (c *Console) RemoveMember(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	err = c.Admin.RemoveMember(rq.ctx, o.ID, rq.form["user_id"], !rq.v.Sysadmin())
	if oe := userError(err); oe != nil {
		return c.renderOrg(rq, oe.StatusCode(), memberNotice(rq, oe), o, orgPage{})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=member-removed")
}

func deleteOrgConfirm(rq *request, o *store.Organization, password bool) confirmPage {
	return confirmPage{Heading: rq.T("console.org.delete_heading", "name", o.Name),
		Text:   rq.T("console.org.delete_text", "id", o.ID),
		Action: orgPath(o.ID) + "/delete", Button: rq.T("console.org.delete"), Danger: true, Password: password, Back: orgPath(o.ID), Org: o, OrgNav: "org"}
}

// DeleteOrgForm serves GET /console/orgs/{id}/delete.
func (c *Console) DeleteOrgForm(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", deleteOrgConfirm(rq, o, c.needsPassword(rq)))
}

// DeleteOrg serves POST /console/orgs/{id}/delete, re-authenticated.
func (c *Console) DeleteOrg(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	if ok, err := c.reauthenticated(rq); err != nil {
		return err
	} else if !ok {
		return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), deleteOrgConfirm(rq, o, true))
	}
	err = c.Admin.RemoveOrg(rq.ctx, o.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), deleteOrgConfirm(rq, o, false))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, "/console/orgs?done=org-deleted")
}

type invitationsPage struct {
	Invitations []invitationView
	Pager       pager
}

// Invitations serves GET /console/invitations: every organization's
// invitations, newest first; ?q= searches the address, the
// organization and the state.
func (c *Console) Invitations(rq *request) error {
	orgs, err := c.Store.ListOrganizations(rq.ctx)
	if err != nil {
		return err
	}
	var all []invitationView
	for _, o := range orgs {
		invs, err := c.invitations(rq, o)
		if err != nil {
			return err
		}
		all = append(all, invs...)
	}
	slices.SortFunc(all, func(a, b invitationView) int { return b.CreatedAt.Compare(a.CreatedAt) })
	shown, p, err := paginate(rq, "/console/invitations", all, func(v invitationView, q string) bool {
		return contains(q, v.Email, v.OrgID, v.OrgName, v.State, v.DeviceName)
	})
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusOK, invitationsTemplate, "invitations", rq.T("console.nav.invitations"), "", invitationsPage{Invitations: shown, Pager: p})
}

func (c *Console) loadInvitation(rq *request) (*store.Invitation, error) {
	inv, err := c.Store.GetInvitation(rq.ctx, rq.r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, web.Error(http.StatusNotFound, "console.err.no_invitation", "console.err.no_invitation_text")
	}
	return inv, err
}

func revokeInvitationConfirm(rq *request, inv *store.Invitation) confirmPage {
	return confirmPage{Heading: rq.T("console.inv.revoke_heading", "email", inv.Email),
		Text:   rq.T("console.inv.revoke_text"),
		Action: "/console/invitations/" + url.PathEscape(inv.ID) + "/revoke", Button: rq.T("console.inv.revoke_button"), Danger: true,
		Back: "/console/invitations", Nav: "invitations"}
}

// RevokeInvitationForm serves GET /console/invitations/{id}/revoke.
func (c *Console) RevokeInvitationForm(rq *request) error {
	inv, err := c.loadInvitation(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", revokeInvitationConfirm(rq, inv))
}

// RevokeInvitation serves POST /console/invitations/{id}/revoke, through
// the invitation service the admin API uses (it records the change).
func (c *Console) RevokeInvitation(rq *request) error {
	inv, err := c.loadInvitation(rq)
	if err != nil {
		return err
	}
	if c.Admin.Orgs == nil {
		return web.Error(http.StatusNotFound, "console.err.invitations_off", "console.err.invitations_off_text")
	}
	_, err = c.Admin.Orgs.Revoke(rq.ctx, "", inv.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), revokeInvitationConfirm(rq, inv))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, "/console/invitations?done=invitation-gone")
}
