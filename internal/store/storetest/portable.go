package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// The cases below hold both backends to the methods export and import
// (package portable) use beyond the everyday ones: every passkey, every
// client registration, and TOTP enrolments moved in their sealed form.

// testListAllPasskeys: every user's passkeys, by user and then age.
func testListAllPasskeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	all, err := s.ListAllPasskeys(ctx)
	wantErr(t, "ListAllPasskeys of none", err, nil)
	if len(all) != 0 {
		t.Errorf("ListAllPasskeys of none = %d passkeys", len(all))
	}
	mustCreateUser(t, s, "bob")
	mustCreateUser(t, s, "ada")
	b1 := newPasskey("b1", "bob")
	a2 := newPasskey("a2", "ada")
	a2.CreatedAt, a2.SignCount, a2.LastUsedAt = at(time.Hour), 41, at(2*time.Hour)
	a1 := newPasskey("z1", "ada") // older than a2, though its id sorts after
	for _, p := range []*store.Passkey{b1, a2, a1} {
		wantErr(t, "CreatePasskey", s.CreatePasskey(ctx, p), nil)
	}
	all, err = s.ListAllPasskeys(ctx)
	wantErr(t, "ListAllPasskeys", err, nil)
	diff(t, "ListAllPasskeys", []*store.Passkey{a1, a2, b1}, all)
}

// testClientRegistrations: a registration listed, created again for a
// client of another database, refused twice or without its client, and
// gone with the client.
func testClientRegistrations(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newRegistrationToken("t", 5)
	wantErr(t, "CreateRegistrationToken", s.CreateRegistrationToken(ctx, tok), nil)
	wantErr(t, "RegisterClient", s.RegisterClient(ctx, tok.Hash, newClient("dyn-b", true), "rat-b", at(time.Minute)), nil)
	mustCreateClient(t, s, "moved", true)
	mustCreateClient(t, s, "static", false)

	moved := &store.ClientRegistration{ClientID: "moved", AccessHash: "rat-moved", CreatedAt: at(time.Second)}
	wantErr(t, "CreateClientRegistration", s.CreateClientRegistration(ctx, moved), nil)
	wantErr(t, "CreateClientRegistration again", s.CreateClientRegistration(ctx,
		&store.ClientRegistration{ClientID: "moved", AccessHash: "other", CreatedAt: t0}), store.ErrConflict)
	wantErr(t, "CreateClientRegistration without its client", s.CreateClientRegistration(ctx,
		&store.ClientRegistration{ClientID: "nobody", AccessHash: "x", CreatedAt: t0}), store.ErrNotFound)
	wantErr(t, "CreateClientRegistration without a hash", s.CreateClientRegistration(ctx,
		&store.ClientRegistration{ClientID: "static", CreatedAt: t0}), store.ErrInvalid)
	wantErr(t, "CreateClientRegistration with a hash that is not text", s.CreateClientRegistration(ctx,
		&store.ClientRegistration{ClientID: "static", AccessHash: "a\x00b", CreatedAt: t0}), store.ErrInvalid)
	h, err := s.ClientRegistrationHash(ctx, "moved")
	if err != nil || h != "rat-moved" {
		t.Errorf("ClientRegistrationHash of the created one = %q, %v", h, err)
	}

	got, err := s.ListClientRegistrations(ctx)
	wantErr(t, "ListClientRegistrations", err, nil)
	diff(t, "ListClientRegistrations (by client id)", []*store.ClientRegistration{
		{ClientID: "dyn-b", AccessHash: "rat-b", CreatedAt: at(time.Minute)}, moved}, got)

	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "moved"), nil)
	got, err = s.ListClientRegistrations(ctx)
	wantErr(t, "ListClientRegistrations after DeleteClient", err, nil)
	if len(got) != 1 || got[0].ClientID != "dyn-b" {
		t.Errorf("registrations after the client was deleted: %+v", got)
	}
}

