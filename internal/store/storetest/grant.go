package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	g1 := grantFixture(t, s)
	g0 := mustCreateGrant(t, s, newGrant("g0", "ada", "app", at(-time.Hour)))
	own := mustCreateGrant(t, s, newGrant("own", "", "app", t0)) // the client on its own behalf
	revoked := newGrant("old", "ada", "app", at(-2*time.Hour))
	revoked.RevokedAt = at(-time.Hour)
	mustCreateGrant(t, s, revoked)

	for _, want := range []*store.Grant{g1, own, revoked} {
		got, err := s.GetGrant(ctx, want.ID)
		wantErr(t, "GetGrant", err, nil)
		diff(t, "GetGrant("+want.ID+")", want, got)
	}
	_, err := s.GetGrant(ctx, "nope")
	wantErr(t, "GetGrant(missing)", err, store.ErrNotFound)

	got, err := s.ListGrantsByUser(ctx, "ada")
	wantErr(t, "ListGrantsByUser", err, nil)
	diff(t, "ListGrantsByUser (oldest first, revoked included)", []*store.Grant{revoked, g0, g1}, got)
	got, err = s.ListGrantsByUser(ctx, "nobody")
	wantErr(t, "ListGrantsByUser(nobody)", err, nil)
	diff(t, "ListGrantsByUser(nobody)", []*store.Grant(nil), got)

	for _, tt := range []struct {
		name string
		g    *store.Grant
		want error
	}{
		{"taken id", newGrant("g1", "ada", "app", t0), store.ErrConflict},
		{"client does not exist", newGrant("g2", "ada", "ghost", t0), store.ErrNotFound},
		{"user does not exist", newGrant("g3", "ghost", "app", t0), store.ErrNotFound},
	} {
		wantErr(t, tt.name, s.CreateGrant(ctx, tt.g), tt.want)
	}
}

func testRevokeGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	g1 := grantFixture(t, s)
	g2 := mustCreateGrant(t, s, newGrant("g2", "ada", "app", t0))
	live := mustCreateRefreshToken(t, s, newRefreshToken("rt-live", g1.ID, at(24*time.Hour)))
	endless := mustCreateRefreshToken(t, s, newRefreshToken("rt-endless", g1.ID, time.Time{}))
	done := mustCreateRefreshToken(t, s, newRefreshToken("rt-done", g1.ID, at(time.Minute)))
	other := mustCreateRefreshToken(t, s, newRefreshToken("rt-other", g2.ID, at(24*time.Hour)))

	revokeAt := at(time.Hour)
	wantErr(t, "RevokeGrant", s.RevokeGrant(ctx, g1.ID, revokeAt), nil)
	wantErr(t, "RevokeGrant again", s.RevokeGrant(ctx, g1.ID, at(2*time.Hour)), nil)
	wantErr(t, "RevokeGrant(missing)", s.RevokeGrant(ctx, "nope", revokeAt), store.ErrNotFound)

	got, err := s.GetGrant(ctx, g1.ID)
	wantErr(t, "GetGrant", err, nil)
	want := *g1
	want.RevokedAt = revokeAt // the first revocation stands
	diff(t, "revoked grant", &want, got)
	if got.Active(revokeAt) {
		t.Errorf("revoked grant is Active")
	}

	// The grant's refresh tokens end with it: their expiry moves to the
	// revocation (never later than it was); they are not marked used, which
	// would read as reuse. Other grants' tokens are untouched.
	ended := func(rt *store.RefreshToken, exp time.Time) *store.RefreshToken {
		c := *rt
		c.ExpiresAt = exp
		return &c
	}
	for _, want := range []*store.RefreshToken{
		ended(live, revokeAt),
		ended(endless, revokeAt),
		done,
		other,
	} {
		got, err := s.GetRefreshToken(ctx, want.Hash)
		wantErr(t, "GetRefreshToken", err, nil)
		diff(t, "refresh token "+want.Hash+" after RevokeGrant", want, got)
	}
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := grantFixture(t, s)
	rt := mustCreateRefreshToken(t, s, newRefreshToken("rt1", g.ID, at(24*time.Hour)))

	got, err := s.GetRefreshToken(ctx, "rt1")
	wantErr(t, "GetRefreshToken", err, nil)
	diff(t, "refresh token", rt, got)

	for _, tt := range []struct {
		name string
		rt   *store.RefreshToken
		want error
	}{
		{"taken hash", newRefreshToken("rt1", g.ID, at(time.Hour)), store.ErrConflict},
		{"grant does not exist", newRefreshToken("rt2", "ghost", at(time.Hour)), store.ErrNotFound},
	} {
		wantErr(t, tt.name, s.CreateRefreshToken(ctx, tt.rt), tt.want)
	}

	used, err := s.UseRefreshToken(ctx, "rt1", at(time.Minute))
	wantErr(t, "UseRefreshToken", err, nil)
	want := *rt
	want.UsedAt = at(time.Minute)
	diff(t, "used refresh token", &want, used)

	_, err = s.UseRefreshToken(ctx, "rt1", at(2*time.Minute))
	wantErr(t, "UseRefreshToken again (reuse)", err, store.ErrConflict)
	got, err = s.GetRefreshToken(ctx, "rt1")
	wantErr(t, "GetRefreshToken after reuse", err, nil)
	diff(t, "refresh token after reuse (first use stands)", &want, got)

	_, err = s.UseRefreshToken(ctx, "nope", t0)
	wantErr(t, "UseRefreshToken(unknown)", err, store.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, "nope")
	wantErr(t, "GetRefreshToken(unknown)", err, store.ErrNotFound)

	// Deleting the grant deletes its tokens: the grant is the token family.
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "app"), nil)
	_, err = s.GetRefreshToken(ctx, "rt1")
	wantErr(t, "refresh token of a deleted client's grant", err, store.ErrNotFound)
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	sess := &store.Session{Hash: "s1", UserID: "ada", AuthTime: t0, CreatedAt: t0, ExpiresAt: at(time.Hour)}
	wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	wantErr(t, "CreateSession(taken hash)", s.CreateSession(ctx, sess), store.ErrConflict)
	wantErr(t, "CreateSession(unknown user)",
		s.CreateSession(ctx, &store.Session{Hash: "s2", UserID: "ghost", ExpiresAt: at(time.Hour)}), store.ErrNotFound)

	for _, tt := range []struct {
		name string
		hash string
		now  time.Time
		want *store.Session
		err  error
	}{
		{"live", "s1", at(time.Hour - time.Millisecond), sess, nil},
		{"at expiry", "s1", at(time.Hour), nil, store.ErrNotFound},
		{"unknown", "s9", t0, nil, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetSession(ctx, tt.hash, tt.now)
			wantErr(t, "GetSession", err, tt.err)
			diff(t, "session", tt.want, got)
		})
	}

	wantErr(t, "DeleteSession", s.DeleteSession(ctx, "s1"), nil)
	_, err := s.GetSession(ctx, "s1", t0)
	wantErr(t, "GetSession after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteSession again (signing out twice)", s.DeleteSession(ctx, "s1"), nil)
}
