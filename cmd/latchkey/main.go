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

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{Version: version, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