// testSealedTOTPWithoutKey: a store without a Sealer lists secrets as
// stored (plaintext here) and cannot take a sealed one, which it could
// not open.
func testSealedTOTPWithoutKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	wantErr(t, "BeginTOTP", s.BeginTOTP(ctx, "ada", []byte("plain seed"), t0), nil)
	got, err := s.ListSealedTOTP(ctx)
	wantErr(t, "ListSealedTOTP", err, nil)
	diff(t, "ListSealedTOTP without a key", []*store.SealedTOTP{{UserID: "ada", Secret: []byte("plain seed"), CreatedAt: t0}}, got)

	sealed, err := ring(t, keyA).Seal([]byte("seed"), "totp/bob")
	wantErr(t, "Seal", err, nil)
	wantErr(t, "CheckSealedTOTP without a key", s.CheckSealedTOTP("bob", sealed), store.ErrSealed)
	wantErr(t, "CreateSealedTOTP without a key", s.CreateSealedTOTP(ctx, &store.SealedTOTP{UserID: "bob", Secret: sealed, CreatedAt: t0}), store.ErrSealed)
	wantErr(t, "CheckSealedTOTP of plaintext", s.CheckSealedTOTP("bob", []byte("seed")), store.ErrInvalid)
	if _, err := s.GetTOTP(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTOTP after refused creates: %v, want ErrNotFound", err)
	}
}

