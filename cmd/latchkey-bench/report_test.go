package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 100", hundred, 50, 50 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"a tiny p is the minimum", hundred, 0.001, time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v; want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"odd, unsorted", []float64{30, 10, 20}, 20},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	var w window
	if got := w.overlap(at(0), at(5)); got != 0 {
		t.Errorf("before the window starts: overlap = %v; want 0", got)
	}
	w.start.Store(at(10).UnixNano())
	if got := w.overlap(at(8), at(13)); got != 3*time.Second {
		t.Errorf("across the start: overlap = %v; want 3s", got)
	}
	w.end.Store(at(20).UnixNano())
	if got := w.overlap(at(18), at(25)); got != 2*time.Second {
		t.Errorf("across the end: overlap = %v; want 2s", got)
	}
	if got := w.overlap(at(21), at(25)); got != 0 {
		t.Errorf("after the end: overlap = %v; want 0", got)
	}
}

// fakeRun returns a result of n requests with latencies 1..n ms over one second.
func fakeRun(n, errors int) *result {
	r := &result{Requests: n, Errors: errors, Elapsed: time.Second, Labels: map[string]int{"400 authorization_pending": n}}
	for i := range n {
		r.Latencies = append(r.Latencies, time.Duration(i+1)*time.Millisecond)
	}
	return r
}

func TestRowCells(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		row  row
		want []string
	}{
		{
			name: "met",
			row: row{Scenario: "pending_poll", Backend: "sqlite", Target: 0.40,
				Base:     []*result{fakeRun(1000, 0), fakeRun(1200, 0), fakeRun(1100, 0)},
				Latchkey: []*result{fakeRun(500, 1), fakeRun(400, 0), fakeRun(600, 2)}},
			want: []string{"pending_poll", "sqlite", "500", "1100", "0.45", "250.00 ms", "585.00 ms", "3", "≥ 0.40 met"},
		},
		{
			name: "missed",
			row: row{Scenario: "refresh", Backend: "postgres", Target: 0.15,
				Base: []*result{fakeRun(1000, 0)}, Latchkey: []*result{fakeRun(100, 0)}},
			want: []string{"refresh", "postgres", "100", "1000", "0.10", "50.00 ms", "99.00 ms", "0", "≥ 0.15 missed"},
		},
		{
			name: "no target",
			row:  row{Scenario: "jwks", Backend: "sqlite", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)}},
			want: []string{"jwks", "sqlite", "9", "10", "0.90", "5.00 ms", "9.00 ms", "0", "—"},
		},
		{
			name: "not implemented",
			row:  row{Scenario: "client_credentials", Backend: "sqlite", Target: 0.40, Skip: "not implemented yet"},
			want: []string{"client_credentials", "sqlite", "—", "—", "—", "—", "—", "—", "≥ 0.40 not implemented yet"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.row.cells()); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRowNotes(t *testing.T) {
	t.Parallel()
	lk := fakeRun(4, 1)
	lk.Labels = map[string]int{"400 authorization_pending": 3, "400 slow_down": 1}
	lk.FirstErr = `400 slow_down: {"error":"slow_down"}`
	lk.Workers, lk.Waited = 2, time.Second // half of 2 workers x 1 s
	r := row{Scenario: "pending_poll", Backend: "sqlite", Base: []*result{fakeRun(10, 2)}, Latchkey: []*result{lk}}
	want := []string{
		"answers: 400 authorization_pending 75.00%, 400 slow_down 25.00%",
		`first wrong answer: 400 slow_down: {"error":"slow_down"}`,
		"workers spent up to 50% of their time waiting for a code's interval: the rate is capped by --live-codes, not by the server",
		"the baseline had 2 errors",
	}
	if diff := cmp.Diff(want, r.notes()); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestMarkdownTable(t *testing.T) {
	t.Parallel()
	got := markdownTable([]string{"a", "b"}, [][]string{{"1", "2"}, {"x", "≥ 0.40 met"}})
	want := strings.Join([]string{
		"| a | b |",
		"| --- | --- |",
		"| 1 | 2 |",
		"| x | ≥ 0.40 met |",
		"",
	}, "\n")
	if got != want {
		t.Errorf("markdownTable:\n%s\nwant:\n%s", got, want)
	}
}

func TestTextTableAligns(t *testing.T) {
	t.Parallel()
	rep := &report{Rows: []*row{
		{Scenario: "jwks", Backend: "sqlite", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)}},
		{Scenario: "client_credentials", Backend: "postgres", Target: 0.3, Skip: "not implemented yet"},
	}}
	lines := strings.Split(rep.text(), "\n")
	if len(lines) < 3 {
		t.Fatalf("text() = %q; want a header and two rows", rep.text())
	}
	// Every column starts where the header's does.
	col := strings.Index(lines[0], "backend")
	for _, l := range lines[1:3] {
		if got := strings.IndexAny(l[col:col+1], "sp"); got != 0 {
			t.Errorf("row %q: backend column not at %d", l, col)
		}
	}
}

