package session_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

type fixture struct {
	st   *sqlite.Store
	now  time.Time
	m    *session.Manager
	user *store.User
}

// rng is an endless, distinct stream of "random" bytes, so each session
// value differs and the test is repeatable.
type rng struct{ n byte }

func (r *rng) Read(p []byte) (int, error) {
	r.n++
	copy(p, bytes.Repeat([]byte{r.n}, len(p)))
	return len(p), nil
}

func newFixture(t *testing.T, secure bool) *fixture {
	t.Helper()
	f := &fixture{st: sqlitetest.Open(t), now: t0}
	f.m = &session.Manager{
		Store: f.st, Users: f.st,
		Now:      func() time.Time { return f.now },
		Rand:     &rng{},
		Lifetime: time.Hour,
		Secure:   secure,
	}
	f.user = &store.User{ID: "u1", Email: "ada@example.com", Name: "Ada", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	if err := f.st.CreateUser(t.Context(), f.user); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return f
}

// start signs the fixture's user in on a browser carrying cookies and
// returns the session cookie it got.
func (f *fixture) start(t *testing.T, cookies ...*http.Cookie) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/login", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	if _, err := f.m.Start(w, r, f.user); err != nil {
		t.Fatalf("Start: %v", err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("Start set %d cookies; want 1", len(cs))
	}
	return cs[0]
}

func (f *fixture) current(t *testing.T, c *http.Cookie) *store.User {
	t.Helper()
	r := httptest.NewRequest("GET", "/device", nil)
	if c != nil {
		r.AddCookie(c)
	}
	s, u, err := f.m.Current(r)
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	if (s == nil) != (u == nil) {
		t.Fatalf("Current = %v, %v; want both or neither", s, u)
	}
	return u
}

func TestCookie(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		secure     bool
		wantName   string
		wantSecure bool
	}{
		{"https issuer", true, "__Host-latchkey", true},
		{"http loopback issuer", false, "latchkey_session", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.secure)
			c := f.start(t)
			if c.Name != tt.wantName || c.Secure != tt.wantSecure || c.Path != "/" || c.Domain != "" ||
				!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 3600 {
				t.Errorf("cookie = %+v; want %s, Secure=%v, Path=/, no Domain, HttpOnly, SameSite=Lax, Max-Age=3600",
					c, tt.wantName, tt.wantSecure)
			}
			if !strings.HasPrefix(c.Value, oauth.PrefixSession) {
				t.Errorf("cookie value has no %q prefix", oauth.PrefixSession)
			}
			// The store has the hash, never the value.
			if _, err := f.st.GetSession(t.Context(), c.Value, f.now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSession(cookie value) error = %v; want %v", err, store.ErrNotFound)
			}
			s, err := f.st.GetSession(t.Context(), oauth.HashSecret(c.Value), f.now)
			if err != nil {
				t.Fatalf("GetSession(hash): %v", err)
			}
			if got, want := s.ExpiresAt, t0.Add(time.Hour); !got.Equal(want) || s.UserID != "u1" {
				t.Errorf("session = user %q, expires %v; want %q, %v", s.UserID, got, "u1", want)
			}
		})
	}
}

func TestCurrent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		cookie   func(f *fixture, good *http.Cookie) *http.Cookie
		change   func(t *testing.T, f *fixture)
		wantUser bool
	}{
		{"signed in", func(f *fixture, good *http.Cookie) *http.Cookie { return good }, nil, true},
		{"no cookie", func(*fixture, *http.Cookie) *http.Cookie { return nil }, nil, false},
		{"unknown value", func(*fixture, *http.Cookie) *http.Cookie {
			return &http.Cookie{Name: "latchkey_session", Value: oauth.PrefixSession + "nope"}
		}, nil, false},
		{"not our format", func(*fixture, *http.Cookie) *http.Cookie {
			return &http.Cookie{Name: "latchkey_session", Value: "x' OR 1=1"}
		}, nil, false},
		{"expired", func(f *fixture, good *http.Cookie) *http.Cookie { return good },
			func(t *testing.T, f *fixture) { f.now = t0.Add(time.Hour) }, false},
		{"user disabled since (DF-17)", func(f *fixture, good *http.Cookie) *http.Cookie { return good },
			func(t *testing.T, f *fixture) {
				f.user.Disabled = true
				if err := f.st.UpdateUser(t.Context(), f.user); err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
			}, false},
		{"user deleted since", func(f *fixture, good *http.Cookie) *http.Cookie { return good },
			func(t *testing.T, f *fixture) {
				if err := f.st.DeleteUser(t.Context(), "u1"); err != nil {
					t.Fatalf("DeleteUser: %v", err)
				}
			}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			good := f.start(t)
			if tt.change != nil {
				tt.change(t, f)
			}
			got := f.current(t, tt.cookie(f, good))
			if (got != nil) != tt.wantUser {
				t.Errorf("Current user = %v; want signed in %v", got, tt.wantUser)
			}
			if got != nil && got.ID != "u1" {
				t.Errorf("Current user = %q; want %q", got.ID, "u1")
			}
		})
	}
}

// TestStartRotates: signing in replaces the browser's session, so a session
// cookie planted or left before login is dead after it (UI-06).
func TestStartRotates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	before := f.start(t)
	after := f.start(t, before)
	if after.Value == before.Value {
		t.Fatalf("session value was not rotated at login")
	}
	if got := f.current(t, before); got != nil {
		t.Errorf("old session still signs in as %q; want signed out", got.ID)
	}
	if got := f.current(t, after); got == nil {
		t.Errorf("new session is not signed in")
	}
}

func TestEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	c := f.start(t)
	r := httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(c)
	w := httptest.NewRecorder()
	if err := f.m.End(w, r); err != nil {
		t.Fatalf("End: %v", err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "latchkey_session" || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("End set cookies %+v; want latchkey_session cleared", cs)
	}
	if got := f.current(t, c); got != nil {
		t.Errorf("after End, Current = %q; want signed out", got.ID)
	}
	// Ending a session that is gone is still signed out, not an error.
	if err := f.m.End(httptest.NewRecorder(), r); err != nil {
		t.Errorf("second End: %v", err)
	}
}
