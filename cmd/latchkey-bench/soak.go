package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/workload"
)

// The soak: `latchkey-bench soak` runs the mixed load of package workload
// against one Latchkey for a set time and records, every interval, what
// would show a leak: the server's resident memory, goroutines (from its
// loopback-only --pprof listener), open files (/proc/PID/fd), the
// database's size, and the operations, wrong answers and p99 latency of
// the interval. It is a load script, not a test: its result goes into
// BENCHMARKS.md by hand.
//
//	go run ./cmd/latchkey-bench soak [--duration 30m] [--interval 1m] [--workers 8] [--rate 150] [--lifetime 10m] [--postgres DSN] [--out FILE] [--keep]
//
// The workers are paced together to --rate operations a second, a steady
// load below what the server can do, so that a curve that moves shows the
// server changing, not the load. Refresh tokens (and so grants), device
// codes, the audit log and ended invitations live --lifetime (10 minutes),
// the sweeper runs every minute, and at 4/5 of it the load stops using a
// grant and the admin retires the device an invitation enrolled, so once
// the lifetime has passed the database holds a steady working set rather
// than every row ever made (a fleet whose devices come and go).

// soakOptions are the soak's command line.
type soakOptions struct {
	duration, interval time.Duration
	workers            int
	rate               float64
	postgres           string
	out                string
	keep               bool
	lifetime           time.Duration
}

func parseSoakOptions(args []string, stderr io.Writer) (*soakOptions, error) {
	o := &soakOptions{}
	fs := flag.NewFlagSet("latchkey-bench soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 30*time.Minute, "how long to run the load")
	fs.DurationVar(&o.interval, "interval", time.Minute, "how often to record a sample")
	fs.IntVar(&o.workers, "workers", 8, "closed-loop `workers` of the mixed load")
	fs.Float64Var(&o.rate, "rate", 150, "operations a second the workers are paced to together (0: as fast as they go)")
	fs.StringVar(&o.postgres, "postgres", "", "run on PostgreSQL at this `DSN` (a fresh schema, dropped afterwards) instead of SQLite")
	fs.StringVar(&o.out, "out", "", "also write the Markdown table to this `file`")
	fs.DurationVar(&o.lifetime, "lifetime", 10*time.Minute, "how long the server keeps refresh tokens (and so grants), device codes, the audit log and ended invitations; devices stop refreshing and are retired at 4/5 of it")
	fs.BoolVar(&o.keep, "keep", false, "keep the database afterwards (the SQLite file's directory, or the PostgreSQL schema) and say where, to look at what the load left")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.duration <= 0 || o.interval <= 0 || o.interval > o.duration:
		return nil, errors.New("--duration and --interval must be positive, and --interval no longer than --duration")
	case o.workers < 1:
		return nil, errors.New("--workers must be at least 1")
	case o.lifetime < time.Minute:
		return nil, errors.New("--lifetime must be at least 1m")
	case o.rate < 0:
		return nil, errors.New("--rate must not be negative")
	}
	return o, nil
}

