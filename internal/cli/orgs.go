package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

const orgsUsage = `Usage: latchkey orgs <command> [flags]

Manage organizations, which own device clients, and their members, through
the admin API of a running server. An organization's admins may invite
devices into its client groups (latchkey groups, latchkey invitations).

Commands:
  create                 create an organization
  list                   list organizations
  get ORG                show an organization
  update ORG             change its name or app link
  delete ORG             delete it with its members, groups and invitations
  members ORG            list its members
  add-member ORG USER    add a user (id or email), or change their --role
  remove-member ORG USER remove a user

Every command takes --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runOrgs runs `latchkey orgs ...`.
func runOrgs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).orgs(ctx, args)
}

func (c *adminCLI) orgs(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "orgs", orgsUsage, args, map[string]func(context.Context, []string) error{
		"create":        c.orgsCreate,
		"list":          c.orgsList,
		"get":           c.orgsGet,
		"update":        c.orgsUpdate,
		"delete":        c.orgsDelete,
		"members":       c.orgsMembers,
		"add-member":    c.orgsAddMember,
		"remove-member": c.orgsRemoveMember,
	})
}

func orgPath(id string) string { return "/admin/v1/organizations/" + url.PathEscape(id) }

func (c *adminCLI) orgsCreate(ctx context.Context, args []string) error {
	fs := newFlags("orgs create", `orgs create --name NAME [--id ID] [--app-link URL]

Creates an organization. --app-link is where its device app takes
invitations (such as myapp://invitation): the invitation page links there
with the token added.

Example:
  latchkey orgs create --id acme --name "Acme Sensors" --app-link com.acme.sensor://invitation

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	name := fs.String("name", "", "the organization's `name`")
	id := fs.String("id", "", "its `id` (letters, digits, . _ -; default: generated)")
	appLink := fs.String("app-link", "", "the device app's invitation `URL`")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *name == "" {
		fmt.Fprintln(c.stderr, "latchkey orgs create: --name is required")
		fs.Usage()
		return errUsage
	}
	req := map[string]any{"name": *name, "app_link": *appLink}
	if *id != "" {
		req["id"] = *id
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Organization
	raw, err := api.do(ctx, http.MethodPost, "/admin/v1/organizations", req, &out)
	if err != nil {
		return err
	}
	return c.showOrg(&af, raw, &out)
}

func (c *adminCLI) orgsList(ctx context.Context, args []string) error {
	fs := newFlags("orgs list", "orgs list [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.OrganizationList
	raw, err := api.do(ctx, http.MethodGet, "/admin/v1/organizations", nil, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	if len(out.Organizations) == 0 {
		fmt.Fprintln(c.stdout, "No organizations yet: add one with `latchkey orgs create --name NAME`.")
		return nil
	}
	rows := make([][]string, 0, len(out.Organizations))
	for _, o := range out.Organizations {
		rows = append(rows, []string{o.ID, o.Name, orDash(o.AppLink)})
	}
	return printTable(c.stdout, []string{"ID", "NAME", "APP LINK"}, rows)
}

// jsonOr prints raw as JSON, or returns err.
func jsonOr(w io.Writer, raw []byte, err error) error {
	if err != nil {
		return err
	}
	return printJSON(w, raw)
}

func (c *adminCLI) orgsGet(ctx context.Context, args []string) error {
	fs := newFlags("orgs get", "orgs get ORG [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ORG")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Organization
	raw, err := api.do(ctx, http.MethodGet, orgPath(pos[0]), nil, &out)
	if err != nil {
		return err
	}
	return c.showOrg(&af, raw, &out)
}

func (c *adminCLI) orgsUpdate(ctx context.Context, args []string) error {
	fs := newFlags("orgs update", "orgs update ORG [--name NAME] [--app-link URL]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	name := fs.String("name", "", "a new `name`")
	appLink := fs.String("app-link", "", "a new app `URL` (\"\" for none)")
	pos, err := parseArgs(fs, args, "ORG")
	if err != nil {
		return err
	}
	req := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			req["name"] = *name
		case "app-link":
			req["app_link"] = *appLink
		}
	})
	if len(req) == 0 {
		fmt.Fprintln(c.stderr, "latchkey orgs update: nothing to change: give --name or --app-link")
		fs.Usage()
		return errUsage
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Organization
	raw, err := api.do(ctx, http.MethodPatch, orgPath(pos[0]), req, &out)
	if err != nil {
		return err
	}
	return c.showOrg(&af, raw, &out)
}

func (c *adminCLI) orgsDelete(ctx context.Context, args []string) error {
	fs := newFlags("orgs delete", `orgs delete ORG

Deletes an organization with its members, client groups and invitations.
It is refused while the organization owns device clients: delete those
first (latchkey clients delete).

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ORG")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, orgPath(pos[0]), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Deleted organization %s.\n", pos[0])
	}
	return nil
}

func (c *adminCLI) orgsMembers(ctx context.Context, args []string) error {
	fs := newFlags("orgs members", "orgs members ORG [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ORG")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.MemberList
	raw, err := api.do(ctx, http.MethodGet, orgPath(pos[0])+"/members", nil, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	if len(out.Members) == 0 {
		fmt.Fprintf(c.stdout, "Organization %s has no members: add one with `latchkey orgs add-member %s USER --role admin`.\n", pos[0], pos[0])
		return nil
	}
	rows := make([][]string, 0, len(out.Members))
	for _, m := range out.Members {
		rows = append(rows, []string{m.UserID, orDash(m.Email), m.Role})
	}
	return printTable(c.stdout, []string{"USER ID", "EMAIL", "ROLE"}, rows)
}

func (c *adminCLI) orgsAddMember(ctx context.Context, args []string) error {
	fs := newFlags("orgs add-member", `orgs add-member ORG USER [--role admin|member]

Adds a user (id or email address) to an organization, or changes their
role. An admin may send the organization's device invitations.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	role := fs.String("role", store.RoleMember, "`admin` or member")
	pos, err := parseArgs(fs, args, "ORG", "USER")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	userID, err := resolveUser(ctx, api, pos[1])
	if err != nil {
		return err
	}
	var out admin.Member
	raw, err := api.do(ctx, http.MethodPut, orgPath(pos[0])+"/members/"+url.PathEscape(userID), map[string]any{"role": *role}, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	fmt.Fprintf(c.stdout, "%s is %s of organization %s.\n", orDash(out.Email), article(out.Role), pos[0])
	return nil
}

func article(role string) string {
	if role == store.RoleAdmin {
		return "an admin"
	}
	return "a member"
}

func (c *adminCLI) orgsRemoveMember(ctx context.Context, args []string) error {
	fs := newFlags("orgs remove-member", "orgs remove-member ORG USER\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "ORG", "USER")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	userID, err := resolveUser(ctx, api, pos[1])
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, orgPath(pos[0])+"/members/"+url.PathEscape(userID), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Removed %s from organization %s.\n", pos[1], pos[0])
	}
	return nil
}

func (c *adminCLI) showOrg(af *adminFlags, raw []byte, o *admin.Organization) error {
	if af.json {
		return printJSON(c.stdout, raw)
	}
	return printFields(c.stdout, [][2]string{
		{"id", o.ID},
		{"name", o.Name},
		{"app_link", orDash(o.AppLink)},
		{"created_at", o.CreatedAt},
		{"updated_at", o.UpdatedAt},
	})
}
