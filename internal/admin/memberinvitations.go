package admin

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
)

// Invitations of people into an organization (package org, member.go),
// sent with the admin token: the OrgAdmin console's members section, for
// automation. The link goes only into the email (and, under serve --dev
// without a mail server, the log).

// MemberInvitationList is the answer to GET
// /admin/v1/organizations/{id}/member-invitations.
type MemberInvitationList struct {
	MemberInvitations []org.MemberInvitationJSON `json:"member_invitations"`
}

// CreateMemberInvitation serves POST
// /admin/v1/organizations/{id}/member-invitations: {email, role}.
func (a *API) CreateMemberInvitation(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	var req struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	inv, err := a.Orgs.InviteMember(r.Context(), r.PathValue("id"), req.Email, req.Role, org.InvitedByAdmin)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusCreated, org.MemberInvitationView(inv, a.now()))
}

// ListMemberInvitations serves GET
// /admin/v1/organizations/{id}/member-invitations: newest first, in every
// state.
func (a *API) ListMemberInvitations(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	invs, err := a.Orgs.MemberInvitations(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	now := a.now()
	out := MemberInvitationList{MemberInvitations: make([]org.MemberInvitationJSON, 0, len(invs))}
	for _, inv := range invs {
		out.MemberInvitations = append(out.MemberInvitations, org.MemberInvitationView(inv, now))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// ResendMemberInvitation serves POST
// /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/resend:
// a pending invitation gets a new token and its email goes out again with
// the new link; the old link stops working. It keeps its expiry.
func (a *API) ResendMemberInvitation(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	inv, err := a.Orgs.ResendMember(r.Context(), r.PathValue("id"), r.PathValue("member_invitation_id"), org.InvitedByAdmin)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, org.MemberInvitationView(inv, a.now()))
}

// RevokeMemberInvitation serves POST
// /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/revoke:
// a pending invitation's link stops working and its unsent email is
// cancelled.
func (a *API) RevokeMemberInvitation(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	inv, err := a.Orgs.RevokeMember(r.Context(), r.PathValue("id"), r.PathValue("member_invitation_id"))
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, org.MemberInvitationView(inv, a.now()))
}
