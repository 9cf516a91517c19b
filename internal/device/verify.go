package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
)

// Outcomes of entering a user code. The verification page turns each into a
// page a person can act on; none of them says more than it must.
var (
	// ErrThrottled: the wrong-entry budget of the account, the client IP or
	// the whole server is spent for this window (RFC 8628 §5.1).
	ErrThrottled = errors.New("device: too many wrong user codes")
	// ErrInvalidCode: the input is not a user code, or no request has it.
	ErrInvalidCode = errors.New("device: invalid user code")
	// ErrExpired: the request exists but its lifetime ended (RFC 8628 §3.2 expires_in).
	ErrExpired = errors.New("device: user code expired")
	// ErrUsed: the request was approved or denied already (RFC 8628 §3.3:
	// a user code is good for one decision).
	ErrUsed = errors.New("device: user code already used")
)

// Pending is a device authorization that a signed-in person may decide.
type Pending struct {
	Auth     *store.DeviceAuth
	Client   *store.Client
	UserCode string // normalised: what NormalizeUserCode returned
}

// Verifier is the person's side of the device flow (RFC 8628 §3.3): it finds
// the request behind a typed user code and records the approval or denial.
//
// User codes are short enough to guess, so every wrong entry is counted per
// account, per client IP and server-wide, in sliding windows as long as a
// code lives (RFC 8628 §5.1; package throttle). The counters live in the
// store, so they hold across instances and restarts.
type Verifier struct {
	Store interface {
		GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceAuth, error)
		DecideDeviceAuth(ctx context.Context, userCodeHash, userID, sessionHash string, approve bool, now time.Time) (*store.DeviceAuth, error)
		GetClient(ctx context.Context, id string) (*store.Client, error) // the client the person is asked about
		throttle.Store                                                   // the wrong-entry counters
	}
	Now    func() time.Time // time.Now in production, a fixed clock in tests
	Window time.Duration    // the device code lifetime: one budget in any interval as long as a code lives
	// Wrong entries allowed per window. A limit below 1 allows none: a
	// Verifier that was not configured fails closed.
	PerAccount, PerIP, Global int
	// Metrics counts decisions and refusals by the budgets (nil: off).
	Metrics *metrics.Metrics
}

// Lookup finds the pending request whose user code is input, for userID
// signed in from ip. It changes no state except the wrong-entry counters,
// so a prefilled verification_uri_complete has no side effect (RFC 8628 §3.3.1).
func (v *Verifier) Lookup(ctx context.Context, userID, ip, input string) (*Pending, error) {
	return v.find(ctx, userID, ip, input, v.Now())
}

