package cli

// Tests of `latchkey clients` and `latchkey users`, against the admin API
// on a real SQLite store.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

const adminTestToken = "cli-test-admin-token-0123456789abcdef"

type adminEnv struct {
	srv   *httptest.Server
	store *sqlite.Store
	env   map[string]string
}

func startAdmin(t *testing.T) *adminEnv {
	t.Helper()
	s := sqlitetest.Open(t)
	now := func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC) }
	var ticks atomic.Int64
	a := &admin.API{
		Store: s,
		Token: adminTestToken,
		Now:   now,
		Rand:  rand.Reader,
		// Each entry a second after the one before, so the log's order
		// (newest first) is the order of the commands.
		Audit: &audit.Log{Store: s, Now: func() time.Time { return now().Add(time.Duration(ticks.Add(1)) * time.Second) }, Rand: rand.Reader},
		Links: &account.Links{Store: s, Issuer: "https://id.example.com", Now: now, Rand: rand.Reader},
	}
	srv := httptest.NewServer(server.AdminMux(a))
	t.Cleanup(srv.Close)
	return &adminEnv{srv: srv, store: s, env: map[string]string{
		"LATCHKEY_ENDPOINT":    srv.URL,
		"LATCHKEY_ADMIN_TOKEN": adminTestToken,
	}}
}

// run runs `latchkey <args>` with stdin as standard input.
func (e *adminEnv) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{
		Getenv: func(k string) string { return e.env[k] },
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		http:   e.srv.Client(),
	}
	err = env.run(t.Context(), args)
	return out.String(), errOut.String(), err
}

