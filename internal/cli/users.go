package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
)

const usersUsage = `Usage: latchkey users <command> [flags]

Manage the people who can sign in, through the admin API of a running server.

Commands:
  create          create a user
  list            list users
  get USER        show a user
  update USER     change a user's email, name, password or disabled flag
  delete USER     delete a user with their sessions and grants

USER is a user's id or email address. Passwords are never taken as flag
values (they would show in the process list and the shell history): give
them on standard input with --password-stdin, or type them when asked.

Every command takes --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runUsers runs `latchkey users ...`.
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).users(ctx, args)
}

func (c *adminCLI) users(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "users", usersUsage, args, map[string]func(context.Context, []string) error{
		"create": c.usersCreate,
		"list":   c.usersList,
		"get":    c.usersGet,
		"update": c.usersUpdate,
		"delete": c.usersDelete,
	})
}

func (c *adminCLI) usersCreate(ctx context.Context, args []string) error {
	fs := newFlags("users create", `users create --email EMAIL [--name NAME] [--password-stdin] [--disabled]

Creates a user who signs in with EMAIL and a password of at least 10
characters. Without --password-stdin the password is asked for on the
terminal.

Examples:
  latchkey users create --email ada@example.com --name "Ada Lovelace"
  printf '%s' "$PASSWORD" | latchkey users create --email ada@example.com --password-stdin

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	email := fs.String("email", "", "the user's `email` address, which they sign in with")
	name := fs.String("name", "", "the user's `name`")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	disabled := fs.Bool("disabled", false, "create the user disabled: they cannot sign in")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *email == "" {
		fmt.Fprintln(c.stderr, "latchkey users create: --email is required")
		fs.Usage()
		return errUsage
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	password, err := c.password(*passwordStdin)
	if err != nil {
		return err
	}
	req := map[string]any{"email": *email, "password": password, "disabled": *disabled}
	if *name != "" {
		req["name"] = *name
	}
	var out admin.User
	raw, err := api.do(ctx, http.MethodPost, "/admin/v1/users", req, &out)
	if err != nil {
		return err
	}
	return c.showUser(&af, raw, &out)
}

// password reads a password from standard input or asks for it on the
// terminal; there is no third way.
func (c *adminCLI) password(fromStdin bool) (string, error) {
	if fromStdin {
		return readSecretLine(c.stdin)
	}
	if tty, ok := c.stdinTerminal(); ok {
		return c.promptPassword(tty)
	}
	return "", errors.New("standard input is not a terminal to ask for the password on: give it with --password-stdin")
}

func (c *adminCLI) usersList(ctx context.Context, args []string) error {
	fs := newFlags("users list", `users list [--json]

Lists every user, ordered by email.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.UserList
	raw, err := api.do(ctx, http.MethodGet, "/admin/v1/users", nil, &out)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(c.stdout, raw)
	}
	if len(out.Users) == 0 {
		fmt.Fprintln(c.stdout, "No users yet: add one with `latchkey users create --email EMAIL`.")
		return nil
	}
	rows := make([][]string, 0, len(out.Users))
	for _, u := range out.Users {
		rows = append(rows, []string{u.ID, u.Email, orDash(u.Name), userStatus(&u), u.CreatedAt})
	}
	return printTable(c.stdout, []string{"ID", "EMAIL", "NAME", "STATUS", "CREATED"}, rows)
}

func (c *adminCLI) usersGet(ctx context.Context, args []string) error {
	fs := newFlags("users get", `users get USER [--json]

Shows a user, named by id or email address.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "USER")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	id, err := resolveUser(ctx, api, pos[0])
	if err != nil {
		return err
	}
	var out admin.User
	raw, err := api.do(ctx, http.MethodGet, userPath(id), nil, &out)
	if err != nil {
		return err
	}
	return c.showUser(&af, raw, &out)
}

func (c *adminCLI) usersUpdate(ctx context.Context, args []string) error {
	fs := newFlags("users update", `users update USER [flags]

Changes what the flags give and keeps the rest. USER is an id or an email
address.

Examples:
  latchkey users update ada@example.com --name "Countess of Lovelace"
  latchkey users update ada@example.com --disabled
  latchkey users update ada@example.com --disabled=false
  latchkey users update ada@example.com --prompt-password

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	email := fs.String("email", "", "a new `email` address")
	name := fs.String("name", "", "a new `name`")
	passwordStdin := fs.Bool("password-stdin", false, "read a new password from standard input")
	promptPassword := fs.Bool("prompt-password", false, "ask for a new password on the terminal")
	disabled := fs.Bool("disabled", false, "disable the user (--disabled=false enables them again)")
	pos, err := parseArgs(fs, args, "USER")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	req := map[string]any{}
	if set["email"] {
		req["email"] = *email
	}
	if set["name"] {
		req["name"] = *name
	}
	if set["disabled"] {
		req["disabled"] = *disabled
	}
	if *passwordStdin && *promptPassword {
		return errors.New("--password-stdin and --prompt-password: choose one")
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if *passwordStdin || *promptPassword {
		p, err := c.password(*passwordStdin)
		if err != nil {
			return err
		}
		req["password"] = p
	}
	if len(req) == 0 {
		fmt.Fprintln(c.stderr, "latchkey users update: nothing to change: give at least one flag")
		fs.Usage()
		return errUsage
	}
	id, err := resolveUser(ctx, api, pos[0])
	if err != nil {
		return err
	}
	var out admin.User
	raw, err := api.do(ctx, http.MethodPatch, userPath(id), req, &out)
	if err != nil {
		return err
	}
	return c.showUser(&af, raw, &out)
}

func (c *adminCLI) usersDelete(ctx context.Context, args []string) error {
	fs := newFlags("users delete", `users delete USER

Deletes a user, named by id or email address, with their sessions and
grants: their tokens stop working.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "USER")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	id, err := resolveUser(ctx, api, pos[0])
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, userPath(id), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Deleted user %s.\n", pos[0])
	}
	return nil
}

// resolveUser turns an email address into the user's id; anything without
// an @ is taken to be an id already.
func resolveUser(ctx context.Context, api *adminClient, user string) (string, error) {
	if !strings.Contains(user, "@") {
		return user, nil
	}
	var list admin.UserList
	if _, err := api.do(ctx, http.MethodGet, "/admin/v1/users", nil, &list); err != nil {
		return "", err
	}
	for _, u := range list.Users {
		if strings.EqualFold(u.Email, user) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("there is no user with email %s", user)
}

func userPath(id string) string { return "/admin/v1/users/" + url.PathEscape(id) }

func (c *adminCLI) showUser(af *adminFlags, raw []byte, u *admin.User) error {
	if af.json {
		return printJSON(c.stdout, raw)
	}
	return printFields(c.stdout, [][2]string{
		{"id", u.ID},
		{"email", u.Email},
		{"name", orDash(u.Name)},
		{"status", userStatus(u)},
		{"created_at", u.CreatedAt},
		{"updated_at", u.UpdatedAt},
	})
}

func userStatus(u *admin.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}
