package device_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/throttle"
)

// t0 is the tests' clock: whole milliseconds, as the store keeps them.
var t0 = time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)

const lifetime = 10 * time.Minute

// fixture is a store with one client and user codes in every state.
type fixture struct {
	st  *sqlite.Store
	now time.Time
	v   *device.Verifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{st: sqlitetest.Open(t), now: t0.Add(2 * time.Minute)}
	f.v = &device.Verifier{
		Store:      f.st,
		Now:        func() time.Time { return f.now },
		Window:     lifetime,
		PerAccount: 5,
		PerIP:      20,
		Global:     1000,
	}
	ctx := t.Context()
	if err := f.st.CreateClient(ctx, &store.Client{
		ID: "tv", Name: "Living room TV", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid", "offline_access"},
		CreatedAt: t0, UpdatedAt: t0,
	}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	for _, a := range []struct {
		code    string
		expires time.Time
		decide  string // "", "approve" or "deny"
	}{
		{"WDJBMJHT", t0.Add(lifetime), ""},
		{"BCDFGHJK", t0.Add(time.Minute), ""}, // expired at f.now
		{"LMNPQRST", t0.Add(lifetime), "approve"},
		{"VWXZBCDF", t0.Add(lifetime), "deny"},
	} {
		if err := f.st.CreateDeviceAuth(ctx, &store.DeviceAuth{
			DeviceCodeHash: oauth.HashSecret("dc-" + a.code),
			UserCodeHash:   oauth.HashSecret(a.code),
			ClientID:       "tv",
			ClientPublic:   true,
			Scopes:         []string{"openid", "offline_access"},
			Status:         store.DevicePending,
			Interval:       5 * time.Second,
			CreatedAt:      t0,
			ExpiresAt:      a.expires,
			RequestIP:      "198.51.100.9",
		}); err != nil {
			t.Fatalf("CreateDeviceAuth(%s): %v", a.code, err)
		}
		if a.decide != "" {
			if _, err := f.st.DecideDeviceAuth(ctx, oauth.HashSecret(a.code), "someone", "", a.decide == "approve", t0); err != nil {
				t.Fatalf("DecideDeviceAuth(%s): %v", a.code, err)
			}
		}
	}
	return f
}

func (f *fixture) status(t *testing.T, code string) string {
	t.Helper()
	a, err := f.st.GetDeviceAuthByUserCode(t.Context(), oauth.HashSecret(code))
	if err != nil {
		t.Fatalf("GetDeviceAuthByUserCode(%s): %v", code, err)
	}
	return a.Status
}

func (f *fixture) count(t *testing.T, key string) int {
	t.Helper()
	n, err := throttle.Window{Length: lifetime}.Count(t.Context(), f.st, key, f.now)
	if err != nil {
		t.Fatalf("Count(%s): %v", key, err)
	}
	return n
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		input     string
		wantErr   error
		wantCode  string
		wantWrong int // wrong entries counted for the account afterwards
	}{
		{"as displayed", "WDJB-MJHT", nil, "WDJBMJHT", 0},
		{"lower case, no dash", "wdjbmjht", nil, "WDJBMJHT", 0},
		{"spaces", " WDJB MJHT ", nil, "WDJBMJHT", 0},
		{"digit is rejected, not folded", "WDJB-MJH0", nil, "", 1},
		{"punctuation", "WDJB.MJHT", nil, "", 1},
		{"empty", "", nil, "", 1},
		{"unknown code", "BBBB-BBBB", nil, "", 1},
		{"expired", "BCDF-GHJK", device.ErrExpired, "", 0},
		{"approved already", "LMNP-QRST", device.ErrUsed, "", 0},
		{"denied already", "VWXZ-BCDF", device.ErrUsed, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			wantErr := tt.wantErr
			if tt.wantCode == "" && wantErr == nil {
				wantErr = device.ErrInvalidCode
			}
			got, err := f.v.Lookup(t.Context(), "u1", "203.0.113.5", tt.input)
			if !errors.Is(err, wantErr) {
				t.Fatalf("Lookup(%q) error = %v; want %v", tt.input, err, wantErr)
			}
			if err == nil {
				if got.UserCode != tt.wantCode || got.Client.Name != "Living room TV" || got.Auth.Status != store.DevicePending {
					t.Errorf("Lookup(%q) = code %q, client %q, status %q; want %q, %q, %q",
						tt.input, got.UserCode, got.Client.Name, got.Auth.Status, tt.wantCode, "Living room TV", store.DevicePending)
				}
			}
			for _, key := range []string{"usercode:user:u1", "usercode:ip:203.0.113.5", "usercode:global"} {
				if got := f.count(t, key); got != tt.wantWrong {
					t.Errorf("count %s = %d; want %d", key, got, tt.wantWrong)
				}
			}
			// Looking is not deciding (RFC 8628 §3.3.1, DF-16).
			if got := f.status(t, "WDJBMJHT"); got != store.DevicePending {
				t.Errorf("status after Lookup = %q; want %q", got, store.DevicePending)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	// A second before 05:20, where a fixed ten-minute window begins.
	beforeBoundary := t0.Truncate(lifetime).Add(2 * lifetime).Add(-time.Second).Sub(t0)
	type entry struct {
		user, ip string
		at       time.Duration // from the fixture's start, when not 0
	}
	wrong := func(n int, user, ip string) []entry {
		var es []entry
		for range n {
			es = append(es, entry{user, ip, 0})
		}
		return es
	}
	for _, tt := range []struct {
		name          string
		perAccount    int
		perIP, global int
		wrong         []entry
		later         time.Duration // clock moves on before the right code is entered
		wantErr       error
	}{
		{"four wrong, fifth is right", 5, 20, 1000, wrong(4, "u1", "ip1"), 0, nil},
		{"five wrong, even the right code is refused", 5, 20, 1000, wrong(5, "u1", "ip1"), 0, device.ErrThrottled},
		{"another account's failures do not count", 5, 20, 1000, wrong(5, "u2", "ip2"), 0, nil},
		{"per IP across accounts", 5, 6, 1000,
			append(wrong(3, "u2", "ip1"), wrong(3, "u3", "ip1")...), 0, device.ErrThrottled},
		// The global budget holds those with a wrong entry of their own
		// (G-21): spent by others, it refuses an account that has one, and
		// an address that has one, but not a person with neither.
		{"global spent, the account has a wrong entry", 5, 20, 6,
			append(wrong(1, "u1", "ip9"), wrong(5, "u3", "ip3")...), 0, device.ErrThrottled},
		{"global spent, the address has a wrong entry", 5, 20, 6,
			append(wrong(1, "u9", "ip1"), wrong(5, "u3", "ip3")...), 0, device.ErrThrottled},
		{"global spent by others, a person with no wrong entry connects", 5, 20, 6,
			append(wrong(3, "u2", "ip2"), wrong(3, "u3", "ip3")...), 0, nil},
		// Sliding windows: five wrong entries just before 05:20, where a
		// fixed window of ten minutes would begin, are still spent just
		// after it.
		{"spent just before a fixed window's boundary", 5, 20, 1000,
			[]entry{{"u1", "ip1", beforeBoundary}, {"u1", "ip1", beforeBoundary}, {"u1", "ip1", beforeBoundary},
				{"u1", "ip1", beforeBoundary}, {"u1", "ip1", beforeBoundary}},
			beforeBoundary + 2*time.Second, device.ErrThrottled},
		{"a window and a slice later the budget is back", 5, 20, 1000, wrong(5, "u1", "ip1"), lifetime + lifetime/10, nil},
		{"unconfigured limits fail closed", 0, 0, 0, nil, 0, device.ErrThrottled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.v.PerAccount, f.v.PerIP, f.v.Global = tt.perAccount, tt.perIP, tt.global
			start := f.now
			for _, e := range tt.wrong {
				if e.at != 0 {
					f.now = t0.Add(e.at)
				}
				if _, err := f.v.Lookup(t.Context(), e.user, e.ip, "BBBB-BBBB"); !errors.Is(err, device.ErrInvalidCode) {
					t.Fatalf("wrong entry: error = %v; want %v", err, device.ErrInvalidCode)
				}
			}
			// The right code; the expiry is pushed out so "later" tests
			// only the budget.
			f.now = start.Add(tt.later)
			if tt.later > 0 && len(tt.wrong) > 0 && tt.wrong[0].at != 0 {
				f.now = t0.Add(tt.later)
			}
			if tt.later > 0 {
				if err := f.st.CreateDeviceAuth(t.Context(), &store.DeviceAuth{
					DeviceCodeHash: "dc-later", UserCodeHash: oauth.HashSecret("FGHJKLMN"), ClientID: "tv",
					Scopes: []string{"openid"}, Status: store.DevicePending, Interval: 5 * time.Second,
					CreatedAt: f.now, ExpiresAt: f.now.Add(lifetime),
				}); err != nil {
					t.Fatalf("CreateDeviceAuth: %v", err)
				}
			}
			code := "WDJB-MJHT"
			if tt.later > 0 {
				code = "FGHJ-KLMN"
			}
			_, err := f.v.Lookup(t.Context(), "u1", "ip1", code)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lookup(right code) error = %v; want %v", err, tt.wantErr)
			}
			// A throttled answer is the same for a code that does not exist.
			if tt.wantErr != nil {
				_, err := f.v.Lookup(t.Context(), "u1", "ip1", "ZZZZ-ZZZZ")
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Lookup(unknown code) error = %v; want %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	type step struct {
		input   string
		approve bool
		wantErr error
	}
	for _, tt := range []struct {
		name       string
		steps      []step
		code       string // whose status is checked at the end
		wantStatus string
	}{
		{"approve", []step{{"wdjb-mjht", true, nil}}, "WDJBMJHT", store.DeviceApproved},
		{"deny", []step{{"WDJB-MJHT", false, nil}}, "WDJBMJHT", store.DeviceDenied},
		{"a denial is final (DF-11)", []step{
			{"WDJB-MJHT", false, nil},
			{"WDJB-MJHT", true, device.ErrUsed},
		}, "WDJBMJHT", store.DeviceDenied},
		{"an approval is final", []step{
			{"WDJB-MJHT", true, nil},
			{"WDJB-MJHT", false, device.ErrUsed},
			{"WDJB-MJHT", true, device.ErrUsed},
		}, "WDJBMJHT", store.DeviceApproved},
		{"expired code", []step{{"BCDF-GHJK", true, device.ErrExpired}}, "BCDFGHJK", store.DevicePending},
		{"decided by someone else", []step{{"VWXZ-BCDF", true, device.ErrUsed}}, "VWXZBCDF", store.DeviceDenied},
		{"unknown code", []step{{"BBBB-BBBB", true, device.ErrInvalidCode}}, "WDJBMJHT", store.DevicePending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for i, s := range tt.steps {
				got, err := f.v.Decide(t.Context(), &store.Session{Hash: "session-1", UserID: "u1"}, "ip1", s.input, s.approve)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: Decide(%q, %v) error = %v; want %v", i, s.input, s.approve, err, s.wantErr)
				}
				if err == nil && (got.Auth.UserID != "u1" || got.Auth.SessionHash != "session-1") {
					t.Errorf("step %d: decided by %q in session %q; want %q in %q", i, got.Auth.UserID, got.Auth.SessionHash, "u1", "session-1")
				}
			}
			if got := f.status(t, tt.code); got != tt.wantStatus {
				t.Errorf("status = %q; want %q", got, tt.wantStatus)
			}
		})
	}
}

func TestDecideNeedsUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.v.Decide(t.Context(), &store.Session{Hash: "session-1"}, "ip1", "WDJB-MJHT", true)
	if err == nil {
		t.Fatalf("Decide with no user succeeded; want an error")
	}
	if got := f.status(t, "WDJBMJHT"); got != store.DevicePending {
		t.Errorf("status = %q; want %q", got, store.DevicePending)
	}
}

// TestThrottleBurst: wrong user codes sent all at once get no more looks
// at the codes than the budget allows (DF-07: counting is atomic), on both
// backends; and entering an existing code spends no budget.
func TestThrottleBurst(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"sqlite", func(t testing.TB) store.Store { return sqlitetest.Open(t) }},
		{"postgres", func(t testing.TB) store.Store { return pgtest.Open(t) }},
	} {
		t.Run(bk.name, func(t *testing.T) {
			st := bk.open(t)
			now := t0.Add(2 * time.Minute)
			v := &device.Verifier{Store: st, Now: func() time.Time { return now }, Window: lifetime,
				PerAccount: 5, PerIP: 20, Global: 1000}
			ctx := t.Context()
			if err := st.CreateClient(ctx, &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthNone,
				GrantTypes: []string{store.GrantDeviceCode}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateDeviceAuth(ctx, &store.DeviceAuth{DeviceCodeHash: "dc", UserCodeHash: oauth.HashSecret("WDJBMJHT"),
				ClientID: "tv", ClientPublic: true, Scopes: []string{"openid"}, Status: store.DevicePending,
				Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: t0.Add(lifetime), RequestIP: "198.51.100.9"}); err != nil {
				t.Fatal(err)
			}
			// The right code, more times than the budget: never throttled.
			for i := range 8 {
				if _, err := v.Lookup(ctx, "u1", "ip1", "WDJB-MJHT"); err != nil {
					t.Fatalf("right code, entry %d: %v", i+1, err)
				}
			}

			const burst = 50
			errs := make([]error, burst)
			var wg sync.WaitGroup
			for i := range burst {
				wg.Go(func() { _, errs[i] = v.Lookup(ctx, "u1", fmt.Sprint("ip-", i), "BBBB-BBBB") })
			}
			wg.Wait()
			count := map[string]int{}
			for _, err := range errs {
				switch {
				case errors.Is(err, device.ErrInvalidCode):
					count["invalid"]++
				case errors.Is(err, device.ErrThrottled):
					count["throttled"]++
				default:
					t.Errorf("wrong code in a burst: %v", err)
				}
			}
			if count["invalid"] != 5 || count["throttled"] != burst-5 {
				t.Errorf("%d wrong codes at once for one account with a budget of 5: %v; want 5 invalid, the rest throttled",
					burst, count)
			}
			if _, err := v.Lookup(ctx, "u1", "ip1", "WDJB-MJHT"); !errors.Is(err, device.ErrThrottled) {
				t.Errorf("right code after the burst: %v, want %v", err, device.ErrThrottled)
			}
			// The refused attempts gave their counts back: the global
			// budget is spent only by the five that were looked at.
			if n, err := (throttle.Window{Length: lifetime}).Count(ctx, st, "usercode:global", now); err != nil || n != 5 {
				t.Errorf("global count after the burst = %d, %v; want 5", n, err)
			}
		})
	}
}

// TestPeek: a signed-out look at a code (the sign-in page naming the
// device) finds it, decides nothing, and spends the address's and the
// server's budgets like any entry: wrong peeks lock the address out of
// the verification page too, and a spent server budget is no free pass.
func TestPeek(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFixture(t)
	f.v.PerIP = 3
	p, err := f.v.Peek(ctx, "198.51.100.7", "wdjb-mjht")
	if err != nil || p.Client.Name != "Living room TV" {
		t.Fatalf("Peek = %v, %v", p, err)
	}
	if got := f.status(t, "WDJBMJHT"); got != store.DevicePending {
		t.Errorf("after Peek the request is %s", got)
	}
	if _, err := f.v.Peek(ctx, "198.51.100.7", "LMNP-QRST"); !errors.Is(err, device.ErrUsed) {
		t.Errorf("Peek of a used code: %v", err)
	}
	for range 3 {
		if _, err := f.v.Peek(ctx, "198.51.100.7", "BBBB-BBBB"); !errors.Is(err, device.ErrInvalidCode) {
			t.Fatalf("wrong Peek: %v", err)
		}
	}
	if _, err := f.v.Peek(ctx, "198.51.100.7", "WDJB-MJHT"); !errors.Is(err, device.ErrThrottled) {
		t.Errorf("Peek over the address's budget: %v", err)
	}
	if _, err := f.v.Lookup(ctx, "fresh-user", "198.51.100.7", "WDJB-MJHT"); !errors.Is(err, device.ErrThrottled) {
		t.Errorf("Lookup from an address spent by peeks: %v", err)
	}

	g := newFixture(t)
	g.v.Global = 2
	for i := range 2 {
		if _, err := g.v.Peek(ctx, fmt.Sprintf("203.0.113.%d", i), "BBBB-BBBB"); !errors.Is(err, device.ErrInvalidCode) {
			t.Fatalf("wrong Peek: %v", err)
		}
	}
	if _, err := g.v.Peek(ctx, "192.0.2.1", "WDJB-MJHT"); !errors.Is(err, device.ErrThrottled) {
		t.Errorf("a clean address's Peek with the global budget spent: %v", err)
	}
	// A signed-in person with a clean account and address still connects (G-21).
	if _, err := g.v.Lookup(ctx, "u-clean", "192.0.2.1", "WDJB-MJHT"); err != nil {
		t.Errorf("Lookup by a clean account and address: %v", err)
	}
}
