package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
)

const invitationsUsage = `Usage: latchkey invitations <command> [flags]

Invite devices into an organization's client groups, through the admin API
of a running server. The invitation email carries a single-use link; the
device accepts it (latchkey device-enrol does what a device app does).

Commands:
  create --org ORG --groups G1,G2 --email ADDRESS   send an invitation
  list --org ORG     list the organization's invitations
  show ID            show an invitation, with its link while the outbox holds
                     it (unsent, or no mail server is configured)
  revoke ID          revoke a pending invitation

Every command takes --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runInvitations runs `latchkey invitations ...`.
func runInvitations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).invitations(ctx, args)
}

func (c *adminCLI) invitations(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "invitations", invitationsUsage, args, map[string]func(context.Context, []string) error{
		"create": c.invitationsCreate,
		"list":   c.invitationsList,
		"show":   c.invitationsShow,
		"revoke": c.invitationsRevoke,
	})
}

func invitationPath(id string) string { return "/admin/v1/invitations/" + url.PathEscape(id) }

// parseLifetime reads a duration that may be given in days: "7d", "36h".
func parseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("--lifetime %q: want a duration such as 7d, 36h or 30m", s)
	}
	return d, nil
}

func (c *adminCLI) invitationsCreate(ctx context.Context, args []string) error {
	fs := newFlags("invitations create", `invitations create --org ORG --groups G1,G2 --email ADDRESS [flags]

Invites a device into client groups of ORG. The email goes out through the
server's mail server; without one, `+"`latchkey invitations show ID`"+` prints the link.

Examples:
  latchkey invitations create --org acme --groups GROUP_ID --email ops@acme.example --allow-rename
  latchkey invitations create --org acme --groups GROUP_ID --email ops@acme.example --client-id CLIENT --lifetime 2d

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "invitations create", c.stderr)
	groups := fs.String("groups", "", "comma-separated client group `ids`")
	email := fs.String("email", "", "the recipient's email `address`")
	message := fs.String("message", "", "a `note` for the email")
	lifetime := fs.String("lifetime", "", "how long the invitation stays valid, such as 7d (default: the server's)")
	existingOnly := fs.Bool("existing-only", false, "only a device that is a client already may accept")
	clientID := fs.String("client-id", "", "only this `client` may accept")
	allowRename := fs.Bool("allow-rename", false, "the device may choose its name when it accepts")
	deviceName := fs.String("device-name", "", "the new device client's `name`")
	appLink := fs.String("app-link", "", "the device app's invitation `URL`, instead of the organization's")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	if *groups == "" || *email == "" {
		fmt.Fprintln(c.stderr, "latchkey invitations create: --groups and --email are required")
		fs.Usage()
		return errUsage
	}
	req := map[string]any{
		"client_group_ids": splitList(*groups), "email": *email, "message": *message,
		"existing_clients_only": *existingOnly, "client_id": *clientID, "allow_rename": *allowRename,
		"device_name": *deviceName, "app_link": *appLink,
	}
	if *lifetime != "" {
		d, err := parseLifetime(*lifetime)
		if err != nil {
			return err
		}
		req["lifetime"] = int64(d / time.Second)
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Invitation
	raw, err := api.do(ctx, http.MethodPost, orgPath(*org)+"/invitations", req, &out)
	if err != nil {
		return err
	}
	return c.showInvitation(&af, raw, &out)
}

func (c *adminCLI) invitationsList(ctx context.Context, args []string) error {
	fs := newFlags("invitations list", "invitations list --org ORG [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "invitations list", c.stderr)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.InvitationList
	raw, err := api.do(ctx, http.MethodGet, orgPath(*org)+"/invitations", nil, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	if len(out.Invitations) == 0 {
		fmt.Fprintf(c.stdout, "Organization %s has sent no invitations yet.\n", *org)
		return nil
	}
	rows := make([][]string, 0, len(out.Invitations))
	for _, inv := range out.Invitations {
		rows = append(rows, []string{inv.ID, inv.State, inv.Email, strings.Join(inv.ClientGroupIDs, ","), inv.ExpiresAt, orDash(inv.AcceptedBy)})
	}
	return printTable(c.stdout, []string{"ID", "STATE", "EMAIL", "GROUPS", "EXPIRES", "ACCEPTED BY"}, rows)
}

func (c *adminCLI) invitationsShow(ctx context.Context, args []string) error {
	fs := newFlags("invitations show", `invitations show ID [--json]

Shows an invitation. While its email waits in the outbox (not sent yet, or
no mail server is configured) it prints the invitation link, which carries
the single-use token: hand it only to whoever sets up the device.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Invitation
	raw, err := api.do(ctx, http.MethodGet, invitationPath(pos[0]), nil, &out)
	if err != nil {
		return err
	}
	return c.showInvitation(&af, raw, &out)
}

func (c *adminCLI) invitationsRevoke(ctx context.Context, args []string) error {
	fs := newFlags("invitations revoke", "invitations revoke ID [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Invitation
	raw, err := api.do(ctx, http.MethodPost, invitationPath(pos[0])+"/revoke", nil, &out)
	if err != nil {
		return err
	}
	return c.showInvitation(&af, raw, &out)
}

func (c *adminCLI) showInvitation(af *adminFlags, raw []byte, inv *admin.Invitation) error {
	if af.json {
		return printJSON(c.stdout, raw)
	}
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
	if err := printFields(c.stdout, fields); err != nil {
		return err
	}
	if inv.Link != "" {
		fmt.Fprintln(c.stderr, "The link is the invitation: whoever opens it first can connect a device. Share it only with the device's owner.")
	}
	return nil
}
