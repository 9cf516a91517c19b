package session_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestIdleTimeout walks one browser through time with a 30-minute idle
// timeout inside a 1-hour lifetime: each step asks for the session at the
// given time since sign-in.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	type step struct {
		at         time.Duration
		signedIn   bool
		recordedAt time.Duration // LastSeenAt in the store afterwards; -1: no session
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"used often enough, until the lifetime ends", []step{
			{10 * time.Minute, true, 10 * time.Minute},
			{35 * time.Minute, true, 35 * time.Minute},
			{59 * time.Minute, true, 59 * time.Minute},
			{61 * time.Minute, false, -1}, // the absolute lifetime still holds
		}},
		{"idle exactly the timeout", []step{
			{30 * time.Minute, false, -1},
		}},
		{"idle just under the timeout", []step{
			{30*time.Minute - time.Second, true, 30*time.Minute - time.Second},
		}},
		{"a use within a minute of the last recorded one is not written", []step{
			{30 * time.Second, true, 0},
			{59 * time.Second, true, 0},
			{61 * time.Second, true, 61 * time.Second},
			{90 * time.Second, true, 61 * time.Second},
			// Idle is counted from the last recorded use: 30 minutes after
			// 61 s, though the browser was last here at 90 s.
			{31*time.Minute + time.Second, false, -1},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			f.m.IdleTimeout = 30 * time.Minute
			c := f.start(t)
			hash := oauth.HashSecret(c.Value)
			for _, s := range tt.steps {
				f.now = t0.Add(s.at)
				if got := f.current(t, c) != nil; got != s.signedIn {
					t.Fatalf("at +%s: signed in %v; want %v", s.at, got, s.signedIn)
				}
				sess, err := f.st.GetSession(t.Context(), hash, f.now)
				if s.recordedAt < 0 {
					if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("at +%s: the ended session is still usable in the store (err %v)", s.at, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("at +%s: GetSession: %v", s.at, err)
				}
				if want := t0.Add(s.recordedAt); !sess.LastSeenAt.Equal(want) {
					t.Errorf("at +%s: LastSeenAt = %v; want %v", s.at, sess.LastSeenAt, want)
				}
			}
		})
	}
}

// TestIdleTimeoutOldSession: a session stored before last use was kept
// counts as last used when it was created.
func TestIdleTimeoutOldSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	f.m.IdleTimeout = 30 * time.Minute
	value := oauth.PrefixSession + "old-session-value"
	if err := f.st.CreateSession(t.Context(), &store.Session{Hash: oauth.HashSecret(value), UserID: "u1",
		AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := &http.Cookie{Name: "latchkey_session", Value: value}
	f.now = t0.Add(20 * time.Minute)
	if f.current(t, c) == nil {
		t.Fatal("signed out 20 minutes after creation; want signed in")
	}
	f.now = t0.Add(49 * time.Minute)
	if f.current(t, c) == nil {
		t.Fatal("signed out 29 minutes after the last use; want signed in")
	}
}

// attachmentFixture gives the fixture's user a grant from an attached and
// one from a detached client, both approved in the session of cookie c.
func attachmentFixture(t *testing.T, f *fixture, c *http.Cookie) {
	t.Helper()
	ctx := t.Context()
	for _, cl := range []*store.Client{
		{ID: "tv", AuthMethod: store.AuthNone, SessionAttachment: store.SessionAttached},
		{ID: "printer", AuthMethod: store.AuthNone, SessionAttachment: store.SessionDetached},
	} {
		if err := f.st.CreateClient(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if err := f.st.CreateGrant(ctx, &store.Grant{ID: "g-" + cl.ID, UserID: "u1", ClientID: cl.ID,
			CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), SessionHash: oauth.HashSecret(c.Value)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) revoked(t *testing.T, grantID string) bool {
	t.Helper()
	g, err := f.st.GetGrant(t.Context(), grantID)
	if err != nil {
		t.Fatal(err)
	}
	return !g.RevokedAt.IsZero()
}

// TestEndRevokesAttachedGrants: signing out, or being replaced by a new
// sign-in, revokes the attached client's grant of that session and leaves
// the detached one's; an idle timeout revokes nothing.
func TestEndRevokesAttachedGrants(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		end         func(t *testing.T, f *fixture, c *http.Cookie)
		wantRevoked bool
	}{
		{"sign-out", func(t *testing.T, f *fixture, c *http.Cookie) {
			r := httptest.NewRequest("POST", "/logout", nil)
			r.AddCookie(c)
			if err := f.m.End(httptest.NewRecorder(), r); err != nil {
				t.Fatalf("End: %v", err)
			}
		}, true},
		{"signed in again on the same browser", func(t *testing.T, f *fixture, c *http.Cookie) {
			f.start(t, c)
		}, true},
		{"idle timeout", func(t *testing.T, f *fixture, c *http.Cookie) {
			f.m.IdleTimeout = time.Minute
			f.now = t0.Add(2 * time.Minute)
			if f.current(t, c) != nil {
				t.Fatal("still signed in after the idle timeout")
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, false)
			c := f.start(t)
			attachmentFixture(t, f, c)
			tt.end(t, f, c)
			if got := f.revoked(t, "g-tv"); got != tt.wantRevoked {
				t.Errorf("attached client's grant revoked: %v; want %v", got, tt.wantRevoked)
			}
			if f.revoked(t, "g-printer") {
				t.Error("detached client's grant was revoked")
			}
		})
	}
}
