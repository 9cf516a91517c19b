package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
)

const groupsUsage = `Usage: latchkey groups <command> --org ORG [flags]

Manage an organization's device client groups through the admin API of a
running server. A group grants its device clients scopes; devices join
groups by accepting invitations (latchkey invitations), and an
organization's own device can be put into one with add-client.

Commands:
  create                    create a group
  list                      list the organization's groups
  get GROUP                 show a group
  update GROUP              change its name, description or scopes
  delete GROUP              delete it; its pending invitations are revoked
  clients GROUP             list the device clients in it
  add-client GROUP CLIENT   put a device client of the organization into it
  remove-client GROUP CLIENT  take a device client out of it

Every command takes --org, --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runGroups runs `latchkey groups ...`.
func runGroups(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).groups(ctx, args)
}

func (c *adminCLI) groups(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "groups", groupsUsage, args, map[string]func(context.Context, []string) error{
		"create":        c.groupsCreate,
		"list":          c.groupsList,
		"get":           c.groupsGet,
		"update":        c.groupsUpdate,
		"delete":        c.groupsDelete,
		"clients":       c.groupsClients,
		"add-client":    c.groupsAddClient,
		"remove-client": c.groupsRemoveClient,
	})
}

// orgFlag registers --org and returns a check that it was given.
func orgFlag(fs *flag.FlagSet, cmd string, stderr io.Writer) (*string, func() error) {
	org := fs.String("org", "", "the organization's `id`")
	return org, func() error {
		if *org == "" {
			fmt.Fprintf(stderr, "latchkey %s: --org is required\n", cmd)
			fs.Usage()
			return errUsage
		}
		return nil
	}
}

func groupPath(org, id string) string {
	p := orgPath(org) + "/client-groups"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}

func (c *adminCLI) groupsCreate(ctx context.Context, args []string) error {
	fs := newFlags("groups create", `groups create --org ORG --name NAME [--description TEXT] [--scopes "a b"]

Example:
  latchkey groups create --org acme --name Sensors --scopes "telemetry:write config:read"

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups create", c.stderr)
	name := fs.String("name", "", "the group's `name`, unique in the organization")
	description := fs.String("description", "", "what the group is `for`")
	scopes := fs.String("scopes", "", "space-separated `scopes` the group grants its devices")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	if *name == "" {
		fmt.Fprintln(c.stderr, "latchkey groups create: --name is required")
		fs.Usage()
		return errUsage
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	req := map[string]any{"name": *name, "description": *description, "scope": strings.Join(strings.Fields(*scopes), " ")}
	var out admin.ClientGroup
	raw, err := api.do(ctx, http.MethodPost, groupPath(*org, ""), req, &out)
	if err != nil {
		return err
	}
	return c.showGroup(&af, raw, &out)
}

func (c *adminCLI) groupsList(ctx context.Context, args []string) error {
	fs := newFlags("groups list", "groups list --org ORG [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups list", c.stderr)
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
	var out admin.ClientGroupList
	raw, err := api.do(ctx, http.MethodGet, groupPath(*org, ""), nil, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	if len(out.ClientGroups) == 0 {
		fmt.Fprintf(c.stdout, "Organization %s has no client groups: add one with `latchkey groups create --org %s --name NAME`.\n", *org, *org)
		return nil
	}
	rows := make([][]string, 0, len(out.ClientGroups))
	for _, g := range out.ClientGroups {
		rows = append(rows, []string{g.ID, g.Name, orDash(g.Scope), orDash(g.Description)})
	}
	return printTable(c.stdout, []string{"ID", "NAME", "SCOPE", "DESCRIPTION"}, rows)
}

func (c *adminCLI) groupsGet(ctx context.Context, args []string) error {
	fs := newFlags("groups get", "groups get --org ORG GROUP [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups get", c.stderr)
	pos, err := parseArgs(fs, args, "GROUP")
	if err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.ClientGroup
	raw, err := api.do(ctx, http.MethodGet, groupPath(*org, pos[0]), nil, &out)
	if err != nil {
		return err
	}
	return c.showGroup(&af, raw, &out)
}

func (c *adminCLI) groupsUpdate(ctx context.Context, args []string) error {
	fs := newFlags("groups update", "groups update --org ORG GROUP [--name NAME] [--description TEXT] [--scopes \"a b\"]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups update", c.stderr)
	name := fs.String("name", "", "a new `name`")
	description := fs.String("description", "", "a new `description`")
	scopes := fs.String("scopes", "", "the `scopes` the group grants, replacing the old ones")
	pos, err := parseArgs(fs, args, "GROUP")
	if err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	req := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			req["name"] = *name
		case "description":
			req["description"] = *description
		case "scopes":
			req["scope"] = strings.Join(strings.Fields(*scopes), " ")
		}
	})
	if len(req) == 0 {
		fmt.Fprintln(c.stderr, "latchkey groups update: nothing to change: give --name, --description or --scopes")
		fs.Usage()
		return errUsage
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.ClientGroup
	raw, err := api.do(ctx, http.MethodPatch, groupPath(*org, pos[0]), req, &out)
	if err != nil {
		return err
	}
	return c.showGroup(&af, raw, &out)
}

