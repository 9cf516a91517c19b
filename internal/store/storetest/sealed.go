package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// Two fixed secrets keys, so a failure names the same key ids every run.
const (
	keyA = "lk_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	keyB = "lk_sk_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
)

func ring(t *testing.T, keys ...string) *seal.Ring {
	t.Helper()
	r, err := seal.Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runSealed runs the cases that read and write sealed columns again, on a
// store that seals (store.SecretStore): they must answer as without.
func runSealed(t *testing.T, open func(t *testing.T) store.Store) {
	sealed := func(t *testing.T) store.Store {
		s := open(t)
		s.UseSealer(ring(t, keyA))
		return s
	}
	for _, tt := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"SigningKeys", testSigningKeys},
		{"ServerSecret", testServerSecret},
		{"ConcurrentServerSecret", testConcurrentServerSecret},
		{"Mail", func(t *testing.T, s store.Store) { testMail(t, s, "m-") }},
		{"ResendInvitation", func(t *testing.T, s store.Store) { testResendInvitation(t, s, "r-") }},
		{"AccountMail", testAccountMail},
		{"ConcurrentClaimMail", func(t *testing.T, s store.Store) { testConcurrentClaimMail(t, s, "c-") }},
		{"TOTP", testTOTP},
		{"SealedTOTP", testSealedTOTP},
		{"TOTPSecretSealed", func(t *testing.T, s store.Store) {
			mustCreateUser(t, s, "ada")
			wantErr(t, "BeginTOTP", s.BeginTOTP(t.Context(), "ada", []byte("seed"), t0), nil)
			s.UseSealer(nil) // what a copy of the database holds: not the seed
			_, err := s.GetTOTP(t.Context(), "ada")
			wantErr(t, "GetTOTP without the key", err, store.ErrSealed)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, sealed(t)) })
	}
}

// testSealSecrets: what a store kept in plaintext is sealed by
// SealSecrets; a store without the key then cannot read it, one with any
// key of the ring can; re-sealing moves every value to the first key.
func testSealSecrets(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.SealSecrets(ctx, false); !errors.Is(err, store.ErrSealed) {
		t.Errorf("SealSecrets without a sealer: %v; want ErrSealed", err)
	}
	// Written in plaintext, as before a key was configured.
	k := &store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x81, 0x87, 0x02, 0x01, 0x00}, CreatedAt: t0, NotBefore: t0}
	wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, k), nil)
	secret := []byte("csrf key bytes")
	_, err := s.ServerSecret(ctx, "csrf", secret)
	wantErr(t, "ServerSecret", err, nil)
	o := mustCreateOrg(t, s, "o")
	g := mustCreateGroup(t, s, "g", o.ID, "read")
	inv := mustCreateInvitation(t, s, newInvitation("inv", o.ID, g.ID), true)
	sent := mustCreateInvitation(t, s, newInvitation("sent", o.ID, g.ID), true)
	wantErr(t, "MarkMailSent", s.MarkMailSent(ctx, "mail-sent", t0), nil)
	mail := newMail(inv)

	// readAll checks that every secret reads as it was written.
	readAll := func(when string) {
		t.Helper()
		ks, err := s.ListSigningKeys(ctx)
		wantErr(t, when+": ListSigningKeys", err, nil)
		if len(ks) != 1 || !bytes.Equal(ks[0].PrivateKey, k.PrivateKey) {
			t.Errorf("%s: ListSigningKeys = %+v", when, ks)
		}
		got, err := s.ServerSecret(ctx, "csrf", []byte("other"))
		wantErr(t, when+": ServerSecret", err, nil)
		if !bytes.Equal(got, secret) {
			t.Errorf("%s: ServerSecret = %q, want %q", when, got, secret)
		}
		ms := mailOf(t, s, inv.ID)
		if len(ms) != 1 || ms[0].Body != mail.Body || ms[0].Link != mail.Link {
			t.Errorf("%s: ListMail = %+v", when, ms)
		}
		if ms := mailOf(t, s, sent.ID); len(ms) != 1 || ms[0].Body != "" || ms[0].Link != "" {
			t.Errorf("%s: sent mail = %+v; want it erased", when, ms)
		}
	}
	// unreadable checks that the store cannot read any of them, with err.
	unreadable := func(when string, want error) {
		t.Helper()
		_, err := s.ListSigningKeys(ctx)
		wantErr(t, when+": ListSigningKeys", err, want)
		_, err = s.ServerSecret(ctx, "csrf", nil)
		wantErr(t, when+": ServerSecret", err, want)
		_, err = s.ListMail(ctx, inv.ID)
		wantErr(t, when+": ListMail", err, want)
	}

	s.UseSealer(ring(t, keyA))
	readAll("plaintext, read with a key")
	rep, err := s.SealSecrets(ctx, false)
	wantErr(t, "SealSecrets", err, nil)
	if want := (store.SealReport{Sealed: 4}); rep != want { // the key, the secret, the mail's body and link
		t.Errorf("SealSecrets = %+v, want %+v", rep, want)
	}
	readAll("sealed under a")
	rep, err = s.SealSecrets(ctx, false)
	if want := (store.SealReport{}); err != nil || rep != want {
		t.Errorf("SealSecrets again = %+v, %v; want %+v", rep, err, want)
	}
	s.UseSealer(nil)
	unreadable("sealed, read without a key", store.ErrSealed)

	// A new key first: what is sealed under a still opens, and rotation
	// moves it to b, after which a alone opens nothing.
	s.UseSealer(ring(t, keyB, keyA))
	readAll("sealed under a, read with b, a")
	rep, err = s.SealSecrets(ctx, true)
	wantErr(t, "SealSecrets(all)", err, nil)
	if want := (store.SealReport{Sealed: 4}); rep != want {
		t.Errorf("SealSecrets(all) = %+v, want %+v", rep, want)
	}
	s.UseSealer(ring(t, keyB))
	readAll("re-sealed under b, read with b")
	s.UseSealer(ring(t, keyA))
	unreadable("re-sealed under b, read with a", seal.ErrUnknownKey)

	// What is written now is sealed under b, and reads back.
	s.UseSealer(ring(t, keyB))
	wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &store.SigningKey{ID: "k2", Algorithm: "ES256",
		PrivateKey: []byte{0x30, 0x01}, CreatedAt: at(1), NotBefore: at(1)}), nil)
	ks, err := s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	if len(ks) != 2 || !bytes.Equal(ks[1].PrivateKey, []byte{0x30, 0x01}) {
		t.Errorf("ListSigningKeys = %+v", ks)
	}
}
