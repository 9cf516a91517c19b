package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

const initHelp = `
Sets up a new installation for production: writes a commented
configuration to FILE with a new admin token (mode 0600: it holds the
token, and the database password if the URL has one), creates the
database or upgrades its schema, and creates the first user. Then it says
what to do next.

It writes nothing if FILE exists, if a setting is wrong, or if the user
exists already. --issuer is the https address people and devices will
reach the server at, through a TLS reverse proxy (docs/deploy.md).
--issuer, --listen and --db default to LATCHKEY_ISSUER, LATCHKEY_LISTEN and
LATCHKEY_DB, as for serve. The
first user's email and name are asked on the terminal unless given; the
password is asked twice there, or read from standard input with
--password-stdin, and needs at least 10 characters, as on the
registration page.

Examples:
  latchkey init --config /etc/latchkey/latchkey.yaml --issuer https://auth.example.com \
      --db sqlite:/var/lib/latchkey/latchkey.db --trust-proxy --email ada@example.com
  printf '%s' "$PASSWORD" | latchkey init --config latchkey.yaml --issuer https://auth.example.com \
      --db postgres://latchkey@db.internal/latchkey --email ada@example.com --name Ada --password-stdin`

// maxUserName bounds the first user's name, as the admin API and the
// registration page bound everyone's.
const maxUserName = 200

func runInit(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("init", "init --issuer URL [--config FILE] [--db DATABASE] [--listen HOST:PORT] [--email EMAIL] [flags]", initHelp)
	file := fs.String("config", "", "the configuration `FILE` to write (default $LATCHKEY_CONFIG, else latchkey.yaml)")
	issuer := fs.String("issuer", "", "the https `URL` people and devices reach the server at, such as https://auth.example.com (default $LATCHKEY_ISSUER)")
	db := fs.String("db", "", "the `DATABASE`: sqlite:PATH (written as an absolute path) or postgres://USER:PASSWORD@HOST/DB (default $LATCHKEY_DB, else sqlite:latchkey.db)")
	listen := fs.String("listen", "", "the `HOST:PORT` the server listens on, for the reverse proxy in front of it (default $LATCHKEY_LISTEN, else 127.0.0.1:8080)")
	trustProxy := fs.Bool("trust-proxy", false, "write trust_proxy: true, for a server only its reverse proxy reaches")
	email := fs.String("email", "", "the first user's `EMAIL` address (asked on the terminal when missing)")
	name := fs.String("name", "", "the first user's `NAME` (asked on the terminal when missing)")
	fromStdin := fs.Bool("password-stdin", false, "read the first user's password from standard input")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	// What is not given comes from the environment, as for serve: in the
	// container image, LATCHKEY_LISTEN is 0.0.0.0:8080.
	cfg := config.Default()
	cfg.Issuer = cmp.Or(*issuer, e.Getenv("LATCHKEY_ISSUER"))
	cfg.Listen = cmp.Or(*listen, e.Getenv("LATCHKEY_LISTEN"), cfg.Listen)
	cfg.Database = cmp.Or(*db, e.Getenv("LATCHKEY_DB"), cfg.Database)
	cfg.TrustProxy = *trustProxy
	if cfg.Issuer == "" {
		return usageError(fs, "--issuer is required: the https address people and devices will reach the server at, such as https://auth.example.com")
	}
	path := cmp.Or(*file, e.Getenv("LATCHKEY_CONFIG"), "latchkey.yaml")
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists: init writes a new configuration and changes no existing one; move it away, or name another file with --config", path)
	}

	if p, ok := strings.CutPrefix(cfg.Database, "sqlite:"); ok && p != "" {
		// The server may start in another directory (systemd starts it in /).
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		cfg.Database = "sqlite:" + abs
	}
	token, err := newAdminToken(rand.Reader)
	if err != nil {
		return err
	}
	cfg.AdminToken = token
	key, err := seal.NewKey(rand.Reader)
	if err != nil {
		return err
	}
	cfg.SecretsKeys = []string{key}
	if err := server.Validate(cfg); err != nil {
		return fmt.Errorf("configuration:\n%w", indent(err))
	}

	u, password, err := e.firstUser(*email, *name, *fromStdin)
	if err != nil {
		return err
	}
	text, err := renderConfig(cfg, time.Now())
	if err != nil {
		return err
	}
	if err := writeNew(path, text, func() error { return createFirstUser(ctx, cfg, u, password) }); err != nil {
		return err
	}
	e.printNextSteps(path, cfg, u)
	return nil
}

