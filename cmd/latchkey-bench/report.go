package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one scenario on one backend, over all rounds.
type row struct {
	Scenario, Backend string
	Alg               string  // the signing algorithm, when the run measured more than ES256 alone
	Target            float64 // least ratio asked for; 0: none
	Skip              string  // why it was not measured
	Base, Latchkey    []*result
	Profile           *cpuProfile // of the last Latchkey round; nil: not taken
}

func rates(rs []*result) []float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, r.Rate())
	}
	return xs
}

// LatchkeyRate and BaseRate are the medians over the rounds.
func (r *row) LatchkeyRate() float64 { return median(rates(r.Latchkey)) }
func (r *row) BaseRate() float64     { return median(rates(r.Base)) }

// Ratio is the median Latchkey rate over the median baseline rate.
func (r *row) Ratio() float64 {
	if b := r.BaseRate(); b > 0 {
		return r.LatchkeyRate() / b
	}
	return 0
}

// Percentile is Latchkey's latency percentile over all rounds' requests.
func (r *row) Percentile(p float64) time.Duration { return percentile(mergeSorted(r.Latchkey), p) }

func errorCount(rs []*result) int {
	n := 0
	for _, r := range rs {
		n += r.Errors
	}
	return n
}

// Verdict says whether the ratio met the target.
func (r *row) Verdict() string {
	switch {
	case r.Target == 0:
		return "—"
	case r.Skip != "":
		return fmt.Sprintf("≥ %.2f %s", r.Target, r.Skip)
	case r.Ratio() >= r.Target:
		return fmt.Sprintf("≥ %.2f met", r.Target)
	}
	return fmt.Sprintf("≥ %.2f missed", r.Target)
}

// where is the row's backend, with its algorithm when it names one:
// "sqlite" or "sqlite-RS256".
func (r *row) where() string {
	if r.Alg == "" {
		return r.Backend
	}
	return r.Backend + "-" + r.Alg
}

// cells are the row's table cells, in tableHeader's order.
func (r *row) cells() []string {
	if r.Skip != "" {
		return []string{r.Scenario, r.where(), "—", "—", "—", "—", "—", "—", r.Verdict()}
	}
	return []string{
		r.Scenario, r.where(),
		fmt.Sprintf("%.0f", r.LatchkeyRate()),
		fmt.Sprintf("%.0f", r.BaseRate()),
		fmt.Sprintf("%.2f", r.Ratio()),
		ms(r.Percentile(50)), ms(r.Percentile(99)),
		fmt.Sprint(errorCount(r.Latchkey)),
		r.Verdict(),
	}
}

var tableHeader = []string{"scenario", "backend", "latchkey req/s", "baseline req/s", "ratio", "p50", "p99", "errors", "target"}

