package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	newer := &store.SigningKey{ID: "k2", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x81, 0x87, 0x00, 0xff},
		CreatedAt: at(time.Hour), NotBefore: at(2 * time.Hour)}
	older := &store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x00},
		CreatedAt: t0, NotBefore: t0}
	for _, k := range []*store.SigningKey{newer, older} {
		wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, k), nil)
	}
	got, err := s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "ListSigningKeys (oldest first)", []*store.SigningKey{older, newer}, got)

	wantErr(t, "CreateSigningKey(taken id)", s.CreateSigningKey(ctx, older), store.ErrConflict)
	wantErr(t, "UpdateSigningKey(missing)", s.UpdateSigningKey(ctx, &store.SigningKey{ID: "k9", Algorithm: "ES256"}), store.ErrNotFound)
	wantErr(t, "DeleteSigningKey(missing)", s.DeleteSigningKey(ctx, "k9"), store.ErrNotFound)

	// Rotation: the older key stops signing.
	retired := *older
	retired.NotAfter = at(2 * time.Hour)
	wantErr(t, "UpdateSigningKey", s.UpdateSigningKey(ctx, &retired), nil)
	got, err = s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "ListSigningKeys after update", []*store.SigningKey{&retired, newer}, got)

	wantErr(t, "DeleteSigningKey", s.DeleteSigningKey(ctx, "k1"), nil)
	got, err = s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "ListSigningKeys after delete", []*store.SigningKey{newer}, got)
}

func testServerSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tt := range []struct {
		name  string
		value []byte
		want  []byte
	}{
		{"csrf", []byte("first\x00value"), []byte("first\x00value")},
		{"csrf", []byte("second"), []byte("first\x00value")}, // the first stored value stands
		{"cookie", []byte("another"), []byte("another")},
	} {
		got, err := s.ServerSecret(ctx, tt.name, tt.value)
		wantErr(t, "ServerSecret", err, nil)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("ServerSecret(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

func testThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	w1, w2 := t0, at(time.Minute)
	until := at(2 * time.Minute)
	for i, tt := range []struct {
		key    string
		window time.Time
		want   int
	}{
		{"ip:192.0.2.7", w1, 1},
		{"ip:192.0.2.7", w1, 2},
		{"ip:192.0.2.7", w1, 3},
		{"ip:192.0.2.7", w2, 1}, // a new window starts at 1
		{"account:ada", w1, 1},  // keys count apart
	} {
		got, err := s.Hit(ctx, tt.key, tt.window, until)
		wantErr(t, "Hit", err, nil)
		if got != tt.want {
			t.Errorf("hit %d: Hit(%q, %v) = %d, want %d", i, tt.key, tt.window, got, tt.want)
		}
	}
	type count struct {
		key    string
		window time.Time
		want   int
	}
	wantCounts := func(when string, counts ...count) {
		t.Helper()
		for _, c := range counts {
			got, err := s.Count(ctx, c.key, c.window)
			wantErr(t, "Count "+when, err, nil)
			if got != c.want {
				t.Errorf("%s, Count(%q, %v) = %d, want %d", when, c.key, c.window, got, c.want)
			}
		}
	}
	wantCounts("after the hits",
		count{"ip:192.0.2.7", w1, 3},
		count{"ip:192.0.2.7", w2, 1},
		count{"account:ada", w1, 1},
		count{"account:ada", w2, 0},
		count{"never", w1, 0},
	)

	// Refund takes back one hit of its key and window only, never below
	// zero, and creates nothing where nothing was counted.
	for _, r := range []struct {
		key    string
		window time.Time
	}{
		{"ip:192.0.2.7", w1}, {"ip:192.0.2.7", w1},
		{"account:ada", w1}, {"account:ada", w1}, // the second finds 0
		{"never", w1},
	} {
		wantErr(t, "Refund", s.Refund(ctx, r.key, r.window), nil)
	}
	wantCounts("after the refunds",
		count{"ip:192.0.2.7", w1, 1},
		count{"ip:192.0.2.7", w2, 1},
		count{"account:ada", w1, 0},
		count{"never", w1, 0},
	)
	// A hit after a refund to zero counts from there.
	got, err := s.Hit(ctx, "account:ada", w1, until)
	wantErr(t, "Hit after Refund", err, nil)
	if got != 1 {
		t.Errorf("Hit after refunding to zero = %d, want 1", got)
	}

	// Sum adds up the windows that start in [from, to), of its key only.
	w3 := at(2 * time.Minute)
	for range 4 {
		_, err := s.Hit(ctx, "ip:192.0.2.7", w3, until)
		wantErr(t, "Hit", err, nil)
	}
	for _, tt := range []struct {
		name     string
		key      string
		from, to time.Time
		want     int
	}{
		{"all three windows", "ip:192.0.2.7", w1, at(3 * time.Minute), 1 + 1 + 4},
		{"to is excluded", "ip:192.0.2.7", w1, w3, 1 + 1},
		{"from is included", "ip:192.0.2.7", w2, at(time.Hour), 1 + 4},
		{"one window", "ip:192.0.2.7", w3, w3.Add(time.Millisecond), 4},
		{"before anything", "ip:192.0.2.7", at(-time.Hour), w1, 0},
		{"empty range", "ip:192.0.2.7", w2, w2, 0},
		{"another key", "account:ada", w1, at(time.Hour), 1},
		{"unknown key", "never", w1, at(time.Hour), 0},
		{"not text", "ip:\x00", w1, at(time.Hour), 0},
	} {
		got, err := s.Sum(ctx, tt.key, tt.from, tt.to)
		wantErr(t, "Sum: "+tt.name, err, nil)
		if got != tt.want {
			t.Errorf("Sum: %s: Sum(%q, %v, %v) = %d, want %d", tt.name, tt.key, tt.from, tt.to, got, tt.want)
		}
	}
}

// testThrottleAdd: Add counts many events at once into the same row as
// Hit, returns the new count, and refuses a count below one and a key that
// is not text without counting anything.
func testThrottleAdd(t *testing.T, s store.Store) {
	ctx := t.Context()
	w1, w2 := t0, at(time.Minute)
	until := at(2 * time.Minute)
	for i, tt := range []struct {
		key    string
		window time.Time
		n      int
		hit    bool // Hit rather than Add
		want   int
	}{
		{"token:client:tv", w1, 5, false, 5},
		{"token:client:tv", w1, 0, true, 6}, // a Hit adds one to what Add counted
		{"token:client:tv", w1, 94, false, 100},
		{"token:client:tv", w2, 3, false, 3}, // a new window starts from nothing
		{"token:client:radio", w1, 1, false, 1},
	} {
		var got int
		var err error
		if tt.hit {
			got, err = s.Hit(ctx, tt.key, tt.window, until)
		} else {
			got, err = s.Add(ctx, tt.key, tt.window, until, tt.n)
		}
		wantErr(t, "Add", err, nil)
		if got != tt.want {
			t.Errorf("step %d: count %d, want %d", i, got, tt.want)
		}
	}
	for _, n := range []int{0, -1} {
		_, err := s.Add(ctx, "token:client:tv", w1, until, n)
		wantErr(t, "Add of a count below one", err, store.ErrInvalid)
	}
	_, err := s.Add(ctx, "token:\x00", w1, until, 2)
	wantErr(t, "Add of a key that is not text", err, store.ErrInvalid)
	for _, c := range []struct {
		key    string
		window time.Time
		want   int
	}{
		{"token:client:tv", w1, 100},
		{"token:client:tv", w2, 3},
		{"token:client:radio", w1, 1},
	} {
		got, err := s.Count(ctx, c.key, c.window)
		wantErr(t, "Count", err, nil)
		if got != c.want {
			t.Errorf("Count(%q, %v) = %d, want %d", c.key, c.window, got, c.want)
		}
	}
	// A row Add made is swept like any other once until has passed.
	if _, err := s.Add(ctx, "token:client:gone", w1, at(time.Second), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx, at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Count(ctx, "token:client:gone", w1); err != nil || got != 0 {
		t.Errorf("Count of a swept row = %d, %v; want 0", got, err)
	}
}

func testSweep(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Hour)
	before, after := now.Add(-time.Millisecond), now.Add(time.Minute)

	g := grantFixture(t, s)
	c := mustCreateClient(t, s, "tv", true)
	deadAuth := newDeviceAuth(c, 1)
	deadAuth.ExpiresAt = before
	liveAuth := newDeviceAuth(c, 2)
	liveAuth.ExpiresAt = after
	for _, a := range []*store.DeviceAuth{deadAuth, liveAuth} {
		mustCreateDeviceAuth(t, s, a)
	}
	for _, sess := range []*store.Session{
		{Hash: "s-dead", UserID: "ada", ExpiresAt: before},
		{Hash: "s-live", UserID: "ada", ExpiresAt: after},
	} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	}
	mustCreateRefreshToken(t, s, newRefreshToken("rt-dead", g.ID, before))
	mustCreateRefreshToken(t, s, newRefreshToken("rt-live", g.ID, after))
	mustCreateRefreshToken(t, s, newRefreshToken("rt-endless", g.ID, time.Time{}))
	for _, h := range []struct {
		key   string
		until time.Time
	}{{"dead", before}, {"live", after}} {
		if _, err := s.Hit(ctx, h.key, t0, h.until); err != nil {
			t.Fatalf("Hit: %v", err)
		}
	}

	// Grants without a user (the service API's, for a subject of the
	// integrator's) and a person's go alike once past their absolute
	// expiry: their tokens can never be used again.
	machineDead := newGrant("machine-dead", "", c.ID, t0)
	machineDead.ExpiresAt = before
	machineLive := newGrant("machine-live", "", c.ID, t0)
	machineLive.ExpiresAt = after
	userExpired := newGrant("user-expired", "ada", c.ID, t0)
	userExpired.ExpiresAt = before
	for _, mg := range []*store.Grant{machineDead, machineLive, userExpired} {
		mustCreateGrant(t, s, mg)
	}

	// Revoked access tokens are remembered until they would have expired.
	wantErr(t, "RevokeAccessToken(dead)", s.RevokeAccessToken(ctx, "jti-dead", c.ID, before), nil)
	wantErr(t, "RevokeAccessToken(live)", s.RevokeAccessToken(ctx, "jti-live", c.ID, after), nil)

	n, err := s.Sweep(ctx, now)
	wantErr(t, "Sweep", err, nil)
	if n != 7 {
		t.Errorf("Sweep deleted %d rows, want 7", n)
	}
	n, err = s.Sweep(ctx, now)
	wantErr(t, "Sweep again", err, nil)
	if n != 0 {
		t.Errorf("second Sweep deleted %d rows, want 0", n)
	}

	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"expired device authorization", lookupErr(s.GetDeviceAuthByUserCode(ctx, deadAuth.UserCodeHash)), store.ErrNotFound},
		{"live device authorization", lookupErr(s.GetDeviceAuthByUserCode(ctx, liveAuth.UserCodeHash)), nil},
		{"expired session", lookupErr(s.GetSession(ctx, "s-dead", t0)), store.ErrNotFound},
		{"live session", lookupErr(s.GetSession(ctx, "s-live", t0)), nil},
		{"expired refresh token", lookupErr(s.GetRefreshToken(ctx, "rt-dead")), store.ErrNotFound},
		{"live refresh token", lookupErr(s.GetRefreshToken(ctx, "rt-live")), nil},
		{"refresh token without expiry", lookupErr(s.GetRefreshToken(ctx, "rt-endless")), nil},
		{"grant", lookupErr(s.GetGrant(ctx, g.ID)), nil},
		{"expired grant without a user", lookupErr(s.GetGrant(ctx, machineDead.ID)), store.ErrNotFound},
		{"live grant without a user", lookupErr(s.GetGrant(ctx, machineLive.ID)), nil},
		{"expired grant of a user", lookupErr(s.GetGrant(ctx, userExpired.ID)), store.ErrNotFound},
	} {
		wantErr(t, tt.name, tt.err, tt.want)
	}
	for jti, want := range map[string]bool{"jti-dead": false, "jti-live": true} {
		got, err := s.AccessTokenRevoked(ctx, jti)
		wantErr(t, "AccessTokenRevoked", err, nil)
		if got != want {
			t.Errorf("AccessTokenRevoked(%q) after Sweep = %v, want %v", jti, got, want)
		}
	}
	for _, tt := range []struct {
		key  string
		want int
	}{{"dead", 0}, {"live", 1}} {
		got, err := s.Count(ctx, tt.key, t0)
		wantErr(t, "Count", err, nil)
		if got != tt.want {
			t.Errorf("Count(%q) after Sweep = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// lookupErr keeps the error of a lookup.
func lookupErr[T any](_ T, err error) error { return err }
