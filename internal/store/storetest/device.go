package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testDeviceCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	got, err := s.GetDeviceAuthByUserCode(ctx, a.UserCodeHash)
	wantErr(t, "GetDeviceAuthByUserCode", err, nil)
	diff(t, "device authorization", a, got)

	sameDevice := newDeviceAuth(c, 2)
	sameDevice.DeviceCodeHash = a.DeviceCodeHash
	sameUser := newDeviceAuth(c, 3)
	sameUser.UserCodeHash = a.UserCodeHash
	otherClient := newDeviceAuth(newClient("ghost", true), 4)
	for _, tt := range []struct {
		name string
		a    *store.DeviceAuth
		want error
	}{
		{"taken device code hash", sameDevice, store.ErrConflict},
		{"taken user code hash", sameUser, store.ErrConflict},
		{"client does not exist", otherClient, store.ErrNotFound},
	} {
		wantErr(t, tt.name, s.CreateDeviceAuth(ctx, tt.a), tt.want)
	}
	_, err = s.GetDeviceAuthByUserCode(ctx, "user-code-hash-9")
	wantErr(t, "GetDeviceAuthByUserCode(missing)", err, store.ErrNotFound)
}

func testDeviceDecide(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	for _, tt := range []struct {
		name    string
		approve bool
		status  string
	}{
		{"approve", true, store.DeviceApproved},
		{"deny", false, store.DeviceDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newDeviceAuth(c, 1)
			a.DeviceCodeHash += tt.name
			a.UserCodeHash += tt.name
			mustCreateDeviceAuth(t, s, a)
			got, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", tt.approve, at(time.Minute))
			wantErr(t, "DecideDeviceAuth", err, nil)
			want := *a
			want.Status = tt.status
			want.UserID = "ada"
			want.DecidedAt = at(time.Minute)
			diff(t, "decided authorization", &want, got)
			diff(t, "stored authorization", &want, mustGetDeviceAuth(t, s, a.UserCodeHash))

			// A decision is final: neither the same nor the other one lands again.
			for _, again := range []bool{true, false} {
				_, err = s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", again, at(2*time.Minute))
				wantErr(t, "second DecideDeviceAuth", err, store.ErrConflict)
			}
			diff(t, "authorization after a second decision", &want, mustGetDeviceAuth(t, s, a.UserCodeHash))
		})
	}

	expiring := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 2))
	_, err := s.DecideDeviceAuth(ctx, expiring.UserCodeHash, "ada", true, expiring.ExpiresAt)
	wantErr(t, "DecideDeviceAuth at expiry", err, store.ErrConflict)
	diff(t, "expired authorization after a decision", expiring, mustGetDeviceAuth(t, s, expiring.UserCodeHash))

	_, err = s.DecideDeviceAuth(ctx, "user-code-hash-9", "ada", true, t0)
	wantErr(t, "DecideDeviceAuth(unknown code)", err, store.ErrNotFound)
}

