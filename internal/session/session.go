// Package session owns browser sessions: the cookie a signed-in browser
// carries and the session record it points to. The cookie holds a random
// secret; the store holds only its hash, so a copy of the database cannot be
// replayed as a cookie. Checking passwords belongs to package account, the
// pages that sign people in to package web.
package session

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Cookie names. The __Host- prefix makes the browser refuse the cookie
// unless it is Secure, has Path=/ and no Domain, so neither a sibling
// subdomain nor a plain-http page can plant or overwrite it
// (RFC 6265bis §4.1.3.2; SECURITY-CHECKLIST UI-06).
const (
	SecureCookieName = "__Host-latchkey"
	PlainCookieName  = "latchkey_session" // loopback development over http
)

// Manager starts, finds and ends browser sessions.
type Manager struct {
	Store    store.SessionStore
	Users    store.UserStore
	Now      func() time.Time // time.Now in production, a fixed clock in tests
	Rand     io.Reader        // crypto/rand.Reader in production
	Lifetime time.Duration    // how long a sign-in lasts
	Secure   bool             // the issuer is https: Secure, __Host- cookie
}

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string {
	if m.Secure {
		return SecureCookieName
	}
	return PlainCookieName
}

// Start signs user in on this browser. Any session the browser already had
// is deleted first, so a session id planted before login is worthless after
// it (session fixation; SECURITY-CHECKLIST UI-06).
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, user *store.User) (*store.Session, error) {
	if err := m.deleteCurrent(r); err != nil {
		return nil, err
	}
	value, err := oauth.NewSecret(m.Rand, oauth.PrefixSession)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	now := m.Now()
	s := &store.Session{
		Hash:      oauth.HashSecret(value),
		UserID:    user.ID,
		AuthTime:  now,
		CreatedAt: now,
		ExpiresAt: now.Add(m.Lifetime),
	}
	if err := m.Store.CreateSession(r.Context(), s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	m.setCookie(w, value, s.ExpiresAt, int(m.Lifetime/time.Second))
	return s, nil
}

// Current returns the browser's session and its user. It returns nil, nil,
// nil when there is none, it expired, or the user is gone or disabled: a
// disabled user is signed out everywhere at once (SECURITY-CHECKLIST DF-17).
func (m *Manager) Current(r *http.Request) (*store.Session, *store.User, error) {
	value, ok := m.cookie(r)
	if !ok {
		return nil, nil, nil
	}
	s, err := m.Store.GetSession(r.Context(), oauth.HashSecret(value), m.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get session: %w", err)
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
	return s, u, nil
}

// End signs this browser out: the session record goes and the cookie is
// cleared.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	if err := m.deleteCurrent(r); err != nil {
		return err
	}
	m.setCookie(w, "", time.Unix(0, 0), -1)
	return nil
}

func (m *Manager) deleteCurrent(r *http.Request) error {
	value, ok := m.cookie(r)
	if !ok {
		return nil
	}
	err := m.Store.DeleteSession(r.Context(), oauth.HashSecret(value))
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
