package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Adder adds counted events to fixed windows in the store
// (store.ThrottleStore.Add).
type Adder interface {
	Add(ctx context.Context, key string, window, until time.Time, n int) (int, error)
}

// PerMinute is a rate limit: Limit requests under a key in each minute of
// the clock, in fixed windows (a rate limit only has to keep a caller to
// about its rate, where a guessing budget needs a sliding Window). The
// windows are rows of the store, shared by every instance, but a request
// does not wait for the store: each instance counts its own requests and
// adds them to the row in one upsert (Adder) every FlushEvery (Run), and
// at once, in the request, when the count it knows comes near the limit.
//
// What a caller can get past the limit in a minute, across N instances, is
// at most N × Batch: an instance decides alone only while what it has not
// yet added is under Batch and the count it knows plus that is at least
// Batch under the limit; otherwise it adds and decides on the store's
// count. Counts only grow within a window, so an instance that has learnt
// the window is near the limit stays exact for the rest of it, and one
// instance alone is exact (docs/security.md TH-02).
//
// A nil *PerMinute, or a Limit of 0 or less, is no limit.
type PerMinute struct {
	Store Adder
	Limit int
	// Log receives the errors of Run's adds (nil: none are logged).
	Log *slog.Logger

	mu     sync.Mutex
	counts map[windowKey]*localCount
}

// FlushEvery is how often Run adds each instance's counts to the store.
const FlushEvery = 100 * time.Millisecond

type windowKey struct {
	key    string
	window int64 // unix milliseconds of the minute
}

// localCount is one key's minute as this instance knows it.
type localCount struct {
	known    int // the store's count, as of the last add
	inflight int // requests being added now
	pending  int // requests counted here and not yet added
}

// Batch is how many requests an instance counts alone before it adds them
// to the store in the request: a thirty-second of the limit, at least one.
func (p *PerMinute) Batch() int {
	return max(1, p.Limit/32)
}

// Take counts one request under key at now and reports whether it is
// within the limit; when it is not, retry is how long until the window
// ends, in whole seconds, at least one.
func (p *PerMinute) Take(ctx context.Context, key string, now time.Time) (ok bool, retry time.Duration, err error) {
	if p == nil || p.Limit <= 0 {
		return true, 0, nil
	}
	window := now.Truncate(time.Minute)
	wk := windowKey{key, window.UnixMilli()}
	batch := p.Batch()

	p.mu.Lock()
	if p.counts == nil {
		p.counts = make(map[windowKey]*localCount)
	}
	c := p.counts[wk]
	if c == nil {
		c = &localCount{}
		p.counts[wk] = c
	}
	c.pending++
	// All this instance has counted, some of it perhaps counted twice
	// while an add is on its way (known may hold it already).
	seen := c.known + c.inflight + c.pending
	if c.inflight == 0 && seen > p.Limit {
		// Over on what the store held at the last add and what was
		// counted here since: over. Still counted, as every request is,
		// for the instances that do not know it yet.
		p.mu.Unlock()
		return false, retryAfter(window, now), nil
	}
	if c.pending < batch && seen <= p.Limit-batch {
		p.mu.Unlock()
		return true, 0, nil
	}
	// Near the limit, or a batch's worth counted alone: add them now and
	// decide on the store's count, this request the last of them.
	n := c.pending
	c.pending, c.inflight = 0, c.inflight+n
	p.mu.Unlock()

	total, err := p.Store.Add(ctx, key, window, window.Add(2*time.Minute), n)

	p.mu.Lock()
	c.inflight -= n
	if err != nil {
		c.pending += n - 1 // the others were let through; this one fails
		p.mu.Unlock()
		return false, 0, err
	}
	c.known = max(c.known, total)
	p.mu.Unlock()
	if total <= p.Limit {
		return true, 0, nil
	}
	return false, retryAfter(window, now), nil
}

// retryAfter is the time until window's minute ends, in whole seconds, at
// least one.
func retryAfter(window, now time.Time) time.Duration {
	d := window.Add(time.Minute).Sub(now)
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// Flush adds what this instance has counted and not yet added to the
// store, and forgets the windows that ended before now with nothing left
// to add. An add that fails is kept for the next Flush, and the first
// error is returned.
func (p *PerMinute) Flush(ctx context.Context, now time.Time) error {
	if p == nil || p.Limit <= 0 {
		return nil
	}
	type add struct {
		wk windowKey
		c  *localCount
		n  int
	}
	var adds []add
	p.mu.Lock()
	for wk, c := range p.counts {
		switch {
		case c.pending > 0:
			adds = append(adds, add{wk, c, c.pending})
			c.pending, c.inflight = 0, c.inflight+c.pending
		case c.inflight == 0 && wk.window+time.Minute.Milliseconds() <= now.UnixMilli():
			delete(p.counts, wk)
		}
	}
	p.mu.Unlock()

	var first error
	for _, a := range adds {
		window := time.UnixMilli(a.wk.window)
		total, err := p.Store.Add(ctx, a.wk.key, window, window.Add(2*time.Minute), a.n)
		p.mu.Lock()
		a.c.inflight -= a.n
		if err != nil {
			a.c.pending += a.n
		} else {
			a.c.known = max(a.c.known, total)
		}
		p.mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Run flushes every FlushEvery until ctx is done, and once more then, so
// that what was counted reaches the store before the instance stops.
func (p *PerMinute) Run(ctx context.Context, now func() time.Time) {
	if p == nil || p.Limit <= 0 {
		return
	}
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The store is usually still open while the server shuts
			// down; give the last add a moment of its own. It is a best
			// effort, and says nothing when the store has gone first.
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = p.Flush(last, now())
			cancel()
			return
		case <-t.C:
			if err := p.Flush(ctx, now()); ctx.Err() == nil {
				p.logErr(err)
			}
		}
	}
}

func (p *PerMinute) logErr(err error) {
	if err != nil && p.Log != nil {
		p.Log.Warn("rate limit counts not yet added to the store; kept for the next try", "err", err)
	}
}
