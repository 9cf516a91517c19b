package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// sameSet returns n device code hashes that share one of p's sets.
func sameSet(t *testing.T, p *pollBook, n int) []string {
	t.Helper()
	want := p.set(p.key("code-0"))
	hashes := []string{"code-0"}
	for i := 1; len(hashes) < n; i++ {
		if i > 100*pollSets*n {
			t.Fatal("no codes found that share a set")
		}
		h := fmt.Sprint("code-", i)
		if p.set(p.key(h)) == want {
			hashes = append(hashes, h)
		}
	}
	return hashes
}

// TestPollBookFull: when more codes poll than a set holds, the one polled
// longest ago is forgotten, so its next poll counts as its first (pending,
// never slow_down, at the interval it was issued with), while a code that
// polls too fast keeps its entry and is slowed down.
func TestPollBookFull(t *testing.T) {
	t.Parallel()
	p := newPollBook()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	hashes := sameSet(t, p, pollWays+2)
	auth := func(h string) *store.DeviceAuth {
		return &store.DeviceAuth{DeviceCodeHash: h, Status: store.DevicePending, Interval: 5 * time.Second, ExpiresAt: at(time.Hour)}
	}
	poll := func(h string, d time.Duration) (string, *store.DeviceAuth) {
		a := auth(h)
		return p.poll(a, at(d)), a
	}

	fast, slow := hashes[0], hashes[1]
	if got, _ := poll(slow, 0); got != store.PollPending {
		t.Fatalf("slow code's first poll = %q, want pending", got)
	}
	shown := auth(slow)
	p.show(shown)
	if !shown.LastPollAt.Equal(t0) {
		t.Fatalf("slow code shows last poll %v, want %v", shown.LastPollAt, t0)
	}
	if got, _ := poll(fast, time.Second); got != store.PollPending {
		t.Fatalf("fast code's first poll = %q, want pending", got)
	}
	if got, a := poll(fast, 2*time.Second); got != store.PollSlowDown || a.Interval != 10*time.Second {
		t.Fatalf("fast code's second poll = %q, interval %v; want slow_down, 10s", got, a.Interval)
	}
	// pollWays more codes come in, one a second, and the fast code polls
	// between them: the slow code, polled longest ago, makes room.
	for i, h := range hashes[2:] {
		d := time.Duration(3+i) * time.Second
		if got, _ := poll(h, d); got != store.PollPending {
			t.Fatalf("code %d's first poll = %q, want pending", i+2, got)
		}
		if got, _ := poll(fast, d); got != store.PollSlowDown {
			t.Fatalf("fast code's poll at %v = %q, want slow_down", d, got)
		}
	}
	shown = auth(slow)
	p.show(shown)
	if !shown.LastPollAt.IsZero() || shown.Interval != 5*time.Second {
		t.Errorf("forgotten slow code shows last poll %v, interval %v; want none, 5s", shown.LastPollAt, shown.Interval)
	}
	// One second after its last poll, far too soon, but forgotten: pending.
	if got, a := poll(slow, time.Second); got != store.PollPending || a.Interval != 5*time.Second {
		t.Errorf("forgotten code's poll = %q, interval %v; want pending, 5s", got, a.Interval)
	}
	shown = auth(fast)
	p.show(shown)
	if want := 10*time.Second + time.Duration(len(hashes)-2)*store.SlowDownStep; shown.Interval != want {
		t.Errorf("fast code's interval = %v, want %v", shown.Interval, want)
	}
}

// TestPollBookMemory: recording a poll allocates nothing, so however many
// codes poll, the book stays the size it was made; with four times as many
// codes as entries, nearly every entry is in use.
func TestPollBookMemory(t *testing.T) {
	p := newPollBook()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hashes := make([]string, 4*pollSets*pollWays)
	for i := range hashes {
		hashes[i] = fmt.Sprint("code-", i)
	}
	a := &store.DeviceAuth{Status: store.DevicePending, Interval: 5 * time.Second, ExpiresAt: t0.Add(time.Hour)}
	i := 0
	allocs := testing.AllocsPerRun(len(hashes)-1, func() {
		a.DeviceCodeHash = hashes[i]
		p.poll(a, t0)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per poll, want 0", allocs)
	}
	full := 0
	for i := range p.sets {
		for _, e := range p.sets[i].entries {
			if e.key != 0 {
				full++
			}
		}
	}
	if full < pollSets*pollWays*99/100 {
		t.Errorf("%d of %d entries in use after %d codes", full, pollSets*pollWays, len(hashes))
	}
}
