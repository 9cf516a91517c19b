package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/admin"
)

// TestAuditCommand: what the admin commands change, `latchkey audit`
// shows, filtered, a page at a time, or as JSON.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	if out := e.mustRun(t, "", "audit"); !strings.Contains(out, "No changes recorded") {
		t.Errorf("audit of an empty log:\n%s", out)
	}
	e.mustRun(t, "0123456789", "users", "create", "--email", "ada@example.com", "--password-stdin")
	e.mustRun(t, "", "users", "update", "ada@example.com", "--sysadmin=true")
	e.mustRun(t, "", "users", "delete", "ada@example.com", "--yes")

	out := e.mustRun(t, "", "audit")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "AT ") || !strings.Contains(lines[1], "user.delete") || !strings.Contains(lines[3], "user.create") || !strings.Contains(lines[3], "admin-token:admin-token") {
		t.Errorf("audit:\n%s", out)
	}
	if strings.Contains(out, "0123456789") || strings.Contains(out, adminTestToken) {
		t.Errorf("audit shows a secret:\n%s", out)
	}
	out = e.mustRun(t, "", "audit", "--kind", "user.update")
	if n := strings.Count(out, "\n"); n != 2 || !strings.Contains(out, "user.update") {
		t.Errorf("audit --kind user.update:\n%s", out)
	}
	out = e.mustRun(t, "", "audit", "--actor", "admin-token", "--json")
	var list admin.AuditList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Entries) != 3 || list.Entries[0].Kind != "user.delete" {
		t.Errorf("audit --actor admin-token --json: %v\n%s", err, out)
	}

	// A page of one, and the command that gives the next.
	out, errOut, err := e.run(t, "", "audit", "--limit", "1", "--kind", "user.create")
	if err != nil || strings.Count(out, "\n") != 2 || errOut != "" {
		t.Errorf("audit --limit 1 --kind user.create: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err = e.run(t, "", "audit", "--limit", "1")
	more, ok := strings.CutPrefix(strings.TrimSpace(errOut), "More: latchkey audit --limit 1 --cursor ")
	if err != nil || !ok || !strings.Contains(out, "user.delete") {
		t.Fatalf("audit --limit 1: %v\n%s%s", err, out, errOut)
	}
	if out := e.mustRun(t, "", "audit", "--limit", "1", "--cursor", more); !strings.Contains(out, "user.update") {
		t.Errorf("the next page:\n%s", out)
	}

	if _, _, err := e.run(t, "", "audit", "--kind", "user.explode"); err == nil || !strings.Contains(err.Error(), "kind must be one of") {
		t.Errorf("audit --kind user.explode: err = %v", err)
	}
}
