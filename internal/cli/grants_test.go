package cli

// Tests of `latchkey grants` and of the clients' session flags, against the
// admin API on a real SQLite store (startAdmin, clients_test.go).

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// runGrantsCLI runs `latchkey grants <args>`.
func (e *adminEnv) runGrantsCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return e.run(t, "", append([]string{"grants"}, args...)...)
}

func TestGrantsCommands(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) // the admin API's clock
	for _, err := range []error{
		e.store.CreateUser(ctx, &store.User{ID: "u-ada", Email: "ada@example.com"}),
		e.store.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}),
		e.store.CreateGrant(ctx, &store.Grant{ID: "g-live", UserID: "u-ada", ClientID: "tv", Scopes: []string{"openid", "offline_access"},
			CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)}),
		e.store.CreateGrant(ctx, &store.Grant{ID: "g-old", UserID: "u-ada", ClientID: "tv",
			CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(-24 * time.Hour)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, user := range []string{"ada@example.com", "u-ada"} {
		out, errOut, err := e.runGrantsCLI(t, "list", "--user", user)
		if err != nil {
			t.Fatalf("grants list --user %s: %v\n%s", user, err, errOut)
		}
		for _, want := range []string{"GRANT ID", "g-old", "expired", "g-live", "openid offline_access", "active"} {
			if !strings.Contains(out, want) {
				t.Errorf("grants list --user %s lacks %q:\n%s", user, want, out)
			}
		}
		if strings.Index(out, "g-old") > strings.Index(out, "g-live") {
			t.Errorf("grants list is not oldest first:\n%s", out)
		}
	}

	if _, _, err := e.runGrantsCLI(t, "revoke", "g-live"); err == nil || err.Error() !=
		"grants revoke asks before it acts, and standard input is not a terminal: add --yes to revoke grant g-live (client tv, user u-ada)" {
		t.Errorf("grants revoke without --yes or a terminal: %v", err)
	}
	out, _, err := e.runGrantsCLI(t, "revoke", "g-live", "--yes")
	if err != nil || out != "Revoked grant g-live.\n" {
		t.Fatalf("grants revoke: %v\n%s", err, out)
	}
	g, err := e.store.GetGrant(ctx, "g-live")
	if err != nil || g.RevokedAt.IsZero() {
		t.Fatalf("after grants revoke: %+v, %v", g, err)
	}
	// Again: the grant stays as it was, and the command says so.
	out, _, err = e.runGrantsCLI(t, "revoke", "g-live", "--yes")
	if err != nil || out != "Grant g-live was already revoked at 2026-03-04T05:06:07Z.\n" {
		t.Errorf("grants revoke of a revoked grant: %v\n%s", err, out)
	}
	if out := e.mustRun(t, "", "grants", "get", "g-live"); textField(t, out, "status") != "revoked 2026-03-04T05:06:07Z" {
		t.Errorf("grants get:\n%s", out)
	}
	out, _, _ = e.runGrantsCLI(t, "list", "--user", "u-ada", "--json")
	if !strings.Contains(out, `"revoked_at": "2026-03-04T05:06:07Z"`) {
		t.Errorf("grants list --json after revoking:\n%s", out)
	}

	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown grant", []string{"revoke", "nope", "--yes"}, "there is no grant nope"},
		{"unknown user", []string{"list", "--user", "nobody@example.com"}, "there is no user with email nobody@example.com"},
		{"unknown user id", []string{"list", "--user", "u-nobody"}, "there is no user u-nobody"},
		{"no --user", []string{"list"}, "usage"},
		{"no grant id", []string{"revoke", "--yes"}, "usage"},
		{"unknown command", []string{"delete", "g-live"}, "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.runGrantsCLI(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("grants %s: error %v; want %q", strings.Join(tt.args, " "), err, tt.wantErr)
			}
		})
	}
}

func TestClientsSessionFlags(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	out := e.mustRun(t, "", "clients", "create", "--name", "Web", "--id", "web",
		"--grant-types", "authorization_code", "--redirect-uris", "https://app.example/cb",
		"--post-logout-redirect-uris", "https://app.example/bye, com.example.app:/bye", "--session-attachment", "attached")
	if got := textField(t, out, "post_logout_redirect_uris"); got != "https://app.example/bye, com.example.app:/bye" {
		t.Errorf("post_logout_redirect_uris = %q", got)
	}
	if got := textField(t, out, "session_attachment"); got != "attached" {
		t.Errorf("session_attachment = %q", got)
	}
	out = e.mustRun(t, "", "clients", "update", "web", "--session-attachment", "detached", "--post-logout-redirect-uris", "")
	if textField(t, out, "session_attachment") != "detached" || textField(t, out, "post_logout_redirect_uris") != "-" {
		t.Errorf("after update:\n%s", out)
	}
	c, err := e.store.GetClient(t.Context(), "web")
	if err != nil || c.Attached() || len(c.PostLogoutRedirectURIs) != 0 {
		t.Errorf("stored after update: %+v, %v", c, err)
	}
	if _, _, err := e.run(t, "", "clients", "update", "web", "--session-attachment", "sometimes"); err == nil ||
		!strings.Contains(err.Error(), "session_attachment sometimes is not one of detached, attached") {
		t.Errorf("--session-attachment sometimes: %v", err)
	}
}
