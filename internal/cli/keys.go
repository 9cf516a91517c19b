package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/server"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprintln(stderr, "Usage: latchkey keys list|rotate [--db sqlite:PATH] [--config FILE]")
		fmt.Fprintln(stderr, "\n  list    the signing keys and their windows")
		fmt.Fprintln(stderr, "  rotate  publish a new key now; every instance signs with it once it has")
		fmt.Fprintln(stderr, "          had time to load it, and the old key stays published until its")
		fmt.Fprintln(stderr, "          tokens have expired")
		return errUsage
	}
	verb := args[0]
	fs := newFlags("keys "+verb, "keys "+verb+" [--db sqlite:PATH] [--config FILE]", stderr)
	var sf serverFlags
	sf.register(fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := sf.load()
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	srv, err := server.New(ctx, cfg, st, slog.New(slog.DiscardHandler), server.Options{})
	if err != nil {
		return err
	}
	m := srv.Keys()
	if verb == "rotate" {
		k, err := m.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new key %s published; instances sign with it from %s\n", k.ID, k.NotBefore.Local().Format(time.RFC3339))
	}
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSIGNS FROM\tSIGNS UNTIL\tSTATE")
	for _, k := range ks {
		until, state := "-", "signing"
		if !k.NotAfter.IsZero() {
			until = k.NotAfter.Local().Format(time.RFC3339)
		}
		switch {
		case now.Before(k.NotBefore):
			state = "published, not yet signing"
		case !k.NotAfter.IsZero() && !now.Before(k.NotAfter):
			state = "retired, still published"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.CreatedAt.Local().Format(time.RFC3339),
			k.NotBefore.Local().Format(time.RFC3339), until, state)
	}
	return tw.Flush()
}