// testDevicePollSequence walks RFC 8628 §3.5 polling with a 5 s interval and
// store.PollTolerance of 1 s: a poll that comes too soon answers slow_down
// and adds 5 s to the interval, measured from that poll; a client that then
// keeps the new interval is answered pending.
func testDevicePollSequence(t *testing.T, s store.Store) {
	if store.PollTolerance != time.Second || store.SlowDownStep != 5*time.Second {
		t.Fatalf("sequence written for PollTolerance 1s and SlowDownStep 5s, have %v and %v",
			store.PollTolerance, store.SlowDownStep)
	}
	c := mustCreateClient(t, s, "tv", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	for _, step := range []struct {
		at       time.Duration
		outcome  string
		interval time.Duration
	}{
		{0, store.PollPending, 5 * time.Second},
		{1 * time.Second, store.PollSlowDown, 10 * time.Second},
		{11 * time.Second, store.PollPending, 10 * time.Second},
		{16 * time.Second, store.PollSlowDown, 15 * time.Second},
		{31 * time.Second, store.PollPending, 15 * time.Second},
	} {
		res, err := s.PollDeviceAuth(t.Context(), a.DeviceCodeHash, "tv", true, at(step.at))
		if err != nil {
			t.Fatalf("poll at t=%v: %v", step.at, err)
		}
		want := *a
		want.Interval = step.interval
		want.LastPollAt = at(step.at)
		diff(t, "poll at t="+step.at.String(), &store.PollResult{Outcome: step.outcome, Auth: &want}, res)
	}
}

func testDevicePollOutcomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	// A step is a poll, or with decide set, ada's decision. The fixture
	// expires at t=10m with a 5 s interval.
	type step struct {
		at      time.Duration
		decide  string // "approve" or "deny"; empty for a poll
		outcome string
		status  string // the status after the poll
	}
	for n, tt := range []struct {
		name  string
		steps []step
	}{
		{"approved: exactly one issue, then used", []step{
			{at: 0, decide: "approve"},
			{at: 0, outcome: store.PollIssue, status: store.DeviceConsumed},
			{at: 10 * time.Second, outcome: store.PollUsed, status: store.DeviceConsumed},
			{at: 11 * time.Second, outcome: store.PollUsed, status: store.DeviceConsumed}, // used, not slow_down
		}},
		{"denied", []step{
			{at: 0, decide: "deny"},
			{at: 0, outcome: store.PollDenied, status: store.DeviceDenied},
			{at: 10 * time.Second, outcome: store.PollDenied, status: store.DeviceDenied},
		}},
		{"pending until expiry, then expired", []step{
			{at: 0, outcome: store.PollPending, status: store.DevicePending},
			{at: 10*time.Minute - time.Millisecond, outcome: store.PollPending, status: store.DevicePending},
			{at: 10 * time.Minute, outcome: store.PollExpired, status: store.DevicePending},
			{at: 10*time.Minute + time.Second, outcome: store.PollExpired, status: store.DevicePending}, // not slow_down
		}},
		{"approved, then expired before any poll", []step{
			{at: 0, decide: "approve"},
			{at: 10 * time.Minute, outcome: store.PollExpired, status: store.DeviceApproved},
		}},
		{"consumed, then expired", []step{
			{at: 0, decide: "approve"},
			{at: 0, outcome: store.PollIssue, status: store.DeviceConsumed},
			{at: 10 * time.Minute, outcome: store.PollExpired, status: store.DeviceConsumed},
		}},
		{"approved while slowed down: slow_down, then issue", []step{
			{at: 0, outcome: store.PollPending, status: store.DevicePending},
			{at: 1 * time.Second, outcome: store.PollSlowDown, status: store.DevicePending}, // interval 10 s
			{at: 2 * time.Second, decide: "approve"},
			{at: 3 * time.Second, outcome: store.PollSlowDown, status: store.DeviceApproved}, // interval 15 s
			{at: 17 * time.Second, outcome: store.PollIssue, status: store.DeviceConsumed},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, n))
			for _, st := range tt.steps {
				if st.decide != "" {
					if _, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", st.decide == "approve", at(st.at)); err != nil {
						t.Fatalf("DecideDeviceAuth at t=%v: %v", st.at, err)
					}
					continue
				}
				res, err := s.PollDeviceAuth(ctx, a.DeviceCodeHash, "tv", true, at(st.at))
				if err != nil {
					t.Fatalf("poll at t=%v: %v", st.at, err)
				}
				if res.Outcome != st.outcome || res.Auth.Status != st.status {
					t.Errorf("poll at t=%v = %q, status %q; want %q, status %q",
						st.at, res.Outcome, res.Auth.Status, st.outcome, st.status)
				}
				diff(t, "stored authorization after the poll", res.Auth, mustGetDeviceAuth(t, s, a.UserCodeHash))
			}
		})
	}

	_, err := s.PollDeviceAuth(ctx, "device-code-hash-999", "tv", true, t0)
	wantErr(t, "poll of an unknown device code", err, store.ErrNotFound)
}

