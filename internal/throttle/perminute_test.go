package throttle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/throttle"
)

// TestPerMinuteAlone: one instance decides exactly at its limit, however
// its counts are batched; the refusals carry the time to the minute's end.
func TestPerMinuteAlone(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{1, 3, 31, 32, 100, 1000} {
		st := sqlitetest.Open(t)
		p := &throttle.PerMinute{Store: st, Limit: limit}
		at := t0.Add(15 * time.Second)
		served := 0
		for range limit + 20 {
			ok, retry, err := p.Take(t.Context(), "token:client:tv", at)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				served++
			} else if retry != 45*time.Second {
				t.Errorf("limit %d: retry %v 15 s into the minute; want 45s", limit, retry)
			}
		}
		if served != limit {
			t.Errorf("limit %d: served %d of %d", limit, served, limit+20)
		}
		// The next minute starts from nothing.
		if ok, _, err := p.Take(t.Context(), "token:client:tv", t0.Add(time.Minute)); !ok || err != nil {
			t.Errorf("limit %d: the next minute: %v, %v", limit, ok, err)
		}
	}
}

// TestPerMinuteBatches: far from its limit an instance counts alone and
// adds its count to the store at the next Flush, or in the request once a
// batch is counted; what a failed add held is added by the next Flush.
func TestPerMinuteBatches(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	flaky := &failingAdder{Adder: st}
	p := &throttle.PerMinute{Store: flaky, Limit: 3200} // batches of 100
	ctx := t.Context()
	stored := func() int {
		t.Helper()
		n, err := st.Count(ctx, "k", t0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	take := func(n int) {
		t.Helper()
		for range n {
			if ok, _, err := p.Take(ctx, "k", t0.Add(time.Second)); !ok || err != nil {
				t.Fatalf("Take: %v, %v", ok, err)
			}
		}
	}
	take(40)
	if got := stored(); got != 0 {
		t.Errorf("before a flush the store counts %d; want 0", got)
	}
	if err := p.Flush(ctx, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != 40 {
		t.Errorf("after a flush the store counts %d; want 40", got)
	}
	take(100) // the hundredth adds the batch in the request
	if got := stored(); got != 140 {
		t.Errorf("after a batch the store counts %d; want 140", got)
	}
	take(5)
	flaky.fail = true
	if err := p.Flush(ctx, t0.Add(3*time.Second)); err == nil {
		t.Error("Flush with the store failing: no error")
	}
	flaky.fail = false
	if err := p.Flush(ctx, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != 145 {
		t.Errorf("after a failed flush and a good one the store counts %d; want 145", got)
	}
	// A request whose add fails is an error, and is not counted.
	take(99)
	flaky.fail = true
	if _, _, err := p.Take(ctx, "k", t0.Add(5*time.Second)); err == nil {
		t.Error("Take adding a batch with the store failing: no error")
	}
	flaky.fail = false
	if err := p.Flush(ctx, t0.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != 244 {
		t.Errorf("after a failed batch the store counts %d; want 244 (the 99 let through)", got)
	}
}

// TestPerMinuteSeesOthers: an instance near the limit by what others
// added decides on the store's count at once.
func TestPerMinuteSeesOthers(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	a := &throttle.PerMinute{Store: st, Limit: 320}
	b := &throttle.PerMinute{Store: st, Limit: 320}
	ctx := t.Context()
	for range 320 {
		if ok, _, err := a.Take(ctx, "k", t0); !ok || err != nil {
			t.Fatalf("a: %v, %v", ok, err)
		}
	}
	if err := a.Flush(ctx, t0); err != nil {
		t.Fatal(err)
	}
	// b has counted nothing; it may let a batch through before it learns.
	served := 0
	for range 20 {
		ok, _, err := b.Take(ctx, "k", t0)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			served++
		}
	}
	if batch := b.Batch(); served >= batch {
		t.Errorf("b served %d after a spent the limit; want fewer than a batch (%d)", served, batch)
	}
}

// failingAdder fails every Add while fail is set.
type failingAdder struct {
	throttle.Adder
	fail bool
}

func (f *failingAdder) Add(ctx context.Context, key string, window, until time.Time, n int) (int, error) {
	if f.fail {
		return 0, errors.New("the store is away")
	}
	return f.Adder.Add(ctx, key, window, until, n)
}
