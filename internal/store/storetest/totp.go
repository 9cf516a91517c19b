package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testTOTP holds both backends to store.TOTPStore: an enrolment confirmed
// once, a step accepted once (of racing uses of one code exactly one
// wins), recovery codes spent once, and everything gone with the user.
func testTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	_, err := s.GetTOTP(ctx, "ada")
	wantErr(t, "GetTOTP before enrolment", err, store.ErrNotFound)
	wantErr(t, "UseTOTPStep before enrolment", s.UseTOTPStep(ctx, "ada", 5), store.ErrNotFound)
	wantErr(t, "BeginTOTP for a missing user", s.BeginTOTP(ctx, "nobody", []byte("s"), t0), store.ErrNotFound)
	wantErr(t, "BeginTOTP", s.BeginTOTP(ctx, "ada", []byte("first secret"), t0), nil)
	wantErr(t, "BeginTOTP again, unconfirmed", s.BeginTOTP(ctx, "ada", []byte("second secret"), at(time.Minute)), nil)
	got, err := s.GetTOTP(ctx, "ada")
	wantErr(t, "GetTOTP", err, nil)
	diff(t, "unconfirmed enrolment", &store.TOTP{UserID: "ada", Secret: []byte("second secret"), CreatedAt: at(time.Minute)}, got)
	wantErr(t, "UseTOTPStep unconfirmed", s.UseTOTPStep(ctx, "ada", 5), store.ErrNotFound)

	hashes := []string{"h1", "h2", "h3"}
	wantErr(t, "ConfirmTOTP of a missing enrolment", s.ConfirmTOTP(ctx, "bob", 100, hashes, t0), store.ErrNotFound)
	wantErr(t, "ConfirmTOTP", s.ConfirmTOTP(ctx, "ada", 100, hashes, at(2*time.Minute)), nil)
	wantErr(t, "ConfirmTOTP again", s.ConfirmTOTP(ctx, "ada", 101, hashes, at(2*time.Minute)), store.ErrConflict)
	wantErr(t, "BeginTOTP over a confirmed one", s.BeginTOTP(ctx, "ada", []byte("third"), t0), store.ErrConflict)
	got, _ = s.GetTOTP(ctx, "ada")
	if !got.ConfirmedAt.Equal(at(2*time.Minute)) || got.LastStep != 100 || string(got.Secret) != "second secret" {
		t.Errorf("confirmed enrolment: %+v", got)
	}

	// A step once; the confirming code's step is used already.
	wantErr(t, "UseTOTPStep of the confirming step", s.UseTOTPStep(ctx, "ada", 100), store.ErrConflict)
	wantErr(t, "UseTOTPStep 101", s.UseTOTPStep(ctx, "ada", 101), nil)
	wantErr(t, "UseTOTPStep 101 again", s.UseTOTPStep(ctx, "ada", 101), store.ErrConflict)
	wantErr(t, "UseTOTPStep 99", s.UseTOTPStep(ctx, "ada", 99), store.ErrConflict)
	errs := race(func(int) error { return s.UseTOTPStep(ctx, "ada", 102) })
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantErr(t, fmt.Sprint("concurrent UseTOTPStep ", i), err, store.ErrConflict)
	}
	if won != 1 {
		t.Errorf("concurrent uses of one code: %d won, want 1", won)
	}

	// Recovery codes, once each, only the owner's.
	n, err := s.CountRecoveryCodes(ctx, "ada")
	if err != nil || n != 3 {
		t.Errorf("CountRecoveryCodes = %d, %v; want 3", n, err)
	}
	wantErr(t, "UseRecoveryCode of another user", s.UseRecoveryCode(ctx, "bob", "h1", t0), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode", s.UseRecoveryCode(ctx, "ada", "h1", t0), nil)
	wantErr(t, "UseRecoveryCode again", s.UseRecoveryCode(ctx, "ada", "h1", t0), store.ErrNotFound)
	wantErr(t, "UseRecoveryCode unknown", s.UseRecoveryCode(ctx, "ada", "zz", t0), store.ErrNotFound)
	if n, _ := s.CountRecoveryCodes(ctx, "ada"); n != 2 {
		t.Errorf("CountRecoveryCodes after one use = %d, want 2", n)
	}

	wantErr(t, "DeleteTOTP", s.DeleteTOTP(ctx, "ada"), nil)
	wantErr(t, "DeleteTOTP again", s.DeleteTOTP(ctx, "ada"), store.ErrNotFound)
	if n, _ := s.CountRecoveryCodes(ctx, "ada"); n != 0 {
		t.Errorf("recovery codes after DeleteTOTP: %d", n)
	}
	wantErr(t, "BeginTOTP", s.BeginTOTP(ctx, "bob", []byte("b"), t0), nil)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "bob"), nil)
	_, err = s.GetTOTP(ctx, "bob")
	wantErr(t, "GetTOTP after the user was deleted", err, store.ErrNotFound)

	if ok, err := s.IsOrgAdmin(ctx, "ada"); ok || err != nil {
		t.Errorf("IsOrgAdmin of no member = %v, %v", ok, err)
	}
	wantErr(t, "CreateOrganization", s.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme", CreatedAt: t0, UpdatedAt: t0}), nil)
	wantErr(t, "PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: "acme", UserID: "ada", Role: store.RoleMember, CreatedAt: t0}), nil)
	if ok, err := s.IsOrgAdmin(ctx, "ada"); ok || err != nil {
		t.Errorf("IsOrgAdmin of a member = %v, %v", ok, err)
	}
	wantErr(t, "PutOrgMember admin", s.PutOrgMember(ctx, &store.OrgMember{OrgID: "acme", UserID: "ada", Role: store.RoleAdmin, CreatedAt: t0}), nil)
	if ok, err := s.IsOrgAdmin(ctx, "ada"); !ok || err != nil {
		t.Errorf("IsOrgAdmin of an admin = %v, %v", ok, err)
	}
}
