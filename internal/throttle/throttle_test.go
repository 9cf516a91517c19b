package throttle_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/throttle"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestNoDoublingAcrossABoundary: a budget spent just before a slice
// boundary is still spent just after it; it comes back a slice at a time,
// a whole window after each slice was spent, so no interval of the window's
// length ever holds more hits than the count says.
func TestNoDoublingAcrossABoundary(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	ctx := t.Context()
	w := throttle.Window{Length: 10 * time.Minute, Slices: 10}
	hit := func(at time.Duration) int {
		t.Helper()
		n, _, err := w.Hit(ctx, st, "k", t0.Add(at))
		if err != nil {
			t.Fatalf("Hit: %v", err)
		}
		return n
	}
	count := func(at time.Duration) int {
		t.Helper()
		n, err := w.Count(ctx, st, "k", t0.Add(at))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		return n
	}
	// Five just before the ten-minute mark, which fixed windows of ten
	// minutes would have forgotten a second later.
	for i := range 5 {
		if got := hit(10*time.Minute - time.Second); got != i+1 {
			t.Fatalf("hit %d = %d", i+1, got)
		}
	}
	for _, tt := range []struct {
		name string
		at   time.Duration
		want int
	}{
		{"a second after the boundary", 10*time.Minute + time.Second, 5},
		{"nine minutes on", 18*time.Minute + 59*time.Second, 5},
		{"ten minutes on, the slice not yet over", 19*time.Minute + 59*time.Second, 5},
		{"once the slice has left the window", 20 * time.Minute, 0},
	} {
		if got := count(tt.at); got != tt.want {
			t.Errorf("%s: Count = %d; want %d", tt.name, got, tt.want)
		}
	}
	if got := hit(10*time.Minute + time.Second); got != 6 {
		t.Errorf("a hit after the boundary = %d; want 6 (the five before it count)", got)
	}
	if got := hit(20*time.Minute + time.Second); got != 2 {
		t.Errorf("a hit a window and a slice later = %d; want 2 (the five of 9:59 have left, the one of 10:01 still counts)", got)
	}
}

// TestRefund: a refunded attempt leaves its slice, and only its own key's.
func TestRefund(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	ctx := t.Context()
	w := throttle.Window{Length: time.Minute, Slices: 6}
	var last throttle.Attempt
	for range 3 {
		_, a, err := w.Hit(ctx, st, "k", t0.Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		last = a
	}
	if _, _, err := w.Hit(ctx, st, "other", t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The refund comes in a later slice; it takes back from the one it was counted in.
	if err := throttle.Refund(ctx, st, last); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"k": 2, "other": 1} {
		if n, err := w.Count(ctx, st, key, t0.Add(15*time.Second)); err != nil || n != want {
			t.Errorf("Count(%s) after a refund = %d, %v; want %d", key, n, err, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	w := throttle.Window{Length: 10 * time.Minute, Slices: 10}
	for _, tt := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, time.Minute},
		{time.Second, 59 * time.Second},
		{59*time.Second + 100*time.Millisecond, time.Second},
		{59*time.Second + 999*time.Millisecond, time.Second},
		{58*time.Second + 500*time.Millisecond, 2 * time.Second},
	} {
		if got := w.RetryAfter(t0.Add(tt.at)); got != tt.want {
			t.Errorf("RetryAfter(+%v) = %v; want %v", tt.at, got, tt.want)
		}
	}
	if got := (throttle.Window{Length: time.Nanosecond}).RetryAfter(t0); got != time.Second {
		t.Errorf("RetryAfter of a window too short to slice = %v; want 1s", got)
	}
}

func TestWindowTooShort(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	if _, _, err := (throttle.Window{Length: time.Millisecond, Slices: 10}).Hit(t.Context(), st, "k", t0); err == nil {
		t.Error("Hit with sub-millisecond slices succeeded; want an error")
	}
}