// soakSample is one interval of the soak.
type soakSample struct {
	At         time.Duration // since the load started
	RSS        int64         // bytes
	Mem        memSplit
	Goroutines int
	Files      int   // open file descriptors
	DBSize     int64 // bytes: SQLite's file and WAL, or the schema's relations
	Ops        int   // operations that succeeded in the interval
	Devices    int   // devices enrolled by accepted invitations so far
	Retired    int   // devices the admin retired so far
	Errors     int   // wrong answers in the interval
	P99        map[string]time.Duration
	Load       string // the machine's one-minute load average: what else ran
}

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseSoakOptions(args, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "latchkey-soak-")
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	progress("building ./cmd/latchkey")
	// memory.counters: the SQLite allocator counts what it holds, so the
	// server's metrics say how much of the RSS is SQLite's.
	bin, err := buildLatchkey(ctx, tmp, "memory.counters")
	if err != nil {
		return err
	}
	mail, err := workload.ListenMailbox()
	if err != nil {
		return err
	}
	defer mail.Close()

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	prof, err := freeAddr()
	if err != nil {
		return err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	adminToken := "lk_admin_" + rand.Text()
	backend, dbPath, schema := "sqlite", filepath.Join(tmp, "soak.db"), ""
	db := "sqlite:" + dbPath
	if o.postgres != "" {
		backend, db, schema = "postgres", o.postgres, "soak_"+strings.ToLower(rand.Text())
		if !o.keep {
			defer dropSchema(o.postgres, schema)
		}
	}
	if o.keep {
		kept := dbPath
		if schema != "" {
			kept = "schema " + schema
		}
		defer progress("kept the database: %s", kept)
	}
	secretsKey, err := seal.NewKey(rand.Reader)
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf("listen: %q\ndatabase: %q\nadmin_token: %q\nsecrets_keys: [%q]\nlog: {level: warn}\nsweep_interval: 1m\nmetrics: {listen: %q}\n",
		addr, db, adminToken, secretsKey, metricsAddr) + workload.ServerConfig(mail.Port(), o.lifetime)
	if schema != "" {
		cfg += fmt.Sprintf("postgres: {schema: %s}\n", schema)
	}
	file := filepath.Join(tmp, "latchkey.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		return err
	}
	p, err := startProc(ctx, "latchkey", bin, []string{"serve", "--config", file, "--listen", addr, "--pprof", prof}, addr)
	if err != nil {
		return err
	}
	defer p.stop()

	env := workload.NewEnv(p.url, adminToken, mail, o.workers)
	if err := env.Provision(ctx); err != nil {
		return err
	}
	load := workload.New(env)
	load.Retire, load.Rate = o.lifetime*4/5, o.rate
	if err := load.SignIn(ctx, o.workers); err != nil {
		return err
	}
	size := func() (int64, error) {
		if schema == "" {
			var n int64
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if fi, err := os.Stat(dbPath + suffix); err == nil {
					n += fi.Size()
				}
			}
			return n, nil
		}
		return schemaSize(ctx, o.postgres, schema)
	}
	// A PostgreSQL run without autovacuum (this project's CI machines turn
	// it off for the tests' speed) would measure dead rows piling up, which
	// no production server has: the soak vacuums its schema each interval
	// in autovacuum's place, and says so.
	vacuum := false
	if schema != "" {
		if vacuum, err = autovacuumOff(ctx, o.postgres); err != nil {
			return err
		}
		if vacuum {
			progress("the database runs with autovacuum off: the soak vacuums its schema every %s in its place", o.interval)
		}
	}

	progress("soak on %s: %d workers for %s, a sample every %s", backend, o.workers, o.duration, o.interval)
	runCtx, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	done := make(chan struct{})
	go func() { load.Run(runCtx, o.workers); close(done) }()
	start := time.Now()
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	var samples []soakSample
	lastErrors := 0
	for running := true; running; {
		select {
		case <-tick.C:
		case <-runCtx.Done():
			<-done
			running = false
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !running && len(samples) > 0 && time.Since(start)-samples[len(samples)-1].At < o.interval/2 {
			break // the last tick was the end: its sample is taken
		}
		s := soakSample{At: time.Since(start).Round(time.Second), P99: map[string]time.Duration{}}
		if s.RSS, _, err = p.memory(); err != nil {
			return fmt.Errorf("memory: %w (the server exited?)\n%s", err, p.log)
		}
		if vacuum && running {
			if err := vacuumSchema(ctx, o.postgres, schema); err != nil {
				return fmt.Errorf("vacuum: %w", err)
			}
		}
		if s.Mem, err = memoryOf(ctx, p.cmd.Process.Pid, metricsAddr); err != nil {
			return err
		}
		if s.Goroutines, err = goroutines(ctx, prof); err != nil {
			return err
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
		if err != nil {
			return err
		}
		s.Files = len(fds)
		if s.DBSize, err = size(); err != nil {
			return err
		}
		for op, l := range load.Stats.Window() {
			s.Ops += l.N
			s.P99[op] = l.P99
		}
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			s.Load, _, _ = strings.Cut(string(b), " ")
		}
		tot := load.Stats.Totals()
		s.Errors, lastErrors = tot.Errors()-lastErrors, tot.Errors()
		s.Devices, s.Retired = tot.Ops[workload.OpInvite], tot.Ops[workload.OpRetire]
		samples = append(samples, s)
		progress("%s", s.line())
	}
	tot := load.Stats.Totals()
	md := soakMarkdown(backend, o, samples, tot)
	if vacuum {
		md = "The database ran with autovacuum off; the soak ran VACUUM (ANALYZE) on its schema's tables every interval in its place.\n\n" + md
	}
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
		progress("wrote %s", o.out)
	}
	if tot.Errors() > 0 {
		return fmt.Errorf("%d wrong answers, the first: %s", tot.Errors(), tot.FirstErr)
	}
	return nil
}

