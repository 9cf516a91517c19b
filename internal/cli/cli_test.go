package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runCLI runs `latchkey <args>` through Main, with no environment, and
// returns its exit code and output.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(t.Context(), Env{Getenv: noEnv, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// flagLine is a flag in a usage: its name, and its placeholder if any.
var flagLine = regexp.MustCompile(`(?m)^  -(\S+)(?: (\S+))?$`)

// TestHelp: -h on every command and subcommand prints its usage with its
// flags on standard output and exits 0; every placeholder is a word in
// capitals, not a Go type.
func TestHelp(t *testing.T) {
	t.Parallel()
	var all [][]string
	for _, c := range commands {
		all = append(all, []string{c.name})
	}
	for _, g := range []group{clientsGroup, usersGroup, orgsGroup, groupsGroup, invitationsGroup, memberInvitationsGroup, grantsGroup, keysGroup} {
		for _, s := range g.subs() {
			all = append(all, []string{g.name, s.name})
		}
	}
	for _, args := range all {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", append(args, "-h")...)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: latchkey "+strings.Join(args, " ")) {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
			}
			for _, m := range flagLine.FindAllStringSubmatch(stdout, -1) {
				if m[2] != "" && m[2] != strings.ToUpper(m[2]) {
					t.Errorf("-%s has the placeholder %q", m[1], m[2])
				}
			}
		})
	}
}

// TestFlags: each command shows the flags it uses, and no others.
func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"migrate"}, []string{"config", "db"}},
		{[]string{"keys", "list"}, []string{"config", "db"}},
		{[]string{"keys", "rotate"}, []string{"alg", "config", "db", "yes"}},
		{[]string{"export"}, []string{"config", "db", "out"}},
		{[]string{"import"}, []string{"config", "db", "in", "skip-existing"}},
		{[]string{"clients", "get"}, []string{"endpoint", "json", "token"}},
		{[]string{"clients", "delete"}, []string{"endpoint", "token", "yes"}},
		{[]string{"clients", "revoke-tokens"}, []string{"endpoint", "json", "token", "yes"}},
		{[]string{"groups", "add-client"}, []string{"endpoint", "org", "token"}},
		{[]string{"orgs", "add-member"}, []string{"endpoint", "json", "role", "token"}},
		{[]string{"invitations", "show"}, []string{"endpoint", "json", "token"}},
		{[]string{"member-invitations", "create"}, []string{"email", "endpoint", "json", "org", "role", "token"}},
		{[]string{"member-invitations", "revoke"}, []string{"endpoint", "json", "org", "token", "yes"}},
		{[]string{"grants", "revoke"}, []string{"endpoint", "token", "yes"}},
	} {
		_, stdout, _ := runCLI(t, "", append(tt.args, "-h")...)
		var got []string
		for _, m := range flagLine.FindAllStringSubmatch(stdout, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("latchkey %s -h lists %v, want %v", strings.Join(tt.args, " "), got, tt.want)
		}
	}
	_, stdout, _ := runCLI(t, "", "groups", "create", "-h")
	for _, want := range []string{"Usage: latchkey groups create --org ORG --name NAME [flags]", "  -description TEXT\n", "  -scopes SCOPES\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("groups create -h lacks %q:\n%s", want, stdout)
		}
	}
	_, stdout, _ = runCLI(t, "", "orgs", "add-member", "-h")
	if !strings.Contains(stdout, "  -role ROLE\n    \tthe member's ROLE: admin (may invite devices) or member (default \"member\")") {
		t.Errorf("orgs add-member -h:\n%s", stdout)
	}
}

// TestConfirm: a destructive command asks on a terminal, and refuses
// without one unless it has --yes.
func TestConfirm(t *testing.T) {
	t.Parallel()
	e := startAdmin(t)
	e.mustRun(t, "", "clients", "create", "--name", "TV", "--id", "tv", "--public")
	for _, tt := range []struct {
		name      string
		terminal  bool
		answer    string
		args      []string
		wantErr   string
		wantAsked bool
	}{
		{"no terminal", false, "y\n", nil,
			"clients delete asks before it acts, and standard input is not a terminal: add --yes to delete client tv", false},
		{"no", true, "n\n", nil, "cancelled: did not delete client tv", true},
		{"no answer", true, "", nil, "cancelled: did not delete client tv", true},
		{"yes", true, "y\n", nil, "", true},
		{"--yes", false, "", []string{"--yes"}, "there is no client tv", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := &Env{Getenv: func(k string) string { return e.env[k] }, Stdin: strings.NewReader(tt.answer),
				Stdout: &out, Stderr: &errOut, http: e.srv.Client(), terminal: tt.terminal}
			err := env.run(t.Context(), append([]string{"clients", "delete", "tv"}, tt.args...))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			asked := strings.Contains(errOut.String(), "Delete client tv? [y/N] ")
			if asked != tt.wantAsked || asked && !strings.Contains(errOut.String(), "Its device authorizations and grants go with it") {
				t.Errorf("stderr %q; want asked %v", errOut.String(), tt.wantAsked)
			}
		})
	}
}

// TestMissingDatabase: a command that reads the database refuses a SQLite
// file that is not there, and creates none.
func TestMissingDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{
		{"keys", "list", "--db", "sqlite:" + missing},
		{"keys", "rotate", "--db", "sqlite:" + missing, "--yes"},
		{"export", "--db", "sqlite:" + missing},
	} {
		var out, errOut bytes.Buffer
		e := &Env{Getenv: noEnv, Stdout: &out, Stderr: &errOut}
		err := e.run(t.Context(), args)
		want := "there is no database at " + missing + ": name it with --db sqlite:PATH (or LATCHKEY_DB), " +
			"or create one with `latchkey migrate` or `latchkey serve --dev`"
		if err == nil || err.Error() != want {
			t.Errorf("latchkey %s: %v\nwant %s", strings.Join(args, " "), err, want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("%s was created: %v", missing, err)
	}
	if code, _, stderr := runCLI(t, "", "migrate", "--db", "sqlite:"+missing); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "", "keys", "list", "--db", "sqlite:"+missing); code != 0 || !strings.Contains(stdout, "KID") {
		t.Errorf("keys list after migrate: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestConfigProblemsAtOnce: serve reports the file's problems and the
// configuration's together.
func TestConfigProblemsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte("login:\n  attempts: 3\n  window: forever\nlisten: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "", "serve", "--config", file, "--db", "sqlite:"+filepath.Join(dir, "x.db"))
	want := "latchkey: configuration:\n" +
		"  - " + file + ` line 2: unknown key "attempts" in "login" (known: account_ceiling, attempts_per_account, attempts_per_ip, window)` + "\n" +
		"  - " + file + ` line 3: login.window: "forever" is not a duration like 90s, 10m or 7d` + "\n" +
		`  - listen "nope": want host:port` + "\n"
	if code != 1 || stderr != want {
		t.Errorf("serve: exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
}
