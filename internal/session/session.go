// Package session owns browser sessions: the cookie a signed-in browser
// carries and the session record it points to, their idle and absolute
// timeouts, and what signing out means for the grants approved in the
// session (docs/architecture.md, "Session attachment": an attached client's grants end with
// it, a detached one's outlive it). The cookie holds a random secret; the
// store holds only its hash, so a copy of the database cannot be replayed as
// a cookie. Checking passwords belongs to package account, the pages that
// sign people in to package web.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// Cookie names. The __Host- prefix makes the browser refuse the cookie
// unless it is Secure, has Path=/ and no Domain, so neither a sibling
// subdomain nor a plain-http page can plant or overwrite it
// (RFC 6265bis §4.1.3.2; docs/security.md UI-06).
const (
	SecureCookieName = "__Host-latchkey"
	PlainCookieName  = "latchkey_session" // loopback development over http
)

// Manager starts, finds and ends browser sessions.
type Manager struct {
	// Store keeps the sessions, and the grants that signing out revokes.
	Store interface {
		store.SessionStore
		RevokeGrantsBySession(ctx context.Context, sessionHash string, now time.Time) (int, error)
	}
	// Users reads the signed-in user, who must still be allowed to sign in.
	Users interface {
		GetUser(ctx context.Context, id string) (*store.User, error)
	}
	Now      func() time.Time // time.Now in production, a fixed clock in tests
	Rand     io.Reader        // crypto/rand.Reader in production
	Lifetime time.Duration    // how long a sign-in lasts at most (absolute)
	// IdleTimeout ends a session unused for this long; 0 sets no idle limit.
	IdleTimeout time.Duration
	Secure      bool // the issuer is https: Secure, __Host- cookie
	// Log receives the security events of signing out (package audit);
	// nil logs nothing.
	Log *slog.Logger
}

// touchEvery bounds the writes idle tracking costs: a session's last use is
// recorded at most once a minute however busy the browser is, so the idle
// timeout holds to within a minute.
const touchEvery = time.Minute

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string {
	if m.Secure {
		return SecureCookieName
	}
	return PlainCookieName
}

// Start signs user in on this browser. Any session the browser already had
// is ended first, as End would, so a session id planted before login is
// worthless after it (session fixation; docs/security.md UI-06), and
// attached grants never outlive the sign-in they were approved in.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, user *store.User) (*store.Session, error) {
	if err := m.endCurrent(r); err != nil {
		return nil, err
	}
	value, err := oauth.NewSecret(m.Rand, oauth.PrefixSession)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	now := m.Now()
	s := &store.Session{
		Hash:       oauth.HashSecret(value),
		UserID:     user.ID,
		AuthTime:   now,
		CreatedAt:  now,
		ExpiresAt:  now.Add(m.Lifetime),
		LastSeenAt: now,
	}
	if err := m.Store.CreateSession(r.Context(), s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	m.setCookie(w, value, s.ExpiresAt, int(m.Lifetime/time.Second))
	return s, nil
}

// Current returns the browser's session and its user. It returns nil, nil,
// nil when there is none, it expired (its lifetime ended, or it was idle for
// IdleTimeout), or the user is gone or disabled: a disabled user is signed
// out everywhere at once (docs/security.md DF-17). A session in use has
// its last use recorded, at most once every touchEvery.
func (m *Manager) Current(r *http.Request) (*store.Session, *store.User, error) {
	value, ok := m.cookie(r)
	if !ok {
		return nil, nil, nil
	}
	ctx := r.Context()
	now := m.Now()
	s, err := m.Store.GetSession(ctx, oauth.HashSecret(value), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get session: %w", err)
	}
	seen := s.LastSeenAt
	if seen.IsZero() {
		seen = s.CreatedAt
	}
	if m.IdleTimeout > 0 && !now.Before(seen.Add(m.IdleTimeout)) {
		// Unused too long: the session is over, and its record goes now
		// rather than at the end of its lifetime. This is a timeout, not a
		// sign-out: attached grants are revoked only by End.
		if err := m.Store.DeleteSession(ctx, s.Hash); err != nil {
			return nil, nil, fmt.Errorf("delete idle session: %w", err)
		}
		return nil, nil, nil
	}
	u, err := m.Users.GetUser(r.Context(), s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get session user: %w", err)
	}
	if u.Disabled {
		return nil, nil, nil
	}
	if now.Sub(seen) >= touchEvery {
		err := m.Store.TouchSession(ctx, s.Hash, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil // signed out meanwhile, in another tab
		}
		if err != nil {
			return nil, nil, fmt.Errorf("touch session: %w", err)
		}
		s.LastSeenAt = now
	}
	return s, u, nil
}

// End signs this browser out: the grants of attached clients approved in
// its session are revoked, then the session record goes and the cookie is
// cleared.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	if err := m.endCurrent(r); err != nil {
		return err
	}
	m.setCookie(w, "", time.Unix(0, 0), -1)
	return nil
}

// endCurrent ends the session the browser's cookie names, if any. The
// attached clients' grants are revoked first (docs/architecture.md, "Session attachment";
// 10Duke's attached sessions): should that fail, the browser is still
// signed in and can sign out again, rather than signed out with its
// attached devices still signed in. A session that expired meanwhile still
// has its attached grants revoked: signing out means it.
func (m *Manager) endCurrent(r *http.Request) error {
	value, ok := m.cookie(r)
	if !ok {
		return nil
	}
	hash := oauth.HashSecret(value)
	n, err := m.Store.RevokeGrantsBySession(r.Context(), hash, m.Now())
	if err != nil {
		return fmt.Errorf("revoke attached grants: %w", err)
	}
	if n > 0 {
		secevent.Log(r.Context(), m.Log, secevent.Event{Name: secevent.TokenRevoked, Outcome: secevent.Revoked,
			Reason: "the browser session of attached grants signed out"})
	}
	err = m.Store.DeleteSession(r.Context(), hash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// cookie returns the session cookie's value if it looks like one of ours;
// anything else is treated as no cookie and never reaches the store.
func (m *Manager) cookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(m.CookieName())
	if err != nil {
		return "", false
	}
	v := c.Value
	if !strings.HasPrefix(v, oauth.PrefixSession) || len(v) > 128 || !oauth.CleanText(v) {
		return "", false
	}
	return v, true
}

func (m *Manager) setCookie(w http.ResponseWriter, value string, expires time.Time, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.CookieName(),
		Value:    value,
		Path:     "/",
		Expires:  expires,
		MaxAge:   maxAge,
		Secure:   m.Secure,
		HttpOnly: true,                 // no script may read it
		SameSite: http.SameSiteLaxMode, // not sent on cross-site POSTs
	})
}
