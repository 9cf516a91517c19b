package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testServiceKeys: service API keys round-trip, are found by their secret's
// hash only, rotate (the old hash stops finding the key) and are deleted.
func testServiceKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := &store.ServiceKey{ID: "4711", Name: "front end", SecretHash: "hash-a", CreatedAt: t0}
	b := &store.ServiceKey{ID: "1001", Name: "staging", SecretHash: "hash-b", CreatedAt: at(time.Second)}
	for _, k := range []*store.ServiceKey{a, b} {
		wantErr(t, "CreateServiceKey", s.CreateServiceKey(ctx, k), nil)
	}
	wantErr(t, "CreateServiceKey(same id)", s.CreateServiceKey(ctx, &store.ServiceKey{ID: "4711", SecretHash: "hash-c"}), store.ErrConflict)
	wantErr(t, "CreateServiceKey(same secret)", s.CreateServiceKey(ctx, &store.ServiceKey{ID: "9", SecretHash: "hash-a"}), store.ErrConflict)
	wantErr(t, "CreateServiceKey(not text)", s.CreateServiceKey(ctx, &store.ServiceKey{ID: "8", Name: "a\x00b", SecretHash: "hash-d"}), store.ErrInvalid)

	got, err := s.GetServiceKeyBySecret(ctx, "hash-a")
	wantErr(t, "GetServiceKeyBySecret", err, nil)
	diff(t, "service key", a, got)
	for _, h := range []string{"hash-x", "4711", "", "\xff"} {
		_, err := s.GetServiceKeyBySecret(ctx, h)
		wantErr(t, fmt.Sprintf("GetServiceKeyBySecret(%q)", h), err, store.ErrNotFound)
	}
	list, err := s.ListServiceKeys(ctx)
	wantErr(t, "ListServiceKeys", err, nil)
	diff(t, "service keys by id", []*store.ServiceKey{b, a}, list)

	rotated, err := s.RotateServiceKey(ctx, "4711", "hash-a2", at(time.Hour))
	wantErr(t, "RotateServiceKey", err, nil)
	want := *a
	want.SecretHash, want.RotatedAt = "hash-a2", at(time.Hour)
	diff(t, "rotated key", &want, rotated)
	_, err = s.GetServiceKeyBySecret(ctx, "hash-a")
	wantErr(t, "GetServiceKeyBySecret(old secret)", err, store.ErrNotFound)
	got, err = s.GetServiceKeyBySecret(ctx, "hash-a2")
	wantErr(t, "GetServiceKeyBySecret(new secret)", err, nil)
	diff(t, "key by its new secret", &want, got)
	_, err = s.RotateServiceKey(ctx, "nope", "hash-z", t0)
	wantErr(t, "RotateServiceKey(missing)", err, store.ErrNotFound)
	_, err = s.RotateServiceKey(ctx, "1001", "hash-a2", t0)
	wantErr(t, "RotateServiceKey(to a taken hash)", err, store.ErrConflict)

	wantErr(t, "DeleteServiceKey", s.DeleteServiceKey(ctx, "4711"), nil)
	wantErr(t, "DeleteServiceKey(again)", s.DeleteServiceKey(ctx, "4711"), store.ErrNotFound)
	_, err = s.GetServiceKeyBySecret(ctx, "hash-a2")
	wantErr(t, "GetServiceKeyBySecret(deleted)", err, store.ErrNotFound)
}