// testSealedTOTP runs on a store sealing with keyA: an enrolment with its
// recovery codes (used ones too) lists sealed and moves to another user
// row of a store holding keyA only if it is that row's (the associated
// data), under a key the ring holds; it is re-sealed under the sealing key
// and then works as one enrolled there.
func testSealedTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	wantErr(t, "BeginTOTP", s.BeginTOTP(ctx, "ada", []byte("ada's seed"), t0), nil)
	wantErr(t, "ConfirmTOTP", s.ConfirmTOTP(ctx, "ada", 1000, []string{"r1", "r2", "r3"}, at(time.Minute)), nil)
	wantErr(t, "UseTOTPStep", s.UseTOTPStep(ctx, "ada", 1002), nil)
	wantErr(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, "ada", "r2", at(time.Hour)), nil)
	wantErr(t, "BeginTOTP bob (unconfirmed)", s.BeginTOTP(ctx, "bob", []byte("bob's seed"), at(time.Second)), nil)

	list, err := s.ListSealedTOTP(ctx)
	wantErr(t, "ListSealedTOTP", err, nil)
	if len(list) != 2 {
		t.Fatalf("ListSealedTOTP = %d enrolments, want 2", len(list))
	}
	for _, e := range list {
		if !seal.Sealed(e.Secret) || bytes.Contains(e.Secret, []byte("seed")) {
			t.Errorf("ListSealedTOTP: %s's secret is not sealed: %q", e.UserID, e.Secret)
		}
	}
	ada, bob := list[0], list[1]
	diff(t, "ada's enrolment", &store.SealedTOTP{UserID: "ada", Secret: ada.Secret, CreatedAt: t0, ConfirmedAt: at(time.Minute), LastStep: 1002,
		Recovery: []store.RecoveryCode{{Hash: "r1"}, {Hash: "r2", UsedAt: at(time.Hour)}, {Hash: "r3"}}}, ada)
	diff(t, "bob's enrolment", &store.SealedTOTP{UserID: "bob", Secret: bob.Secret, CreatedAt: at(time.Second)}, bob)

	// Into a second database (here: the same one, after deleting the
	// enrolments), as an import would.
	wantErr(t, "DeleteTOTP ada", s.DeleteTOTP(ctx, "ada"), nil)
	wantErr(t, "DeleteTOTP bob", s.DeleteTOTP(ctx, "bob"), nil)
	wantErr(t, "CheckSealedTOTP of another row's secret", s.CheckSealedTOTP("bob", ada.Secret), store.ErrInvalid)
	wantErr(t, "CreateSealedTOTP of another row's secret", s.CreateSealedTOTP(ctx,
		&store.SealedTOTP{UserID: "bob", Secret: ada.Secret, CreatedAt: t0}), store.ErrInvalid)
	foreign, err := ring(t, keyB).Seal([]byte("seed"), "totp/ada")
	wantErr(t, "Seal under keyB", err, nil)
	if err := s.CheckSealedTOTP("ada", foreign); !errors.Is(err, store.ErrInvalid) || !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("CheckSealedTOTP of a secret sealed under a key the ring lacks: %v, want ErrInvalid and seal.ErrUnknownKey", err)
	}
	wantErr(t, "CheckSealedTOTP", s.CheckSealedTOTP("ada", ada.Secret), nil)
	wantErr(t, "CreateSealedTOTP for a missing user", s.CreateSealedTOTP(ctx,
		&store.SealedTOTP{UserID: "nobody", Secret: mustSeal(t, "totp/nobody"), CreatedAt: t0}), store.ErrNotFound)
	bad := *ada
	bad.Recovery = []store.RecoveryCode{{Hash: "\xff"}}
	wantErr(t, "CreateSealedTOTP with a recovery hash that is not text", s.CreateSealedTOTP(ctx, &bad), store.ErrInvalid)
	wantErr(t, "CreateSealedTOTP ada", s.CreateSealedTOTP(ctx, ada), nil)
	wantErr(t, "CreateSealedTOTP bob", s.CreateSealedTOTP(ctx, bob), nil)
	wantErr(t, "CreateSealedTOTP ada again", s.CreateSealedTOTP(ctx, ada), store.ErrConflict)

	again, err := s.ListSealedTOTP(ctx)
	wantErr(t, "ListSealedTOTP after the creates", err, nil)
	for i, e := range again {
		e.Secret = list[i].Secret // sealed afresh: another nonce
	}
	diff(t, "the enrolments after the round trip", list, again)

	// They work as before: the secret opens, the step and the spent
	// recovery code are remembered.
	got, err := s.GetTOTP(ctx, "ada")
	wantErr(t, "GetTOTP", err, nil)
	if string(got.Secret) != "ada's seed" || got.LastStep != 1002 || !got.ConfirmedAt.Equal(at(time.Minute)) {
		t.Errorf("GetTOTP after CreateSealedTOTP = %+v", got)
	}
	wantErr(t, "UseTOTPStep of the last step", s.UseTOTPStep(ctx, "ada", 1002), store.ErrConflict)
	wantErr(t, "UseTOTPStep of the next", s.UseTOTPStep(ctx, "ada", 1003), nil)
	wantErr(t, "UseRecoveryCode of a used one", s.UseRecoveryCode(ctx, "ada", "r2", at(2*time.Hour)), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, "ada", "r3", at(2*time.Hour)), nil)
	wantErr(t, "UseTOTPStep unconfirmed", s.UseTOTPStep(ctx, "bob", 5), store.ErrNotFound)

	// Re-sealed under the ring's sealing key: a store that holds keyB
	// first still opens it, and a secret sealed under keyA moves into it.
	s.UseSealer(ring(t, keyB, keyA))
	wantErr(t, "DeleteTOTP bob", s.DeleteTOTP(ctx, "bob"), nil)
	wantErr(t, "CreateSealedTOTP bob, keyB sealing", s.CreateSealedTOTP(ctx, bob), nil)
	list, err = s.ListSealedTOTP(ctx)
	wantErr(t, "ListSealedTOTP under keyB", err, nil)
	if r := ring(t, keyB); !r.Current(list[1].Secret) {
		t.Errorf("bob's secret moved in is not sealed under the sealing key: %q", list[1].Secret)
	}
	if got, err := s.GetTOTP(ctx, "bob"); err != nil || string(got.Secret) != "bob's seed" {
		t.Errorf("GetTOTP bob under keyB = %+v, %v", got, err)
	}
}

func mustSeal(t *testing.T, ad string) []byte {
	t.Helper()
	v, err := ring(t, keyA).Seal([]byte("seed"), ad)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