func (c *adminCLI) groupsDelete(ctx context.Context, args []string) error {
	fs := newFlags("groups delete", `groups delete --org ORG GROUP

Deletes a group: its devices leave it, and its pending invitations are
revoked.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups delete", c.stderr)
	pos, err := parseArgs(fs, args, "GROUP")
	if err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, groupPath(*org, pos[0]), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Deleted client group %s.\n", pos[0])
	}
	return nil
}

func (c *adminCLI) groupsClients(ctx context.Context, args []string) error {
	fs := newFlags("groups clients", "groups clients --org ORG GROUP [--json]\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, "groups clients", c.stderr)
	pos, err := parseArgs(fs, args, "GROUP")
	if err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.GroupClients
	raw, err := api.do(ctx, http.MethodGet, groupPath(*org, pos[0])+"/clients", nil, &out)
	if err != nil || af.json {
		return jsonOr(c.stdout, raw, err)
	}
	if len(out.ClientIDs) == 0 {
		fmt.Fprintln(c.stdout, "No device clients in this group yet: invite one with `latchkey invitations create`.")
		return nil
	}
	for _, id := range out.ClientIDs {
		fmt.Fprintln(c.stdout, id)
	}
	return nil
}

func (c *adminCLI) groupsAddClient(ctx context.Context, args []string) error {
	return c.groupClient(ctx, args, "add-client", http.MethodPut, "Added client %s to group %s.\n")
}

func (c *adminCLI) groupsRemoveClient(ctx context.Context, args []string) error {
	return c.groupClient(ctx, args, "remove-client", http.MethodDelete, "Removed client %s from group %s.\n")
}

// groupClient runs `groups add-client` or `groups remove-client`: method
// on the group's client path, then done (with the client and the group).
func (c *adminCLI) groupClient(ctx context.Context, args []string, cmd, method, done string) error {
	name := "groups " + cmd
	fs := newFlags(name, name+" --org ORG GROUP CLIENT\n\nFlags:", c.stderr)
	var af adminFlags
	af.register(fs)
	org, needOrg := orgFlag(fs, name, c.stderr)
	pos, err := parseArgs(fs, args, "GROUP", "CLIENT")
	if err != nil {
		return err
	}
	if err := needOrg(); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, method, groupPath(*org, pos[0])+"/clients/"+url.PathEscape(pos[1]), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, done, pos[1], pos[0])
	}
	return nil
}

func (c *adminCLI) showGroup(af *adminFlags, raw []byte, g *admin.ClientGroup) error {
	if af.json {
		return printJSON(c.stdout, raw)
	}
	return printFields(c.stdout, [][2]string{
		{"id", g.ID},
		{"organization", g.OrganizationID},
		{"name", g.Name},
		{"description", orDash(g.Description)},
		{"scope", orDash(g.Scope)},
		{"created_at", g.CreatedAt},
		{"updated_at", g.UpdatedAt},
	})
}