// testDeviceComplete: a decision through the service API records the
// front end's subject, claims, auth time, narrowed scopes or error, with
// no user; it lands only on a pending, unexpired authorization.
func testDeviceComplete(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	approve := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	d := &store.DeviceCompletion{Approve: true, Subject: "ext-42", Claims: `{"name":"Ada"}`,
		Scopes: []string{"openid"}, AuthTime: at(-time.Minute)}
	got, err := s.CompleteDeviceAuth(ctx, approve.UserCodeHash, d, at(time.Minute))
	wantErr(t, "CompleteDeviceAuth(approve)", err, nil)
	want := *approve
	want.Status, want.DecidedAt = store.DeviceApproved, at(time.Minute)
	want.Subject, want.Claims, want.Scopes, want.AuthTime = "ext-42", `{"name":"Ada"}`, []string{"openid"}, at(-time.Minute)
	diff(t, "approved through the API", &want, got)
	diff(t, "stored", &want, mustGetDeviceAuth(t, s, approve.UserCodeHash))

	deny := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 2))
	got, err = s.CompleteDeviceAuth(ctx, deny.UserCodeHash, &store.DeviceCompletion{Subject: "ext-43",
		ErrorCode: "invalid_grant", ErrorDescription: "the front end failed"}, at(time.Minute))
	wantErr(t, "CompleteDeviceAuth(deny)", err, nil)
	want = *deny
	want.Status, want.DecidedAt, want.Subject = store.DeviceDenied, at(time.Minute), "ext-43"
	want.ErrorCode, want.ErrorDescription = "invalid_grant", "the front end failed"
	diff(t, "denied through the API, scopes kept", &want, got)

	// The poll of a denied one carries the error back.
	res, err := s.PollDeviceAuth(ctx, deny.DeviceCodeHash, "tv", true, at(2*time.Minute))
	wantErr(t, "PollDeviceAuth(denied)", err, nil)
	if res.Outcome != store.PollDenied || res.Auth.ErrorCode != "invalid_grant" || res.Auth.ErrorDescription != "the front end failed" {
		t.Fatalf("poll of a denied completion = %q %q %q", res.Outcome, res.Auth.ErrorCode, res.Auth.ErrorDescription)
	}

	expired := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 3))
	for _, tt := range []struct {
		name string
		hash string
		d    *store.DeviceCompletion
		now  time.Time
		want error
	}{
		{"decided already", approve.UserCodeHash, d, at(time.Minute), store.ErrConflict},
		{"at expiry", expired.UserCodeHash, d, expired.ExpiresAt, store.ErrConflict},
		{"unknown", "user-code-hash-9", d, t0, store.ErrNotFound},
		{"not text", expired.UserCodeHash, &store.DeviceCompletion{Approve: true, Subject: "a\x00"}, t0, store.ErrInvalid},
	} {
		_, err := s.CompleteDeviceAuth(ctx, tt.hash, tt.d, tt.now)
		wantErr(t, "CompleteDeviceAuth("+tt.name+")", err, tt.want)
	}
	diff(t, "expired one untouched", expired, mustGetDeviceAuth(t, s, expired.UserCodeHash))

	// Redeemed, the grant has no user but the subject and claims, and its
	// refresh family reads them back.
	g := newGrant("g-ext", "", "tv", at(2*time.Minute))
	g.Subject, g.Claims = "ext-42", `{"name":"Ada"}`
	rt := newRefreshToken("rt-ext", g.ID, g.ExpiresAt)
	rt.ClientID = "tv"
	wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, approve.DeviceCodeHash, g, rt, at(2*time.Minute)), nil)
	gotGrant, err := s.GetGrant(ctx, g.ID)
	wantErr(t, "GetGrant", err, nil)
	diff(t, "grant of an external subject", g, gotGrant)
	fam, err := s.RotateRefreshToken(ctx, rt.Hash, "rt-ext-2", time.Time{}, at(3*time.Minute), allow)
	wantErr(t, "RotateRefreshToken", err, nil)
	if fam.User != nil || fam.Grant.Subject != "ext-42" || fam.Grant.Claims != `{"name":"Ada"}` {
		t.Fatalf("family of an external subject: user %v, subject %q, claims %q", fam.User, fam.Grant.Subject, fam.Grant.Claims)
	}
}

// testConcurrentComplete: of 20 completions racing for one user code
// exactly one lands, as the service API promises (one SUCCESS).
func testConcurrentComplete(t *testing.T, s store.Store) {
	c := mustCreateClient(t, s, "tv", true)
	for r := range rounds {
		a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, r))
		winners := make([]*store.DeviceAuth, racers)
		errs := race(func(i int) error {
			got, err := s.CompleteDeviceAuth(t.Context(), a.UserCodeHash,
				&store.DeviceCompletion{Approve: i%2 == 0, Subject: fmt.Sprint("ext-", i)}, t0)
			winners[i] = got
			return err
		})
		winner := winners[oneWinner(t, "completion", "completions", errs)]
		diff(t, "stored authorization is the winner's", winner, mustGetDeviceAuth(t, s, a.UserCodeHash))
	}
}