// mustRun runs a command that must succeed and returns its output.
func (e *adminEnv) mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("latchkey %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

var secretLine = regexp.MustCompile(`(?m)^client_secret:\s+(lk_cs_\S+)$`)

// field returns the value of "key:" in key: value output.
func textField(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `:\s+(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in output:\n%s", key, out)
	}
	return m[1]
}

// wantFields checks the fields of a command's text output.
func wantFields(t *testing.T, what, out string, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if got := textField(t, out, key); got != w {
			t.Errorf("%s: %s = %q, want %q", what, key, got, w)
		}
	}
}

func TestClientsCommands(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	ctx := t.Context()

	// A public device client: no secret.
	out := e.mustRun(t, "", "clients", "create", "--name", "Living room TV", "--id", "tv", "--public",
		"--grant-types", "device_code,refresh_token", "--scopes", "openid  offline_access",
		"--user-code-alphabet", "digits", "--user-code-length", "12", "--device-code-lifetime", "10m", "--poll-interval", "5s")
	wantFields(t, "create public", out, map[string]string{
		"client_id":            "tv",
		"client_name":          "Living room TV",
		"type":                 "public",
		"grant_types":          "device_code, refresh_token",
		"scope":                "openid offline_access",
		"user_code":            "alphabet digits, length 12 (the rest: the server's)",
		"device_code_lifetime": "10m0s",
		"poll_interval":        "5s",
		"created_at":           "2026-03-04T05:06:07Z",
	})
	if strings.Contains(out, "client_secret") || strings.Contains(out, "not be shown again") {
		t.Errorf("a public client was shown a secret:\n%s", out)
	}

	// A confidential web client: the secret is printed once, with the notice.
	out, errOut, err := e.run(t, "", "clients", "create", "--name", "Web", "--id", "web",
		"--grant-types", "authorization_code,refresh_token", "--redirect-uris", "https://app.example/cb, http://127.0.0.1:8085/callback")
	m := secretLine.FindStringSubmatch(out)
	if err != nil || m == nil || !strings.Contains(errOut, "it will not be shown again") {
		t.Fatalf("create confidential: %v; no secret in the output or no notice on stderr:\n%s\n%s", err, out, errOut)
	}
	secret := m[1]
	stored, err := e.store.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !oauth.SecretMatches(secret, stored.SecretHash) {
		t.Errorf("the printed secret does not match the stored hash")
	}
	if got, want := stored.RedirectURIs, []string{"https://app.example/cb", "http://127.0.0.1:8085/callback"}; !cmp.Equal(want, got) {
		t.Errorf("stored redirect URIs (-want +got):\n%s", cmp.Diff(want, got))
	}

	// list and get never show it.
	out = e.mustRun(t, "", "clients", "list")
	wantList := "CLIENT ID  NAME            TYPE          GRANT TYPES                       SCOPE\n" +
		"tv         Living room TV  public        device_code,refresh_token         openid offline_access\n" +
		"web        Web             confidential  authorization_code,refresh_token  openid profile email offline_access\n"
	if diff := cmp.Diff(wantList, out); diff != "" {
		t.Errorf("clients list (-want +got):\n%s", diff)
	}
	for _, args := range [][]string{{"clients", "get", "web"}, {"clients", "get", "--json", "web"}, {"clients", "list", "--json"}} {
		if out := e.mustRun(t, "", args...); strings.Contains(out, secret) || strings.Contains(out, `"client_secret"`) || strings.Contains(out, "client_secret:") {
			t.Errorf("%v shows the secret:\n%s", args, out)
		}
	}

	// update changes only what it is given; a user code flag keeps the
	// rest of the override.
	out = e.mustRun(t, "", "clients", "update", "tv", "--user-code-group", "4", "--name", "Kitchen TV")
	if got, want := textField(t, out, "user_code"), "alphabet digits, length 12, dash every 4 (the rest: the server's)"; got != want {
		t.Errorf("after update user_code = %q, want %q", got, want)
	}
	if got := textField(t, out, "client_name"); got != "Kitchen TV" {
		t.Errorf("after update client_name = %q", got)
	}
	if got := textField(t, out, "scope"); got != "openid offline_access" {
		t.Errorf("update changed scope to %q", got)
	}

	// The token policy flags: durations in, the server's defaults shown as
	// such, and the refresh members only for a client with the refresh grant.
	out = e.mustRun(t, "", "clients", "update", "tv", "--id-token-alg", "RS256", "--access-token-lifetime", "5m",
		"--refresh-lifetime", "2160h", "--refresh-idle-lifetime", "72h", "--refresh-token-policy", "always")
	wantFields(t, "after the policy update", out, map[string]string{
		"id_token_signed_response_alg": "RS256",
		"access_token_lifetime":        "5m0s",
		"id_token_lifetime":            "the server's",
		"refresh_lifetime":             "2160h0m0s",
		"refresh_idle_lifetime":        "72h0m0s",
		"refresh_token_policy":         "always",
	})
	stored, err = e.store.GetClient(ctx, "tv")
	if err != nil || stored.Tokens.AccessTokenLifetime != 5*time.Minute || stored.Tokens.RefreshTokens != "always" {
		t.Errorf("stored policy %+v, %v", stored.Tokens, err)
	}
	if _, _, err := e.run(t, "", "clients", "update", "tv", "--id-token-alg", "HS256"); err == nil ||
		!strings.Contains(err.Error(), "id_token_signed_response_alg HS256 is not one of ES256, RS256") {
		t.Errorf("--id-token-alg HS256: %v", err)
	}
	if _, _, err := e.run(t, "", "clients", "update", "tv", "--access-token-lifetime", "90s500ms"); err == nil {
		t.Error("--access-token-lifetime 90.5s was taken")
	}
	if out := e.mustRun(t, "", "clients", "get", "web"); !strings.Contains(out, "refresh_token_policy") {
		t.Errorf("web (refresh grant) does not show its refresh policy:\n%s", out)
	}

	// rotate-secret prints a new secret once; --json keeps stdout JSON.
	stdout, stderr, err := e.run(t, "", "clients", "rotate-secret", "web", "--json", "--yes")
	if err != nil {
		t.Fatalf("rotate-secret: %v", err)
	}
	var rotated admin.Client
	if err := json.Unmarshal([]byte(stdout), &rotated); err != nil {
		t.Fatalf("rotate-secret --json printed no JSON: %v\n%s", err, stdout)
	}
	if rotated.ClientSecret == "" || rotated.ClientSecret == secret || !strings.Contains(stderr, "will not be shown again") {
		t.Errorf("rotate-secret --json: secret %q, stderr %q", rotated.ClientSecret, stderr)
	}
	stored, _ = e.store.GetClient(ctx, "web")
	if !oauth.SecretMatches(rotated.ClientSecret, stored.SecretHash) || oauth.SecretMatches(secret, stored.SecretHash) {
		t.Errorf("after rotation the store does not hold the new secret alone")
	}

	// revoke-tokens asks first: without --yes and a terminal nothing
	// happens; with it every token is revoked (the time is on the client).
	if _, _, err := e.run(t, "y\n", "clients", "revoke-tokens", "web"); err == nil {
		t.Error("revoke-tokens without --yes and without a terminal did not refuse")
	}
	if stored, _ := e.store.GetClient(ctx, "web"); !stored.TokensRevokedAt.IsZero() {
		t.Errorf("the refused revoke-tokens revoked at %v", stored.TokensRevokedAt)
	}
	if out := e.mustRun(t, "", "clients", "revoke-tokens", "web", "--yes"); !strings.Contains(out, "Revoked the tokens of client web: 0 grant(s)") {
		t.Errorf("revoke-tokens printed %q", out)
	}
	if stored, _ := e.store.GetClient(ctx, "web"); stored.TokensRevokedAt.IsZero() {
		t.Error("revoke-tokens left the client's tokens_revoked_at unset")
	}
	if out := e.mustRun(t, "", "clients", "revoke-tokens", "web", "--yes", "--json"); !strings.Contains(out, `"grants_revoked"`) {
		t.Errorf("revoke-tokens --json printed %q", out)
	}
	if _, _, err := e.run(t, "", "clients", "revoke-tokens", "nobody", "--yes"); err == nil || err.Error() != "there is no client nobody" {
		t.Errorf("revoke-tokens of an unknown client: err = %v", err)
	}

	// delete, then it is gone, and the API's description is printed as is.
	if out := e.mustRun(t, "", "clients", "delete", "web", "--yes"); out != "Deleted client web.\n" {
		t.Errorf("delete printed %q", out)
	}
	if _, _, err := e.run(t, "", "clients", "get", "web"); err == nil || err.Error() != "there is no client web" {
		t.Errorf("get after delete: err = %v, want \"there is no client web\"", err)
	}
}

func TestClientsErrors(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // the error's text; "usage" for errUsage
	}{
		{"server down", map[string]string{"LATCHKEY_ENDPOINT": closed, "LATCHKEY_ADMIN_TOKEN": adminTestToken},
			[]string{"clients", "list"}, "cannot reach the admin API at " + closed + ": is `latchkey serve` running?"},
		{"wrong token", map[string]string{"LATCHKEY_ADMIN_TOKEN": "wrong"},
			[]string{"clients", "list"}, "the admin token was refused (set --token or LATCHKEY_ADMIN_TOKEN)"},
		{"wrong token flag beats the environment", nil,
			[]string{"clients", "list", "--token", "wrong"}, "the admin token was refused (set --token or LATCHKEY_ADMIN_TOKEN)"},
		{"no token", map[string]string{"LATCHKEY_ADMIN_TOKEN": ""},
			[]string{"users", "list"}, "no admin token: set --token or LATCHKEY_ADMIN_TOKEN (it is admin_token in the configuration `latchkey init` wrote; `latchkey serve --dev` prints one)"},
		{"bad endpoint", nil, []string{"clients", "list", "--endpoint", "127.0.0.1:8080"},
			`--endpoint "127.0.0.1:8080": want the server's base URL, such as http://127.0.0.1:8080`},
		{"API description", nil, []string{"clients", "create", "--name", "x", "--grant-types", "password"},
			"grant_types: password is not one of urn:ietf:params:oauth:grant-type:device_code, refresh_token, authorization_code, client_credentials"},
		{"API description for redirect", nil, []string{"clients", "create", "--name", "x", "--grant-types", "authorization_code", "--redirect-uris", "http://evil.example/cb"},
			"redirect_uris: http://evil.example/cb must use https: http is allowed only for loopback addresses (RFC 8252 section 7.3)"},
		{"public with a secret method", nil, []string{"clients", "create", "--name", "x", "--public", "--auth-method", "client_secret_post"},
			"--public and --auth-method client_secret_post contradict each other"},
		{"fractional interval", nil, []string{"clients", "create", "--name", "x", "--poll-interval", "1500ms"},
			"--poll-interval 1500ms: want whole seconds, such as 10m or 5s (0 for the server's)"},
		{"no name", nil, []string{"clients", "create"}, "usage"},
		{"no id", nil, []string{"clients", "get"}, "usage"},
		{"two ids", nil, []string{"clients", "delete", "a", "b", "--yes"}, "usage"},
		{"nothing to update", nil, []string{"clients", "update", "a"}, "usage"},
		{"unknown flag", nil, []string{"clients", "list", "--colour"}, "usage"},
		{"unknown command", nil, []string{"clients", "frobnicate"}, "usage"},
		{"no command", nil, []string{"users"}, "usage"},
		{"password flag", nil, []string{"users", "create", "--email", "a@example.com", "--password", "hunter2hunter2"}, "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			saved := e.env
			e.env = map[string]string{"LATCHKEY_ENDPOINT": e.srv.URL, "LATCHKEY_ADMIN_TOKEN": adminTestToken}
			for k, v := range tt.env {
				e.env[k] = v
			}
			defer func() { e.env = saved }()
			_, _, err := e.run(t, "", tt.args...)
			switch {
			case err == nil:
				t.Fatalf("err = nil, want %q", tt.wantErr)
			case tt.wantErr == "usage":
				if !errors.Is(err, errUsage) {
					t.Errorf("err = %v, want errUsage", err)
				}
			case err.Error() != tt.wantErr:
				t.Errorf("err = %q\nwant  %q", err, tt.wantErr)
			}
		})
	}
}

