// Package cli is the latchkey command line: the server's commands (serve,
// migrate, keys, export, import), the admin API's clients (clients, users,
// orgs, groups, invitations, grants) and the device tools (device-login,
// device-enrol). Package main only hands it the process; the server itself
// is package server's.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Env is what a run of latchkey gets from its process.
type Env struct {
	Build          Build // what `latchkey version` prints; NewBuild's when zero
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	http     *http.Client // the admin API's client
	terminal bool         // Stdin is a terminal: questions can be asked on it
}

// Main runs the command line args (without the program's name) and
// returns the process's exit code: 0; 1 for a failure; 2 for a mistake in
// the command line, after its usage.
func Main(ctx context.Context, env Env, args []string) int {
	e := &env
	if e.Build == (Build{}) {
		e.Build = NewBuild("", "", "")
	}
	e.http = &http.Client{Transport: e.transport(nil), Timeout: 30 * time.Second}
	e.terminal = isTerminal(e.Stdin)
	err := e.run(ctx, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(e.Stderr, "latchkey:", err)
	}
	return exitCode(err)
}

// errUsage is returned after usage was printed for a command-line mistake.
var errUsage = errors.New("usage")

// exitCode is the process's exit code after err. flag.ErrHelp is returned
// after usage was printed because it was asked for.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *Env, args []string) error
}

// commands is the command table; `latchkey help` lists it in this order.
var commands = []command{
	{"init", "write a production configuration and create the first user", runInit},
	{"serve", "run the server", runServe},
	{"healthcheck", "ask the server on this machine whether it is alive or ready (exit 0 or 1)", runHealthcheck},
	{"migrate", "create or upgrade the database schema", runMigrate},
	{"clients", "manage OAuth clients through the admin API", clientsGroup.run},
	{"users", "manage users through the admin API", usersGroup.run},
	{"orgs", "manage organizations and their members through the admin API", orgsGroup.run},
	{"groups", "manage organizations' device client groups through the admin API", groupsGroup.run},
	{"invitations", "invite devices into client groups through the admin API", invitationsGroup.run},
	{"member-invitations", "invite people into organizations by email through the admin API", memberInvitationsGroup.run},
	{"grants", "list or revoke users' grants through the admin API", grantsGroup.run},
	{"api-keys", "manage the service API's keys through the admin API", apiKeysGroup.run},
	{"audit", "show who changed what (the audit log) through the admin API", runAudit},
	{"registration-tokens", "make initial access tokens for dynamic client registration", registrationTokensGroup.run},
	{"keys", "list or rotate signing keys", keysGroup.run},
	{"secrets", "make a secrets key, or re-seal the database's secrets under the first one", secretsGroup.run},
	{"export", "write clients, users and signing keys as JSON lines (private keys included)", runExport},
	{"import", "create the records of an export in a database", runImport},
	{"device-login", "sign in as a device would (RFC 8628), and show the tokens", runDeviceLogin},
	{"device-enrol", "accept a device invitation as a device would, and show its token", runDeviceEnrol},
	{"version", "print the version", runVersion},
}

func (e *Env) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		usage(e.Stderr)
		return errUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(e.Stdout)
		return nil
	case "help":
		if len(args) == 1 {
			usage(e.Stdout)
			return nil
		}
		// `latchkey help clients` is `latchkey clients -h`.
		name, args = args[1], []string{args[1], "-h"}
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "latchkey: unknown command %q\n\n", name)
	usage(e.Stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Latchkey is an OAuth 2.0 and OpenID Connect server built for devices.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: latchkey <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Start here:  latchkey serve --dev        For production:  latchkey init -h")
	fmt.Fprintln(w, "Each command takes -h for its usage and flags, as in: latchkey help serve")
}

// isTerminal reports whether f is a terminal, taken to be a character
// device other than /dev/null: a process started by cron, systemd or
// another program often has /dev/null as its standard input, and nobody
// there answers a question. Telling terminals from other devices for sure
// takes an ioctl of each platform's; no other device is a likely
// standard input or error.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
