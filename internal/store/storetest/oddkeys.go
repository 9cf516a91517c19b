package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// oddKeys are lookup keys a request can carry that no record has: NUL bytes
// and invalid UTF-8 are just bytes to a store, never a reason for an error
// other than ErrNotFound (which the endpoints turn into the usual
// invalid_grant), and the empty string matches nothing.
var oddKeys = []string{"", "\x00", "a\x00b", "hash\x00", "\xff\xfe\xfd", "\xc3\x28", "%", "_", "' OR 1=1 --"}

func testOddKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A record of each kind, so a lookup that ignored the key would find one.
	g := grantFixture(t, s)
	c := mustCreateClient(t, s, "tv", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	mustCreateRefreshToken(t, s, newRefreshToken("rt1", g.ID, at(24*time.Hour)))
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: "s1", UserID: "ada", ExpiresAt: at(time.Hour)}), nil)

	for _, key := range oddKeys {
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"GetClient", lookupErr(s.GetClient(ctx, key))},
			{"GetUser", lookupErr(s.GetUser(ctx, key))},
			{"GetUserByEmail", lookupErr(s.GetUserByEmail(ctx, key))},
			{"GetDeviceAuthByUserCode", lookupErr(s.GetDeviceAuthByUserCode(ctx, key))},
			{"DecideDeviceAuth", lookupErr(s.DecideDeviceAuth(ctx, key, "ada", true, t0))},
			{"PollDeviceAuth(key, owner)", lookupErr(s.PollDeviceAuth(ctx, key, "tv", true, t0))},
			{"PollDeviceAuth(code, key)", lookupErr(s.PollDeviceAuth(ctx, a.DeviceCodeHash, key, false, t0))},
			{"SetDeviceAuthGrant", s.SetDeviceAuthGrant(ctx, key, g.ID)},
			{"GetGrant", lookupErr(s.GetGrant(ctx, key))},
			{"RevokeGrant", s.RevokeGrant(ctx, key, t0)},
			{"GetRefreshToken", lookupErr(s.GetRefreshToken(ctx, key))},
			{"UseRefreshToken", lookupErr(s.UseRefreshToken(ctx, key, t0))},
			{"GetSession", lookupErr(s.GetSession(ctx, key, t0))},
			{"DeleteClient", s.DeleteClient(ctx, key)},
			{"DeleteUser", s.DeleteUser(ctx, key)},
			{"DeleteSigningKey", s.DeleteSigningKey(ctx, key)},
		} {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Errorf("%s(%q) error = %v, want ErrNotFound", tt.name, key, tt.err)
			}
		}
		if gs, err := s.ListGrantsByUser(ctx, key); err != nil || len(gs) != 0 {
			t.Errorf("ListGrantsByUser(%q) = %d grants, %v; want none", key, len(gs), err)
		}
		if n, err := s.Count(ctx, key, t0); err != nil || n != 0 {
			t.Errorf("Count(%q) = %d, %v; want 0", key, n, err)
		}
		if err := s.DeleteSession(ctx, key); err != nil {
			t.Errorf("DeleteSession(%q) = %v", key, err)
		}
	}
	// Nothing was changed by the lookups.
	diff(t, "device authorization after odd lookups", a, mustGetDeviceAuth(t, s, a.UserCodeHash))
	if _, err := s.GetSession(ctx, "s1", t0); err != nil {
		t.Errorf("GetSession after odd lookups: %v", err)
	}
}

// testOddKeysRoundTrip: keys holding NUL bytes or invalid UTF-8 are stored
// and found whole, and a prefix of one (as a C string would cut it) is not.
func testOddKeysRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tt := range []struct {
		id, prefix string
	}{
		{"client\x00evil", "client"},
		{"client\xff\xfe", "client"},
	} {
		c := newClient(tt.id, true)
		wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
		got, err := s.GetClient(ctx, tt.id)
		wantErr(t, "GetClient", err, nil)
		diff(t, "client with an odd id", c, got)
		_, err = s.GetClient(ctx, tt.prefix)
		wantErr(t, "GetClient(prefix)", err, store.ErrNotFound)
	}
	n, err := s.Hit(ctx, "key\x00", t0, at(time.Hour))
	wantErr(t, "Hit", err, nil)
	if n != 1 {
		t.Errorf("Hit = %d, want 1", n)
	}
	for key, want := range map[string]int{"key\x00": 1, "key": 0} {
		got, err := s.Count(ctx, key, t0)
		if err != nil || got != want {
			t.Errorf("Count(%q) = %d, %v; want %d", key, got, err, want)
		}
	}
}
