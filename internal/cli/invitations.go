package cli

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
)

var invitationsGroup = group{
	name: "invitations",
	about: `Invite devices into an organization's client groups, through the admin API
of a running server. The invitation email carries a single-use link; the
device accepts it (latchkey device-enrol does what a device app does).`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("invitations",
			invitations.create(op{name: "create", summary: "send an invitation", help: `
Invites a device into client groups of ORG, named by name or id. The email
goes out through the server's mail server; without one,
` + "`latchkey invitations show ID`" + ` prints the link.

Examples:
  latchkey invitations create --org acme --groups Sensors --email ops@acme.example --allow-rename
  latchkey invitations create --org acme --groups Sensors,Boilers --email ops@acme.example --client-id CLIENT --lifetime 2d`},
				invitationBody()),
			invitations.list(op{name: "list", summary: "list the organization's invitations", help: "Lists an organization's invitations, whatever their state."}),
			invitations.get(op{name: "show", summary: "show an invitation, with its link while the outbox holds it", help: `
Shows an invitation. While its email waits in the outbox (not sent yet, or
no mail server is configured) it prints the invitation link, which carries
the single-use token: hand it only to whoever sets up the device.`}),
			invitations.post(op{name: "revoke", summary: "revoke a pending invitation", help: "Revokes a pending invitation: its link stops working."},
				"/revoke", "revoke invitation {ID}", "Its link stops working."),
		)
	},
}

var invitations = &resource[admin.Invitation, admin.InvitationList]{
	one:     "invitation",
	key:     ref{name: "ID"},
	parents: []ref{orgFlag},
	path:    "/admin/v1/organizations/{ORG}/invitations",
	item:    "/admin/v1/invitations/{ID}",
	items:   func(l *admin.InvitationList) []admin.Invitation { return l.Invitations },
	columns: []string{"ID", "STATE", "EMAIL", "GROUPS", "EXPIRES", "ACCEPTED BY"},
	row: func(inv *admin.Invitation) []string {
		return []string{inv.ID, inv.State, inv.Email, strings.Join(inv.ClientGroupIDs, ","), inv.ExpiresAt, orDash(inv.AcceptedBy)}
	},
	empty:  "Organization {ORG} has sent no invitations yet.",
	fields: invitationFields,
	notice: func(inv *admin.Invitation) string {
		if inv.Link != "" {
			return "The link is the invitation: whoever opens it first can connect a device. Share it only with the device's owner."
		}
		return ""
	},
}

func invitationBody() *body {
	return &body{
		fields: []field{
			{flag: "groups", member: "client_group_ids", value: commaList, required: true,
				usage: "comma-separated client `GROUPS`, by name or id"},
			{flag: "email", member: "email", required: true, usage: "the recipient's email `ADDRESS`"},
			{flag: "message", member: "message", usage: "a `NOTE` for the email"},
			{flag: "lifetime", member: "lifetime", value: lifetimeSeconds,
				usage: "how long the invitation stays valid, a `DURATION` such as 7d or 36h (default: the server's)"},
			{flag: "existing-only", member: "existing_clients_only", boolean: true, usage: "only a device that is a client already may accept"},
			{flag: "client-id", member: "client_id", usage: "only the client with this `ID` may accept"},
			{flag: "allow-rename", member: "allow_rename", boolean: true, usage: "the device may choose its name when it accepts"},
			{flag: "device-name", member: "device_name", usage: "the new device client's `NAME`"},
			{flag: "app-link", member: "app_link", usage: "the device app's invitation `URL`, instead of the organization's"},
		},
		// People know groups by name; the API takes ids.
		adjust: func(c *call, req map[string]any) error {
			ids, err := groupIDs(c, req["client_group_ids"].([]string))
			if err != nil {
				return err
			}
			req["client_group_ids"] = ids
			return nil
		},
	}
}

// lifetimeSeconds reads a duration that may be given in days, "7d" or
// "36h", as seconds.
func lifetimeSeconds(s string) (any, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return int64(n) * 24 * 3600, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Second != 0 {
		return nil, errors.New("want a duration such as 7d, 36h or 30m")
	}
	return int64(d / time.Second), nil
}

// invitationFields is an invitation as text.
func invitationFields(inv *admin.Invitation) [][2]string {
	restriction := "any device"
	switch {
	case inv.ClientID != "":
		restriction = "client " + inv.ClientID + " only"
	case inv.ExistingClientsOnly:
		restriction = "existing device clients only"
	}
	email := "waiting in the outbox"
	if inv.EmailSentAt != "" {
		email = "sent " + inv.EmailSentAt
	} else if inv.State != "pending" {
		email = "not needed any more"
	}
	fields := [][2]string{
		{"id", inv.ID},
		{"organization", inv.OrganizationID},
		{"groups", strings.Join(inv.ClientGroupIDs, ", ")},
		{"email", inv.Email + " (" + email + ")"},
		{"state", inv.State},
		{"who may accept", restriction},
		{"device may rename", strconv.FormatBool(inv.AllowRename)},
		{"device name", orDash(inv.DeviceName)},
		{"invited by", inv.InvitedBy},
		{"created_at", inv.CreatedAt},
		{"expires_at", inv.ExpiresAt},
	}
	if inv.AcceptedBy != "" {
		fields = append(fields, [2]string{"accepted by", inv.AcceptedBy})
	}
	if inv.Link != "" {
		fields = append(fields, [2]string{"link", inv.Link})
	}
	return fields
}
