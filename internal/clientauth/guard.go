package clientauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
}

// Authenticate is Authenticate behind the guard.
func (g *Guard) Authenticate(ctx context.Context, clients Clients, creds oauth.ClientCredentials) (*store.Client, error) {
	if g == nil || creds.Secret == "" {
		// Nothing to guess: public clients and requests without a secret.
		return Authenticate(ctx, clients, creds)
	}
	now := g.Now()
	w := throttle.Window{Length: g.Window}
	ipKey := "clientauth:ip:" + clientip.ThrottleKey(clientip.Addr(ctx))
	clientKey := "clientauth:client:" + creds.ID
	ipFailures, err := g.count(ctx, w, ipKey, max(g.PerIP, g.PerClient), now)
	if err != nil {
		return nil, err
	}
	if g.PerIP > 0 && ipFailures >= g.PerIP {
		return nil, g.refuse(w, now)
	}
	if g.PerClient > 0 && ipFailures > 0 {
		n, err := w.Count(ctx, g.Store, clientKey, now)
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
	for _, key := range []string{ipKey, clientKey} {
		if _, _, herr := w.Hit(ctx, g.Store, key, now); herr != nil {
			return nil, fmt.Errorf("count client authentication failure: %w", herr)
		}
	}
	return nil, err
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