// TestAdminHelp: -h prints the usage, with examples and flags but never
// the token, on standard output, and exits 0.
func TestAdminHelp(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	for _, args := range [][]string{
		{"clients", "create", "-h"},
		{"clients", "update", "--help"},
		{"users", "create", "-h"},
	} {
		stdout, stderr, err := e.run(t, "", args...)
		if exitCode(err) != 0 || stderr != "" {
			t.Errorf("%v: err = %v, stderr %q; want exit 0 and nothing on stderr", args, err, stderr)
		}
		if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "-endpoint URL") || strings.Contains(stdout, adminTestToken) {
			t.Errorf("%v: usage without examples or flags, or with the token:\n%s", args, stdout)
		}
	}
	stdout, _, err := e.run(t, "", "clients", "help")
	if exitCode(err) != 0 || !strings.Contains(stdout, "rotate-secret CLIENT") {
		t.Errorf("clients help: err %v, output %q", err, stdout)
	}
}

func TestUsersCommands(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	ctx := t.Context()

	out := e.mustRun(t, "correct horse battery\n", "users", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin")
	id := textField(t, out, "id")
	if got := textField(t, out, "email"); got != "ada@example.com" {
		t.Errorf("email = %q, want it lower-cased", got)
	}
	u, err := e.store.GetUser(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := account.CheckPassword(u.PasswordHash, "correct horse battery"); !ok {
		t.Errorf("the password read from stdin (less its newline) does not match")
	}

	// Without --password-stdin and no terminal, there is no way to give one.
	if _, _, err := e.run(t, "x", "users", "create", "--email", "b@example.com"); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("create without a password: err = %v, want advice to use --password-stdin", err)
	}
	if _, _, err := e.run(t, "short\n", "users", "create", "--email", "b@example.com", "--password-stdin"); err == nil ||
		err.Error() != "password: the password must have at least 10 characters" {
		t.Errorf("short password: err = %v", err)
	}
	if _, _, err := e.run(t, "0123456789\n", "users", "create", "--email", "ADA@example.com", "--password-stdin"); err == nil ||
		err.Error() != "a user with email ada@example.com exists already" {
		t.Errorf("taken email: err = %v", err)
	}

	e.mustRun(t, "0123456789", "users", "create", "--email", "aaron@example.com", "--password-stdin", "--disabled", "--sysadmin")
	out = e.mustRun(t, "", "users", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], "aaron@example.com") ||
		!strings.Contains(lines[1], "disabled") || !strings.Contains(lines[1], "sysadmin") || !strings.Contains(lines[2], "ada@example.com") ||
		!strings.Contains(lines[2], "active") || strings.Contains(lines[2], "sysadmin") {
		t.Errorf("users list:\n%s", out)
	}

	// By email: get, reset-password, update (disable, new password), delete.
	if got := textField(t, e.mustRun(t, "", "users", "get", "ADA@example.com"), "id"); got != id {
		t.Errorf("get by email found %q, want %q", got, id)
	}
	if out := e.mustRun(t, "", "users", "reset-password", "ada@example.com"); out != "Mailed a password reset link to ada@example.com. It works once, for 1h0m0s.\n" {
		t.Errorf("reset-password printed %q", out)
	}
	if mails, err := e.store.ClaimMail(ctx, time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC), time.Minute, 10); err != nil || len(mails) != 1 ||
		mails[0].Recipient != "ada@example.com" || !strings.Contains(mails[0].Link, "/reset-password?token=lk_pr_") {
		t.Errorf("outbox after reset-password: %+v, %v", mails, err)
	}
	if entries, err := e.store.QueryAudit(ctx, store.AuditQuery{Kind: audit.UserPasswordReset, Limit: 5}); err != nil || len(entries) != 1 || entries[0].TargetID != id {
		t.Errorf("audit after reset-password: %+v, %v", entries, err)
	}
	if _, _, err := e.run(t, "", "users", "reset-password", "nobody@example.com"); err == nil {
		t.Error("reset-password for nobody succeeded")
	}
	// A password set here ends the user's sessions (docs/security.md ACC-05).
	sess := &store.Session{Hash: strings.Repeat("ab", 32), UserID: id, AuthTime: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC),
		CreatedAt: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 3, 5, 5, 0, 0, 0, time.UTC)}
	if err := e.store.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	out = e.mustRun(t, "a brand new password\n", "users", "update", "ada@example.com", "--disabled", "--password-stdin")
	if _, err := e.store.GetSession(ctx, sess.Hash, time.Date(2026, 3, 4, 5, 6, 8, 0, time.UTC)); err == nil {
		t.Error("the user's session outlived a password set with users update")
	}
	if got := textField(t, out, "role"); got != "user" {
		t.Errorf("after update role = %q, want user", got)
	}
	if got := textField(t, e.mustRun(t, "", "users", "update", id, "--sysadmin=true"), "role"); got != "sysadmin" {
		t.Errorf("update --sysadmin=true: role = %q", got)
	}
	if u, _ := e.store.GetUser(ctx, id); !u.Sysadmin {
		t.Errorf("update --sysadmin=true: stored Sysadmin = false")
	}
	if got := textField(t, e.mustRun(t, "", "users", "update", id, "--email-verified"), "email_verified"); got != "true" {
		t.Errorf("update --email-verified: email_verified = %q", got)
	}
	if u, _ := e.store.GetUser(ctx, id); !u.EmailVerified {
		t.Errorf("update --email-verified: stored EmailVerified = false")
	}
	if got := textField(t, e.mustRun(t, "", "users", "update", id, "--sysadmin=false"), "role"); got != "user" {
		t.Errorf("update --sysadmin=false: role = %q", got)
	}
	if got := textField(t, out, "status"); got != "disabled" {
		t.Errorf("after update status = %q", got)
	}
	u, _ = e.store.GetUser(ctx, id)
	if ok, _ := account.CheckPassword(u.PasswordHash, "a brand new password"); !ok {
		t.Errorf("the new password does not match")
	}
	out = e.mustRun(t, "", "users", "update", id, "--disabled=false", "--json")
	var got admin.User
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Disabled {
		t.Errorf("update --disabled=false --json: %v, %s", err, out)
	}
	if out := e.mustRun(t, "", "users", "delete", "ada@example.com", "--yes"); out != "Deleted user ada@example.com.\n" {
		t.Errorf("delete printed %q", out)
	}
	if _, _, err := e.run(t, "", "users", "get", "ada@example.com"); err == nil || err.Error() != "there is no user with email ada@example.com" {
		t.Errorf("get after delete: err = %v", err)
	}
	if _, _, err := e.run(t, "", "users", "delete", id, "--yes"); err == nil || err.Error() != "there is no user "+id {
		t.Errorf("delete by id after delete: err = %v", err)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		args     []string
		names    []string
		wantPos  []string
		wantJSON bool
		wantErr  error
	}{
		{"flag after the id", []string{"tv", "--json"}, []string{"ID"}, []string{"tv"}, true, nil},
		{"flag before the id", []string{"--json", "tv"}, []string{"ID"}, []string{"tv"}, true, nil},
		{"dash-dash", []string{"--", "-odd-id"}, []string{"ID"}, []string{"-odd-id"}, false, nil},
		{"missing id", []string{"--json"}, []string{"ID"}, nil, true, errUsage},
		{"extra argument", []string{"a"}, nil, nil, false, errUsage},
		{"help", []string{"-h"}, nil, nil, false, flag.ErrHelp},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
			fs := e.newFlags("test", "test", "")
			jsonOut := fs.Bool("json", false, "")
			pos, err := e.parse(fs, tt.args, tt.names...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantPos, pos); diff != "" || *jsonOut != tt.wantJSON {
				t.Errorf("positional (-want +got):\n%s\njson = %v, want %v", diff, *jsonOut, tt.wantJSON)
			}
		})
	}
}

func TestReadSecretLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
		wantErr        bool
	}{
		{"newline", "pw with spaces \n", "pw with spaces ", false},
		{"CRLF", "pw\r\n", "pw", false},
		{"no newline", "pw", "pw", false},
		{"two lines", "pw\nmore\n", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readSecretLine(strings.NewReader(tt.in))
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("readSecretLine(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestAPIKeysCommands: create shows the secret once and stores its hash,
// list shows no secret, rotate replaces it, revoke deletes the key.
func TestAPIKeysCommands(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	ctx := t.Context()
	stdout, stderr, err := e.run(t, "", "api-keys", "create", "--name", "web front end", "--json")
	if err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	var k admin.APIKey
	if err := json.Unmarshal([]byte(stdout), &k); err != nil || len(k.APIKey) != 12 || !strings.HasPrefix(k.Secret, "lk_sk_") {
		t.Fatalf("create printed %q (%v)", stdout, err)
	}
	if !strings.Contains(stderr, "shown only now") {
		t.Errorf("create: stderr %q", stderr)
	}
	stored, err := e.store.GetServiceKeyBySecret(ctx, oauth.HashSecret(k.Secret))
	if err != nil || stored.ID != k.APIKey || stored.Name != "web front end" {
		t.Fatalf("stored key %+v, %v", stored, err)
	}
	if out := e.mustRun(t, "", "api-keys", "list"); !strings.Contains(out, k.APIKey) || strings.Contains(out, "lk_sk_") {
		t.Errorf("list printed %q", out)
	}
	stdout, _, err = e.run(t, "", "api-keys", "rotate", k.APIKey, "--json", "--yes")
	var rotated admin.APIKey
	if err != nil || json.Unmarshal([]byte(stdout), &rotated) != nil || rotated.Secret == "" || rotated.Secret == k.Secret || rotated.RotatedAt == "" {
		t.Fatalf("rotate: %v %q", err, stdout)
	}
	if _, err := e.store.GetServiceKeyBySecret(ctx, oauth.HashSecret(k.Secret)); err == nil {
		t.Errorf("the old secret still finds the key")
	}
	if out := e.mustRun(t, "", "api-keys", "revoke", k.APIKey, "--yes"); out != "Deleted API key "+k.APIKey+".\n" {
		t.Errorf("revoke printed %q", out)
	}
	if out := e.mustRun(t, "", "api-keys", "list"); !strings.Contains(out, "No API keys yet") {
		t.Errorf("list after revoke printed %q", out)
	}
	if _, _, err := e.run(t, "", "api-keys", "revoke", k.APIKey, "--yes"); err == nil || !strings.Contains(err.Error(), "there is no API key") {
		t.Errorf("revoke again: %v", err)
	}
}
