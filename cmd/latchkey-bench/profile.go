package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A CPU profile of Latchkey is taken over the measured window of each
// scenario's last round, from the profiler `latchkey serve --pprof` serves
// on a loopback listener of its own. It is read with `go tool pprof -raw`,
// the profile as text, so the harness needs no profile decoder of its own:
// the go command that builds Latchkey has one.

// cpuProfile is one scenario's profile on one backend.
type cpuProfile struct {
	Seconds int    // the length asked for
	Data    []byte // as served: gzipped protocol buffer
	Err     string // why there is no summary; empty when there is one
	Summary *profileSummary
}

// profileSeconds is how long a profile of a measured window of d can be:
// the profiler takes whole seconds, and at least one.
func profileSeconds(d time.Duration) int {
	return max(int(d/time.Second), 1)
}

// profileFetch is a profile being taken while the load runs.
type profileFetch struct {
	seconds int
	done    chan struct{}
	data    []byte
	err     error
}

// startProfile asks the profiler at addr for the next seconds of CPU
// profile, in the background.
func startProfile(ctx context.Context, addr string, seconds int) *profileFetch {
	f := &profileFetch{seconds: seconds, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.data, f.err = fetchProfile(ctx, "http://"+addr, seconds)
	}()
	return f
}

// wait returns the profile once it has arrived. A failure is kept in the
// profile's Err: a missing profile is a note in the report, not a failed run.
func (f *profileFetch) wait() *cpuProfile {
	<-f.done
	p := &cpuProfile{Seconds: f.seconds, Data: f.data}
	if f.err != nil {
		p.Err = f.err.Error()
	}
	return p
}

// fetchProfile GETs /debug/pprof/profile?seconds=N from base.
func fetchProfile(ctx context.Context, base string, seconds int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch CPU profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetch CPU profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch CPU profile: %s: %s", resp.Status, shorten(strings.TrimSpace(string(body)), 200))
	}
	// A profile is gzipped; anything else is an error page.
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		return nil, fmt.Errorf("fetch CPU profile: not a profile: %s", shorten(string(body), 200))
	}
	return body, nil
}

// analyze saves the profile as file and summarizes it. Failures go to Err.
func (p *cpuProfile) analyze(ctx context.Context, file string) {
	if p.Err != "" {
		return
	}
	if err := os.WriteFile(file, p.Data, 0o644); err != nil {
		p.Err = err.Error()
		return
	}
	samples, err := rawSamples(ctx, file)
	if err != nil {
		p.Err = err.Error()
		return
	}
	if len(samples) == 0 {
		p.Err = "the profile holds no samples"
		return
	}
	p.Summary = summarize(samples)
}

// rawSamples reads a profile file with `go tool pprof -raw`.
func rawSamples(ctx context.Context, file string) ([]sample, error) {
	// The profile carries its function names, so no binary is needed.
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-raw", "-symbolize=none", file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -raw %s: %w\n%s", filepath.Base(file), err, shorten(stderr.String(), 500))
	}
	return parseRaw(string(out))
}

// sample is one call stack and the CPU time it was seen in.
type sample struct {
	Stack []string // function names, leaf first, inlined calls included
	CPU   time.Duration
}

