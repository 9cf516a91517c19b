package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// parallelism is goroutines per CPU in the benchmarks: a server has many
// requests in flight at once, and the SQLite backend's group commit only
// shows under such load.
const parallelism = 16

// Bench measures the store operations on Latchkey's hot paths, the same way
// on every backend: `go test -bench . ./internal/store/...`. The figures
// are for the backend alone; cmd/latchkey-bench measures whole requests.
func Bench(b *testing.B, open func(testing.TB) store.Store) {
	b.Run("GetClient", func(b *testing.B) {
		s := open(b)
		c := newClient("bench-client", true)
		if err := s.CreateClient(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer() // the setup above is not the operation
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(b.Context(), c.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CreateDeviceAuth", func(b *testing.B) {
		s := open(b)
		c := newClient("bench-client", true)
		if err := s.CreateClient(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer() // the setup above is not the operation
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a := newDeviceAuth(c, int(n.Add(1)))
				a.ExpiresAt = time.Now().Add(time.Hour)
				if err := s.CreateDeviceAuth(b.Context(), a); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// A pending poll: every poll finds its code pending and on time. The
	// codes are many and polled round-robin an interval apart (the clock is
	// advanced, not waited for).
	b.Run("PollDeviceAuth/pending", func(b *testing.B) {
		s := open(b)
		c := newClient("bench-client", true)
		if err := s.CreateClient(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		const codes = 1000
		for i := range codes {
			a := newDeviceAuth(c, i)
			a.ExpiresAt = t0.Add(1000 * time.Hour)
			if err := s.CreateDeviceAuth(b.Context(), a); err != nil {
				b.Fatal(err)
			}
		}
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer() // the setup above is not the operation
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				now := t0.Add(time.Duration(i/codes+1) * 6 * time.Second)
				res, err := s.PollDeviceAuth(b.Context(), fmt.Sprintf("device-code-hash-%d", i%codes), c.ID, true, now)
				if err != nil {
					b.Error(err)
					return
				}
				if res.Outcome != store.PollPending && res.Outcome != store.PollSlowDown {
					b.Errorf("outcome %s", res.Outcome)
					return
				}
			}
		})
	})
	b.Run("Hit", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		b.ResetTimer() // the setup above is not the operation
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Hit(b.Context(), "bench", t0, t0.Add(time.Hour)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// A refresh's store work: rotate the token, reading its family. Each goroutine rotates a chain of its own, as each device
	// holds its own.
	b.Run("Refresh", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		if err := s.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateClient(ctx, newClient("app", false)); err != nil {
			b.Fatal(err)
		}
		var chains, tokens atomic.Int64
		b.ReportAllocs()
		b.ResetTimer() // the setup above is not the operation
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			g := newGrant(fmt.Sprint("g-", chains.Add(1)), "ada", "app", t0)
			first := newRefreshToken(fmt.Sprint("rt-", tokens.Add(1)), g.ID, t0.Add(24*time.Hour))
			cur := first.Hash
			if err := s.CreateGrant(ctx, g); err != nil {
				b.Error(err)
				return
			}
			if err := s.CreateRefreshToken(ctx, first); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				next := fmt.Sprint("rt-", tokens.Add(1))
				if _, err := s.RotateRefreshToken(ctx, cur, next, t0.Add(time.Hour), t0.Add(time.Minute), allow); err != nil {
					b.Error(err)
					return
				}
				cur = next
			}
		})
	})
}

// ScaleLive are the numbers of live device codes PollScale is run with.
var ScaleLive = []int{1_000, 1_000_000}

// PollScale measures on-time pending polls spread over live device codes:
// the backends' BenchmarkPollScale, so that the figure among a thousand
// codes and among a million can be compared. It creates the public client
// "tv" in s, then has load put live pending codes into s in bulk (the
// store's own inserts would take minutes for a million and measure nothing
// new): device code hashes "dc-0", "dc-1"…, user code hashes "uc-0"…, for
// client tv, public, scope openid, a 5 s interval, created at created and
// expiring at expires. The timer stops when the polls are done.
func PollScale(b *testing.B, s store.Store, live int, load func(created, expires time.Time)) {
	ctx := b.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthNone, GrantTypes: []string{store.GrantDeviceCode},
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	load(t0, t0.Add(1000*time.Hour))
	var n atomic.Int64
	b.ResetTimer()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			// Spread over the codes; each on time (6 s after its last poll).
			code := fmt.Sprintf("dc-%d", (i*7919)%int64(live))
			now := t0.Add(time.Duration(i/int64(live)+1) * 6 * time.Second)
			res, err := s.PollDeviceAuth(ctx, code, "tv", true, now)
			if err != nil {
				b.Error(err)
				return
			}
			if res.Outcome != store.PollPending {
				b.Errorf("outcome %s", res.Outcome)
				return
			}
		}
	})
	b.StopTimer()
}
