package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"github.com/google/go-cmp/cmp"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

const initPassword = "correct horse battery"

// initAt runs `latchkey init` writing dir/latchkey.yaml for database db,
// with the password on standard input, and the extra args.
func initAt(t *testing.T, dir, db string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLI(t, initPassword+"\n", append([]string{"init", "--config", filepath.Join(dir, "latchkey.yaml"),
		"--issuer", "https://auth.example.com", "--db", db, "--email", "Ada@Example.com", "--name", "Ada Lovelace",
		"--password-stdin"}, args...)...)
}

// checkInit checks what a successful init at dir left: a configuration
// serve accepts, readable by its owner only, with a fresh admin token, and
// the first user in its database, who signs in with initPassword.
func checkInit(t *testing.T, dir, stdout string) config.Config {
	t.Helper()
	file := filepath.Join(dir, "latchkey.yaml")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v; want 0600", file, fi.Mode().Perm())
	}
	cfg, err := config.Load(file, noEnv)
	if err != nil {
		t.Fatalf("the configuration init wrote does not load: %v", err)
	}
	if err := server.Validate(cfg); err != nil {
		t.Errorf("the configuration init wrote is not valid: %v", err)
	}
	if !strings.HasPrefix(cfg.AdminToken, "lk_admin_") || len(cfg.AdminToken) != len("lk_admin_")+43 {
		t.Errorf("admin_token %q: want lk_admin_ and 256 bits", cfg.AdminToken)
	}
	if len(cfg.SecretsKeys) != 1 || !strings.HasPrefix(cfg.SecretsKeys[0], "lk_sk_") || len(cfg.SecretsKeys[0]) != len("lk_sk_")+43 {
		t.Errorf("secrets_keys %q: want one lk_sk_ key of 256 bits", cfg.SecretsKeys)
	}
	for _, want := range []string{
		"Latchkey is set up.",
		"latchkey serve --config " + file,
		"export LATCHKEY_ADMIN_TOKEN=" + cfg.AdminToken,
		"latchkey clients create --endpoint http://127.0.0.1:8080 --name",
		"Sign in as ada@example.com at https://auth.example.com/login",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("init's output lacks %q:\n%s", want, stdout)
		}
	}
	st, err := openDatabase(t.Context(), cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatalf("the first user: %v", err)
	}
	if u.Name != "Ada Lovelace" || u.Disabled || !u.Sysadmin || !u.EmailVerified || len(u.ID) != oauth.IDLength {
		t.Errorf("the first user: %+v", u)
	}
	if ok, err := account.CheckPassword(u.PasswordHash, initPassword); !ok || err != nil {
		t.Errorf("the first user's password does not check: %v, %v", ok, err)
	}
	return cfg
}

func TestInitSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "latchkey.db")
	if err := os.Mkdir(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := initAt(t, dir, "sqlite:"+db, "--trust-proxy")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	cfg := checkInit(t, dir, stdout)
	want := config.Default()
	want.Issuer, want.Database, want.AdminToken, want.TrustProxy = "https://auth.example.com", "sqlite:"+db, cfg.AdminToken, true
	want.SecretsKeys = cfg.SecretsKeys
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("the configuration init wrote (-want +got):\n%s", d)
	}
	if strings.Contains(stdout, "Set trust_proxy: true") {
		t.Errorf("init --trust-proxy still says to set it:\n%s", stdout)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the database: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// Again: the file is there, and nothing changes.
	before, _ := os.ReadFile(filepath.Join(dir, "latchkey.yaml"))
	code, _, stderr = initAt(t, dir, "sqlite:"+db)
	if code != 1 || !strings.Contains(stderr, "latchkey.yaml exists: init writes a new configuration and changes no existing one") {
		t.Errorf("init over an existing file: exit %d\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "latchkey.yaml")); !bytes.Equal(before, after) {
		t.Error("init changed an existing configuration")
	}

	// Another file, the same database: the user is there, and no file is left.
	other := t.TempDir()
	code, _, stderr = initAt(t, other, "sqlite:"+db)
	if code != 1 || !strings.Contains(stderr, "has a user ada@example.com already: init sets up a new installation") {
		t.Errorf("init on a database with the user: exit %d\n%s", code, stderr)
	}
	if left, _ := os.ReadDir(other); len(left) != 0 {
		t.Errorf("a failed init left %v", left)
	}
}

// TestInitRelativeDatabase: a relative SQLite path is written absolute,
// since the server may start in another directory.
func TestInitRelativeDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rel, err := filepath.Rel(mustGetwd(t), filepath.Join(dir, "rel.db"))
	if err != nil {
		t.Skip("no relative path from here to the temporary directory")
	}
	code, stdout, stderr := initAt(t, dir, "sqlite:"+rel)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	if cfg := checkInit(t, dir, stdout); cfg.Database != "sqlite:"+filepath.Join(dir, "rel.db") {
		t.Errorf("database: %s; want the absolute path", cfg.Database)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestInitPostgres: init on a new PostgreSQL database creates the schema
// and the first user, and writes the URL, password included, into a file
// only its owner reads.
func TestInitPostgres(t *testing.T) {
	t.Parallel()
	dsn := newPostgresDatabase(t)
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(u.User.Username(), "p#ss: word") // trust ignores it; YAML must keep it
	dir := t.TempDir()
	code, stdout, stderr := initAt(t, dir, u.String())
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout, "p%23ss") || !strings.Contains(stdout, ":REDACTED@") {
		t.Errorf("init printed the database password:\n%s", stdout)
	}
	cfg := checkInit(t, dir, stdout)
	if cfg.Database != u.String() {
		t.Errorf("database: %s; want %s", cfg.Database, u)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "latchkey.yaml"))
	if !strings.Contains(string(text), "This file holds the admin token, the secrets key and the database password") {
		t.Errorf("the configuration does not say it holds the database password:\n%s", text)
	}
}