// newAdminToken returns a fresh admin token: 256 random bits, with a
// prefix that tells a leaked one for what it is.
func newAdminToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return "lk_admin_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// firstUser checks the first user's email and name, asking for what is
// missing on the terminal, and reads their password (Env.password).
func (e *Env) firstUser(email, name string, fromStdin bool) (*store.User, string, error) {
	var in *bufio.Reader
	ask := func(prompt string) (string, error) {
		if in == nil {
			in = bufio.NewReader(e.Stdin)
		}
		fmt.Fprint(e.Stderr, prompt)
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no answer to %q", strings.TrimSpace(prompt))
		}
		return strings.TrimSpace(line), nil
	}
	var err error
	canAsk := e.terminal && !fromStdin
	if email == "" {
		if !canAsk {
			return nil, "", errors.New("--email is required when standard input is not a terminal to ask on")
		}
		if email, err = ask("Email address of the first user: "); err != nil {
			return nil, "", err
		}
	}
	if name == "" && canAsk {
		if name, err = ask("Their name (may be left empty): "); err != nil {
			return nil, "", err
		}
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if !account.ValidEmail(email) {
		return nil, "", fmt.Errorf("email %q is not an email address such as name@example.com", email)
	}
	if !oauth.CleanText(name) || utf8.RuneCountInString(name) > maxUserName {
		return nil, "", fmt.Errorf("name: at most %d characters of text without control characters", maxUserName)
	}
	password, err := e.password(fromStdin)
	if err != nil {
		return nil, "", err
	}
	if err := account.ValidatePassword(password); err != nil {
		return nil, "", fmt.Errorf("password: %w", err)
	}
	id, err := oauth.NewID(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	now := time.Now()
	// The first user runs the installation: a system administrator, who
	// typed their own address here, perhaps before any mail server is
	// configured; it counts as confirmed (accounts.require_verified_email).
	return &store.User{ID: id, Email: email, Name: name, Sysadmin: true, EmailVerified: true, CreatedAt: now, UpdatedAt: now}, password, nil
}

// createFirstUser opens (creating or upgrading) the database of cfg and
// creates u with password.
func createFirstUser(ctx context.Context, cfg config.Config, u *store.User, password string) error {
	st, err := openDatabase(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	taken := fmt.Errorf("%s has a user %s already: init sets up a new installation; "+
		"add users to this one with latchkey users create", redactDSN(cfg.Database), u.Email)
	if _, err := st.GetUserByEmail(ctx, u.Email); err == nil {
		return taken
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u.PasswordHash, err = account.HashPassword(password); err != nil {
		return err
	}
	if err := st.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return taken
	} else if err != nil {
		return fmt.Errorf("create %s: %w", u.Email, err)
	}
	return nil
}

// writeNew writes text to the new file path, readable by its owner only,
// and runs then before the file takes its name: if then fails, nothing is
// left at path. The file is written beside path and read back as serve
// would read it first, so init never leaves a configuration serve refuses.
func writeNew(path string, text []byte, then func() error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return fmt.Errorf("write the configuration: %w", err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	cfg, err := config.Load(tmp.Name(), func(string) string { return "" })
	if err == nil {
		err = server.Validate(cfg)
	}
	if err != nil {
		return fmt.Errorf("the configuration init wrote does not load (a bug; please report it): %w", err)
	}
	if err := then(); err != nil {
		return err
	}
	// A hard link, unlike a rename, fails rather than replace a file that
	// appeared at path meanwhile.
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s appeared while init ran; its configuration was not written", path)
	} else if err != nil {
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("write the configuration: %w", err)
		}
	}
	return nil
}

// configTemplate is the configuration init writes: the settings a
// production server needs, each said why, and a pointer to the rest.
var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{"yaml": yamlScalar}).Parse(
	`# Latchkey configuration, written by latchkey init on {{.Date}}.
#
# Every setting and its default are in README.md, "Configuration"; an
# unknown key is an error. LATCHKEY_* variables, then serve's flags, override
# what this file says. Check it with: latchkey serve --config THIS-FILE
#
# This file holds the admin token, the secrets key{{if .DBPassword}} and the database password{{end}}.
# Keep it readable by the server's user only (init wrote it with mode 0600).

# The https address people and devices reach this server at, through the
# TLS reverse proxy in front of it (docs/deploy.md). It is in every token,
# in discovery, and in the verification URI devices show: changing it
# later signs every device out.
issuer: {{yaml .Issuer}}

# Where the server listens for the proxy: loopback when the proxy runs on
# this machine, 0.0.0.0:8080 in a container.
listen: {{yaml .Listen}}

# sqlite:PATH for one instance; postgres://USER:PASSWORD@HOST/DB for several
# (docs/postgres.md). The database holds the signing keys: back it up, and
# keep the backups as safe as this file (docs/deploy.md, "Backups").
database: {{yaml .Database}}

# The bearer token of the admin API (/admin/v1/) and of the latchkey
# commands that call it (export LATCHKEY_ADMIN_TOKEN=...). Generated by
# init: 256 random bits. Empty turns the admin API off.
admin_token: {{yaml .AdminToken}}

# true only when every request comes through a reverse proxy that sets
# X-Forwarded-For itself: the client's address (for throttles, and for the
# device page's "requested from") is then the last address in that header.
# Never true when clients can reach the server directly: they could claim
# any address.
trust_proxy: {{.TrustProxy}}

log:
  format: text     # json for a log collector
  level: info      # debug, info, warn or error

# The keys that seal, in the database, the private signing keys, the
# invitation links waiting in the mail outbox and the server's own secrets
# (AES-256-GCM): a copy of the database without this file signs no token.
# Generated by init: 256 random bits. Keep a copy apart from the database's
# backups; without it they cannot be used. To change it: put a new key
# (latchkey secrets new-key) first, keep this one after it, restart, run
# latchkey secrets rotate, then remove this one (docs/deploy.md).
secrets_keys:
{{- range .SecretsKeys}}
  - {{yaml .}}
{{- end}}

# Mail for device invitations. Without a host, invitations wait in the
# outbox (latchkey invitations show prints their links).
# smtp:
#   host: smtp.example.com
#   port: 587
#   tls: starttls
#   from: "Latchkey <auth@example.com>"
#   username: latchkey   # the password: in LATCHKEY_SMTP_PASSWORD, not here
`))

