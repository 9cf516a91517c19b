// Command latchkey is the Latchkey authorization server and its tools. It
// only hands the process to package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/latchkey/latchkey/internal/cli"
)

// Set at build time by scripts/release and the Dockerfile:
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<revision> -X main.date=<commit time, RFC 3339>"
//
// What is left empty, `latchkey version` takes from the build information
// Go records (cli.NewBuild).
var version, commit, date string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{Build: cli.NewBuild(version, commit, date), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