// goroutines reads the goroutine count from the profiler's goroutine
// profile: its first line is "goroutine profile: total N".
func goroutines(ctx context.Context, prof string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+prof+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "goroutine profile: total ")))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile: first line %q", line)
	}
	return n, nil
}

// memSplit is where the server's resident memory is: anonymous pages
// (Go's and SQLite's), pages of files (the binary, mapped libraries) and
// shared memory (SQLite's WAL index), from /proc/PID/status; and from the
// server's metrics what Go's heap uses, what Go holds from the operating
// system and has not returned, and what SQLite's allocator holds.
type memSplit struct {
	Anon, File, Shmem      int64
	GoHeap, GoHeld, SQLite int64
}

func memoryOf(ctx context.Context, pid int, metricsAddr string) (memSplit, error) {
	var m memSplit
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	m.Anon, m.File, m.Shmem = statusKB(b, "RssAnon:")*1024, statusKB(b, "RssFile:")*1024, statusKB(b, "RssShmem:")*1024
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
	if err != nil {
		return m, err
	}
	resp, err := setupClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	v := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			v[name] = f
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	m.GoHeap = int64(v["go_memstats_heap_inuse_bytes"])
	m.GoHeld = int64(v["go_memstats_sys_bytes"] - v["go_memstats_heap_released_bytes"])
	m.SQLite = int64(v["latchkey_sqlite_memory_bytes"])
	return m, nil
}

// autovacuumOff says whether the PostgreSQL at dsn runs without autovacuum.
func autovacuumOff(ctx context.Context, dsn string) (bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, `SHOW autovacuum`).Scan(&v); err != nil {
		return false, err
	}
	return v == "off", nil
}

// vacuumSchema runs VACUUM (ANALYZE) on every table of schema, as
// autovacuum would have.
func vacuumSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1`, schema)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

// schemaSize is the size of every table and index of schema, in bytes.
func schemaSize(ctx context.Context, dsn, schema string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relkind = 'r'`, schema).Scan(&n)
	return n, err
}

func (s soakSample) line() string {
	return fmt.Sprintf("%8s  rss %6.1f MiB (anon %.1f, file %.1f, shm %.1f; go heap %.1f, go held %.1f, sqlite %.1f)  goroutines %4d  files %3d  db %7.2f MiB  devices %6d (%d retired)  ops %6d  errors %d  load %s  p99 %s",
		s.At, mebi(s.RSS), mebi(s.Mem.Anon), mebi(s.Mem.File), mebi(s.Mem.Shmem), mebi(s.Mem.GoHeap), mebi(s.Mem.GoHeld), mebi(s.Mem.SQLite), s.Goroutines, s.Files, mebi(s.DBSize), s.Devices, s.Retired, s.Ops, s.Errors, s.Load, s.p99s())
}

