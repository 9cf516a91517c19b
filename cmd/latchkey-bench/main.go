// Command latchkey-bench measures Latchkey against a bare net/http baseline
// on the same machine, in the same run: it builds and starts Latchkey on a
// temporary SQLite file (and on a fresh PostgreSQL schema when --postgres is
// given), starts the baseline the same way, provisions clients, and drives
// each scenario with its own closed-loop load generator, alternating
// baseline and Latchkey runs so a drifting machine skews both alike. It
// prints a table and writes it, with the machine and the method, to
// BENCHMARKS.md. During each scenario's last round it takes a CPU profile
// of Latchkey (latchkey serve --pprof) and reports its top functions.
//
//	go run ./cmd/latchkey-bench [--duration 10s] [--rounds 3] [--postgres DSN] [--profile-dir DIR] [--algs ES256,RS256]
//
// With --algs naming both signing algorithms, each backend is measured once
// per algorithm, on a Latchkey configured to sign every access and ID
// token with it, and the report sets the RS256 rates beside the ES256 ones.
//
// `latchkey-bench soak` runs the mixed load for a long time and records
// the server's memory, goroutines, open files, database size and p99
// latency every minute (soak.go).
//
// The baseline is this same binary: `latchkey-bench baseline --listen ADDR`
// (not listed in the usage) serves one fixed JSON answer for every request.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "baseline":
		err = runBaseline(ctx, os.Args[2:], os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "soak":
		err = runSoak(ctx, os.Args[2:], os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "latchkey-bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	duration    time.Duration // measured part of each run
	warmup      time.Duration // unrecorded start of each run
	concurrency int           // workers, each with its own keep-alive connection
	rounds      int           // baseline/Latchkey alternations per scenario
	postgres    string        // DSN; empty: SQLite only
	scenarios   []string
	out         string   // BENCHMARKS.md; empty: stdout only
	liveCodes   int      // device codes the pending-poll scenario spreads its polls over
	profiles    bool     // take a CPU profile of each scenario's last Latchkey round
	profileDir  string   // where to keep the raw profiles; empty: nowhere
	algs        []string // the signing algorithms to measure each backend with, ES256 and/or RS256
	metrics     bool     // Latchkey serves Prometheus metrics (metrics.listen), to measure what they cost
	latchkey    string   // a latchkey binary to measure instead of building ./cmd/latchkey
	args        []string
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{args: args}
	fs := flag.NewFlagSet("latchkey-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured `time` of each run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded warm-up `time` before each run")
	fs.IntVar(&o.concurrency, "concurrency", 32, "closed-loop `workers`, one keep-alive connection each")
	fs.IntVar(&o.rounds, "rounds", 3, "baseline/Latchkey alternations per scenario")
	fs.StringVar(&o.postgres, "postgres", "", "also measure on PostgreSQL at this `DSN` (in a fresh schema, dropped afterwards)")
	list := fs.String("scenarios", strings.Join(scenarioNames(), ","), "comma-separated `list` of scenarios")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown `file` to write the results to (empty: none)")
	fs.IntVar(&o.liveCodes, "live-codes", 150000, "live device codes the pending-poll scenario polls, each at its interval; "+
		"this many codes / the 5 s interval caps that scenario's rate")
	fs.BoolVar(&o.profiles, "profiles", true, "take a CPU profile of Latchkey in each scenario's last round and report its top functions")
	fs.StringVar(&o.profileDir, "profile-dir", "", "also keep the raw profiles in this `directory`, as SCENARIO-BACKEND.pprof")
	fs.BoolVar(&o.metrics, "metrics", false, "measure a Latchkey with Prometheus metrics on (metrics.listen on a free loopback port; "+
		"every request counted and timed), to compare with a run without")
	fs.StringVar(&o.latchkey, "latchkey", "", "measure this latchkey `binary` instead of building ./cmd/latchkey, "+
		"so that two builds can be compared in interleaved runs (it must take this harness's configuration)")
	algs := fs.String("algs", "ES256", "comma-separated signing `algorithms` (ES256, RS256): each backend is measured with each, "+
		"on a Latchkey that signs access and ID tokens with it")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: latchkey-bench [flags]\n\nScenarios: %s\n\n", strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.duration <= 0 || o.warmup < 0:
		return nil, errors.New("--duration must be positive and --warmup not negative")
	case o.concurrency < 1 || o.rounds < 1:
		return nil, errors.New("--concurrency and --rounds must be at least 1")
	case o.liveCodes < 2*o.concurrency:
		return nil, fmt.Errorf("--live-codes must be at least twice --concurrency (%d)", 2*o.concurrency)
	case o.profileDir != "" && !o.profiles:
		return nil, errors.New("--profile-dir needs --profiles")
	}
	for s := range strings.SplitSeq(*list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(scenarioNames(), s) {
			return nil, fmt.Errorf("unknown scenario %q; want some of %s", s, strings.Join(scenarioNames(), ", "))
		}
		o.scenarios = append(o.scenarios, s)
	}
	if len(o.scenarios) == 0 {
		return nil, errors.New("--scenarios names none")
	}
	for a := range strings.SplitSeq(*algs, ",") {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			continue
		case a != "ES256" && a != "RS256":
			return nil, fmt.Errorf("--algs: unknown algorithm %q; want ES256 and/or RS256", a)
		case slices.Contains(o.algs, a):
			return nil, fmt.Errorf("--algs names %s twice", a)
		}
		o.algs = append(o.algs, a)
	}
	if len(o.algs) == 0 {
		return nil, errors.New("--algs names none")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "latchkey-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	if o.profileDir != "" {
		// Now rather than after the load: a typo should not cost a run.
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
	}
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	bin := o.latchkey
	if bin == "" {
		progress("building ./cmd/latchkey")
		if bin, err = buildLatchkey(ctx, tmp); err != nil {
			return err
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	rep := &report{Started: time.Now(), Machine: describeMachine(), Command: commandLine(o.args), Opts: o}
	backends := []string{"sqlite"}
	if o.postgres != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		for _, alg := range o.algs {
			b := &bench{opts: o, backend: backend, alg: alg, bin: bin, self: self, dir: tmp, progress: progress}
			rows, st, err := b.run(ctx)
			rep.Rows = append(rep.Rows, rows...)
			if st != nil {
				rep.Starts = append(rep.Starts, *st)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", b.label(), err)
			}
		}
	}

	if o.profiles {
		// After the load, so reading the profiles does not compete with it.
		progress("reading the profiles with go tool pprof (its first use builds it)")
		dir := o.profileDir
		if dir == "" {
			dir = tmp
		}
		for _, r := range rep.Rows {
			if r.Profile != nil {
				r.Profile.analyze(ctx, filepath.Join(dir, r.Scenario+"-"+r.where()+".pprof"))
			}
		}
	}

	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, rep.text())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			return err
		}
		progress("wrote %s", o.out)
	}
	return nil
}

// commandLine is how this run was started, with any database password hidden.
func commandLine(args []string) string {
	parts := []string{"go run ./cmd/latchkey-bench"}
	for _, a := range args {
		parts = append(parts, redactDSN(a))
	}
	return strings.Join(parts, " ")
}

// redactDSN hides a password in a database URL.
func redactDSN(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	at := strings.LastIndex(s, "@")
	if at < i {
		return s
	}
	if colon := strings.Index(s[i+3:at], ":"); colon >= 0 {
		return s[:i+3+colon] + ":REDACTED" + s[at:]
	}
	return s
}
