// Package cli is the latchkey command line: the server's commands (serve,
// migrate, keys, export, import), the admin API's clients (clients, users,
// orgs, groups, invitations, grants) and the device tools (device-login,
// device-enrol). Package main only hands it the process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"serve", "run the server", runServe},
	{"migrate", "create or upgrade the database schema", runMigrate},
	{"clients", "manage OAuth clients through the admin API", runClients},
	{"users", "manage users through the admin API", runUsers},
	{"orgs", "manage organizations and their members through the admin API", runOrgs},
	{"groups", "manage organizations' device client groups through the admin API", runGroups},
	{"invitations", "invite devices into client groups through the admin API", runInvitations},
	{"grants", "list or revoke users' grants through the admin API", runGrants},
	{"keys", "list or rotate signing keys", runKeys},
	{"export", "write clients, users and signing keys as JSON lines (private keys included)", runExport},
	{"import", "create the records of an export in a database", runImport},
	{"device-login", "sign in as a device would (RFC 8628), and show the tokens", runDeviceLogin},
	{"device-enrol", "accept a device invitation as a device would, and show its token", runDeviceEnrol},
	{"version", "print the version", runVersion},
}

// Env is what a run of latchkey gets from its process.
type Env struct {
	Version        string // what `latchkey version` prints
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Main runs the command line args (without the program's name) and
// returns the process's exit code: 0, 1 for a failure, 2 for a mistake in
// the command line.
func Main(ctx context.Context, env Env, args []string) int {
	version = env.Version
	err := run(ctx, args, env.Stdout, env.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(env.Stderr, "latchkey:", err)
	}
	return exitCode(err)
}

var version = "dev"

// errUsage is returned after usage was printed for a command-line mistake.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "latchkey: unknown command %q\n\n", args[0])
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Latchkey is an OAuth 2.0 and OpenID Connect server built for devices.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: latchkey <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Start here:  latchkey serve --dev")
	fmt.Fprintln(w, "Each command takes -h for its flags.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "latchkey", version)
	return nil
}