func (s soakSample) p99s() string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(s.P99)) {
		parts = append(parts, fmt.Sprintf("%s %s", op, s.P99[op].Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// soakMarkdown is the soak's table, with how each curve moved from the
// end of the warm-up (the second soakSample) to the end.
func soakMarkdown(backend string, o *soakOptions, samples []soakSample, tot workload.Totals) string {
	var b strings.Builder
	pace := "as fast as they go"
	if o.rate > 0 {
		pace = fmt.Sprintf("paced to %g operations a second", o.rate)
	}
	fmt.Fprintf(&b, "Soak on %s: %d workers %s for %s, a sample every %s; %d operations (%s), %d wrong answers, %d cut short at the end.\n\n",
		backend, o.workers, pace, o.duration, o.interval, tot.OK(), opsList(tot.Ops), tot.Errors(), tot.Lost)
	ops := []string{workload.OpDevice, workload.OpRefresh, workload.OpInvite, workload.OpClient, workload.OpRetire}
	b.WriteString("| time | RSS MiB | of it anonymous | Go heap in use | Go holds | SQLite holds | goroutines | open files | database MiB | devices enrolled | devices retired | operations | errors | load average |")
	for _, op := range ops {
		fmt.Fprintf(&b, " p99 %s ms |", op)
	}
	b.WriteString("\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for range ops {
		b.WriteString(" ---: |")
	}
	b.WriteString("\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %.2f | %d | %d | %d | %d | %s |", s.At, mebi(s.RSS),
			mebi(s.Mem.Anon), mebi(s.Mem.GoHeap), mebi(s.Mem.GoHeld), mebi(s.Mem.SQLite), s.Goroutines, s.Files, mebi(s.DBSize), s.Devices, s.Retired, s.Ops, s.Errors, s.Load)
		for _, op := range ops {
			fmt.Fprintf(&b, " %d |", s.P99[op].Milliseconds())
		}
		b.WriteString("\n")
	}
	if len(samples) >= 3 {
		first, last := samples[1], samples[len(samples)-1]
		lo := func(f func(soakSample) int64) (int64, int64) {
			mn, mx := f(samples[1]), f(samples[1])
			for _, s := range samples[1:] {
				mn, mx = min(mn, f(s)), max(mx, f(s))
			}
			return mn, mx
		}
		gmin, gmax := lo(func(s soakSample) int64 { return int64(s.Goroutines) })
		fmin, fmax := lo(func(s soakSample) int64 { return int64(s.Files) })
		fmt.Fprintf(&b, "\nFrom %s to %s: RSS %.1f → %.1f MiB, goroutines %d–%d, open files %d–%d, database %.2f → %.2f MiB",
			first.At, last.At, mebi(first.RSS), mebi(last.RSS), gmin, gmax, fmin, fmax, mebi(first.DBSize), mebi(last.DBSize))
		if n := last.Devices - first.Devices; n > 0 {
			fmt.Fprintf(&b, " (%+.1f KiB for each of the %d devices enrolled meanwhile", float64(last.DBSize-first.DBSize)/1024/float64(n), n)
			if r := last.Retired - first.Retired; r > 0 {
				fmt.Fprintf(&b, ", while %d were retired", r)
			}
			b.WriteString(")")
		}
		b.WriteString(".\n")
		// Once the lifetimes have turned the tables over, what a curve
		// does is the steady state's: the second half, each curve's range.
		half := samples[len(samples)/2:]
		span := func(format string, f func(soakSample) float64) string {
			mn, mx := f(half[0]), f(half[0])
			for _, s := range half {
				mn, mx = min(mn, f(s)), max(mx, f(s))
			}
			return fmt.Sprintf(format+"–"+format, mn, mx)
		}
		fmt.Fprintf(&b, "From %s to %s: RSS %s MiB, database %s MiB, goroutines %s, open files %s", half[0].At, last.At,
			span("%.1f", func(s soakSample) float64 { return mebi(s.RSS) }), span("%.2f", func(s soakSample) float64 { return mebi(s.DBSize) }),
			span("%.0f", func(s soakSample) float64 { return float64(s.Goroutines) }), span("%.0f", func(s soakSample) float64 { return float64(s.Files) }))
		for _, op := range ops {
			fmt.Fprintf(&b, ", p99 %s %s ms", op, span("%.0f", func(s soakSample) float64 { return float64(s.P99[op].Milliseconds()) }))
		}
		b.WriteString(".\n")
	}
	return b.String()
}

func opsList(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func mebi(b int64) float64 { return float64(b) / (1 << 20) }
