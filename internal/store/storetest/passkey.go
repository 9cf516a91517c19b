package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The cases below hold both backends to store.PasskeyStore: round trips,
// a person acting only on their own passkeys, a credential id unique
// across users, and a sign count that only advances, once, under
// concurrency.

func newPasskey(id, userID string) *store.Passkey {
	return &store.Passkey{ID: id, UserID: userID, PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26},
		SignCount: 0, Transports: []string{"internal", "hybrid"},
		AAGUID: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Flags: 0x1d,
		AttestationFormat: "none", Name: "Phone " + id, CreatedAt: t0}
}

func testPasskeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	p := newPasskey("cred-1", "ada")
	wantErr(t, "CreatePasskey", s.CreatePasskey(ctx, p), nil)
	got, err := s.GetPasskey(ctx, "cred-1")
	wantErr(t, "GetPasskey", err, nil)
	diff(t, "passkey", p, got)

	wantErr(t, "CreatePasskey with a taken id, another user",
		s.CreatePasskey(ctx, newPasskey("cred-1", "bob")), store.ErrConflict)
	wantErr(t, "CreatePasskey for a missing user", s.CreatePasskey(ctx, newPasskey("cred-x", "nobody")), store.ErrNotFound)
	bad := newPasskey("cred-y", "ada")
	bad.Name = "a\x00b"
	wantErr(t, "CreatePasskey with a name that is not text", s.CreatePasskey(ctx, bad), store.ErrInvalid)
	long := newPasskey("cred-z", "ada")
	long.Name = strings.Repeat("x", store.MaxPasskeyName+1)
	wantErr(t, "CreatePasskey with a long name", s.CreatePasskey(ctx, long), store.ErrInvalid)
	_, err = s.GetPasskey(ctx, "cred-missing")
	wantErr(t, "GetPasskey of a missing id", err, store.ErrNotFound)

	p2 := newPasskey("cred-2", "ada")
	p2.CreatedAt = at(time.Minute)
	p2.Transports = nil
	wantErr(t, "CreatePasskey 2", s.CreatePasskey(ctx, p2), nil)
	wantErr(t, "CreatePasskey bob's", s.CreatePasskey(ctx, newPasskey("cred-3", "bob")), nil)
	list, err := s.ListPasskeys(ctx, "ada")
	wantErr(t, "ListPasskeys", err, nil)
	diff(t, "ada's passkeys", []*store.Passkey{p, p2}, list)
	list, err = s.ListPasskeys(ctx, "nobody")
	wantErr(t, "ListPasskeys of nobody", err, nil)
	if len(list) != 0 {
		t.Errorf("ListPasskeys of nobody = %d passkeys", len(list))
	}

	// A person renames and removes only their own.
	wantErr(t, "RenamePasskey of another user's", s.RenamePasskey(ctx, "bob", "cred-1", "Mine now"), store.ErrNotFound)
	wantErr(t, "RenamePasskey to a name that is not text", s.RenamePasskey(ctx, "ada", "cred-1", "\xff"), store.ErrInvalid)
	wantErr(t, "RenamePasskey", s.RenamePasskey(ctx, "ada", "cred-1", "Laptop"), nil)
	got, _ = s.GetPasskey(ctx, "cred-1")
	if got.Name != "Laptop" {
		t.Errorf("name after RenamePasskey = %q, want Laptop", got.Name)
	}
	wantErr(t, "DeletePasskey of another user's", s.DeletePasskey(ctx, "bob", "cred-1"), store.ErrNotFound)
	wantErr(t, "DeletePasskey", s.DeletePasskey(ctx, "ada", "cred-2"), nil)
	wantErr(t, "DeletePasskey again", s.DeletePasskey(ctx, "ada", "cred-2"), store.ErrNotFound)
	_, err = s.GetPasskey(ctx, "cred-2")
	wantErr(t, "GetPasskey of a deleted one", err, store.ErrNotFound)

	// The sign count advances; one that does not is refused.
	wantErr(t, "UsePasskey with counter 0 on a counterless key", s.UsePasskey(ctx, "cred-1", 0, 0x1d, at(time.Hour)), nil)
	wantErr(t, "UsePasskey 5", s.UsePasskey(ctx, "cred-1", 5, 0x1d, at(2*time.Hour)), nil)
	wantErr(t, "UsePasskey 5 again", s.UsePasskey(ctx, "cred-1", 5, 0x1d, at(3*time.Hour)), store.ErrConflict)
	wantErr(t, "UsePasskey 4", s.UsePasskey(ctx, "cred-1", 4, 0x1d, at(3*time.Hour)), store.ErrConflict)
	wantErr(t, "UsePasskey 0 after 5", s.UsePasskey(ctx, "cred-1", 0, 0x1d, at(3*time.Hour)), store.ErrConflict)
	wantErr(t, "UsePasskey of a missing one", s.UsePasskey(ctx, "cred-2", 9, 0x1d, at(3*time.Hour)), store.ErrNotFound)
	got, _ = s.GetPasskey(ctx, "cred-1")
	if got.SignCount != 5 || !got.LastUsedAt.Equal(at(2*time.Hour)) {
		t.Errorf("after uses: count %d, last used %v; want 5, %v", got.SignCount, got.LastUsedAt, at(2*time.Hour))
	}

	// Of concurrent uses with the same count, exactly one wins.
	errs := race(func(int) error { return s.UsePasskey(ctx, "cred-1", 6, 0x1d, at(4*time.Hour)) })
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantErr(t, fmt.Sprint("concurrent UsePasskey ", i), err, store.ErrConflict)
	}
	if won != 1 {
		t.Errorf("concurrent UsePasskey with one count: %d won, want 1", won)
	}

	// A user's passkeys go with the user.
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "ada"), nil)
	_, err = s.GetPasskey(ctx, "cred-1")
	wantErr(t, "GetPasskey after the user was deleted", err, store.ErrNotFound)
}