// notes say what the table cannot: the answers a scenario got when they are
// not all one kind, the first wrong answer, pacing, baseline errors.
func (r *row) notes() []string {
	if r.Skip != "" {
		if r.Target == 0 {
			return []string{r.Skip}
		}
		return nil
	}
	var notes []string
	labels := map[string]int{}
	total := 0
	var waited float64
	for _, res := range r.Latchkey {
		for l, n := range res.Labels {
			labels[l] += n
			total += n
		}
		waited = max(waited, res.WaitShare())
	}
	switch {
	case total == 0:
		notes = append(notes, "no request was sent in the measured window")
	case len(labels) > 1 || r.Scenario == "pending_poll" || r.Scenario == "slow_down":
		var parts []string
		for _, l := range slices.Sorted(maps.Keys(labels)) {
			parts = append(parts, fmt.Sprintf("%s %.2f%%", l, 100*float64(labels[l])/float64(total)))
		}
		notes = append(notes, "answers: "+strings.Join(parts, ", "))
	}
	for _, res := range r.Latchkey {
		if res.FirstErr != "" {
			notes = append(notes, "first wrong answer: "+res.FirstErr)
			break
		}
	}
	if waited > 0.01 {
		notes = append(notes, fmt.Sprintf("workers spent up to %.0f%% of their time waiting for a code's interval: "+
			"the rate is capped by --live-codes, not by the server", 100*waited))
	}
	if n := errorCount(r.Base); n > 0 {
		notes = append(notes, fmt.Sprintf("the baseline had %d errors", n))
	}
	return notes
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// machine describes where the numbers were measured.
type machine struct {
	Arch, CPU, Kernel, Go string
	Cores                 int
	Load                  string // /proc/loadavg's 1, 5 and 15 minute averages when the run started
}

func describeMachine() machine {
	m := machine{Arch: runtime.GOARCH, Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown"}
	if out, err := exec.Command("uname", "-m").Output(); err == nil {
		m.Arch = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// report is everything one invocation measured.
type report struct {
	Started time.Time
	Machine machine
	Command string
	Opts    *options
	Rows    []*row
	Starts  []startup
}

// text is the table for a terminal.
func (rep *report) text() string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t"))
	for _, r := range rep.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
	}
	tw.Flush()
	for _, r := range rep.Rows {
		for _, n := range r.notes() {
			fmt.Fprintf(&sb, "%s (%s): %s\n", r.Scenario, r.where(), n)
		}
	}
	for _, r := range rep.Rows {
		if p := r.Profile; p != nil {
			fmt.Fprintf(&sb, "%s (%s) profile: %s\n", r.Scenario, r.where(), p.brief())
		}
	}
	for _, c := range rep.algComparison() {
		fmt.Fprintf(&sb, "%s (%s): RS256 %s req/s, ES256 %s req/s: RS256/ES256 %s\n", c[0], c[1], c[2], c[3], c[4])
	}
	for _, s := range rep.Starts {
		fmt.Fprintf(&sb, "%s: ready %s after exec (fresh database: %s); RSS idle %s, peak %s\n",
			s.Backend, s.Warm.Round(time.Millisecond), s.Cold.Round(time.Millisecond), mib(s.IdleRSS), mib(s.PeakRSS))
	}
	return sb.String()
}

// algComparison pairs each scenario measured with both algorithms on a
// backend: scenario, backend, RS256's and ES256's median Latchkey rates
// and their ratio.
func (rep *report) algComparison() [][]string {
	var out [][]string
	for _, rs := range rep.Rows {
		if rs.Alg != "RS256" || rs.Skip != "" {
			continue
		}
		for _, es := range rep.Rows {
			if es.Alg == "ES256" && es.Skip == "" && es.Scenario == rs.Scenario && es.Backend == rs.Backend && es.LatchkeyRate() > 0 {
				out = append(out, []string{rs.Scenario, rs.Backend, fmt.Sprintf("%.0f", rs.LatchkeyRate()),
					fmt.Sprintf("%.0f", es.LatchkeyRate()), fmt.Sprintf("%.2f", rs.LatchkeyRate()/es.LatchkeyRate())})
			}
		}
	}
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// markdownTable renders rows as a Markdown table.
func markdownTable(header []string, rows [][]string) string {
	var sb strings.Builder
	line := func(cells []string) {
		sb.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return sb.String()
}

// markdown is BENCHMARKS.md.
func (rep *report) markdown() string {
	var sb strings.Builder
	m := rep.Machine
	o := rep.Opts
	fmt.Fprintf(&sb, "# Benchmarks\n\n")
	fmt.Fprintf(&sb, "Written by `cmd/latchkey-bench`; run it again to replace this file. "+
		"Numbers from one machine are comparable only with numbers from the same machine and run: "+
		"that is why every Latchkey figure stands next to a baseline measured minutes apart.\n\n")
	fmt.Fprintf(&sb, "- Date: %s\n", rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&sb, "- Machine: %s, %s, %d cores, Linux %s\n", m.Arch, m.CPU, m.Cores, m.Kernel)
	if m.Load != "" {
		fmt.Fprintf(&sb, "- Load average when the run started (other work on the machine): %s\n", m.Load)
	}
	fmt.Fprintf(&sb, "- Go: %s\n", m.Go)
	fmt.Fprintf(&sb, "- Command: `%s`\n\n", rep.Command)

	fmt.Fprintf(&sb, "## Method\n\n")
	fmt.Fprintf(&sb, "`latchkey-bench` builds `./cmd/latchkey` and runs `latchkey serve` as a child process on a temporary "+
		"SQLite file (and, given `--postgres`, on a fresh PostgreSQL schema dropped afterwards), with the log at warn and "+
		"the device authorization rate limits off; it provisions a user, a public device client and a confidential "+
		"client through the admin API. The baseline is a second child process serving a bare `net/http` handler that "+
		"reads the form body and answers 200 with a fixed %d-byte JSON body, about the size of an OAuth error. "+
		"The load generator is closed-loop: %d workers, each with its own keep-alive connection, send a request, read "+
		"the whole answer and send the next; a run is %s of unrecorded warm-up and %s measured. An answer counts as an "+
		"error when the transport fails or it is not the answer the scenario expects (for the baseline: anything but "+
		"its fixed 200). For each scenario the baseline and Latchkey run alternately, %d round(s) each, so a machine "+
		"that drifts skews both; the ratio is the median Latchkey rate over the median baseline rate, and p50/p99 are "+
		"Latchkey's over all its rounds. Load generator, servers and database share the machine's cores, so where "+
		"Latchkey's handler is cheap (jwks, discovery) the load generator is the limit and the ratio nears 1.\n\n",
		len(baselineBody), o.concurrency, o.warmup, o.duration, o.rounds)
	if o.profiles {
		fmt.Fprintf(&sb, "During the measured part of each scenario's last Latchkey round the harness fetches a CPU profile "+
			"of the Latchkey process from the profiler `latchkey serve --pprof` serves on a loopback listener of its own "+
			"(`/debug/pprof/profile?seconds=%d`: the measured time in whole seconds, at least one) and reads it with "+
			"`go tool pprof -raw`. Sampling at 100 Hz costs the server a little CPU in that round. The load generator, "+
			"the baseline and PostgreSQL are other processes, not in the profile.\n\n", profileSeconds(o.duration))
	}

	fmt.Fprintf(&sb, "## Results\n\n")
	var cells [][]string
	for _, r := range rep.Rows {
		cells = append(cells, r.cells())
	}
	sb.WriteString(markdownTable(tableHeader, cells))
	var notes []string
	for _, r := range rep.Rows {
		for _, n := range r.notes() {
			notes = append(notes, fmt.Sprintf("- %s (%s): %s\n", r.Scenario, r.where(), n))
		}
	}
	if len(notes) > 0 {
		sb.WriteString("\n")
		sb.WriteString(strings.Join(notes, ""))
	}
	if cmp := rep.algComparison(); len(cmp) > 0 {
		fmt.Fprintf(&sb, "\n## RS256 beside ES256\n\n")
		fmt.Fprintf(&sb, "The same scenario on the same backend, once on a Latchkey signing every token ES256 and once RS256 "+
			"(`tokens.signing_alg`, `tokens.id_token_signing_alg` and the clients' `id_token_signed_response_alg`; "+
			"RSA keys of 2048 bits, the default `keys.rsa_bits`), in this run; the ratio is RS256's median rate over ES256's.\n\n")
		sb.WriteString(markdownTable([]string{"scenario", "backend", "RS256 req/s", "ES256 req/s", "RS256/ES256"}, cmp))
	}
	if o.profiles {
		sb.WriteString(rep.profiles())
	}

	fmt.Fprintf(&sb, "\n## Scenarios\n\n")
	for _, sc := range scenarios {
		if slices.Contains(o.scenarios, sc.name) {
			fmt.Fprintf(&sb, "- `%s`: %s", sc.name, sc.what)
			if sc.name == "pending_poll" {
				// The codes and the interval cap the rate of on-time polls.
				fmt.Fprintf(&sb, " (this run: %d codes, so at most %.0f polls/s)", o.liveCodes, float64(o.liveCodes)/pollInterval.Seconds())
			}
			sb.WriteString(".\n")
		}
	}

	if len(rep.Starts) > 0 {
		fmt.Fprintf(&sb, "\n## Start-up and memory\n\n")
		fmt.Fprintf(&sb, "Start-up is the time from exec to the first 200 from `/readyz`; the fresh-database start "+
			"includes creating the schema and the first signing key. Idle RSS is `VmRSS` a second after the restart "+
			"was ready, peak RSS is `VmHWM` after all scenarios.\n\n")
		var rows [][]string
		for _, s := range rep.Starts {
			rows = append(rows, []string{s.Backend, ms(s.Warm), ms(s.Cold), mib(s.IdleRSS), mib(s.PeakRSS)})
		}
		sb.WriteString(markdownTable([]string{"backend", "start to ready", "first start (fresh database)", "idle RSS", "peak RSS"}, rows))
	}
	return sb.String()
}

// profiles is BENCHMARKS.md's Profiles section.
func (rep *report) profiles() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n## Profiles\n\n")
	fmt.Fprintf(&sb, "Latchkey's CPU profile over the measured part of each scenario's last round. As in `go tool pprof -top`, "+
		"flat%% is the share of the sampled CPU time spent in a function itself and cum%% in it and what it calls. "+
		"Time in the generic system-call functions (`Syscall6`, `RawSyscall6`, the runtime's `entersyscall`/`exitsyscall`, "+
		"SQLite's `libc.___syscall_cp`) "+
		"is listed under the function that made the call, as `syscall.write (system call)`, so that writing and reading "+
		"sockets, files and the poller stay apart. In the groups, flat%% is time in the group's own functions and cum%% "+
		"time in samples that touch the group anywhere; groups overlap and need not add up to 100%%.")
	if dir := rep.Opts.profileDir; dir != "" {
		fmt.Fprintf(&sb, " The raw profiles are in `%s`, named SCENARIO-BACKEND.pprof: `go tool pprof -http=: FILE` opens one.", dir)
	}
	sb.WriteString("\n")
	for _, r := range rep.Rows {
		p := r.Profile
		if p == nil {
			continue
		}
		fmt.Fprintf(&sb, "\n### %s (%s)\n\n", r.Scenario, r.where())
		if p.Summary == nil {
			fmt.Fprintf(&sb, "No profile: %s\n", p.Err)
			continue
		}
		cpu := p.Summary.CPU
		fmt.Fprintf(&sb, "%.2f s of CPU sampled in %d s: %.2f of %d cores busy on average.\n\n",
			cpu.Seconds(), p.Seconds, cpu.Seconds()/float64(p.Seconds), rep.Machine.Cores)
		sb.WriteString(p.Summary.table())
	}
	return sb.String()
}
