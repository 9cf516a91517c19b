package device

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
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
// account, per client IP and server-wide, in fixed windows as long as a
// code lives (RFC 8628 §5.1). The counters live in the store, so they hold
// across instances and restarts.
type Verifier struct {
	Store interface {
		GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceAuth, error)
		DecideDeviceAuth(ctx context.Context, userCodeHash, userID, sessionHash string, approve bool, now time.Time) (*store.DeviceAuth, error)
		GetClient(ctx context.Context, id string) (*store.Client, error) // the client the person is asked about
		store.ThrottleStore                                              // the wrong-entry counters
	}
	Now    func() time.Time // time.Now in production, a fixed clock in tests
	Window time.Duration    // the device code lifetime: one budget per code life
	// Wrong entries allowed per window. A limit below 1 allows none: a
	// Verifier that was not configured fails closed.
	PerAccount, PerIP, Global int
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
	if v.Window <= 0 {
		return nil, errors.New("device: Verifier.Window must be positive")
	}
	window := now.Truncate(v.Window)
	keys := v.budget(userID, ip)

	// The budget is checked before the code is even looked at, so a
	// locked-out guesser learns nothing: the answer is ErrThrottled whether
	// or not the code exists, even for the right code (DF-07).
	for _, b := range keys {
		n, err := v.Store.Count(ctx, b.key, window)
		if err != nil {
			return nil, fmt.Errorf("count user code attempts: %w", err)
		}
		if n >= b.limit {
			return nil, ErrThrottled
		}
	}
	// Then the attempt is counted before it is judged, and judged only
	// if its count is within every budget: concurrent attempts each get a
	// distinct count from Hit, so a burst of parallel guesses gets no more
	// looks at the codes than the budget allows (checking, then counting
	// the wrong ones afterwards, let every attempt of a burst through).
	// An attempt that finds a code is refunded below, and so is one that
	// is refused here, so that one address's burst does not spend the
	// account's or the global budget: only wrong ones that were looked at
	// spend it.
	until := window.Add(v.Window)
	over := false
	for _, b := range keys {
		n, err := v.Store.Hit(ctx, b.key, window, until)
		if err != nil {
			return nil, fmt.Errorf("count user code attempt: %w", err)
		}
		over = over || n > b.limit
	}
	if over {
		if err := v.refund(ctx, keys, window); err != nil {
			return nil, err
		}
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
	if err := v.refund(ctx, keys, window); err != nil {
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

// refund gives one attempt back to every budget.
func (v *Verifier) refund(ctx context.Context, keys []budget, window time.Time) error {
	for _, b := range keys {
		if err := v.Store.Refund(ctx, b.key, window); err != nil {
			return fmt.Errorf("refund user code attempt: %w", err)
		}
	}
	return nil
}

type budget struct {
	key   string
	limit int
}

func (v *Verifier) budget(userID, ip string) []budget {
	return []budget{
		{"usercode:user:" + userID, v.PerAccount},
		{"usercode:ip:" + clientip.ThrottleKey(ip), v.PerIP},
		{"usercode:global", v.Global},
	}
}