// renderConfig is the configuration file init writes for cfg.
func renderConfig(cfg config.Config, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	err := configTemplate.Execute(&b, struct {
		config.Config
		Date       string
		DBPassword bool
	}{cfg, now.UTC().Format(time.RFC3339), strings.Contains(cfg.Database, "://") && redactDSN(cfg.Database) != cfg.Database})
	return b.Bytes(), err
}

// yamlScalar writes s as a YAML scalar, quoted as YAML needs (a password
// in a database URL may hold '#' or ': ').
func yamlScalar(s string) (string, error) {
	b, err := yaml.Marshal(s)
	return strings.TrimSuffix(string(b), "\n"), err
}

// printNextSteps says what init did and what comes next.
func (e *Env) printNextSteps(path string, cfg config.Config, u *store.User) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	local := localURL(cfg.Listen)
	iss := cfg.IssuerURL()
	w := e.Stdout
	fmt.Fprintf(w, `
Latchkey is set up.

  Configuration  %s  (mode 0600: it holds the admin token)
  Database       %s
  Issuer         %s
  First user     %s

Next:
  1. Start the server:
       latchkey serve --config %s
     or as a service: deploy/latchkey.service, or the container image (docs/deploy.md).
  2. Put a TLS reverse proxy in front of it that answers at %s
     and forwards to %s (docs/deploy.md).`, abs, redactDSN(cfg.Database), iss, u.Email, abs, iss, local)
	if !cfg.TrustProxy {
		fmt.Fprint(w, `
     Set trust_proxy: true in the configuration once every request comes through it.`)
	}
	fmt.Fprintf(w, `
  3. Register a client for your devices through the admin API:
       export LATCHKEY_ADMIN_TOKEN=%s
       latchkey clients create --endpoint %s --name "Living room TV" --public --grant-types device_code,refresh_token
  4. Sign in as %s at %s/login to check the pages.

`, cfg.AdminToken, local, u.Email, iss)
}