// newPostgresDatabase creates a database on the test server, dropped when
// t ends, and returns its URL: init creates its tables in the public
// schema, as an operator's would.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	name := "latchkey_init_" + strings.ToLower(rand.Text())
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// TestInitRefuses: each mistake is said, and nothing is written: no
// configuration, no database.
func TestInitRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		args     []string // replacing initAt's flags of the same names
		stdin    string
		wantCode int
		want     string
	}{
		{"no issuer", []string{"--issuer", ""}, initPassword, 2,
			"--issuer is required: the https address people and devices will reach the server at, such as https://auth.example.com"},
		{"plain http issuer", []string{"--issuer", "http://auth.example.com"}, initPassword, 1,
			`issuer "http://auth.example.com": must be https unless it is a loopback address`},
		{"bad listen address", []string{"--listen", "nope"}, initPassword, 1,
			`listen "nope": want host:port`},
		{"unknown database", []string{"--db", "mysql://x"}, initPassword, 1, `database "mysql://x": want sqlite:PATH or postgres://...`},
		{"bad email", []string{"--email", "ada.example.com"}, initPassword, 1,
			`email "ada.example.com" is not an email address such as name@example.com`},
		{"no email, no terminal", []string{"--email", ""}, initPassword, 1,
			"--email is required when standard input is not a terminal to ask on"},
		{"name with a control character", []string{"--name", "Ada\x07"}, initPassword, 1,
			"name: at most 200 characters of text without control characters"},
		{"short password", nil, "short", 1, "password: the password must have at least 10 characters"},
		{"password with a control character", nil, "correct\x1bhorse battery", 1,
			"password: the password must be text without control characters"},
		{"two lines", nil, "correct horse battery\nagain\n", 1, "standard input holds more than one line: give only the password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			flags := map[string]string{
				"--config": filepath.Join(dir, "latchkey.yaml"), "--issuer": "https://auth.example.com",
				"--db": "sqlite:" + filepath.Join(dir, "latchkey.db"), "--email": "ada@example.com", "--name": "Ada",
			}
			for i := 0; i < len(tt.args); i += 2 {
				flags[tt.args[i]] = tt.args[i+1]
			}
			args := []string{"init", "--password-stdin"}
			for k, v := range flags {
				args = append(args, k+"="+v)
			}
			code, _, stderr := runCLI(t, tt.stdin, args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to say: %s", code, tt.wantCode, stderr, tt.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a refused init left %v", left)
			}
		})
	}
}

// TestInitConfigExamples: the commented examples in the configuration init
// writes are valid settings once uncommented.
func TestInitConfigExamples(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Issuer, cfg.AdminToken = "https://auth.example.com", strings.Repeat("x", 40)
	text, err := renderConfig(cfg, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var uncommented []string
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, "smtp:") || strings.HasPrefix(rest, "  ")) {
			line = rest
		}
		uncommented = append(uncommented, line)
	}
	file := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(uncommented, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(file, func(k string) string {
		if k == "LATCHKEY_SMTP_PASSWORD" {
			return "from the environment"
		}
		return ""
	})
	if err == nil {
		err = server.Validate(got)
	}
	if err != nil {
		t.Fatalf("uncommented:\n%s\n%v", strings.Join(uncommented, "\n"), err)
	}
	if got.SMTP.Host != "smtp.example.com" || got.SMTP.From != "Latchkey <auth@example.com>" || got.SMTP.Username != "latchkey" {
		t.Errorf("the smtp example was not read: %+v", got.SMTP)
	}
}

// TestInitFromEnvironment: what the flags do not say comes from LATCHKEY_*
// variables, as in the container image (docs/deploy.md's compose flow).
func TestInitFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"LATCHKEY_CONFIG": filepath.Join(dir, "latchkey.yaml"),
		"LATCHKEY_ISSUER": "https://auth.example.com",
		"LATCHKEY_LISTEN": "0.0.0.0:8080",
		"LATCHKEY_DB":     "sqlite:" + filepath.Join(dir, "latchkey.db"),
	}
	var out, errOut bytes.Buffer
	code := Main(t.Context(), Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(initPassword),
		Stdout: &out, Stderr: &errOut}, []string{"init", "--email", "ada@example.com", "--name", "Ada Lovelace", "--password-stdin"})
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, &errOut)
	}
	cfg := checkInit(t, dir, out.String())
	if cfg.Listen != "0.0.0.0:8080" || cfg.Issuer != env["LATCHKEY_ISSUER"] || cfg.Database != env["LATCHKEY_DB"] {
		t.Errorf("init from the environment wrote listen %q, issuer %q, database %q", cfg.Listen, cfg.Issuer, cfg.Database)
	}
}

// TestInitAsks: on a terminal, init asks for the email and name it was not
// given before it asks for the password, and writes nothing when that
// fails.
func TestInitAsks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	e := &Env{Getenv: noEnv, Stdin: strings.NewReader("Ada@Example.com\nAda Lovelace\n"), Stdout: &out, Stderr: &errOut, terminal: true}
	err := e.run(t.Context(), []string{"init", "--config", filepath.Join(dir, "latchkey.yaml"),
		"--issuer", "https://auth.example.com", "--db", "sqlite:" + filepath.Join(dir, "latchkey.db")})
	// A strings.Reader is no terminal to turn echo off on.
	if err == nil || !strings.Contains(err.Error(), "give it with --password-stdin") {
		t.Errorf("err = %v", err)
	}
	if got, want := errOut.String(), "Email address of the first user: Their name (may be left empty): "; got != want {
		t.Errorf("asked %q, want %q", got, want)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("init left %v", left)
	}
}
