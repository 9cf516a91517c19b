package storetest

import (
	"errors"
	"fmt"
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

	_, err = s.GetRefreshToken(ctx, "nope")
	wantErr(t, "GetRefreshToken(unknown)", err, store.ErrNotFound)

	// Deleting the grant deletes its tokens: the grant is the token family.
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "app"), nil)
	_, err = s.GetRefreshToken(ctx, "rt1")
	wantErr(t, "refresh token of a deleted client's grant", err, store.ErrNotFound)
}

// testRotateRefreshToken: each rotation marks the old token used and stores
// the next, all or nothing, after the check has seen the family; presenting
// a used token again is reuse.
func testRotateRefreshToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := grantFixture(t, s)
	ada := mustGetUser(t, s, "ada")
	first := mustCreateRefreshToken(t, s, newRefreshToken("rt1", g.ID, at(24*time.Hour)))
	mustGet := func(hash string) *store.RefreshToken {
		t.Helper()
		rt, err := s.GetRefreshToken(ctx, hash)
		if err != nil {
			t.Fatalf("GetRefreshToken(%q): %v", hash, err)
		}
		return rt
	}

	// A rotation that fails, or that its check refuses, leaves the old token
	// unused and stores nothing. A taken hash is an error, but not
	// ErrConflict: that means reuse, and has the caller revoke the grant.
	refusal := errors.New("refused by the check")
	var seen *store.RefreshFamily
	for _, tt := range []struct {
		name  string
		next  string
		check func(*store.RefreshFamily) error
		want  error // nil: any error but ErrConflict
	}{
		{"check refuses", "rt2", func(f *store.RefreshFamily) error { seen = f; return refusal }, refusal},
		{"next token's hash is taken", "rt1", allow, nil},
	} {
		t.Run("fails: "+tt.name, func(t *testing.T) {
			_, err := s.RotateRefreshToken(ctx, first.Hash, tt.next, time.Time{}, at(time.Minute), tt.check)
			if tt.want != nil {
				wantErr(t, "RotateRefreshToken", err, tt.want)
			} else if err == nil || errors.Is(err, store.ErrConflict) {
				t.Fatalf("RotateRefreshToken = %v; want an error other than ErrConflict", err)
			}
			diff(t, "old token after a failed rotation", first, mustGet(first.Hash))
			if tt.next != first.Hash {
				_, err = s.GetRefreshToken(ctx, tt.next)
				wantErr(t, "GetRefreshToken of the refused rotation's next token", err, store.ErrNotFound)
			}
		})
	}
	used := *first
	used.UsedAt = at(time.Minute)
	diff(t, "the family the check saw", &store.RefreshFamily{Token: &used, Grant: g, User: ada}, seen)

	// A chain of rotations: rt1 -> rt2 -> rt3 -> rt4. The next token has the
	// grant, client and scopes of the old one and expires with the grant,
	// or at idleUntil when that is sooner.
	chain := []*store.RefreshToken{first}
	for i, idle := range []time.Time{{}, at(time.Hour), at(100 * 24 * time.Hour)} {
		prev := chain[len(chain)-1]
		now := at(time.Duration(i+2) * time.Minute)
		next := &store.RefreshToken{Hash: fmt.Sprint("rt", i+2), GrantID: g.ID, ClientID: prev.ClientID, Scopes: prev.Scopes,
			CreatedAt: now, ExpiresAt: g.ExpiresAt}
		if !idle.IsZero() && idle.Before(g.ExpiresAt) {
			next.ExpiresAt = idle
		}
		fam, err := s.RotateRefreshToken(ctx, prev.Hash, next.Hash, idle, now, allow)
		wantErr(t, "RotateRefreshToken", err, nil)
		used := *prev
		used.UsedAt = now
		diff(t, "family returned by RotateRefreshToken("+prev.Hash+")", &store.RefreshFamily{Token: &used, Grant: g, User: ada}, fam)
		diff(t, "old token stored after the rotation", &used, mustGet(prev.Hash))
		diff(t, "next token stored by the rotation", next, mustGet(next.Hash))
		chain[len(chain)-1] = &used
		chain = append(chain, next)
	}

	// Reuse of any rotated token is ErrConflict, with the family as stored;
	// the first use stands and the would-be next token is not stored.
	// The family comes with the token it was rotated into, as stored:
	// used, but for the chain's last.
	for i, used := range chain[:len(chain)-1] {
		fam, err := s.RotateRefreshToken(ctx, used.Hash, "rt-reuse", time.Time{}, at(time.Hour), allow)
		wantErr(t, "RotateRefreshToken("+used.Hash+") again (reuse)", err, store.ErrConflict)
		diff(t, "family of a reused token", &store.RefreshFamily{Token: used, Grant: g, User: ada, Successor: chain[i+1]}, fam)
		diff(t, "refresh token after reuse (first use stands)", used, mustGet(used.Hash))
	}
	// Two rotations of one chain in the same millisecond: the reused
	// token's successor is the one it was rotated into (used), not its
	// unused grandchild, which would pass the reuse off as a lost race.
	quick := mustCreateRefreshToken(t, s, newRefreshToken("rt-q1", g.ID, at(24*time.Hour)))
	for _, next := range [][2]string{{quick.Hash, "rt-q2"}, {"rt-q2", "rt-q3"}} {
		_, err := s.RotateRefreshToken(ctx, next[0], next[1], time.Time{}, at(3*time.Hour), allow)
		wantErr(t, "RotateRefreshToken in the same millisecond", err, nil)
	}
	fam, err := s.RotateRefreshToken(ctx, quick.Hash, "rt-q-reuse", time.Time{}, at(3*time.Hour), allow)
	wantErr(t, "RotateRefreshToken(rt-q1) again", err, store.ErrConflict)
	if fam == nil || fam.Successor == nil || fam.Successor.Hash != "rt-q2" {
		t.Errorf("successor of rt-q1 = %+v; want rt-q2", fam)
	}

	_, err = s.RotateRefreshToken(ctx, "nope", "rt-unknown", time.Time{}, t0, allow)
	wantErr(t, "RotateRefreshToken(unknown)", err, store.ErrNotFound)
	for _, hash := range []string{"rt-reuse", "rt-unknown"} {
		_, err = s.GetRefreshToken(ctx, hash)
		wantErr(t, "GetRefreshToken of a token a refused rotation would have stored", err, store.ErrNotFound)
	}
	diff(t, "the chain's last token", chain[len(chain)-1], mustGet(chain[len(chain)-1].Hash))

	// A client's own grant has no user; a revoked grant is the check's to
	// refuse, and the store hands it over as it is.
	own := mustCreateGrant(t, s, newGrant("own", "", g.ClientID, t0))
	ownRT := mustCreateRefreshToken(t, s, newRefreshToken("rt-own", own.ID, at(24*time.Hour)))
	wantErr(t, "RevokeGrant", s.RevokeGrant(ctx, own.ID, at(time.Minute)), nil)
	fam, err = s.RotateRefreshToken(ctx, ownRT.Hash, "rt-own-2", time.Time{}, at(2*time.Minute), allow)
	wantErr(t, "RotateRefreshToken(client's own, revoked)", err, nil)
	if fam.User != nil || fam.Grant.RevokedAt.IsZero() || fam.Grant.UserID != "" {
		t.Errorf("family of a client's own revoked grant = %+v; want no user and the revocation", fam)
	}
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

func testRevokeAccessToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "machine", false)
	for _, jti := range []string{"jti-1", "jti-2", "never"} {
		got, err := s.AccessTokenRevoked(ctx, jti)
		wantErr(t, "AccessTokenRevoked before", err, nil)
		if got {
			t.Errorf("AccessTokenRevoked(%q) = true before any revocation", jti)
		}
	}
	wantErr(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "jti-1", c.ID, at(time.Hour)), nil)
	wantErr(t, "RevokeAccessToken again", s.RevokeAccessToken(ctx, "jti-1", c.ID, at(2*time.Hour)), nil)
	// The client is a record, not a reference: a deleted client's token can
	// still be revoked.
	wantErr(t, "RevokeAccessToken(unknown client)", s.RevokeAccessToken(ctx, "jti-2", "ghost", at(time.Hour)), nil)
	for jti, want := range map[string]bool{"jti-1": true, "jti-2": true, "never": false, "jti-1\x00": false} {
		got, err := s.AccessTokenRevoked(ctx, jti)
		wantErr(t, "AccessTokenRevoked", err, nil)
		if got != want {
			t.Errorf("AccessTokenRevoked(%q) = %v, want %v", jti, got, want)
		}
	}
	wantErr(t, "RevokeAccessToken(not text)", s.RevokeAccessToken(ctx, "bad\xff", c.ID, at(time.Hour)), store.ErrInvalid)

	// Listed for export until they expire, the first record kept.
	wantErr(t, "RevokeAccessToken(soon over)", s.RevokeAccessToken(ctx, "jti-0", c.ID, at(time.Minute)), nil)
	got, err := s.ListRevokedAccessTokens(ctx, t0)
	wantErr(t, "ListRevokedAccessTokens", err, nil)
	diff(t, "ListRevokedAccessTokens", []*store.RevokedAccessToken{
		{JTI: "jti-0", ClientID: c.ID, ExpiresAt: at(time.Minute)},
		{JTI: "jti-1", ClientID: c.ID, ExpiresAt: at(time.Hour)},
		{JTI: "jti-2", ClientID: "ghost", ExpiresAt: at(time.Hour)},
	}, got)
	got, err = s.ListRevokedAccessTokens(ctx, at(time.Minute))
	wantErr(t, "ListRevokedAccessTokens later", err, nil)
	if len(got) != 2 || got[0].JTI != "jti-1" {
		t.Errorf("ListRevokedAccessTokens once jti-0 expired: %+v", got)
	}
}

