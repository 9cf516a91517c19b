package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/server"
)

var keysGroup = group{
	name: "keys",
	about: `List or rotate the signing keys in the database. Run where the database can
be reached; running servers pick up a new key by themselves.`,
	trailer: "Both commands take --db DATABASE and --config FILE, and need the database to exist.",
	subs: func() []subcommand {
		return []subcommand{
			{name: "list", summary: "the signing keys and their windows", run: keysCommand("list", `
Lists the signing keys: when each was made, when it signs from and until,
and whether it signs now.`)},
			{name: "rotate", summary: "publish new keys now; the old ones retire when instances have loaded them", run: keysCommand("rotate", `
Publishes a new signing key now, for each algorithm (ES256 and RS256) or
for the one --alg names. Every instance signs with it once it has had time
to load it (keys.publish_delay); the old key of that algorithm stays
published until its tokens have expired, so nothing signed with it stops
working.`)},
		}
	},
}

// keysCommand makes `keys list` or `keys rotate`.
func keysCommand(verb, help string) func(ctx context.Context, e *Env, args []string) error {
	return func(ctx context.Context, e *Env, args []string) error {
		synopsis := "keys " + verb + " [--db DATABASE] [--config FILE]"
		if verb == "rotate" {
			synopsis += " [--alg ES256|RS256] [--yes]"
			help += "\n\nIt asks before it acts: --yes goes ahead without asking, and is needed\nwhen standard input is not a terminal."
		}
		fs := e.newFlags("keys "+verb, synopsis, help)
		var df dbFlags
		df.register(fs)
		var yes bool
		var alg string
		if verb == "rotate" {
			fs.BoolVar(&yes, "yes", false, "go ahead without asking (needed when standard input is not a terminal)")
			fs.Func("alg", "rotate only the key of this `ALGORITHM`: ES256 or RS256 (default: both)", func(v string) error {
				if !keys.Supported(v) {
					return fmt.Errorf("want %s", strings.Join(keys.Algorithms, " or "))
				}
				alg = v
				return nil
			})
		}
		st, cfg, err := e.open(ctx, fs, &df, args, true)
		if err != nil {
			return err
		}
		algs := keys.Algorithms
		if alg != "" {
			algs = []string{alg}
		}
		defer st.Close()
		srv, err := server.New(ctx, cfg, st, slog.New(slog.DiscardHandler), server.Options{})
		if err != nil {
			return err
		}
		if verb == "rotate" {
			if err := e.confirm(yes, "keys rotate", "publish a new "+strings.Join(algs, " and a new ")+" signing key in "+redactDSN(cfg.Database),
				"Instances sign with it once they have loaded it; the old key retires then."); err != nil {
				return err
			}
			for _, alg := range algs {
				k, err := srv.Keys().Rotate(ctx, alg)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "new %s key %s published; instances sign with it from %s\n", alg, k.ID, k.NotBefore.Local().Format(time.RFC3339))
			}
		}
		ks, err := st.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
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
}
