package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
)

var usersGroup = group{
	name: "users",
	about: `Manage the people who can sign in, through the admin API of a running server.

USER is a user's id or email address. Passwords are never taken as flag
values (they would show in the process list and the shell history): give
them on standard input with --password-stdin, or type them when asked.`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("users",
			users.create(op{name: "create", summary: "create a user", help: `
Creates a user who signs in with EMAIL and a password of at least 10
characters. Without --password-stdin the password is asked for on the
terminal. The address is not confirmed until the person opens the link
they are mailed when they first try to approve a device or allow an
application (accounts.require_verified_email), unless --email-verified
vouches for it.

Examples:
  latchkey users create --email ada@example.com --name "Ada Lovelace"
  latchkey users create --email ada@example.com --email-verified
  latchkey users create --email ops@example.com --sysadmin
  printf '%s' "$PASSWORD" | latchkey users create --email ada@example.com --password-stdin`}, userBody(true)),
			users.list(op{name: "list", summary: "list users", help: "Lists every user, ordered by email."}),
			users.get(op{name: "get", summary: "show a user", help: "Shows a user, named by id or email address."}),
			users.update(op{name: "update", summary: "change a user's email, name, password, disabled, sysadmin or email-verified flag", help: `
Changes what the flags give and keeps the rest. USER is an id or an email
address.

Examples:
  latchkey users update ada@example.com --name "Countess of Lovelace"
  latchkey users update ada@example.com --disabled
  latchkey users update ada@example.com --disabled=false
  latchkey users update ada@example.com --sysadmin=true
  latchkey users update ada@example.com --prompt-password`}, userBody(false)),
			resetPassword(op{name: "reset-password", summary: "mail a user a link to choose a new password", help: `
Mails the user the link "Forgot password?" mails: it works once, for
accounts.reset_link_lifetime, and using it signs them out everywhere.
Nothing changes until they use it (to stop them at once, disable them or
set a password with update). Recorded in the audit log.

Examples:
  latchkey users reset-password ada@example.com`}),
			users.remove(op{name: "delete", summary: "delete a user with their sessions and grants", help: `
Deletes a user, named by id or email address, with their sessions and
grants: their tokens stop working.`}, "Their sessions and grants go with them: their tokens stop working."),
		)
	},
}

// resetPassword makes the subcommand that asks the server to mail a user
// a password reset link.
func resetPassword(o op) *op {
	o.refs, o.prints = users.itemRefs(), true
	o.run = func(c *call) error {
		var out admin.PasswordReset
		raw, err := c.api.do(c.ctx, http.MethodPost, users.itemPath(c)+"/password-reset", nil, &out)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(c.Stdout, raw)
		}
		_, err = fmt.Fprintf(c.Stdout, "Mailed a password reset link to %s. It works once, for %s.\n", out.SentTo, time.Duration(out.ExpiresIn)*time.Second)
		return err
	}
	return &o
}

// userArg is a user named by id or email address.
var userArg = ref{name: "USER", resolve: resolveUser}

var users = &resource[admin.User, admin.UserList]{
	one:     "user",
	key:     userArg,
	path:    "/admin/v1/users",
	items:   func(l *admin.UserList) []admin.User { return l.Users },
	columns: []string{"ID", "EMAIL", "NAME", "STATUS", "ROLE", "CREATED"},
	row: func(u *admin.User) []string {
		return []string{u.ID, u.Email, orDash(u.Name), userStatus(u), userRole(u), u.CreatedAt}
	},
	empty: "No users yet: add one with `latchkey users create --email EMAIL`.",
	fields: func(u *admin.User) [][2]string {
		return [][2]string{
			{"id", u.ID},
			{"email", u.Email},
			{"email_verified", fmt.Sprint(u.EmailVerified)},
			{"name", orDash(u.Name)},
			{"status", userStatus(u)},
			{"role", userRole(u)},
			{"created_at", u.CreatedAt},
			{"updated_at", u.UpdatedAt},
		}
	},
}

// userBody is the body of users create (create) and users update. The
// password is read from standard input or asked for on the terminal.
func userBody(create bool) *body {
	var fromStdin, prompt bool
	return &body{
		fields: []field{
			{flag: "email", member: "email", usage: "the `EMAIL` address the user signs in with", required: create},
			{flag: "name", member: "name", usage: "the user's `NAME`"},
			{flag: "disabled", member: "disabled", boolean: true, usage: "disable the user: they cannot sign in (--disabled=false enables them again)"},
			{flag: "sysadmin", member: "sysadmin", boolean: true, usage: "make the user a system administrator, who may use the SysAdmin console (--sysadmin=false takes it away)"},
			{flag: "email-verified", member: "email_verified", boolean: true, usage: "vouch for the address: it counts as confirmed without the mailed link (--email-verified=false asks the person to confirm it again)"},
		},
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
			if !create {
				fs.BoolVar(&prompt, "prompt-password", false, "ask for a new password on the terminal")
			}
		},
		adjust: func(c *call, req map[string]any) error {
			if fromStdin && prompt {
				return errors.New("--password-stdin and --prompt-password: choose one")
			}
			if !create && !fromStdin && !prompt {
				return nil
			}
			p, err := c.password(fromStdin)
			if err != nil {
				return err
			}
			req["password"] = p
			return nil
		},
	}
}

// resolveUser turns an email address into the user's id; anything without
// an @ is taken to be an id already.
func resolveUser(c *call, user string) (string, error) {
	if !strings.Contains(user, "@") {
		return user, nil
	}
	var list admin.UserList
	if _, err := c.api.do(c.ctx, http.MethodGet, "/admin/v1/users", nil, &list); err != nil {
		return "", err
	}
	for _, u := range list.Users {
		if strings.EqualFold(u.Email, user) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("there is no user with email %s", user)
}

func userStatus(u *admin.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

func userRole(u *admin.User) string {
	if u.Sysadmin {
		return "sysadmin"
	}
	return "user"
}
