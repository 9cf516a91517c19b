// Package throttle counts attempts in sliding windows kept in the store, so
// a limit holds across every instance and restart (docs/security.md TH-01).
// A window is made of fixed slices, each a row of the store's throttle
// table (store.ThrottleStore); the count of a key at an instant is the sum
// of the slices that began less than a window before it. A guesser
// therefore cannot double a budget by spending it on both sides of a
// boundary, as fixed windows allowed: no interval as long as the window
// ever holds more counted attempts than the limit. What a limit is, and
// what answers a caller over it, belongs to the package that owns the
// endpoint.
package throttle

import (
	"context"
	"errors"
	"time"
)

// Store is what sliding windows read and write.
type Store interface {
	Hit(ctx context.Context, key string, window, until time.Time) (int, error)
	Sum(ctx context.Context, key string, from, to time.Time) (int, error)
	Refund(ctx context.Context, key string, window time.Time) error
}

// Window is a sliding window of length Length made of Slices fixed slices.
// A budget spent at once comes back within Length plus one slice, a slice
// at a time.
type Window struct {
	Length time.Duration
	Slices int // 1 is a fixed window; 0 means DefaultSlices
}

// DefaultSlices is how many slices a window has unless it says otherwise.
const DefaultSlices = 10

// Attempt is one counted event: the key and the slice it was counted in,
// which a Refund must name.
type Attempt struct {
	Key   string
	Slice time.Time
}

func (w Window) slice() (time.Duration, error) {
	n := w.Slices
	if n <= 0 {
		n = DefaultSlices
	}
	d := w.Length / time.Duration(n)
	if d < time.Millisecond {
		return 0, errors.New("throttle: a window's slices must be at least a millisecond long")
	}
	return d, nil
}

// span returns the slice now falls in and the start of the earliest slice
// still in its window: the slices starting in [from, cur] cover at least
// Length before now, so that any interval of that length ending now is
// inside them.
func (w Window) span(now time.Time) (from, cur time.Time, slice time.Duration, err error) {
	slice, err = w.slice()
	if err != nil {
		return time.Time{}, time.Time{}, 0, err
	}
	cur = now.Truncate(slice)
	return cur.Add(-w.Length).Truncate(slice), cur, slice, nil
}

// Count returns key's attempts in the window ending at now.
func (w Window) Count(ctx context.Context, st Store, key string, now time.Time) (int, error) {
	from, cur, slice, err := w.span(now)
	if err != nil {
		return 0, err
	}
	return st.Sum(ctx, key, from, cur.Add(slice))
}

// Hit counts one attempt of key at now and returns the window's count with
// it. Concurrent hits each see a distinct count: the current slice's is
// one atomic upsert (store.ThrottleStore.Hit), and the earlier slices
// no longer grow.
func (w Window) Hit(ctx context.Context, st Store, key string, now time.Time) (int, Attempt, error) {
	from, cur, slice, err := w.span(now)
	if err != nil {
		return 0, Attempt{}, err
	}
	// The row counts until the last window that holds its slice has passed.
	n, err := st.Hit(ctx, key, cur, cur.Add(w.Length+2*slice))
	if err != nil {
		return 0, Attempt{}, err
	}
	a := Attempt{Key: key, Slice: cur}
	if from.Equal(cur) {
		return n, a, nil
	}
	before, err := st.Sum(ctx, key, from, cur)
	if err != nil {
		return 0, Attempt{}, err
	}
	return before + n, a, nil
}

// Refund takes back an attempt Hit counted, for one that turned out not to
// count (a right code, a request refused for another budget).
func Refund(ctx context.Context, st Store, a Attempt) error {
	return st.Refund(ctx, a.Key, a.Slice)
}

// RetryAfter is how long a caller over its limit at now should wait before
// trying again: until the current slice ends, when the oldest slice leaves
// the window; at least a second, in whole seconds, as Retry-After says it
// (RFC 9110 §10.2.3). A budget spent in one burst needs up to a whole
// window, a slice at a time, so a client that keeps to this waits as long
// as it must and polls no faster than a slice.
func (w Window) RetryAfter(now time.Time) time.Duration {
	_, cur, slice, err := w.span(now)
	if err != nil {
		return time.Second
	}
	d := cur.Add(slice).Sub(now)
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}
