package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The cases below hold both backends to the session half of the contract:
// a client's post-logout redirect URIs and session attachment, the browser
// session recorded on device decisions and grants, sign-out revoking the
// attached clients' grants, and the idle clock of sessions.

func testClientSessionMetadata(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newClient("web", false)
	c.PostLogoutRedirectURIs = []string{"https://app.example/bye", "com.example.app:/signed-out"}
	c.SessionAttachment = store.SessionAttached
	wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
	got, err := s.GetClient(ctx, "web")
	wantErr(t, "GetClient", err, nil)
	diff(t, "client with session metadata", c, got)
	if !got.Attached() {
		t.Errorf("Attached() = false for %q", got.SessionAttachment)
	}

	c.PostLogoutRedirectURIs = nil
	c.SessionAttachment = store.SessionDetached
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, c), nil)
	list, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	diff(t, "ListClients after update", []*store.Client{c}, list)

	for name, spoil := range map[string]func(*store.Client){
		"post-logout URI": func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"https://a.example/\x00"} },
		"attachment":      func(c *store.Client) { c.SessionAttachment = "attached\xff" },
	} {
		bad := newClient("bad", true)
		spoil(bad)
		wantErr(t, "CreateClient with bad "+name, s.CreateClient(ctx, bad), store.ErrInvalid)
		bad.ID = "web"
		wantErr(t, "UpdateClient with bad "+name, s.UpdateClient(ctx, bad), store.ErrInvalid)
	}
}

func testSessionHashRecorded(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	decided, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "session-1", true, t0)
	wantErr(t, "DecideDeviceAuth", err, nil)
	if decided.SessionHash != "session-1" {
		t.Errorf("DecideDeviceAuth recorded session %q; want session-1", decided.SessionHash)
	}
	if got := mustGetDeviceAuth(t, s, a.UserCodeHash); got.SessionHash != "session-1" {
		t.Errorf("GetDeviceAuthByUserCode: session %q; want session-1", got.SessionHash)
	}
	wantErr(t, "DecideDeviceAuth with a session that is not text",
		lookupErr(s.DecideDeviceAuth(ctx, mustCreateDeviceAuth(t, s, newDeviceAuth(c, 2)).UserCodeHash, "ada", "s\x00", true, t0)),
		store.ErrInvalid)

	g := newGrant("g1", "ada", "tv", t0)
	g.SessionHash = "session-1"
	wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, g, nil, t0), nil)
	got, err := s.GetGrant(ctx, "g1")
	wantErr(t, "GetGrant", err, nil)
	diff(t, "redeemed grant", g, got)

	plain := mustCreateGrant(t, s, newGrant("g2", "ada", "tv", t0)) // no session
	gs, err := s.ListGrantsByUser(ctx, "ada")
	wantErr(t, "ListGrantsByUser", err, nil)
	diff(t, "ListGrantsByUser", []*store.Grant{g, plain}, gs)

	bad := newGrant("g3", "ada", "tv", t0)
	bad.SessionHash = "s\xff"
	wantErr(t, "CreateGrant with a session that is not text", s.CreateGrant(ctx, bad), store.ErrInvalid)
}

// sessionGrants creates clients "att" (attached) and "det" (detached),
// user "ada", and grants in sessions s1 and s2, with a live refresh token on
// each active grant.
func sessionGrants(t *testing.T, s store.Store) map[string]*store.Grant {
	t.Helper()
	mustCreateUser(t, s, "ada")
	att := newClient("att", true)
	att.SessionAttachment = store.SessionAttached
	wantErr(t, "CreateClient(att)", s.CreateClient(t.Context(), att), nil)
	mustCreateClient(t, s, "det", true) // detached: the default
	grants := map[string]*store.Grant{}
	for _, g := range []struct{ id, client, session string }{
		{"att-s1", "att", "s1"},
		{"att-s1-b", "att", "s1"},
		{"det-s1", "det", "s1"},
		{"att-s2", "att", "s2"},
		{"att-none", "att", ""},
		{"att-s1-revoked", "att", "s1"},
	} {
		gr := newGrant(g.id, "ada", g.client, t0)
		gr.SessionHash = g.session
		if g.id == "att-s1-revoked" {
			gr.RevokedAt = at(-time.Minute)
		}
		grants[g.id] = mustCreateGrant(t, s, gr)
		if gr.RevokedAt.IsZero() {
			rt := newRefreshToken("rt-"+g.id, g.id, at(24*time.Hour))
			rt.ClientID = g.client
			mustCreateRefreshToken(t, s, rt)
		}
	}
	return grants
}

