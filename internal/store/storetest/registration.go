package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func newRegistrationToken(id string, uses int) *store.RegistrationToken {
	return &store.RegistrationToken{ID: id, Hash: "h-" + id, Description: "units of " + id, UsesLeft: uses,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
}

func testRegistrationTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newRegistrationToken("a", 2), newRegistrationToken("b", 1)
	b.CreatedAt = at(time.Second)
	for _, tok := range []*store.RegistrationToken{b, a} {
		wantErr(t, "CreateRegistrationToken", s.CreateRegistrationToken(ctx, tok), nil)
	}
	wantErr(t, "CreateRegistrationToken(taken id)", s.CreateRegistrationToken(ctx, &store.RegistrationToken{
		ID: "a", Hash: "other", CreatedAt: t0, ExpiresAt: t0}), store.ErrConflict)
	wantErr(t, "CreateRegistrationToken(taken hash)", s.CreateRegistrationToken(ctx, &store.RegistrationToken{
		ID: "c", Hash: a.Hash, CreatedAt: t0, ExpiresAt: t0}), store.ErrConflict)
	got, err := s.ListRegistrationTokens(ctx)
	wantErr(t, "ListRegistrationTokens", err, nil)
	diff(t, "ListRegistrationTokens (oldest first)", []*store.RegistrationToken{a, b}, got)
	one, err := s.GetRegistrationToken(ctx, a.Hash)
	wantErr(t, "GetRegistrationToken", err, nil)
	diff(t, "GetRegistrationToken", a, one)
	_, err = s.GetRegistrationToken(ctx, "nope")
	wantErr(t, "GetRegistrationToken(unknown)", err, store.ErrNotFound)

	// Each registration spends a use; a used-up token registers nothing.
	for i, want := range []error{nil, nil, store.ErrNotFound} {
		c := newClient(fmt.Sprint("dyn", i), true)
		err := s.RegisterClient(ctx, a.Hash, c, fmt.Sprint("rat", i), at(time.Minute))
		wantErr(t, fmt.Sprint("RegisterClient #", i), err, want)
		_, err = s.GetClient(ctx, c.ID)
		if want == nil {
			wantErr(t, "GetClient(registered)", err, nil)
			h, err := s.ClientRegistrationHash(ctx, c.ID)
			wantErr(t, "ClientRegistrationHash", err, nil)
			if h != fmt.Sprint("rat", i) {
				t.Errorf("ClientRegistrationHash = %q, want rat%d", h, i)
			}
		} else {
			wantErr(t, "GetClient(refused registration)", err, store.ErrNotFound)
		}
	}
	one, _ = s.GetRegistrationToken(ctx, a.Hash)
	if one.UsesLeft != 0 {
		t.Errorf("UsesLeft after two registrations = %d, want 0", one.UsesLeft)
	}
	// Expired: nothing is spent or stored.
	wantErr(t, "RegisterClient(expired)", s.RegisterClient(ctx, b.Hash, newClient("late", true), "x", at(time.Hour)), store.ErrNotFound)
	wantErr(t, "RegisterClient(unknown token)", s.RegisterClient(ctx, "nope", newClient("x", true), "x", t0), store.ErrNotFound)
	// A taken client id spends no use.
	mustCreateClient(t, s, "taken", true)
	wantErr(t, "RegisterClient(taken id)", s.RegisterClient(ctx, b.Hash, newClient("taken", true), "x", t0), store.ErrConflict)
	one, _ = s.GetRegistrationToken(ctx, b.Hash)
	if one.UsesLeft != 1 {
		t.Errorf("UsesLeft after a conflicting registration = %d, want 1", one.UsesLeft)
	}
	wantErr(t, "RegisterClient(bad text)", s.RegisterClient(ctx, b.Hash, newClient("bad\x00", true), "x", t0), store.ErrInvalid)

	// Rotating the registration access token: only from the current hash.
	wantErr(t, "RotateClientRegistrationHash", s.RotateClientRegistrationHash(ctx, "dyn1", "rat1", "rat1b"), nil)
	wantErr(t, "RotateClientRegistrationHash(old hash again)", s.RotateClientRegistrationHash(ctx, "dyn1", "rat1", "rat1c"), store.ErrNotFound)
	wantErr(t, "RotateClientRegistrationHash(admin's client)", s.RotateClientRegistrationHash(ctx, "taken", "", "x"), store.ErrNotFound)
	if h, _ := s.ClientRegistrationHash(ctx, "dyn1"); h != "rat1b" {
		t.Errorf("ClientRegistrationHash after rotating = %q, want rat1b", h)
	}
	_, err = s.ClientRegistrationHash(ctx, "taken")
	wantErr(t, "ClientRegistrationHash(admin's client)", err, store.ErrNotFound)
	// Deleting the client deletes its registration.
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "dyn0"), nil)
	_, err = s.ClientRegistrationHash(ctx, "dyn0")
	wantErr(t, "ClientRegistrationHash(deleted client)", err, store.ErrNotFound)

	wantErr(t, "DeleteRegistrationToken", s.DeleteRegistrationToken(ctx, "a"), nil)
	wantErr(t, "DeleteRegistrationToken(again)", s.DeleteRegistrationToken(ctx, "a"), store.ErrNotFound)

	// The sweeper deletes expired tokens.
	if _, err := s.Sweep(ctx, at(2*time.Hour)); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	got, err = s.ListRegistrationTokens(ctx)
	wantErr(t, "ListRegistrationTokens after sweep", err, nil)
	diff(t, "ListRegistrationTokens after sweep", []*store.RegistrationToken(nil), got)
}

// testConcurrentRegisterClient: racers registering with a token of fewer
// uses, on any number of instances, get exactly that many clients.
func testConcurrentRegisterClient(t *testing.T, s store.Store) {
	const uses = 3
	tok := newRegistrationToken("shared", uses)
	wantErr(t, "CreateRegistrationToken", s.CreateRegistrationToken(t.Context(), tok), nil)
	errs := race(func(i int) error {
		return s.RegisterClient(t.Context(), tok.Hash, newClient(fmt.Sprint("racer", i), true), fmt.Sprint("rat", i), t0)
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("RegisterClient %d: %v, want nil or ErrNotFound", i, err)
		}
	}
	if won != uses {
		t.Errorf("%d of %d concurrent registrations succeeded with a token of %d uses", won, racers, uses)
	}
	cs, err := s.ListClients(t.Context())
	wantErr(t, "ListClients", err, nil)
	if len(cs) != uses {
		t.Errorf("%d clients stored, want %d", len(cs), uses)
	}
}
