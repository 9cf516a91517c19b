package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

var memberInvitationsGroup = group{
	name: "member-invitations",
	about: `Invite people, by email, to join an organization with a role, through the
admin API of a running server: the OrgAdmin console's members section. The
email carries a single-use link to a page where the person signs in, or
registers, with the invited address and joins.

INVITATION is an invitation's id, or the invited email address (its pending
invitation).`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("member-invitations",
			memberInvitations.create(op{name: "create", summary: "invite a person by email", help: `
Invites an email address into ORG with a role. The answer is the same
whether or not the address has an account; an address that is a member
already, or has a pending invitation, is refused. The link goes only into
the email.

Example:
  latchkey member-invitations create --org acme --email grace@acme.example --role admin`},
				&body{fields: []field{
					{flag: "email", member: "email", required: true, usage: "the person's email `ADDRESS`"},
					{flag: "role", member: "role", def: store.RoleMember, usage: "the `ROLE` they join with: admin (may invite and manage) or member"},
				}}),
			memberInvitations.list(op{name: "list", summary: "list the organization's invitations of people", help: "Lists an organization's invitations of people, newest first, whatever their state."}),
			memberInvitations.post(op{name: "resend", summary: "send a pending invitation again, with a new link", help: `
Sends a pending invitation again with a new link; the old link stops
working. The invitation keeps its expiry.

Example:
  latchkey member-invitations resend --org acme grace@acme.example`}, "/resend", "", ""),
			memberInvitations.post(op{name: "revoke", summary: "revoke a pending invitation", help: "Revokes a pending invitation: its link stops working, and an email not sent yet is not sent."},
				"/revoke", "revoke the invitation of {INVITATION} into organization {ORG}", "Its link stops working."),
		)
	},
}

const memberInvitationsPath = "/admin/v1/organizations/{ORG}/member-invitations"

var memberInvitations = &resource[org.MemberInvitationJSON, admin.MemberInvitationList]{
	one:     "invitation",
	key:     ref{name: "INVITATION", resolve: resolveMemberInvitation},
	parents: []ref{orgFlag},
	path:    memberInvitationsPath,
	items:   func(l *admin.MemberInvitationList) []org.MemberInvitationJSON { return l.MemberInvitations },
	columns: []string{"ID", "STATE", "EMAIL", "ROLE", "INVITED BY", "EXPIRES"},
	row: func(inv *org.MemberInvitationJSON) []string {
		return []string{inv.ID, inv.State, inv.Email, inv.Role, inv.InvitedBy, inv.ExpiresAt}
	},
	empty: "Organization {ORG} has invited nobody yet: invite someone with `latchkey member-invitations create --org {ORG} --email ADDRESS`.",
	fields: func(inv *org.MemberInvitationJSON) [][2]string {
		fields := [][2]string{
			{"id", inv.ID},
			{"organization", inv.OrganizationID},
			{"email", inv.Email},
			{"role", inv.Role},
			{"state", inv.State},
			{"invited by", inv.InvitedBy},
			{"created_at", inv.CreatedAt},
			{"expires_at", inv.ExpiresAt},
		}
		if inv.DecidedAt != "" {
			fields = append(fields, [2]string{"decided_at", inv.DecidedAt})
		}
		if inv.UserID != "" {
			fields = append(fields, [2]string{"accepted by", inv.UserID})
		}
		return fields
	},
}

// resolveMemberInvitation finds the pending invitation of an email
// address in the organization; anything else is taken for an id.
func resolveMemberInvitation(c *call, typed string) (string, error) {
	if !strings.Contains(typed, "@") {
		return typed, nil
	}
	var list admin.MemberInvitationList
	if _, err := c.api.do(c.ctx, http.MethodGet, c.expandPath(memberInvitationsPath), nil, &list); err != nil {
		return "", err
	}
	for _, inv := range list.MemberInvitations {
		if strings.EqualFold(inv.Email, typed) && inv.State == store.InvitationPending {
			return inv.ID, nil
		}
	}
	return "", fmt.Errorf("organization %s has no pending invitation of %s", c.ids["ORG"], typed)
}
