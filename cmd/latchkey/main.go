// Command latchkey is the Latchkey authorization server and its tools. The
// main package only parses flags and calls into internal packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "latchkey:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage is returned after usage was printed for a command-line mistake.
var errUsage = errors.New("usage")

func exitCode(err error) int {
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