func testRevokeGrantsBySession(t *testing.T, s store.Store) {
	ctx := t.Context()
	grants := sessionGrants(t, s)
	revokeAt := at(time.Hour)

	n, err := s.RevokeGrantsBySession(ctx, "s1", revokeAt)
	wantErr(t, "RevokeGrantsBySession(s1)", err, nil)
	if n != 2 {
		t.Errorf("RevokeGrantsBySession(s1) = %d; want 2 (the attached client's active grants of s1)", n)
	}
	for id, wantRevoked := range map[string]time.Time{
		"att-s1":         revokeAt,
		"att-s1-b":       revokeAt,
		"det-s1":         {},               // detached: outlives the session
		"att-s2":         {},               // another session
		"att-none":       {},               // approved in no session
		"att-s1-revoked": at(-time.Minute), // the first revocation stands
	} {
		got, err := s.GetGrant(ctx, id)
		wantErr(t, "GetGrant", err, nil)
		want := *grants[id]
		want.RevokedAt = wantRevoked
		diff(t, "grant "+id+" after sign-out", &want, got)
	}
	for id, wantExpiry := range map[string]time.Time{
		"att-s1":   revokeAt,
		"att-s1-b": revokeAt,
		"det-s1":   at(24 * time.Hour),
		"att-s2":   at(24 * time.Hour),
		"att-none": at(24 * time.Hour),
	} {
		rt, err := s.GetRefreshToken(ctx, "rt-"+id)
		wantErr(t, "GetRefreshToken", err, nil)
		if !rt.ExpiresAt.Equal(wantExpiry) || !rt.UsedAt.IsZero() {
			t.Errorf("refresh token of %s: expires %v, used %v; want expires %v, unused", id, rt.ExpiresAt, rt.UsedAt, wantExpiry)
		}
	}

	for _, tt := range []struct {
		name, session string
	}{
		{"again", "s1"},
		{"unknown session", "s9"},
		{"empty session", ""},
		{"not text", "s1\x00"},
	} {
		n, err := s.RevokeGrantsBySession(ctx, tt.session, at(2*time.Hour))
		wantErr(t, "RevokeGrantsBySession: "+tt.name, err, nil)
		if n != 0 {
			t.Errorf("RevokeGrantsBySession: %s = %d; want 0", tt.name, n)
		}
	}
	got, err := s.GetGrant(ctx, "att-s1")
	wantErr(t, "GetGrant", err, nil)
	if !got.RevokedAt.Equal(revokeAt) {
		t.Errorf("signing out again moved the revocation to %v; want %v", got.RevokedAt, revokeAt)
	}
}

// testConcurrentRevokeGrantsBySession: twenty sign-outs of one session at
// once revoke each attached grant exactly once between them.
func testConcurrentRevokeGrantsBySession(t *testing.T, s store.Store) {
	sessionGrants(t, s)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.RevokeGrantsBySession(t.Context(), "s1", t0)
			if err != nil {
				t.Errorf("RevokeGrantsBySession: %v", err)
				return
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 2 {
		t.Errorf("20 concurrent sign-outs revoked %d grants between them; want 2", total)
	}
}

func testTouchSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	sess := &store.Session{Hash: "s1", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Hour), LastSeenAt: t0}
	wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	got, err := s.GetSession(ctx, "s1", t0)
	wantErr(t, "GetSession", err, nil)
	diff(t, "session", sess, got)

	for _, tt := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"forward", at(2 * time.Minute), at(2 * time.Minute)},
		{"never back", at(time.Minute), at(2 * time.Minute)},
		{"forward again", at(5 * time.Minute), at(5 * time.Minute)},
	} {
		wantErr(t, "TouchSession: "+tt.name, s.TouchSession(ctx, "s1", tt.at), nil)
		got, err := s.GetSession(ctx, "s1", t0)
		wantErr(t, "GetSession", err, nil)
		if !got.LastSeenAt.Equal(tt.want) {
			t.Errorf("TouchSession: %s: LastSeenAt = %v; want %v", tt.name, got.LastSeenAt, tt.want)
		}
	}
	wantErr(t, "TouchSession(unknown)", s.TouchSession(ctx, "nope", t0), store.ErrNotFound)
	wantErr(t, "TouchSession(not text)", s.TouchSession(ctx, "s1\x00", t0), store.ErrNotFound)
}