func TestJSONString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body, member, want string
	}{
		{"error code", `{"error":"slow_down","error_description":"polling too fast"}`, "error", "slow_down"},
		{"member that is a prefix of another", `{"error_description":"x","error":"invalid_grant"}`, "error", "invalid_grant"},
		{"absent", `{"access_token":"a"}`, "refresh_token", ""},
		{"not a string", `{"interval":5}`, "interval", ""},
		{"cut short", `{"error":"slow`, "error", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonString([]byte(tt.body), tt.member); got != tt.want {
				t.Errorf("jsonString(%s, %q) = %q; want %q", tt.body, tt.member, got, tt.want)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	t.Parallel()
	status := []byte("Name:\tlatchkey\nVmHWM:\t   61234 kB\nVmRSS:\t   36800 kB\nThreads:\t7\n")
	if got := statusKB(status, "VmRSS:"); got != 36800 {
		t.Errorf("VmRSS = %d; want 36800", got)
	}
	if got := statusKB(status, "VmHWM:"); got != 61234 {
		t.Errorf("VmHWM = %d; want 61234", got)
	}
	if got := statusKB(status, "VmSwap:"); got != 0 {
		t.Errorf("VmSwap = %d; want 0", got)
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"},
		{"postgres://bench:s3cret@db:5432/x", "postgres://bench:REDACTED@db:5432/x"},
		{"--duration", "--duration"},
	} {
		if got := redactDSN(tt.in); got != tt.want {
			t.Errorf("redactDSN(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestAlgComparison: a scenario measured with both algorithms on a backend
// gets a row of RS256's rate beside ES256's, and the row's backend names
// its algorithm.
func TestAlgComparison(t *testing.T) {
	t.Parallel()
	rep := &report{Opts: &options{algs: []string{"ES256", "RS256"}}, Rows: []*row{
		{Scenario: "refresh", Backend: "sqlite", Alg: "ES256", Base: []*result{fakeRun(1000, 0)}, Latchkey: []*result{fakeRun(400, 0)}},
		{Scenario: "refresh", Backend: "sqlite", Alg: "RS256", Base: []*result{fakeRun(1000, 0)}, Latchkey: []*result{fakeRun(100, 0)}},
		{Scenario: "jwks", Backend: "sqlite", Alg: "ES256", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)}},
		{Scenario: "refresh", Backend: "postgres", Alg: "RS256", Skip: "setup failed: x"},
		{Scenario: "refresh", Backend: "postgres", Alg: "ES256", Base: []*result{fakeRun(10, 0)}, Latchkey: []*result{fakeRun(9, 0)}},
	}}
	want := [][]string{{"refresh", "sqlite", "100", "400", "0.25"}}
	if diff := cmp.Diff(want, rep.algComparison()); diff != "" {
		t.Errorf("algComparison (-want +got):\n%s", diff)
	}
	if got := rep.Rows[1].cells()[1]; got != "sqlite-RS256" {
		t.Errorf("backend cell = %q; want sqlite-RS256", got)
	}
	if !strings.Contains(rep.text(), "refresh (sqlite): RS256 100 req/s, ES256 400 req/s: RS256/ES256 0.25") {
		t.Errorf("text lacks the comparison:\n%s", rep.text())
	}
}

func TestAlgsOption(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		arg     string
		want    []string
		wantErr string
	}{
		{"", []string{"ES256"}, ""},
		{"ES256,RS256", []string{"ES256", "RS256"}, ""},
		{" RS256 ", []string{"RS256"}, ""},
		{"HS256", nil, `unknown algorithm "HS256"`},
		{"RS256,RS256", nil, "names RS256 twice"},
		{",", nil, "names none"},
	} {
		args := []string{}
		if tt.arg != "" {
			args = []string{"--algs", tt.arg}
		}
		o, err := parseOptions(args, &bytes.Buffer{})
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("--algs %q: %v; want %q", tt.arg, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !slices.Equal(o.algs, tt.want)):
			t.Errorf("--algs %q: %v, %v; want %v", tt.arg, o, err, tt.want)
		}
	}
}