// parseRaw reads the text `go tool pprof -raw` writes (the profile
// package's Profile.String): a Samples section of values and location ids,
// then a Locations section naming each location's functions, innermost
// inlined call first.
func parseRaw(text string) ([]sample, error) {
	type rawSample struct {
		cpu  int64
		locs []int
	}
	var (
		raw     []rawSample
		locs    = map[int][]string{}
		section string
		column  = -1 // which value is CPU time
		cur     int  // the location whose lines are being read
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch trimmed {
		case "Samples:", "Locations", "Mappings":
			section = trimmed
			continue
		}
		if trimmed == "" {
			continue
		}
		switch section {
		case "Samples:":
			if column < 0 {
				// The header: "samples/count cpu/nanoseconds".
				types := strings.Fields(trimmed)
				column = len(types) - 1
				for i, t := range types {
					if strings.HasPrefix(t, "cpu/") {
						column = i
					}
				}
				if !strings.HasSuffix(types[column], "/nanoseconds") {
					return nil, fmt.Errorf("pprof -raw: want CPU time in nanoseconds, have %q", trimmed)
				}
				continue
			}
			values, ids, ok := strings.Cut(trimmed, ":")
			if !ok || strings.HasPrefix(trimmed, "{") {
				continue // a sample's labels
			}
			vs := strings.Fields(values)
			if column >= len(vs) {
				return nil, fmt.Errorf("pprof -raw: sample %q has no value %d", trimmed, column)
			}
			cpu, err := strconv.ParseInt(vs[column], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("pprof -raw: sample %q: %w", trimmed, err)
			}
			s := rawSample{cpu: cpu}
			for f := range strings.FieldsSeq(ids) {
				id, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("pprof -raw: sample %q: %w", trimmed, err)
				}
				s.locs = append(s.locs, id)
			}
			raw = append(raw, s)
		case "Locations":
			// "  12: 0x4afd1e M=1 [F] syscall.Write /src/syscall/syscall_unix.go:211:0 s=201",
			// then "        internal/poll.ignoringEINTRIO ..." for the calls it was inlined into.
			fields := strings.Fields(trimmed)
			if id, ok := strings.CutSuffix(fields[0], ":"); ok {
				n, err := strconv.Atoi(id)
				if err != nil {
					return nil, fmt.Errorf("pprof -raw: location %q: %w", trimmed, err)
				}
				cur = n
				addr := ""
				if len(fields) > 1 {
					addr = fields[1]
				}
				fields = fields[min(2, len(fields)):]
				for len(fields) > 0 && (strings.HasPrefix(fields[0], "M=") || fields[0] == "[F]") {
					fields = fields[1:]
				}
				if len(fields) == 0 || fields[0] == "??" {
					locs[cur] = append(locs[cur], addr) // not symbolized: its address is all there is
					continue
				}
			}
			locs[cur] = append(locs[cur], fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if column < 0 {
		return nil, errors.New("pprof -raw: no samples section")
	}
	var samples []sample
	for _, r := range raw {
		s := sample{CPU: time.Duration(r.cpu)}
		for _, id := range r.locs {
			fns, ok := locs[id]
			if !ok {
				return nil, fmt.Errorf("pprof -raw: no location %d", id)
			}
			s.Stack = append(s.Stack, fns...)
		}
		samples = append(samples, s)
	}
	return samples, nil
}

// profileEntry is a line of a profile table: a function or a group of them.
type profileEntry struct {
	Name string
	Flat float64 // share of the sampled CPU time spent in it itself; < 0: not meaningful (a group of callers)
	Cum  float64 // share spent in it or in what it calls
}

// profileSummary is what the report shows of one profile.
type profileSummary struct {
	CPU     time.Duration  // sampled CPU time
	Top     []profileEntry // the most flat time
	Project []profileEntry // Latchkey's functions with the most cumulative time
	Groups  []profileEntry // well-known groups, in profileGroups' order; absent ones left out
}

// How many entries a summary keeps.
const (
	topEntries     = 10
	projectEntries = 8
	minProjectCum  = 0.005 // smaller project entries are left out
)

// isProject says whether a function is Latchkey's: its packages, or
// package main of the profiled binary, cmd/latchkey.
func isProject(fn string) bool {
	return strings.HasPrefix(fn, "github.com/latchkey/latchkey/") || strings.HasPrefix(fn, "main.")
}

// splitFunc splits "crypto/ecdsa.(*PrivateKey).Sign" into its package
// "crypto/ecdsa" and the rest.
func splitFunc(fn string) (pkg, name string) {
	slash := strings.LastIndex(fn, "/") + 1
	dot := strings.Index(fn[slash:], ".")
	if dot < 0 {
		return "", fn
	}
	return fn[:slash+dot], fn[slash+dot+1:]
}

// isSyscallStub says whether fn only enters the kernel for its caller: the
// generic system-call functions, the scheduler's bookkeeping around them,
// and the C library's generic ones SQLite (modernc.org/libc) calls through.
func isSyscallStub(fn string) bool {
	pkg, name := splitFunc(fn)
	switch pkg {
	case "modernc.org/libc":
		return strings.HasPrefix(name, "___syscall") || strings.HasPrefix(name, "X__syscall")
	case "syscall", "internal/runtime/syscall", "internal/runtime/syscall/linux", "runtime/internal/syscall", "golang.org/x/sys/unix":
		for _, p := range []string{"Syscall", "RawSyscall", "rawSyscall", "rawVforkSyscall"} {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	case "runtime":
		return strings.HasPrefix(name, "entersyscall") || strings.HasPrefix(name, "reentersyscall") ||
			strings.HasPrefix(name, "exitsyscall")
	}
	return false
}

// flatKey is the table line a sample's own time goes to: its leaf function,
// except that time in a system-call stub goes to the function that made the
// call ("syscall.write (system call)"), so reads and writes stay apart.
func flatKey(stack []string) (key string, syscall bool) {
	if !isSyscallStub(stack[0]) {
		return stack[0], false
	}
	for _, fn := range stack[1:] {
		if !isSyscallStub(fn) {
			return fn + " (system call)", true
		}
	}
	return stack[0], false
}

// profileGroup is a well-known part of a Go server's time. A frame belongs
// to it if its name is one of Match's, or starts with one ending in "*".
type profileGroup struct {
	Name  string
	Match []string
	Flat  bool // whether time in the group's own functions means something
}

// profileGroups overlap: memory allocation includes the GC work it assists.
var profileGroups = []profileGroup{
	{"Latchkey's own code (github.com/latchkey/latchkey/…, main.…)", []string{"github.com/latchkey/latchkey/*", "main.*"}, true},
	// p256MulInternal and its kind are nistec's assembly helpers, which
	// have no package in the symbol table.
	{"ECDSA (crypto/ecdsa, crypto/internal/fips140/{ecdsa,nistec,bigmod})", []string{"crypto/ecdsa.*",
		"crypto/internal/fips140/ecdsa.*", "crypto/internal/fips140/nistec.*", "crypto/internal/fips140/nistec/*",
		"crypto/internal/fips140/bigmod.*", "p256*"}, true},
	{"SQLite (modernc.org/sqlite, modernc.org/libc, …)", []string{"modernc.org/*"}, true},
	{"PostgreSQL driver (github.com/jackc/…)", []string{"github.com/jackc/*"}, true},
	{"database/sql", []string{"database/sql.*"}, true},
	{"system calls (syscall, x/sys/unix, runtime futex/epoll/…)", []string{"syscall.*", "internal/runtime/syscall.*",
		"internal/runtime/syscall/*", "golang.org/x/sys/unix.*", "runtime.futex", "runtime.usleep", "runtime.osyield",
		"runtime.nanosleep", "runtime.madvise", "runtime.mmap", "runtime.munmap", "runtime.write1", "runtime.read",
		"runtime.tgkill", "runtime.sigprocmask", "runtime.rtsigprocmask", "runtime.clone"}, true},
	{"memory allocation (runtime.mallocgc, with its GC assists)", []string{"runtime.mallocgc"}, false},
	{"garbage collection (background mark, sweep, scavenge)", []string{"runtime.gcBgMarkWorker", "runtime.bgsweep",
		"runtime.bgscavenge"}, false},
	{"scheduler, idle and sysmon (runtime.schedule, runtime.sysmon)", []string{"runtime.schedule", "runtime.sysmon"}, false},
}

func (g profileGroup) has(fn string) bool {
	for _, m := range g.Match {
		if prefix, ok := strings.CutSuffix(m, "*"); ok && strings.HasPrefix(fn, prefix) || fn == m {
			return true
		}
	}
	return false
}

// summarize finds a profile's top entries. Flat time is a sample's leaf's
// (see flatKey); cumulative time counts a function once per sample it is
// anywhere in, as pprof does.
func summarize(samples []sample) *profileSummary {
	var total time.Duration
	flat := map[string]time.Duration{}
	cum := map[string]time.Duration{}
	stubCalls := map[string]bool{} // flat keys that are "f (system call)"
	groupFlat := make([]time.Duration, len(profileGroups))
	groupCum := make([]time.Duration, len(profileGroups))
	for _, s := range samples {
		if len(s.Stack) == 0 {
			continue
		}
		total += s.CPU
		key, stub := flatKey(s.Stack)
		flat[key] += s.CPU
		if stub {
			stubCalls[key] = true
		}
		seen := map[string]bool{}
		for _, fn := range s.Stack {
			if !seen[fn] {
				seen[fn] = true
				cum[fn] += s.CPU
			}
		}
		for i, g := range profileGroups {
			if g.has(s.Stack[0]) {
				groupFlat[i] += s.CPU
			}
			if slices.ContainsFunc(s.Stack, g.has) {
				groupCum[i] += s.CPU
			}
		}
	}
	sum := &profileSummary{CPU: total}
	if total == 0 {
		return sum
	}
	share := func(d time.Duration) float64 { return float64(d) / float64(total) }

	// Most time first; names break ties, so a summary is the same every time.
	byFlat := slices.SortedFunc(maps.Keys(flat), func(a, b string) int {
		return cmp.Or(cmp.Compare(flat[b], flat[a]), strings.Compare(a, b))
	})
	for _, k := range byFlat[:min(topEntries, len(byFlat))] {
		e := profileEntry{Name: k, Flat: share(flat[k]), Cum: share(cum[k])}
		if stubCalls[k] {
			e.Cum = e.Flat // the system call itself calls nothing we can see
		}
		sum.Top = append(sum.Top, e)
	}

	var project []string
	for fn := range cum {
		if isProject(fn) && share(cum[fn]) >= minProjectCum {
			project = append(project, fn)
		}
	}
	slices.SortFunc(project, func(a, b string) int {
		return cmp.Or(cmp.Compare(cum[b], cum[a]), strings.Compare(a, b))
	})
	for _, fn := range project[:min(projectEntries, len(project))] {
		sum.Project = append(sum.Project, profileEntry{Name: fn, Flat: share(flat[fn]), Cum: share(cum[fn])})
	}

	for i, g := range profileGroups {
		if groupCum[i] == 0 {
			continue
		}
		e := profileEntry{Name: g.Name, Flat: share(groupFlat[i]), Cum: share(groupCum[i])}
		if !g.Flat {
			e.Flat = -1
		}
		sum.Groups = append(sum.Groups, e)
	}
	return sum
}

// percent formats a share as a percentage; a negative share as a dash.
func percent(x float64) string {
	if x < 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", 100*x)
}

// table is the summary as Markdown: the top flat entries, Latchkey's
// functions, then the groups, each band under a bold heading line.
func (s *profileSummary) table() string {
	var rows [][]string
	band := func(title string, es []profileEntry, code bool) {
		if len(es) == 0 {
			return
		}
		rows = append(rows, []string{"**" + title + "**", "", ""})
		for _, e := range es {
			name := e.Name
			if code {
				name = "`" + name + "`"
			}
			rows = append(rows, []string{name, percent(e.Flat), percent(e.Cum)})
		}
	}
	band(fmt.Sprintf("top %d by flat", topEntries), s.Top, true)
	band("Latchkey's functions by cum", s.Project, true)
	band("groups (a sample counts once in each group it touches)", s.Groups, false)
	return markdownTable([]string{"function", "flat%", "cum%"}, rows)
}

// brief is a one-line summary for the terminal: the top few flat entries.
func (p *cpuProfile) brief() string {
	if p.Summary == nil {
		return "none: " + p.Err
	}
	var parts []string
	for _, e := range p.Summary.Top[:min(4, len(p.Summary.Top))] {
		parts = append(parts, fmt.Sprintf("%s %s%%", e.Name, percent(e.Flat)))
	}
	return strings.Join(parts, ", ")
}