// testReauthenticate: a password entered again moves the session's
// AuthTime forward (never back), and only that session's.
func testReauthenticate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	s1 := &store.Session{Hash: "s1", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Hour), LastSeenAt: t0}
	s2 := &store.Session{Hash: "s2", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Hour), LastSeenAt: t0}
	wantErr(t, "CreateSession(s1)", s.CreateSession(ctx, s1), nil)
	wantErr(t, "CreateSession(s2)", s.CreateSession(ctx, s2), nil)
	for _, tt := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"forward", at(20 * time.Minute), at(20 * time.Minute)},
		{"never back", at(10 * time.Minute), at(20 * time.Minute)},
	} {
		wantErr(t, "Reauthenticate: "+tt.name, s.Reauthenticate(ctx, "s1", tt.at), nil)
		got, err := s.GetSession(ctx, "s1", t0)
		wantErr(t, "GetSession", err, nil)
		if !got.AuthTime.Equal(tt.want) {
			t.Errorf("Reauthenticate: %s: AuthTime = %v; want %v", tt.name, got.AuthTime, tt.want)
		}
	}
	got, err := s.GetSession(ctx, "s2", t0)
	wantErr(t, "GetSession(s2)", err, nil)
	diff(t, "the other session", s2, got)
	wantErr(t, "Reauthenticate(unknown)", s.Reauthenticate(ctx, "nope", t0), store.ErrNotFound)
	wantErr(t, "Reauthenticate(not text)", s.Reauthenticate(ctx, "s1\x00", t0), store.ErrNotFound)
}

// testRefreshFamilySession: a rotation's family carries the session its
// grant was approved in, as stored, expired or not, so that an attached
// client's grant can end with it (docs/security.md G-9); nil when the grant
// names no session or the session is gone.
func testRefreshFamilySession(t *testing.T, s store.Store) {
	ctx := t.Context()
	sessionGrants(t, s)
	s1 := &store.Session{Hash: "s1", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Hour), LastSeenAt: at(time.Minute)}
	s2 := &store.Session{Hash: "s2", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Minute)}
	wantErr(t, "CreateSession(s1)", s.CreateSession(ctx, s1), nil)
	wantErr(t, "CreateSession(s2)", s.CreateSession(ctx, s2), nil)
	allow := func(*store.RefreshFamily) error { return nil }
	rotate := func(old, next string, now time.Time) *store.RefreshFamily {
		t.Helper()
		fam, err := s.RotateRefreshToken(ctx, old, next, time.Time{}, now, allow)
		wantErr(t, "RotateRefreshToken("+old+")", err, nil)
		return fam
	}

	diff(t, "session of a grant approved in s1", s1, rotate("rt-att-s1", "rt-att-s1-2", at(2*time.Minute)).Session)
	// Expired, not yet swept: as stored; the caller judges it.
	diff(t, "session of a grant approved in the expired s2", s2, rotate("rt-att-s2", "rt-att-s2-2", at(2*time.Minute)).Session)
	if fam := rotate("rt-att-none", "rt-att-none-2", at(2*time.Minute)); fam.Session != nil {
		t.Errorf("session of a grant approved in none = %+v; want nil", fam.Session)
	}
	wantErr(t, "DeleteSession(s1)", s.DeleteSession(ctx, "s1"), nil)
	if fam := rotate("rt-att-s1-2", "rt-att-s1-3", at(3*time.Minute)); fam.Session != nil {
		t.Errorf("session of a grant whose session was deleted = %+v; want nil", fam.Session)
	}
	if fam := rotate("rt-det-s1", "rt-det-s1-2", at(3*time.Minute)); fam.Session != nil || fam.Grant.SessionHash != "s1" {
		t.Errorf("detached grant of the deleted s1: session %+v, grant's %q; want nil, s1", fam.Session, fam.Grant.SessionHash)
	}
}
