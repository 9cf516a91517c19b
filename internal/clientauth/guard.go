package clientauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
)

// Guard bounds client-secret guessing (docs/security.md CA-05): failed
// authentications that presented a secret are counted per client id and
// per address (clientip.Addr of the context; IPv6 by /64), in sliding
// windows held in the store, so the budget holds across instances. Over a
// budget the request is refused with 429 before its secret is looked at,
// right or wrong, so a guesser learns nothing more.
//
// The per-client budget holds only addresses that have failed for some
// client in the window themselves: a guesser spending it must not lock the
// real client out (its own address has no failures), as the user-code
// budget does for people (DF-07). A nil Guard guards nothing.
//
// An address's count read from the store is trusted for Fresh, so that a
// client that authenticates rightly does not read the store each time; a
// failure's count (Hit answers the window's count, every instance's
// failures in it) replaces it at once. Another instance's failures are
// therefore seen within Fresh, or at this instance's next failure of that
// address: across N instances a guesser gets at most N−1 failures past the
// budget before each instance has seen it spent (docs/security.md CA-05).
type Guard struct {
	Store  throttle.Store
	Now    func() time.Time
	Window time.Duration // the sliding window's length
	// Failures allowed in Window per client id and per address; 0 or less
	// is no limit on that count.
	PerClient, PerIP int
	// Log receives a security event for each failure (package audit); nil
	// logs nothing.
	Log *slog.Logger
	// Fresh is how long an address's count read from the store is
	// trusted; 0 reads it for every request.
	Fresh time.Duration

	mu     sync.Mutex
	counts map[string]seenCount // by throttle key of the address
}

// seenCount is an address's failures in the window as the store counted
// them at a time.
type seenCount struct {
	n  int
	at time.Time
}

// maxSeen bounds the addresses whose counts a Guard keeps: past it, counts
// are read from the store each time until the old ones have expired.
const maxSeen = 4096

// Authenticate is Authenticate behind the guard.
func (g *Guard) Authenticate(ctx context.Context, clients Clients, creds oauth.ClientCredentials) (*store.Client, error) {
	if g == nil || creds.Secret == "" {
		// Nothing to guess: public clients and requests without a secret.
		return Authenticate(ctx, clients, creds)
	}
	now := g.Now()
	w := throttle.Window{Length: g.Window}
	ipKey := "clientauth:ip:" + clientip.ThrottleKey(clientip.Addr(ctx))
	// The client's key is needed only when the address has failed, or
	// fails now: not in the common case of a right secret.
	clientKey := func() string { return "clientauth:client:" + creds.ID }
	ipFailures, err := g.ipCount(ctx, w, ipKey, max(g.PerIP, g.PerClient), now)
	if err != nil {
		return nil, err
	}
	if g.PerIP > 0 && ipFailures >= g.PerIP {
		return nil, g.refuse(w, now)
	}
	if g.PerClient > 0 && ipFailures > 0 {
		n, err := w.Count(ctx, g.Store, clientKey(), now)
		if err != nil {
			return nil, fmt.Errorf("count client authentication failures: %w", err)
		}
		if n >= g.PerClient {
			return nil, g.refuse(w, now)
		}
	}
	c, err := Authenticate(ctx, clients, creds)
	var oe *oauth.Error
	if err == nil || !errors.As(err, &oe) || oe.Code != oauth.InvalidClient {
		return c, err
	}
	// A wrong secret, an unknown client, or the right secret sent the
	// wrong way (which only its holder can send, but counting it costs the
	// holder nothing it would not fix at once).
	secevent.Log(ctx, g.Log, secevent.Event{Name: secevent.ClientAuth, Outcome: secevent.Failure, ClientID: creds.ID, Reason: "wrong client secret or unknown client"})
	for _, key := range []string{ipKey, clientKey()} {
		n, _, herr := w.Hit(ctx, g.Store, key, now)
		if herr != nil {
			return nil, fmt.Errorf("count client authentication failure: %w", herr)
		}
		if key == ipKey {
			g.remember(ipKey, n, now)
		}
	}
	return nil, err
}

// ipCount is count for an address, from what was read or counted within
// Fresh when there is such a count.
func (g *Guard) ipCount(ctx context.Context, w throttle.Window, key string, limit int, now time.Time) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	if g.Fresh > 0 {
		g.mu.Lock()
		c, ok := g.counts[key]
		g.mu.Unlock()
		if age := now.Sub(c.at); ok && age >= 0 && age < g.Fresh {
			return c.n, nil
		}
	}
	n, err := g.count(ctx, w, key, limit, now)
	if err != nil {
		return 0, err
	}
	g.remember(key, n, now)
	return n, nil
}

// remember keeps key's count n as of now, for Fresh.
func (g *Guard) remember(key string, n int, now time.Time) {
	if g.Fresh <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counts == nil {
		g.counts = make(map[string]seenCount)
	}
	if _, ok := g.counts[key]; !ok && len(g.counts) >= maxSeen {
		for k, c := range g.counts {
			if age := now.Sub(c.at); age < 0 || age >= g.Fresh {
				delete(g.counts, k)
			}
		}
		if len(g.counts) >= maxSeen {
			return
		}
	}
	if c, ok := g.counts[key]; ok && c.at.After(now) {
		return // a later count is already kept
	}
	g.counts[key] = seenCount{n, now}
}

// count reads key's failures when limit is a limit.
func (g *Guard) count(ctx context.Context, w throttle.Window, key string, limit int, now time.Time) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n, err := w.Count(ctx, g.Store, key, now)
	if err != nil {
		return 0, fmt.Errorf("count client authentication failures: %w", err)
	}
	return n, nil
}

// refuse is the answer over a budget: 429 with Retry-After, the error code
// the token endpoint already uses for "too fast" (RFC 8628 §3.5 slow_down).
func (g *Guard) refuse(w throttle.Window, now time.Time) error {
	return &oauth.Error{Code: oauth.SlowDown, Description: "too many failed client authentications; try again later",
		Status: http.StatusTooManyRequests, RetryAfter: int(w.RetryAfter(now) / time.Second)}
}