// Decide approves or denies the pending request whose user code is input,
// for the user of the browser session sess signed in from ip, after the
// same checks as Lookup. The decision is one conditional update in the
// store, so of two racing decisions exactly one wins, and a denial is
// final: a replayed approve form finds the request no longer pending and
// gets ErrUsed (RFC 8628 §3.5 access_denied; docs/security.md DF-11).
// The session is recorded with the decision: the grant it leads to belongs
// to that sign-in, and an attached client's grant ends when it signs out.
func (v *Verifier) Decide(ctx context.Context, sess *store.Session, ip, input string, approve bool) (*Pending, error) {
	if sess == nil {
		sess = &store.Session{} // no user: find refuses it
	}
	now := v.Now()
	p, err := v.find(ctx, sess.UserID, ip, input, now)
	if err != nil {
		return nil, err
	}
	a, err := v.Store.DecideDeviceAuth(ctx, p.Auth.UserCodeHash, sess.UserID, sess.Hash, approve, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Decided by someone else since find looked (find already ruled
		// out expiry at this same instant).
		return nil, ErrUsed
	case errors.Is(err, store.ErrNotFound):
		// Swept or deleted with its client in between.
		return nil, ErrInvalidCode
	case err != nil:
		return nil, fmt.Errorf("decide device auth: %w", err)
	}
	p.Auth = a
	if approve {
		v.Metrics.Device(metrics.DeviceApproved)
	} else {
		v.Metrics.Device(metrics.DeviceDenied)
	}
	return p, nil
}

// find checks the budget, then the code.
func (v *Verifier) find(ctx context.Context, userID, ip, input string, now time.Time) (*Pending, error) {
	if userID == "" {
		// RFC 8628 §3.3: the user authenticates before deciding. The
		// pages redirect to sign-in first; this guards against a caller
		// that forgot.
		return nil, errors.New("device: a user code needs a signed-in user")
	}
	return v.look(ctx, v.budget(userID, ip), true, input, now)
}

// Peek finds the pending request whose user code is input for someone not
// signed in yet, from ip: the sign-in page names the device it is for. It
// decides nothing, and spends the same budgets as Lookup but the
// account's, which it has none of: the address's and the server's, with no
// exception for a clean caller while the server's is spent. So the sign-in
// page is no cheaper a way to test guesses than the verification page.
func (v *Verifier) Peek(ctx context.Context, ip, input string) (*Pending, error) {
	keys := v.budget("", ip)[1:]
	return v.look(ctx, keys, false, input, v.Now())
}

// look spends an attempt of each budget in keys, then finds the code.
// exempt lets a caller with no wrong entry of its own past a spent global
// budget (G-21).
func (v *Verifier) look(ctx context.Context, keys []budget, exempt bool, input string, now time.Time) (*Pending, error) {
	if v.Window <= 0 {
		return nil, errors.New("device: Verifier.Window must be positive")
	}
	w := throttle.Window{Length: v.Window}

	// The budget is checked before the code is even looked at, so a
	// locked-out guesser learns nothing: the answer is ErrThrottled whether
	// or not the code exists, even for the right code (DF-07).
	//
	// The global budget is what bounds a guesser with many accounts and
	// addresses, but spent, it would refuse everyone (an attack run spent
	// it with 1,000 wrong codes from 50 addresses in ten seconds). So it
	// holds only those with a wrong entry of their own: an attempt from an
	// account and an address that have entered no wrong code in the window
	// is judged even while the global budget is spent, and counted against
	// it. A guesser gains one look per fresh account at a fresh address
	// that way, and both then have a wrong entry; a person typing or
	// following the code their device shows connects it (G-21).
	counts := make([]int, len(keys))
	for i, b := range keys {
		n, err := w.Count(ctx, v.Store, b.key, now)
		if err != nil {
			return nil, fmt.Errorf("count user code attempts: %w", err)
		}
		counts[i] = n
	}
	clean := exempt
	for i, b := range keys {
		if !b.global && counts[i] != 0 {
			clean = false
		}
	}
	for i, b := range keys {
		if counts[i] >= b.limit && !(b.global && clean) {
			v.Metrics.Throttled(metrics.ThrottleUserCode)
			return nil, ErrThrottled
		}
	}
	// Then the attempt is counted before it is judged, and judged only
	// if its count is within every budget: concurrent attempts each get a
	// distinct count from Hit, so a burst of parallel guesses gets no more
	// looks at the codes than the budget allows (checking, then counting
	// the wrong ones afterwards, let every attempt of a burst through).
	// Of a clean account's concurrent attempts only the one counted first
	// for both its account and its address is clean. An attempt that
	// finds a code is refunded below, and so is one that is refused here,
	// so that one address's burst does not spend the account's or the
	// global budget: only wrong ones that were looked at spend it.
	attempts := make([]throttle.Attempt, 0, len(keys))
	over := false
	clean = exempt
	for _, b := range keys {
		n, a, err := w.Hit(ctx, v.Store, b.key, now)
		if err != nil {
			if rerr := v.refund(ctx, attempts); rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("count user code attempt: %w", err)
		}
		attempts = append(attempts, a)
		if !b.global {
			clean = clean && n == 1
		}
		over = over || (n > b.limit && !(b.global && clean))
	}
	if over {
		if err := v.refund(ctx, attempts); err != nil {
			return nil, err
		}
		v.Metrics.Throttled(metrics.ThrottleUserCode)
		return nil, ErrThrottled
	}

	code, ok := NormalizeUserCode(input)
	if !ok {
		// Malformed input costs budget too, or the alphabet check would
		// be a free side channel for probing (DF-06).
		return nil, ErrInvalidCode
	}
	hash := oauth.HashSecret(code)
	a, err := v.Store.GetDeviceAuthByUserCode(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, fmt.Errorf("get device auth: %w", err)
	}
	// A code that exists was not a guess: give the attempt back.
	if err := v.refund(ctx, attempts); err != nil {
		return nil, err
	}
	if !now.Before(a.ExpiresAt) {
		return nil, ErrExpired // DF-12: explain, do not ask to sign in again
	}
	if a.Status != store.DevicePending {
		return nil, ErrUsed // DF-18: dead once approved, denied or consumed
	}
	c, err := v.Store.GetClient(ctx, a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		// The client was deleted; its requests go with it. Not a guess,
		// so it costs no budget.
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, fmt.Errorf("get client: %w", err)
	}
	return &Pending{Auth: a, Client: c, UserCode: code}, nil
}

// refund gives the attempts back.
func (v *Verifier) refund(ctx context.Context, attempts []throttle.Attempt) error {
	for _, a := range attempts {
		if err := throttle.Refund(ctx, v.Store, a); err != nil {
			return fmt.Errorf("refund user code attempt: %w", err)
		}
	}
	return nil
}

type budget struct {
	key    string
	limit  int
	global bool
}

// budget names the counters an attempt spends: the account's and the
// address's first (find reads them in this order), then the server's.
func (v *Verifier) budget(userID, ip string) []budget {
	return []budget{
		{"usercode:user:" + userID, v.PerAccount, false},
		{"usercode:ip:" + clientip.ThrottleKey(ip), v.PerIP, false},
		{"usercode:global", v.Global, true},
	}
}
