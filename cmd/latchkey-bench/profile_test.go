package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestProfileSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   time.Duration
		want int
	}{
		{10 * time.Second, 10},
		{3500 * time.Millisecond, 3},
		{time.Second, 1},
		{300 * time.Millisecond, 1},
	} {
		if got := profileSeconds(tt.in); got != tt.want {
			t.Errorf("profileSeconds(%v) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

// rawText is `go tool pprof -raw` of a small profile, cut down: a
// two-sample stack, a sample with a label, a location with an inlined call,
// one that is not symbolized and one with no mapping.
const rawText = `PeriodType: cpu nanoseconds
Period: 10000000
Time: 2026-11-22 21:13:45.123 +0000 UTC
Duration: 516.66
Samples:
samples/count cpu/nanoseconds
          2   20000000: 1 2 3 4 
          1   10000000: 5 4 
                {span:[1]}
          1   10000000: 6 
Locations
     1: 0x409a2e M=1 internal/runtime/syscall/linux.Syscall6 /go/src/internal/runtime/syscall/linux/asm_linux_amd64.s:36:0 s=27
     2: 0x49d945 M=1 syscall.Syscall /go/src/syscall/syscall_linux.go:87:0 s=73
     3: 0x4afd1e M=1 syscall.Write /go/src/syscall/syscall_unix.go:211:0 s=201
             internal/poll.(*FD).Write /go/src/internal/poll/fd_unix.go:374:0 s=360
     4: 0x569425 M=1 main.main /src/main.go:29:0 s=11
     5: 0x43065e M=1 ??
     6: 0x48c367 runtime.futex /go/src/runtime/sys_linux_amd64.s:557:0 s=545
Mappings
1: 0x400000/0x5d5000/0x0 /tmp/latchkey 2680a9afc0c079df0e77752674bfae736f9cb52f [FN]
`

func TestParseRaw(t *testing.T) {
	t.Parallel()
	got, err := parseRaw(rawText)
	if err != nil {
		t.Fatal(err)
	}
	want := []sample{
		{Stack: []string{"internal/runtime/syscall/linux.Syscall6", "syscall.Syscall", "syscall.Write",
			"internal/poll.(*FD).Write", "main.main"}, CPU: 20 * time.Millisecond},
		{Stack: []string{"0x43065e", "main.main"}, CPU: 10 * time.Millisecond},
		{Stack: []string{"runtime.futex"}, CPU: 10 * time.Millisecond},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseRaw (-want +got):\n%s", diff)
	}
}

func TestParseRawErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, text, want string }{
		{"no samples", "PeriodType: cpu nanoseconds\n", "no samples section"},
		{"not CPU time", "Samples:\nalloc_objects/count alloc_space/bytes\n", "want CPU time"},
		{"unknown location", "Samples:\nsamples/count cpu/nanoseconds\n 1 10000000: 7 \nLocations\n", "no location 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRaw(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseRaw = %v; want an error with %q", err, tt.want)
			}
		})
	}
}

func TestFlatKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		stack    []string
		want     string
		wantStub bool
	}{
		{"ordinary leaf", []string{"crypto/internal/fips140/nistec.p256Mul", "crypto/ecdsa.SignASN1"},
			"crypto/internal/fips140/nistec.p256Mul", false},
		{"socket write", []string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Syscall",
			"syscall.write", "syscall.Write"}, "syscall.write (system call)", true},
		{"bookkeeping around a read", []string{"runtime.exitsyscall", "syscall.Syscall", "syscall.read"},
			"syscall.read (system call)", true},
		{"x/sys/unix from SQLite", []string{"golang.org/x/sys/unix.Syscall6", "modernc.org/libc.Xpread"},
			"modernc.org/libc.Xpread (system call)", true},
		{"SQLite's file I/O", []string{"syscall.Syscall6", "modernc.org/libc.___syscall_cp", "modernc.org/libc.Xpwrite",
			"modernc.org/sqlite/lib._unixWrite"}, "modernc.org/libc.Xpwrite (system call)", true},
		{"SQLite's locks", []string{"syscall.Syscall", "modernc.org/libc.X__syscall3", "modernc.org/libc.Xfcntl"},
			"modernc.org/libc.Xfcntl (system call)", true},
		{"the poller", []string{"internal/runtime/syscall/linux.Syscall6", "internal/runtime/syscall/linux.EpollWait",
			"runtime.netpoll"}, "internal/runtime/syscall/linux.EpollWait (system call)", true},
		{"a stub with no caller", []string{"syscall.Syscall"}, "syscall.Syscall", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, stub := flatKey(tt.stack)
			if got != tt.want || stub != tt.wantStub {
				t.Errorf("flatKey(%q) = %q, %v; want %q, %v", tt.stack, got, stub, tt.want, tt.wantStub)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	const (
		serve  = "net/http.(*conn).serve"
		token  = "github.com/latchkey/latchkey/internal/grant.(*Handler).Token"
		mint   = "github.com/latchkey/latchkey/internal/token.Mint"
		sign   = "crypto/ecdsa.SignASN1"
		p256   = "crypto/internal/fips140/nistec.p256Mul"
		stub   = "internal/runtime/syscall/linux.Syscall6"
		malloc = "runtime.mallocgc"
	)
	samples := []sample{
		{Stack: []string{p256, sign, mint, token, serve}, CPU: ms(300)},
		{Stack: []string{mint, token, serve}, CPU: ms(100)},
		{Stack: []string{stub, "syscall.Syscall", "syscall.write", serve}, CPU: ms(400)},
		{Stack: []string{stub, "syscall.Syscall", "syscall.read", serve}, CPU: ms(100)},
		// Recursion counts once in cum.
		{Stack: []string{"runtime.memclrNoHeapPointers", malloc, malloc, token, serve}, CPU: ms(100)},
		{Stack: []string{}, CPU: ms(1000)}, // no stack: ignored
	}
	got := summarize(samples)
	want := &profileSummary{
		CPU: ms(1000),
		Top: []profileEntry{
			{"syscall.write (system call)", 0.4, 0.4},
			{p256, 0.3, 0.3},
			{mint, 0.1, 0.4},
			{"runtime.memclrNoHeapPointers", 0.1, 0.1},
			{"syscall.read (system call)", 0.1, 0.1},
		},
		Project: []profileEntry{
			{token, 0, 0.5},
			{mint, 0.1, 0.4},
		},
		Groups: []profileEntry{
			{"Latchkey's own code (github.com/latchkey/latchkey/…, main.…)", 0.1, 0.5},
			{"ECDSA (crypto/ecdsa, crypto/internal/fips140/{ecdsa,nistec,bigmod})", 0.3, 0.3},
			{"system calls (syscall, x/sys/unix, runtime futex/epoll/…)", 0.5, 0.5},
			{"memory allocation (runtime.mallocgc, with its GC assists)", -1, 0.1},
		},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
}

func TestSummarizeKeepsTheTop(t *testing.T) {
	t.Parallel()
	var samples []sample
	for i := range 30 {
		fn := "github.com/latchkey/latchkey/internal/f.F" + string(rune('A'+i))
		samples = append(samples, sample{Stack: []string{fn, "main.main"}, CPU: time.Duration(i+1) * time.Millisecond})
	}
	got := summarize(samples)
	if len(got.Top) != topEntries || got.Top[0].Name != "github.com/latchkey/latchkey/internal/f.F"+string(rune('A'+29)) {
		t.Errorf("Top = %v; want the %d largest, largest first", got.Top, topEntries)
	}
	if len(got.Project) != projectEntries || got.Project[0].Name != "main.main" {
		t.Errorf("Project = %v; want %d entries, main.main first", got.Project, projectEntries)
	}
}

func TestProfileTable(t *testing.T) {
	t.Parallel()
	s := &profileSummary{
		CPU:     time.Second,
		Top:     []profileEntry{{"syscall.write (system call)", 0.304, 0.304}, {"runtime.futex", 0.05, 0.05}},
		Project: []profileEntry{{"main.main", 0, 0.9}},
		Groups:  []profileEntry{{"garbage collection (background mark, sweep, scavenge)", -1, 0.061}},
	}
	want := strings.Join([]string{
		"| function | flat% | cum% |",
		"| --- | --- | --- |",
		"| **top 10 by flat** |  |  |",
		"| `syscall.write (system call)` | 30.4 | 30.4 |",
		"| `runtime.futex` | 5.0 | 5.0 |",
		"| **Latchkey's functions by cum** |  |  |",
		"| `main.main` | 0.0 | 90.0 |",
		"| **groups (a sample counts once in each group it touches)** |  |  |",
		"| garbage collection (background mark, sweep, scavenge) | — | 6.1 |",
		"",
	}, "\n")
	if diff := cmp.Diff(want, s.table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// burnSink keeps burnCPU's result, so the compiler cannot drop the work.
var burnSink uint64

//go:noinline
func burnCPU(d time.Duration) uint64 {
	x := uint64(88172645463325252)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 10000 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
	}
	return x
}

// TestAnalyzeRuntimeProfile reads a real profile, as the Go runtime writes
// it, through go tool pprof.
func TestAnalyzeRuntimeProfile(t *testing.T) {
	t.Parallel()
	// Half a second of the clock is a few samples, or one, on a machine
	// busy with other tests (the burn got no CPU): profile again, up to
	// five times, until burnCPU had at least 200 ms of it.
	var p *cpuProfile
	var file string
	for try := range 5 {
		var buf bytes.Buffer
		if err := pprof.StartCPUProfile(&buf); err != nil {
			t.Skipf("cannot profile (is -cpuprofile on?): %v", err)
		}
		burnSink = burnCPU(500 * time.Millisecond)
		pprof.StopCPUProfile()

		p = &cpuProfile{Seconds: 1, Data: buf.Bytes()}
		file = filepath.Join(t.TempDir(), fmt.Sprintf("burn-%d.pprof", try))
		p.analyze(t.Context(), file)
		if p.Err == "" && p.Summary.CPU >= 200*time.Millisecond {
			break
		}
	}
	if p.Err != "" {
		t.Fatalf("analyze: %s", p.Err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("the profile was not saved: %v", err)
	}
	s := p.Summary
	if s.CPU <= 0 || len(s.Top) == 0 {
		t.Fatalf("summary = %+v; want samples", s)
	}
	// In a test binary package main is named by its import path, so this
	// is github.com/latchkey/latchkey/cmd/latchkey-bench.burnCPU: a
	// project function either way.
	isBurn := func(e profileEntry) bool { return strings.HasSuffix(e.Name, ".burnCPU") }
	if top := s.Top[0]; !isBurn(top) || top.Flat < 0.5 {
		t.Errorf("top entry = %+v; want burnCPU with most of the time", top)
	}
	if !slices.ContainsFunc(s.Project, isBurn) {
		t.Errorf("Project = %+v; want burnCPU among Latchkey's functions", s.Project)
	}
}

func TestAnalyzeKeepsFetchErrors(t *testing.T) {
	t.Parallel()
	p := &cpuProfile{Seconds: 3, Err: "fetch CPU profile: connection refused"}
	file := filepath.Join(t.TempDir(), "x.pprof")
	p.analyze(t.Context(), file)
	if p.Summary != nil || p.Err != "fetch CPU profile: connection refused" {
		t.Errorf("analyze of a failed fetch = %+v; want the fetch's error kept", p)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("analyze wrote %s for a profile it does not have", file)
	}
}

func TestFetchProfile(t *testing.T) {
	t.Parallel()
	gz := []byte{0x1f, 0x8b, 8, 0}
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		want    []byte
		wantErr string
	}{
		{"profile", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/debug/pprof/profile" || r.URL.Query().Get("seconds") != "2" {
				http.NotFound(w, r)
				return
			}
			w.Write(gz)
		}, gz, ""},
		{"error status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Could not enable CPU profiling: cpu profiling already in use", http.StatusInternalServerError)
		}, nil, "500 Internal Server Error: Could not enable CPU profiling"},
		{"not a profile", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>"))
		}, nil, "not a profile: <html>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			got, err := fetchProfile(t.Context(), srv.URL, 2)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("fetchProfile = %v; want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("fetchProfile = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestFetchProfileUnreachable(t *testing.T) {
	t.Parallel()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := startProfile(t.Context(), addr, 1).wait()
	if p.Err == "" || p.Data != nil || p.Seconds != 1 {
		t.Errorf("profile from nobody = %+v; want an error", p)
	}
}

func TestProfilesSection(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"--profile-dir", "/tmp/profiles"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	summary := &profileSummary{CPU: 3 * time.Second, Top: []profileEntry{{"syscall.write (system call)", 0.3, 0.3}}}
	rep := &report{Opts: o, Machine: machine{Cores: 2}, Rows: []*row{
		{Scenario: "client_credentials", Backend: "sqlite", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)},
			Profile: &cpuProfile{Seconds: 2, Summary: summary}},
		{Scenario: "pending_poll", Backend: "sqlite", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)},
			Profile: &cpuProfile{Seconds: 2, Err: "fetch CPU profile: 500 Internal Server Error: busy"}},
		{Scenario: "refresh", Backend: "sqlite", Target: 0.15, Skip: "setup failed: no"},
	}}
	md := rep.markdown()
	results, profiles, scenarios := strings.Index(md, "## Results"), strings.Index(md, "## Profiles"), strings.Index(md, "## Scenarios")
	if results < 0 || !(results < profiles && profiles < scenarios) {
		t.Fatalf("want Results, Profiles, Scenarios in that order:\n%s", md)
	}
	section := md[profiles:scenarios]
	for _, want := range []string{
		"`/tmp/profiles`",
		"### client_credentials (sqlite)\n\n3.00 s of CPU sampled in 2 s: 1.50 of 2 cores busy on average.\n\n| function | flat% | cum% |",
		"| `syscall.write (system call)` | 30.0 | 30.0 |",
		"### pending_poll (sqlite)\n\nNo profile: fetch CPU profile: 500 Internal Server Error: busy\n",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("Profiles section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "refresh") {
		t.Errorf("Profiles section lists the skipped scenario:\n%s", section)
	}
	if !strings.Contains(md, "`/debug/pprof/profile?seconds=10`") {
		t.Errorf("Method does not say how profiles are taken:\n%s", md)
	}
	text := rep.text()
	for _, want := range []string{
		"client_credentials (sqlite) profile: syscall.write (system call) 30.0%\n",
		"pending_poll (sqlite) profile: none: fetch CPU profile: 500 Internal Server Error: busy\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	rep.Opts.profiles = false
	if md := rep.markdown(); strings.Contains(md, "## Profiles") || strings.Contains(md, "pprof") {
		t.Errorf("with --profiles=false the report still mentions profiles:\n%s", md)
	}
}

func TestProfileOptions(t *testing.T) {
	t.Parallel()
	if _, err := parseOptions([]string{"--profiles=false", "--profile-dir", "x"}, &bytes.Buffer{}); err == nil {
		t.Error("--profile-dir with --profiles=false: want an error")
	}
	o, err := parseOptions(nil, &bytes.Buffer{})
	if err != nil || !o.profiles || o.profileDir != "" {
		t.Errorf("defaults: profiles %v, profile-dir %q, %v; want on, none", o.profiles, o.profileDir, err)
	}
}

func TestProfileGroupHas(t *testing.T) {
	t.Parallel()
	group := func(prefix string) profileGroup {
		for _, g := range profileGroups {
			if strings.HasPrefix(g.Name, prefix) {
				return g
			}
		}
		t.Fatalf("no group %q", prefix)
		return profileGroup{}
	}
	ecdsa, calls := group("ECDSA"), group("system calls")
	for _, tt := range []struct {
		g    profileGroup
		fn   string
		want bool
	}{
		{ecdsa, "crypto/ecdsa.SignASN1", true},
		{ecdsa, "crypto/internal/fips140/nistec/fiat.p256Mul", true},
		{ecdsa, "p256MulInternal", true}, // assembly, no package
		{ecdsa, "crypto/internal/fips140/sha512.blockAVX2", false},
		{calls, "runtime.read", true},
		{calls, "runtime.readgstatus", false}, // exact names are not prefixes
		{calls, "internal/runtime/syscall/linux.Syscall6", true},
	} {
		if got := tt.g.has(tt.fn); got != tt.want {
			t.Errorf("%s has %s = %v; want %v", tt.g.Name, tt.fn, got, tt.want)
		}
	}
}
