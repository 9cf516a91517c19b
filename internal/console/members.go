package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// Invitations of people into an organization, on its page of the
// OrgAdmin console: the form that invites an address with a role, the
// pending invitations with resend and revoke. Every change is the
// invitation service's (package org: InviteMember, ResendMember,
// RevokeMember), with the signed-in user as the inviter and the audit
// log's actor. The answer to an invitation is the same whether or not
// the address has an account. Inviting someone as an admin is making an
// admin: it asks for the password as the role change does.

// memberInviteForm is the invitation form's values, as shown and as sent.
type memberInviteForm struct {
	Email, Role string
}

func memberInvitationPath(orgID, id string) string {
	return orgPath(orgID) + "/member-invitations/" + url.PathEscape(id)
}

// pendingMemberInvitations are o's invitations of people that can still
// be accepted, newest first.
func (c *Console) pendingMemberInvitations(rq *request, o *store.Organization) ([]*store.MemberInvitation, error) {
	if c.Admin.Orgs == nil {
		return nil, nil
	}
	invs, err := c.Admin.Orgs.MemberInvitations(rq.ctx, o.ID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var out []*store.MemberInvitation
	for _, inv := range invs {
		if inv.Pending(now) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// mailContext is rq's context carrying the page's language, which the
// invitation email is written in.
func (c *Console) mailContext(rq *request) context.Context {
	return i18n.NewContext(rq.ctx, rq.loc)
}

func inviteAdminConfirm(rq *request, o *store.Organization, email string) confirmPage {
	return confirmPage{Heading: rq.T("console.org.invite_admin_heading", "email", email, "org", o.Name),
		Text:   rq.T("console.org.invite_admin_text"),
		Action: orgPath(o.ID) + "/member-invitations", Button: rq.T("console.org.invite_button"), Password: true,
		Fields: map[string]string{"email": email, "role": store.RoleAdmin}, Back: orgPath(o.ID), Org: o, OrgNav: "org"}
}

// InviteMember serves POST /console/orgs/{id}/member-invitations: an
// email with a link to join as role goes to the address.
func (c *Console) InviteMember(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	svc, err := c.invitationService()
	if err != nil {
		return err
	}
	f := memberInviteForm{Email: strings.TrimSpace(rq.form["email"]), Role: rq.form["role"]}
	if f.Role == store.RoleAdmin {
		if c.needsPassword(rq) && rq.form["password"] == "" {
			return c.confirm(rq, http.StatusOK, "", inviteAdminConfirm(rq, o, f.Email))
		}
		if ok, err := c.reauthenticated(rq); err != nil {
			return err
		} else if !ok {
			return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), inviteAdminConfirm(rq, o, f.Email))
		}
	}
	_, err = svc.InviteMember(c.mailContext(rq), o.ID, f.Email, f.Role, rq.v.User.ID)
	if oe := userError(err); oe != nil {
		return c.renderOrg(rq, oe.StatusCode(), rq.describe(oe), o, orgPage{Invite: f})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=member-invited")
}

var errNoMemberInvitation = web.Error(http.StatusNotFound, "console.err.no_invitation", "console.err.no_member_invitation_text")

// loadMemberInvitation loads the member invitation the path names
// ({member_invitation_id}) and its organization ({id}): 404 for either
// missing, or an invitation of another organization.
func (c *Console) loadMemberInvitation(rq *request) (*store.Organization, *store.MemberInvitation, error) {
	o, err := c.loadOrg(rq)
	if err != nil {
		return nil, nil, err
	}
	svc, err := c.invitationService()
	if err != nil {
		return nil, nil, err
	}
	inv, err := svc.MemberInvitation(rq.ctx, o.ID, rq.r.PathValue("member_invitation_id"))
	if oe := userError(err); oe != nil {
		return nil, nil, errNoMemberInvitation
	}
	return o, inv, err
}

// ResendMemberInvitation serves POST
// /console/orgs/{id}/member-invitations/{member_invitation_id}/resend: a
// new link by email; the old one stops working.
func (c *Console) ResendMemberInvitation(rq *request) error {
	o, inv, err := c.loadMemberInvitation(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.Orgs.ResendMember(c.mailContext(rq), o.ID, inv.ID, rq.v.User.ID)
	if oe := userError(err); oe != nil {
		return c.renderOrg(rq, oe.StatusCode(), rq.describe(oe), o, orgPage{})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=member-invitation-resent")
}

func revokeMemberInvitationConfirm(rq *request, o *store.Organization, inv *store.MemberInvitation) confirmPage {
	return confirmPage{Heading: rq.T("console.inv.revoke_heading", "email", inv.Email),
		Text:   rq.T("console.org.revoke_invitation_text"),
		Action: memberInvitationPath(o.ID, inv.ID) + "/revoke", Button: rq.T("console.inv.revoke_button"), Danger: true,
		Back: orgPath(o.ID), Org: o, OrgNav: "org"}
}

// RevokeMemberInvitationForm serves GET
// /console/orgs/{id}/member-invitations/{member_invitation_id}/revoke:
// the confirmation.
func (c *Console) RevokeMemberInvitationForm(rq *request) error {
	o, inv, err := c.loadMemberInvitation(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", revokeMemberInvitationConfirm(rq, o, inv))
}

// RevokeMemberInvitation serves POST
// /console/orgs/{id}/member-invitations/{member_invitation_id}/revoke.
func (c *Console) RevokeMemberInvitation(rq *request) error {
	o, inv, err := c.loadMemberInvitation(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.Orgs.RevokeMember(rq.ctx, o.ID, inv.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), revokeMemberInvitationConfirm(rq, o, inv))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=member-invitation-revoked")
}
