package storetest

import (
	"fmt"
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
			got, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", tt.approve, at(time.Minute))
			wantErr(t, "DecideDeviceAuth", err, nil)
			want := *a
			want.Status = tt.status
			want.UserID = "ada"
			want.DecidedAt = at(time.Minute)
			diff(t, "decided authorization", &want, got)
			diff(t, "stored authorization", &want, mustGetDeviceAuth(t, s, a.UserCodeHash))

			// A decision is final: neither the same nor the other one lands again.
			for _, again := range []bool{true, false} {
				_, err = s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", again, at(2*time.Minute))
				wantErr(t, "second DecideDeviceAuth", err, store.ErrConflict)
			}
			diff(t, "authorization after a second decision", &want, mustGetDeviceAuth(t, s, a.UserCodeHash))
		})
	}

	expiring := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 2))
	_, err := s.DecideDeviceAuth(ctx, expiring.UserCodeHash, "ada", "", true, expiring.ExpiresAt)
	wantErr(t, "DecideDeviceAuth at expiry", err, store.ErrConflict)
	diff(t, "expired authorization after a decision", expiring, mustGetDeviceAuth(t, s, expiring.UserCodeHash))

	_, err = s.DecideDeviceAuth(ctx, "user-code-hash-9", "ada", "", true, t0)
	wantErr(t, "DecideDeviceAuth(unknown code)", err, store.ErrNotFound)
}

// testDevicePollSequence walks RFC 8628 §3.5 polling: a poll that comes
// too soon answers slow_down and adds 5 s to the interval, measured from that
// poll; a client that then keeps the new interval is answered pending. Too
// soon is earlier than the interval less min(store.PollTolerance,
// interval/5): 1 s off intervals of 5 s and more, a fifth off shorter ones.
func testDevicePollSequence(t *testing.T, s store.Store) {
	if store.PollTolerance != time.Second || store.SlowDownStep != 5*time.Second {
		t.Fatalf("sequences written for PollTolerance 1s and SlowDownStep 5s, have %v and %v",
			store.PollTolerance, store.SlowDownStep)
	}
	c := mustCreateClient(t, s, "tv", true)
	type step struct {
		at       time.Duration
		outcome  string
		interval time.Duration // after the poll
	}
	ms := time.Millisecond
	for n, tt := range []struct {
		name     string
		interval time.Duration
		steps    []step
	}{
		{"interval 5s, tolerance 1s", 5 * time.Second, []step{
			{0, store.PollPending, 5 * time.Second},
			{1 * time.Second, store.PollSlowDown, 10 * time.Second},
			{11 * time.Second, store.PollPending, 10 * time.Second},
			{16 * time.Second, store.PollSlowDown, 15 * time.Second},
			{31 * time.Second, store.PollPending, 15 * time.Second},
		}},
		{"interval 1s, tolerance 200ms, then 1s", 1 * time.Second, []step{
			{0, store.PollPending, 1 * time.Second},
			{500 * ms, store.PollSlowDown, 6 * time.Second}, // 500ms < 1s - 200ms
			{6400 * ms, store.PollPending, 6 * time.Second}, // 5.9s: tolerance min(1s, 1.2s)
			{11300 * ms, store.PollSlowDown, 11 * time.Second},
			{21300 * ms, store.PollPending, 11 * time.Second}, // exactly the interval less 1s
		}},
		{"interval 2s, tolerance 400ms", 2 * time.Second, []step{
			{0, store.PollPending, 2 * time.Second},
			{1600 * ms, store.PollPending, 2 * time.Second}, // exactly the interval less 400ms
			{3100 * ms, store.PollSlowDown, 7 * time.Second},
			{9100 * ms, store.PollPending, 7 * time.Second},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newDeviceAuth(c, n)
			a.Interval = tt.interval
			mustCreateDeviceAuth(t, s, a)
			for _, step := range tt.steps {
				res, err := s.PollDeviceAuth(t.Context(), a.DeviceCodeHash, "tv", true, at(step.at))
				if err != nil {
					t.Fatalf("poll at t=%v: %v", step.at, err)
				}
				want := *a
				want.Interval = step.interval
				want.LastPollAt = at(step.at)
				diff(t, "poll at t="+step.at.String(), &store.PollResult{Outcome: step.outcome, Auth: &want}, res)
			}
		})
	}
}

func testDevicePollOutcomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	// A step is a poll, or with decide set, ada's decision, or with redeem
	// set, the redemption a poll answered issue goes on to. The fixture
	// expires at t=10m with a 5 s interval.
	type step struct {
		at      time.Duration
		decide  string // "approve" or "deny"; empty for a poll
		redeem  bool
		outcome string
		status  string // the status after the poll
	}
	for n, tt := range []struct {
		name  string
		steps []step
	}{
		{"approved: issue until redeemed, then used", []step{
			{at: 0, decide: "approve"},
			{at: 0, outcome: store.PollIssue, status: store.DeviceApproved},
			// Issue changes nothing: a redemption that failed is tried again.
			{at: 10 * time.Second, outcome: store.PollIssue, status: store.DeviceApproved},
			{at: 10 * time.Second, redeem: true},
			{at: 20 * time.Second, outcome: store.PollUsed, status: store.DeviceConsumed},
			{at: 21 * time.Second, outcome: store.PollUsed, status: store.DeviceConsumed}, // used, not slow_down
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
			{at: 0, outcome: store.PollIssue, status: store.DeviceApproved},
			{at: 0, redeem: true},
			{at: 10 * time.Minute, outcome: store.PollExpired, status: store.DeviceConsumed},
		}},
		{"approved while slowed down: slow_down, then issue", []step{
			{at: 0, outcome: store.PollPending, status: store.DevicePending},
			{at: 1 * time.Second, outcome: store.PollSlowDown, status: store.DevicePending}, // interval 10 s
			{at: 2 * time.Second, decide: "approve"},
			{at: 3 * time.Second, outcome: store.PollSlowDown, status: store.DeviceApproved}, // interval 15 s
			{at: 17 * time.Second, outcome: store.PollIssue, status: store.DeviceApproved},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, n))
			for _, st := range tt.steps {
				if st.decide != "" {
					if _, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", st.decide == "approve", at(st.at)); err != nil {
						t.Fatalf("DecideDeviceAuth at t=%v: %v", st.at, err)
					}
					continue
				}
				if st.redeem {
					g := newGrant(fmt.Sprint("g", n), "ada", "tv", at(st.at))
					if err := s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, g, nil, at(st.at)); err != nil {
						t.Fatalf("RedeemDeviceAuth at t=%v: %v", st.at, err)
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

// testDeviceRedeem: RedeemDeviceAuth consumes an approved, unexpired
// authorization and stores its grant and refresh token, all or nothing.
func testDeviceRedeem(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	records := func(n int) (*store.Grant, *store.RefreshToken) {
		g := newGrant(fmt.Sprint("g", n), "ada", "tv", at(time.Minute))
		rt := newRefreshToken(fmt.Sprint("rt", n), g.ID, g.ExpiresAt)
		rt.ClientID = "tv"
		return g, rt
	}
	// nothingStored fails if g or rt was written.
	nothingStored := func(t *testing.T, g *store.Grant, rt *store.RefreshToken) {
		t.Helper()
		_, err := s.GetGrant(ctx, g.ID)
		wantErr(t, "GetGrant of a grant not redeemed", err, store.ErrNotFound)
		_, err = s.GetRefreshToken(ctx, rt.Hash)
		wantErr(t, "GetRefreshToken of a token not redeemed", err, store.ErrNotFound)
	}

	pending := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	denied := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 2))
	expired := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 3))
	for _, a := range []*store.DeviceAuth{denied, expired} {
		if _, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", a == expired, t0); err != nil {
			t.Fatalf("DecideDeviceAuth: %v", err)
		}
	}
	for _, tt := range []struct {
		name       string
		deviceCode string
		now        time.Time
		want       error
	}{
		{"pending", pending.DeviceCodeHash, t0, store.ErrConflict},
		{"denied", denied.DeviceCodeHash, t0, store.ErrConflict},
		{"approved, at expiry", expired.DeviceCodeHash, expired.ExpiresAt, store.ErrConflict},
		{"unknown", "device-code-hash-9", t0, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, rt := records(9)
			wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, tt.deviceCode, g, rt, tt.now), tt.want)
			nothingStored(t, g, rt)
		})
	}

	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 4))
	approved, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", true, t0)
	wantErr(t, "DecideDeviceAuth", err, nil)
	g, rt := records(4)

	// A redemption that fails halfway, after the authorization's update or
	// the grant's insert, leaves nothing behind: the code stays approved for
	// the next poll to redeem.
	taken := newRefreshToken("rt-taken", g.ID, g.ExpiresAt)
	for _, tt := range []struct {
		name string
		g    *store.Grant
		rt   *store.RefreshToken
	}{
		{"the grant's user does not exist", newGrant(g.ID, "ghost", "tv", t0), rt},
		{"the refresh token's grant does not exist", g, newRefreshToken(rt.Hash, "ghost", g.ExpiresAt)},
		{"the refresh token's hash is taken", g, taken},
	} {
		t.Run("fails halfway: "+tt.name, func(t *testing.T) {
			if tt.rt == taken {
				other := mustCreateGrant(t, s, newGrant("g-other", "ada", "tv", t0))
				mustCreateRefreshToken(t, s, newRefreshToken(taken.Hash, other.ID, g.ExpiresAt))
			}
			if err := s.RedeemDeviceAuth(ctx, approved.DeviceCodeHash, tt.g, tt.rt, at(time.Minute)); err == nil {
				t.Fatal("RedeemDeviceAuth succeeded; want an error")
			}
			diff(t, "authorization after a failed redemption", approved, mustGetDeviceAuth(t, s, approved.UserCodeHash))
			nothingStored(t, g, rt)
		})
	}

	wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, approved.DeviceCodeHash, g, rt, at(time.Minute)), nil)
	want := *approved
	want.Status = store.DeviceConsumed
	want.GrantID = g.ID
	diff(t, "redeemed authorization", &want, mustGetDeviceAuth(t, s, approved.UserCodeHash))
	gotG, err := s.GetGrant(ctx, g.ID)
	wantErr(t, "GetGrant", err, nil)
	diff(t, "redeemed grant", g, gotG)
	gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
	wantErr(t, "GetRefreshToken", err, nil)
	diff(t, "redeemed refresh token", rt, gotRT)

	// A second redemption loses, and the first one stands.
	g2, rt2 := records(5)
	wantErr(t, "second RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, approved.DeviceCodeHash, g2, rt2, at(2*time.Minute)), store.ErrConflict)
	nothingStored(t, g2, rt2)
	diff(t, "authorization after a second redemption", &want, mustGetDeviceAuth(t, s, approved.UserCodeHash))
	res, err := s.PollDeviceAuth(ctx, approved.DeviceCodeHash, "tv", true, at(3*time.Minute))
	wantErr(t, "PollDeviceAuth", err, nil)
	if res.Outcome != store.PollUsed || res.Auth.GrantID != g.ID {
		t.Errorf("poll after redemption = %q, grant %q; want %q, grant %q", res.Outcome, res.Auth.GrantID, store.PollUsed, g.ID)
	}

	// Without a refresh token (the client did not ask for offline_access).
	noRefresh := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 6))
	if _, err := s.DecideDeviceAuth(ctx, noRefresh.UserCodeHash, "ada", "", true, t0); err != nil {
		t.Fatalf("DecideDeviceAuth: %v", err)
	}
	g6, _ := records(6)
	wantErr(t, "RedeemDeviceAuth without a refresh token", s.RedeemDeviceAuth(ctx, noRefresh.DeviceCodeHash, g6, nil, t0), nil)
	if _, err := s.GetGrant(ctx, g6.ID); err != nil {
		t.Errorf("GetGrant after a redemption without a refresh token: %v", err)
	}
	if got := mustGetDeviceAuth(t, s, noRefresh.UserCodeHash); got.Status != store.DeviceConsumed || got.GrantID != g6.ID {
		t.Errorf("authorization = %q, grant %q; want %q, grant %q", got.Status, got.GrantID, store.DeviceConsumed, g6.ID)
	}
	wantErr(t, "RedeemDeviceAuth again", s.RedeemDeviceAuth(ctx, noRefresh.DeviceCodeHash, g6, nil, t0), store.ErrConflict)
}
