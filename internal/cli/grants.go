package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/admin"
)

const grantsUsage = `Usage: latchkey grants <command> [flags]

List and revoke what users allowed clients, through the admin API of a
running server. Revoking a grant stops all its access and refresh tokens
at once: the device or app has to ask its user again.

Commands:
  list --user USER    list a user's grants, revoked ones included
  revoke GRANT_ID     revoke a grant

USER is a user's id or email address.

Every command takes --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runGrants runs `latchkey grants ...`.
func runGrants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).grants(ctx, args)
}

func (c *adminCLI) grants(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "grants", grantsUsage, args, map[string]func(context.Context, []string) error{
		"list":   c.grantsList,
		"revoke": c.grantsRevoke,
	})
}

func (c *adminCLI) grantsList(ctx context.Context, args []string) error {
	fs := newFlags("grants list", `grants list --user USER [--json]

Lists a user's grants, oldest first, revoked and expired ones included.

Examples:
  latchkey grants list --user ada@example.com
  latchkey grants list --user 5x3kq2m7w4bz6y8r9tnp --json

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	user := fs.String("user", "", "the `user`'s id or email address")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *user == "" {
		fmt.Fprintln(c.stderr, "latchkey grants list: --user is required")
		fs.Usage()
		return errUsage
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	id, err := resolveUser(ctx, api, *user)
	if err != nil {
		return err
	}
	var out admin.GrantList
	raw, err := api.do(ctx, http.MethodGet, userPath(id)+"/grants", nil, &out)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(c.stdout, raw)
	}
	if len(out.Grants) == 0 {
		fmt.Fprintf(c.stdout, "%s has no grants.\n", *user)
		return nil
	}
	rows := make([][]string, 0, len(out.Grants))
	for _, g := range out.Grants {
		rows = append(rows, []string{g.ID, g.ClientID, orDash(g.Scope), grantStatus(&g), g.CreatedAt, g.ExpiresAt})
	}
	return printTable(c.stdout, []string{"GRANT ID", "CLIENT ID", "SCOPE", "STATUS", "CREATED", "EXPIRES"}, rows)
}

func grantStatus(g *admin.Grant) string {
	switch {
	case g.RevokedAt != "":
		return "revoked " + g.RevokedAt
	case !g.Active:
		return "expired"
	}
	return "active"
}

func (c *adminCLI) grantsRevoke(ctx context.Context, args []string) error {
	fs := newFlags("grants revoke", `grants revoke GRANT_ID

Revokes a grant: its access tokens turn inactive at once and its refresh
tokens stop working. Revoking a revoked grant changes nothing.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "GRANT_ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, "/admin/v1/grants/"+url.PathEscape(pos[0]), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Revoked grant %s.\n", pos[0])
	}
	return nil
}