// testDevicePollOtherClient: a client polling another client's device code
// learns nothing and changes nothing (RFC 8628 §3.4: the device code is
// bound to the client it was issued to).
func testDevicePollOtherClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateClient(t, s, "intruder", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	mustDecide(t, s, a, true)
	before := mustGetDeviceAuth(t, s, a.UserCodeHash)

	for _, publicOnly := range []bool{true, false} {
		_, err := s.PollDeviceAuth(ctx, a.DeviceCodeHash, "intruder", publicOnly, t0)
		wantErr(t, "poll by another client", err, store.ErrNotFound)
	}
	diff(t, "authorization after another client's polls", before, mustGetDeviceAuth(t, s, a.UserCodeHash))

	// The owner's first poll is not slowed down by the intruder's, and wins.
	res, err := s.PollDeviceAuth(ctx, a.DeviceCodeHash, "tv", true, t0)
	wantErr(t, "owner's poll", err, nil)
	if res.Outcome != store.PollIssue {
		t.Errorf("owner's poll = %q, want %q", res.Outcome, store.PollIssue)
	}
}

// testDevicePollPublicOnly: a poll without a client secret (publicOnly) only
// matches an authorization a public client started, so knowing a
// confidential client's id is not enough to redeem its device codes.
func testDevicePollPublicOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	pub := mustCreateClient(t, s, "tv", true)
	conf := mustCreateClient(t, s, "kiosk", false)
	pubAuth := mustCreateDeviceAuth(t, s, newDeviceAuth(pub, 1))
	confAuth := mustCreateDeviceAuth(t, s, newDeviceAuth(conf, 2))
	for _, tt := range []struct {
		name       string
		a          *store.DeviceAuth
		publicOnly bool
		want       error
	}{
		{"confidential client's code, unauthenticated poll", confAuth, true, store.ErrNotFound},
		{"confidential client's code, authenticated poll", confAuth, false, nil},
		{"public client's code, unauthenticated poll", pubAuth, true, nil},
		{"public client's code, poll without publicOnly", pubAuth, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := mustGetDeviceAuth(t, s, tt.a.UserCodeHash)
			res, err := s.PollDeviceAuth(ctx, tt.a.DeviceCodeHash, tt.a.ClientID, tt.publicOnly, at(time.Hour)) // expired: no state to disturb
			wantErr(t, "PollDeviceAuth", err, tt.want)
			if tt.want != nil {
				diff(t, "authorization after a refused poll", before, mustGetDeviceAuth(t, s, tt.a.UserCodeHash))
				return
			}
			if res.Outcome != store.PollExpired {
				t.Errorf("poll = %q, want %q", res.Outcome, store.PollExpired)
			}
		})
	}
}

func testDeviceSetGrant(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))

	wantErr(t, "SetDeviceAuthGrant on a pending authorization", s.SetDeviceAuthGrant(ctx, a.DeviceCodeHash, "g1"), store.ErrConflict)
	wantErr(t, "SetDeviceAuthGrant on an unknown code", s.SetDeviceAuthGrant(ctx, "device-code-hash-9", "g1"), store.ErrNotFound)

	mustDecide(t, s, a, true)
	if res, err := s.PollDeviceAuth(ctx, a.DeviceCodeHash, "tv", true, t0); err != nil || res.Outcome != store.PollIssue {
		t.Fatalf("PollDeviceAuth = %v, %v; want %q", res, err, store.PollIssue)
	}
	wantErr(t, "SetDeviceAuthGrant", s.SetDeviceAuthGrant(ctx, a.DeviceCodeHash, "g1"), nil)
	wantErr(t, "SetDeviceAuthGrant again, same grant", s.SetDeviceAuthGrant(ctx, a.DeviceCodeHash, "g1"), nil)
	wantErr(t, "SetDeviceAuthGrant again, another grant", s.SetDeviceAuthGrant(ctx, a.DeviceCodeHash, "g2"), store.ErrConflict)
	if got := mustGetDeviceAuth(t, s, a.UserCodeHash).GrantID; got != "g1" {
		t.Errorf("GrantID = %q, want %q", got, "g1")
	}
}
