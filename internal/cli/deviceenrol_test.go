package cli

// Tests of `latchkey orgs`, `groups`, `invitations` and `device-enrol`
// against a whole server on a real SQLite store: an operator sets up an
// organization and invites a device; the device enrols, then joins a
// second group as the existing client.

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

type orgEnv struct {
	*adminEnv
	issuer string
}

// startServer runs a whole Latchkey on SQLite, without a mail server, so
// invitations wait in the outbox.
func startServer(t *testing.T) *orgEnv {
	t.Helper()
	st := sqlitetest.Open(t)
	ts := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Listen = ts.Listener.Addr().String()
	cfg.Issuer = "http://" + cfg.Listen
	cfg.AdminToken = adminTestToken
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return &orgEnv{
		adminEnv: &adminEnv{srv: ts, store: st, env: map[string]string{
			"LATCHKEY_ENDPOINT": ts.URL, "LATCHKEY_ADMIN_TOKEN": adminTestToken,
		}},
		issuer: cfg.Issuer,
	}
}

// runOrgCLI runs an admin command of this feature.
func (e *orgEnv) runOrgCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return e.run(t, "", args...)
}

func (e *orgEnv) mustOrgCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.runOrgCLI(t, args...)
	if err != nil {
		t.Fatalf("latchkey %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// enrol runs `latchkey device-enrol` as a device would.
func (e *orgEnv) enrol(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Getenv: func(k string) string { return map[string]string{"LATCHKEY_ISSUER": e.issuer}[k] }, Stdout: &out, Stderr: &errOut}
	err := runDeviceEnrol(t.Context(), env, args)
	return out.String(), errOut.String(), err
}

var linkLine = regexp.MustCompile(`(?m)^link:\s+(\S+)$`)

func TestOrgsAndDeviceEnrol(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx := t.Context()
	mustDoCLI(t, e.store.CreateUser(ctx, &store.User{ID: "u-ops", Email: "ops@acme.example"}))

	out := e.mustOrgCLI(t, "orgs", "create", "--id", "acme", "--name", "Acme Sensors", "--app-link", "com.acme.sensor://invitation")
	if textField(t, out, "id") != "acme" || textField(t, out, "app_link") != "com.acme.sensor://invitation" {
		t.Errorf("orgs create:\n%s", out)
	}
	if out := e.mustOrgCLI(t, "orgs", "add-member", "acme", "ops@acme.example", "--role", "admin"); textField(t, out, "role") != "admin" {
		t.Errorf("add-member: %s", out)
	}
	if out := e.mustOrgCLI(t, "orgs", "members", "acme"); !strings.Contains(out, "ops@acme.example") || !strings.Contains(out, "admin") {
		t.Errorf("members:\n%s", out)
	}
	if out := e.mustOrgCLI(t, "orgs", "list"); !strings.Contains(out, "Acme Sensors") {
		t.Errorf("orgs list:\n%s", out)
	}
	readers := textField(t, e.mustOrgCLI(t, "groups", "create", "--org", "acme", "--name", "Readers", "--scopes", "read status"), "id")
	writers := textField(t, e.mustOrgCLI(t, "groups", "create", "--org", "acme", "--name", "Writers", "--scopes", "write"), "id")
	if out := e.mustOrgCLI(t, "groups", "list", "--org", "acme"); !strings.Contains(out, "Readers") || !strings.Contains(out, "read status") {
		t.Errorf("groups list:\n%s", out)
	}
	out = e.mustOrgCLI(t, "groups", "update", "--org", "acme", readers, "--description", "Read-only sensors")
	if textField(t, out, "description") != "Read-only sensors" {
		t.Errorf("groups update:\n%s", out)
	}

	// An invitation; without a mail server, show prints its link.
	out = e.mustOrgCLI(t, "invitations", "create", "--org", "acme", "--groups", "Readers", "--email", "ops@acme.example",
		"--lifetime", "2d", "--allow-rename")
	if textField(t, out, "groups") != readers {
		t.Errorf("invitations create --groups Readers:\n%s", out)
	}
	if _, _, err := e.runOrgCLI(t, "invitations", "create", "--org", "acme", "--groups", "Readers,Sensors", "--email", "x@example.com"); err == nil ||
		err.Error() != `organization acme: there is no client group "Sensors"; its groups are Readers, Writers` {
		t.Errorf("invitations create with an unknown group: %v", err)
	}
	id := textField(t, out, "id")
	if textField(t, out, "state") != "pending" {
		t.Errorf("invitations create:\n%s", out)
	}
	out, errOut, err := e.runOrgCLI(t, "invitations", "show", id)
	if err != nil {
		t.Fatal(err)
	}
	m := linkLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(errOut, "Share it only") {
		t.Fatalf("invitations show prints no link:\n%s\n%s", out, errOut)
	}
	link := m[1]

	// The device enrols with the link: credentials in a 0600 file, a token
	// whose claims name the organization and the group.
	credFile := filepath.Join(t.TempDir(), "device.json")
	out, errOut, err = e.enrol(t, "--link", link, "--out", credFile, "--name", "Boiler sensor")
	if err != nil {
		t.Fatalf("device-enrol: %v\n%s", err, errOut)
	}
	fi, err := os.Stat(credFile)
	mustDoCLI(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	var creds deviceCredentials
	b, _ := os.ReadFile(credFile)
	mustDoCLI(t, json.Unmarshal(b, &creds))
	if creds.ClientID == "" || !strings.HasPrefix(creds.ClientSecret, "lk_cs_") || creds.OrganizationID != "acme" || creds.Issuer != e.issuer {
		t.Errorf("credentials file: %s", b)
	}
	if strings.Contains(out+errOut, creds.ClientSecret) {
		t.Error("device-enrol printed the secret")
	}
	claims := claimsFrom(t, out)
	if claims["org_id"] != "acme" || claims["client_id"] != creds.ClientID || claims["scope"] != "read status" || !hasGroups(claims, readers) {
		t.Errorf("claims after enrolling: %v", claims)
	}
	if c, _ := e.store.GetClient(ctx, creds.ClientID); c.Name != "Boiler sensor" {
		t.Errorf("device name %q", c.Name)
	}
	if out := e.mustOrgCLI(t, "invitations", "show", id); linkLine.MatchString(out) || textField(t, out, "state") != "accepted" {
		t.Errorf("show after acceptance:\n%s", out)
	}

	// A second invitation, accepted by the same device as the existing client.
	id2 := textField(t, e.mustOrgCLI(t, "invitations", "create", "--org", "acme", "--groups", writers, "--email", "ops@acme.example",
		"--existing-only"), "id")
	tok2 := strings.TrimPrefix(linkLine.FindStringSubmatch(e.mustOrgCLI(t, "invitations", "show", id2))[1], e.issuer+"/invitations/")
	out, errOut, err = e.enrol(t, "--token", tok2, "--out", credFile)
	if err != nil {
		t.Fatalf("device-enrol as the existing device: %v\n%s", err, errOut)
	}
	claims = claimsFrom(t, out)
	if claims["client_id"] != creds.ClientID || claims["scope"] != "read status write" || !hasGroups(claims, readers, writers) {
		t.Errorf("claims after joining the writers: %v", claims)
	}
	if out := e.mustOrgCLI(t, "groups", "clients", "--org", "acme", "Writers"); out != "CLIENT ID\n"+creds.ClientID+"\n" {
		t.Errorf("groups clients: %q", out)
	}
	// Out of the writers and back in, by hand.
	if out := e.mustOrgCLI(t, "groups", "remove-client", "--org", "acme", writers, creds.ClientID); !strings.Contains(out, "Removed client") {
		t.Errorf("groups remove-client: %q", out)
	}
	if out := e.mustOrgCLI(t, "groups", "clients", "--org", "acme", writers); strings.Contains(out, creds.ClientID) {
		t.Errorf("groups clients after remove-client: %q", out)
	}
	if out := e.mustOrgCLI(t, "groups", "add-client", "--org", "acme", writers, creds.ClientID); !strings.Contains(out, "Added client") {
		t.Errorf("groups add-client: %q", out)
	}
	if out := e.mustOrgCLI(t, "groups", "clients", "--org", "acme", writers); !strings.Contains(out, creds.ClientID) {
		t.Errorf("groups clients after add-client: %q", out)
	}

	// Used, revoked, and wrong input.
	if _, _, err := e.enrol(t, "--token", tok2, "--out", filepath.Join(t.TempDir(), "other.json")); err == nil ||
		!strings.Contains(err.Error(), "cannot be used") {
		t.Errorf("enrolling with a used token: %v", err)
	}
	id3 := textField(t, e.mustOrgCLI(t, "invitations", "create", "--org", "acme", "--groups", readers, "--email", "x@example.com"), "id")
	if out := e.mustOrgCLI(t, "invitations", "revoke", id3, "--yes"); textField(t, out, "state") != "revoked" {
		t.Errorf("revoke:\n%s", out)
	}
	if _, _, err := e.runOrgCLI(t, "invitations", "revoke", id3, "--yes"); err == nil {
		t.Error("revoking twice succeeded")
	}
	if out := e.mustOrgCLI(t, "invitations", "list", "--org", "acme"); !strings.Contains(out, "revoked") || !strings.Contains(out, "accepted") {
		t.Errorf("invitations list:\n%s", out)
	}
	if _, _, err := e.runOrgCLI(t, "orgs", "delete", "acme", "--yes"); err == nil || !strings.Contains(err.Error(), "owns device clients") {
		t.Errorf("deleting an organization that owns a device: %v", err)
	}
	for _, args := range [][]string{
		{"groups", "list"},
		{"invitations", "create", "--org", "acme"},
		{"orgs", "nope"},
	} {
		if _, _, err := e.runOrgCLI(t, args...); err != errUsage {
			t.Errorf("latchkey %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	for _, args := range [][]string{
		{"--out", credFile},
		{"--token", "lk_inv_x", "--link", "http://x/invitations/lk_inv_x"},
		{"--link", "http://x/somewhere"},
		{"--token", "not-an-invitation"},
	} {
		if _, _, err := e.enrol(t, args...); err == nil {
			t.Errorf("device-enrol %v succeeded", args)
		}
	}
}

func TestTokenFromLink(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ link, want string }{
		{"https://id.example/invitations/lk_inv_abc", "lk_inv_abc"},
		{"com.acme.sensor://invitation?token=lk_inv_abc", "lk_inv_abc"},
		{"myapp://x?a=1&token=lk_inv_a%2Bb", "lk_inv_a+b"},
	} {
		got, err := tokenFromLink(tt.link)
		if err != nil || got != tt.want {
			t.Errorf("tokenFromLink(%q) = %q, %v; want %q", tt.link, got, err, tt.want)
		}
	}
}

// claimsFrom reads the claims device-enrol printed after its first line.
func claimsFrom(t *testing.T, out string) map[string]any {
	t.Helper()
	_, js, _ := strings.Cut(out, "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("claims output: %v\n%s", err, out)
	}
	return m
}

func hasGroups(claims map[string]any, want ...string) bool {
	got, _ := claims["groups"].([]any)
	if len(got) != len(want) {
		return false
	}
	for i, g := range got {
		if g != want[i] {
			return false
		}
	}
	return true
}

func mustDoCLI(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMemberInvitationCommands: `latchkey member-invitations` against a
// whole server: an operator invites a person by email with a role, lists
// the invitations, resends one named by its address (a new token), and
// revokes it (asking first; --yes); a second pending invitation of the
// address, an unknown role, another organization's invitation through
// this one, and revoking twice are refused with the API's reasons.
func TestMemberInvitationCommands(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx := t.Context()
	e.mustOrgCLI(t, "orgs", "create", "--id", "acme", "--name", "Acme Sensors")
	e.mustOrgCLI(t, "orgs", "create", "--id", "globex", "--name", "Globex")
	if out := e.mustOrgCLI(t, "member-invitations", "list", "--org", "acme"); !strings.Contains(out, "Organization acme has invited nobody yet") {
		t.Errorf("an empty list:\n%s", out)
	}

	out := e.mustOrgCLI(t, "member-invitations", "create", "--org", "acme", "--email", "Grace@Acme.example", "--role", "admin")
	wantFields(t, "create", out, map[string]string{
		"organization": "acme", "email": "grace@acme.example", "role": "admin", "state": "pending", "invited by": "admin",
	})
	id := textField(t, out, "id")
	if strings.Contains(out, "lk_minv_") {
		t.Errorf("the token is in the output:\n%s", out)
	}
	if out := e.mustOrgCLI(t, "member-invitations", "create", "--org", "acme", "--email", "ops@acme.example"); textField(t, out, "role") != "member" {
		t.Errorf("the default role:\n%s", out)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--org", "acme", "--email", "grace@acme.example"}, "pending already"},
		{[]string{"create", "--org", "acme", "--email", "x@acme.example", "--role", "owner"}, "role must be admin or member"},
		{[]string{"create", "--org", "nope", "--email", "x@acme.example"}, "there is no organization nope"},
		{[]string{"resend", "--org", "globex", id}, "there is no member invitation"},
		{[]string{"revoke", "--org", "globex", "grace@acme.example", "--yes"}, "organization globex has no pending invitation of grace@acme.example"},
		{[]string{"revoke", "--org", "acme", id}, "add --yes"},
	} {
		if _, _, err := e.runOrgCLI(t, append([]string{"member-invitations"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("member-invitations %s: %v; want %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	out = e.mustOrgCLI(t, "member-invitations", "list", "--org", "acme")
	if !regexp.MustCompile(`(?m)^`+id+`\s+pending\s+grace@acme\.example\s+admin\s+admin\s`).MatchString(out) || !strings.Contains(out, "ops@acme.example") {
		t.Errorf("list:\n%s", out)
	}

	before, err := e.store.GetMemberInvitation(ctx, id)
	mustDoCLI(t, err)
	if out := e.mustOrgCLI(t, "member-invitations", "resend", "--org", "acme", "grace@acme.example"); textField(t, out, "id") != id || textField(t, out, "state") != "pending" {
		t.Errorf("resend:\n%s", out)
	}
	after, err := e.store.GetMemberInvitation(ctx, id)
	mustDoCLI(t, err)
	if after.TokenHash == before.TokenHash {
		t.Error("resend kept the old token")
	}
	if out := e.mustOrgCLI(t, "member-invitations", "revoke", "--org", "acme", "grace@acme.example", "--yes"); textField(t, out, "state") != "revoked" {
		t.Errorf("revoke:\n%s", out)
	}
	if _, _, err := e.runOrgCLI(t, "member-invitations", "revoke", "--org", "acme", id, "--yes"); err == nil || !strings.Contains(err.Error(), "no longer pending") {
		t.Errorf("revoking twice: %v", err)
	}
	out = e.mustOrgCLI(t, "audit", "--org", "acme", "--kind", "member-invitation.revoke")
	if !strings.Contains(out, id) {
		t.Errorf("the audit log lacks the revocation:\n%s", out)
	}
}
