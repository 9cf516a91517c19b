package cli

import (
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/admin"
)

var grantsGroup = group{
	name: "grants",
	about: `List and revoke what users allowed clients, through the admin API of a
running server. Revoking a grant stops all its access and refresh tokens
at once: the device or app has to ask its user again.

USER is a user's id or email address.`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("grants",
			grants.list(op{name: "list", summary: "list a user's grants, revoked ones included", help: `
Lists a user's grants, oldest first, revoked ones included; a grant past its
absolute expiry is listed until the sweeper deletes it (every sweep_interval).

Examples:
  latchkey grants list --user ada@example.com
  latchkey grants list --user 5x3kq2m7w4bz6y8r9tnp --json`}),
			grants.get(op{name: "get", summary: "show a grant", help: "Shows a grant, revoked or not."}),
			grantsRevoke(),
		)
	},
}

var grants = &resource[admin.Grant, admin.GrantList]{
	one:     "grant",
	key:     ref{name: "GRANT"},
	parents: []ref{{name: "USER", flag: "user", usage: "the `USER`'s id or email address", resolve: resolveUser}},
	path:    "/admin/v1/users/{USER}/grants",
	item:    "/admin/v1/grants/{GRANT}",
	items:   func(l *admin.GrantList) []admin.Grant { return l.Grants },
	columns: []string{"GRANT ID", "CLIENT ID", "SCOPE", "STATUS", "CREATED", "EXPIRES"},
	row: func(g *admin.Grant) []string {
		return []string{g.ID, g.ClientID, orDash(g.Scope), grantStatus(g), g.CreatedAt, g.ExpiresAt}
	},
	empty: "{USER} has no grants.",
	fields: func(g *admin.Grant) [][2]string {
		return [][2]string{
			{"id", g.ID},
			{"user_id", g.UserID},
			{"client_id", g.ClientID},
			{"scope", orDash(g.Scope)},
			{"status", grantStatus(g)},
			{"auth_time", orDash(g.AuthTime)},
			{"created_at", g.CreatedAt},
			{"expires_at", g.ExpiresAt},
		}
	},
}

// grantsRevoke makes `grants revoke`. The API answers a revocation of a
// revoked grant as it answers the first (it changes nothing), so the
// grant is read first: to say so, and to name what is to be revoked.
func grantsRevoke() *op {
	o := &op{name: "revoke", summary: "revoke a grant", help: `
Revokes a grant: its access tokens turn inactive at once and its refresh
tokens stop working. A grant revoked already stays as it is.`,
		refs: grants.itemRefs(), asks: true}
	o.run = func(c *call) error {
		var g admin.Grant
		if _, err := c.api.do(c.ctx, http.MethodGet, grants.itemPath(c), nil, &g); err != nil {
			return err
		}
		if g.RevokedAt != "" {
			fmt.Fprintf(c.Stdout, "Grant %s was already revoked at %s.\n", g.ID, g.RevokedAt)
			return nil
		}
		action := fmt.Sprintf("revoke grant %s (client %s, user %s)", g.ID, g.ClientID, g.UserID)
		if err := c.confirm(action, "Its access tokens turn inactive at once, and its refresh tokens stop working."); err != nil {
			return err
		}
		if _, err := c.api.do(c.ctx, http.MethodDelete, grants.itemPath(c), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "Revoked grant %s.\n", g.ID)
		return nil
	}
	return o
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
