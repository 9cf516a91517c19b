package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
)

// auditOp is `latchkey audit`: a page of the audit log, through the admin
// API (GET /admin/v1/audit).
func auditOp() *op {
	filters := []struct{ flag, param, usage string }{
		{"actor", "actor", "only changes by this `ACTOR`: a user's id, a service key's id, a client id, or admin-token"},
		{"org", "organization", "only changes about organization `ORG`"},
		{"kind", "kind", "only changes of this `KIND`, such as client.update or invitation.send"},
		{"since", "since", "only changes at or after `TIME` (RFC 3339, such as 2026-12-01T00:00:00Z)"},
		{"until", "until", "only changes before `TIME` (RFC 3339)"},
		{"limit", "limit", "at most `N` entries (1 to 500; the server's default is 100)"},
		{"cursor", "cursor", "continue after the page that printed this `CURSOR`"},
	}
	values := make([]*string, len(filters))
	o := &op{name: "audit", summary: "show the audit log", prints: true, help: `
Shows who changed what, newest first: every change made through the admin
API (and so these commands), the invitation API and the consoles, with who
made it, from which address, and what it changed. Secrets are never in it.
When there are more entries than --limit, the last line says how to see
the next page.

Examples:
  latchkey audit
  latchkey audit --org acme --kind invitation.send
  latchkey audit --actor admin-token --since 2026-12-01T00:00:00Z --json`}
	o.flags = func(fs *flag.FlagSet) {
		for i, f := range filters {
			values[i] = fs.String(f.flag, "", f.usage)
		}
	}
	o.run = func(c *call) error {
		q := url.Values{}
		for i, f := range filters {
			if *values[i] != "" {
				q.Set(f.param, *values[i])
			}
		}
		path := "/admin/v1/audit"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var out admin.AuditList
		raw, err := c.api.do(c.ctx, http.MethodGet, path, nil, &out)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(c.Stdout, raw)
		}
		if len(out.Entries) == 0 {
			fmt.Fprintln(c.Stdout, "No changes recorded that match.")
			return nil
		}
		rows := make([][]string, len(out.Entries))
		for i, e := range out.Entries {
			rows[i] = []string{e.At, e.Kind, e.TargetID, orDash(e.OrgID), e.ActorKind + ":" + e.ActorID, orDash(e.Address)}
		}
		if err := printTable(c.Stdout, []string{"AT", "KIND", "TARGET", "ORG", "ACTOR", "ADDRESS"}, rows); err != nil {
			return err
		}
		if out.NextCursor != "" {
			args := []string{"latchkey audit"}
			for i, f := range filters {
				if f.flag != "cursor" && *values[i] != "" {
					args = append(args, "--"+f.flag, *values[i])
				}
			}
			fmt.Fprintf(c.Stderr, "More: %s --cursor %s\n", strings.Join(args, " "), out.NextCursor)
		}
		return nil
	}
	return o
}

func runAudit(ctx context.Context, e *Env, args []string) error {
	return auditOp().exec(ctx, e, "audit", nil, args)
}
