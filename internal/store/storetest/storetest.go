// Package storetest is the conformance suite every store.Store backend runs,
// so SQLite and PostgreSQL answer alike: the records round-trip, the errors
// are store.ErrNotFound, store.ErrConflict and store.ErrInvalid where the
// contract says, and the state changes flows depend on are atomic ("20
// concurrent callers, exactly one wins").
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey/internal/store"
)

// Run runs the suite. open must return a new, empty, migrated store for each
// subtest and close it when that subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Clients", testClients},
		{"Users", testUsers},
		{"DeviceCreate", testDeviceCreate},
		{"DeviceDecide", testDeviceDecide},
		{"DevicePollSequence", testDevicePollSequence},
		{"DevicePollOutcomes", testDevicePollOutcomes},
		{"DevicePollOtherClient", testDevicePollOtherClient},
		{"DevicePollPublicOnly", testDevicePollPublicOnly},
		{"DeviceRedeem", testDeviceRedeem},
		{"Grants", testGrants},
		{"RevokeGrant", testRevokeGrant},
		{"RevokeClientTokens", testRevokeClientTokens},
		{"RefreshTokens", testRefreshTokens},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"RevokeAccessToken", testRevokeAccessToken},
		{"Sessions", testSessions},
		{"Authorization", testAuthorization},
		{"ClientSessionMetadata", testClientSessionMetadata},
		{"SessionHashRecorded", testSessionHashRecorded},
		{"RevokeGrantsBySession", testRevokeGrantsBySession},
		{"ConcurrentRevokeGrantsBySession", testConcurrentRevokeGrantsBySession},
		{"TouchSession", testTouchSession},
		{"Reauthenticate", testReauthenticate},
		{"RefreshFamilySession", testRefreshFamilySession},
		{"SigningKeys", testSigningKeys},
		{"ServerSecret", testServerSecret},
		{"Throttle", testThrottle},
		{"ThrottleAdd", testThrottleAdd},
		{"Sweep", testSweep},
		{"SweepMail", testSweepMail},
		{"SweepBacklog", testSweepBacklog},
		{"PruneInvitations", testPruneInvitations},
		{"OddKeys", testOddKeys},
		{"InvalidText", testInvalidText},
		{"OddTextRoundTrip", testOddTextRoundTrip},
		{"ConcurrentPollAndRedeem", testConcurrentPollAndRedeem},
		{"ConcurrentDecide", testConcurrentDecide},
		{"ConcurrentRotateRefreshToken", testConcurrentRotateRefreshToken},
		{"ConcurrentRotateRefusals", testConcurrentRotateRefusals},
		{"ConcurrentServerSecret", testConcurrentServerSecret},
		{"ConcurrentHit", testConcurrentHit},
		{"ConcurrentAdd", testConcurrentAdd},
		{"GivenUpHits", testGivenUpHits},
		{"ConcurrentCreateDeviceAuth", testConcurrentCreateDeviceAuth},
		{"Orgs", testOrgs},
		{"MemberInvitations", testMemberInvitations},
		{"ConcurrentAcceptMemberInvitation", testConcurrentAcceptMemberInvitation},
		{"LastAdmin", testLastAdmin},
		{"ServiceKeys", testServiceKeys},
		{"DeviceComplete", testDeviceComplete},
		{"ConcurrentComplete", testConcurrentComplete},
		{"Audit", testAudit},
		{"SealSecrets", testSealSecrets},
		{"RegistrationTokens", testRegistrationTokens},
		{"ConcurrentRegisterClient", testConcurrentRegisterClient},
		{"AccountTokens", testAccountTokens},
		{"VerifyEmail", testVerifyEmail},
		{"ResetPassword", testResetPassword},
		{"SetPassword", testSetPassword},
		{"UpdateUserEndSessions", testUpdateUserEndSessions},
		{"AccountMail", testAccountMail},
		{"ConcurrentVerifyEmail", testConcurrentVerifyEmail},
		{"ListUserGrants", testListUserGrants},
		{"ListConsents", testListConsents},
		{"Passkeys", testPasskeys},
		{"TOTP", testTOTP},
		{"ListAllPasskeys", testListAllPasskeys},
		{"ClientRegistrations", testClientRegistrations},
		{"SealedTOTPWithoutKey", testSealedTOTPWithoutKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.test(t, open(t))
		})
	}
	t.Run("Sealed", func(t *testing.T) { runSealed(t, open) })
}

// t0 is the suite's clock: whole milliseconds, because backends keep times
// to the millisecond.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// diffOpts let a backend return nil for an empty list.
var diffOpts = []cmp.Option{cmpopts.EquateEmpty()}

// diff reports what differs between want and got, "(-want +got)".
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, diffOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// wantErr fails unless errors.Is(err, want); want nil means no error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping on a migrated store: %v", err)
	}
}