// testRevokeClientTokens: every active grant of the client is revoked with
// its refresh tokens, and TokensRevokedAt is set; an earlier revocation of
// a grant stands, another client's grants are untouched, UpdateClient
// keeps TokensRevokedAt.
func testRevokeClientTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	g1 := grantFixture(t, s) // ada's, of app
	mustCreateUser(t, s, "bob")
	g2 := mustCreateGrant(t, s, newGrant("g2", "bob", "app", t0))
	old := mustCreateGrant(t, s, newGrant("g-old", "bob", "app", t0))
	mustCreateClient(t, s, "other", false)
	g3 := mustCreateGrant(t, s, newGrant("g3", "ada", "other", t0))
	rt1 := mustCreateRefreshToken(t, s, newRefreshToken("rt-1", g1.ID, at(24*time.Hour)))
	rt3 := mustCreateRefreshToken(t, s, newRefreshToken("rt-3", g3.ID, at(24*time.Hour)))
	wantErr(t, "RevokeGrant", s.RevokeGrant(ctx, old.ID, at(time.Minute)), nil)

	revokeAt := at(time.Hour)
	n, err := s.RevokeClientTokens(ctx, "app", revokeAt)
	wantErr(t, "RevokeClientTokens", err, nil)
	if n != 2 {
		t.Errorf("RevokeClientTokens revoked %d grants; want 2", n)
	}
	for id, want := range map[string]time.Time{g1.ID: revokeAt, g2.ID: revokeAt, old.ID: at(time.Minute), g3.ID: {}} {
		g, err := s.GetGrant(ctx, id)
		wantErr(t, "GetGrant", err, nil)
		if !g.RevokedAt.Equal(want) {
			t.Errorf("grant %s revoked at %v; want %v", id, g.RevokedAt, want)
		}
	}
	for hash, want := range map[string]time.Time{rt1.Hash: revokeAt, rt3.Hash: rt3.ExpiresAt} {
		rt, err := s.GetRefreshToken(ctx, hash)
		wantErr(t, "GetRefreshToken", err, nil)
		if !rt.ExpiresAt.Equal(want) {
			t.Errorf("refresh token %s expires %v; want %v", hash, rt.ExpiresAt, want)
		}
	}
	c := mustGetClient(t, s, "app")
	if !c.TokensRevokedAt.Equal(revokeAt) {
		t.Errorf("TokensRevokedAt = %v; want %v", c.TokensRevokedAt, revokeAt)
	}
	if o := mustGetClient(t, s, "other"); !o.TokensRevokedAt.IsZero() {
		t.Errorf("another client's TokensRevokedAt = %v", o.TokensRevokedAt)
	}
	c.Name = "Renamed"
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, c), nil)
	if again := mustGetClient(t, s, "app"); !again.TokensRevokedAt.Equal(revokeAt) {
		t.Errorf("after UpdateClient: TokensRevokedAt = %v", again.TokensRevokedAt)
	}
	_, err = s.RevokeClientTokens(ctx, "nope", revokeAt)
	wantErr(t, "RevokeClientTokens(missing)", err, store.ErrNotFound)
}
