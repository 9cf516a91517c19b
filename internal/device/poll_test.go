package device_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/grant"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/token"
)

// pollStore is what the device_code grant reads and writes.
type pollStore interface {
	PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error)
	RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) error
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// newGrant returns the device_code grant on st (which redeems through
// redeem), with a signing key, the clock at t0, client "tv" (public,
// device_code and refresh_token), confidential client "box" and user "ada".
func newGrant(t *testing.T, st *sqlite.Store, redeem pollStore) *device.Grant {
	t.Helper()
	ctx := t.Context()
	now := func() time.Time { return t0 }
	log := slog.New(slog.DiscardHandler)
	km := &keys.Manager{Store: st, Now: now, Log: log, PublishDelay: time.Hour, Retain: time.Hour, Refresh: time.Hour}
	if err := km.Init(ctx); err != nil {
		t.Fatalf("keys: %v", err)
	}
	for _, err := range []error{
		st.CreateClient(ctx, &store.Client{
			ID: "tv", AuthMethod: store.AuthNone,
			GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken},
			Scopes:     []string{"openid", "offline_access"},
		}),
		st.CreateClient(ctx, &store.Client{
			ID: "box", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret("box-secret"),
			GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid"},
		}),
		st.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com"}),
	} {
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	return &device.Grant{
		Deps: &grant.Deps{
			Clients: clientauth.Direct{Store: st},
			Users:   st,
			Minter: &token.Minter{
				Keys: km, Issuer: "https://id.example", Now: now, Rand: rand.Reader,
				AccessTTL: 10 * time.Minute, IDTTL: 10 * time.Minute,
			},
			Now:             now,
			Rand:            rand.Reader,
			Log:             log,
			RefreshLifetime: 30 * 24 * time.Hour,
		},
		Store: redeem,
	}
}

// deviceCode stores a device authorization for client, decided by "ada"
// as decide says ("", "approve" or "deny"), and returns its device_code.
func deviceCode(t *testing.T, st *sqlite.Store, client, decide string) string {
	t.Helper()
	code := oauth.PrefixDeviceCode + rand.Text()
	a := &store.DeviceAuth{
		DeviceCodeHash: oauth.HashSecret(code), UserCodeHash: oauth.HashSecret("user-" + code),
		ClientID: client, ClientPublic: client == "tv", Scopes: []string{"openid", "offline_access"},
		Status: store.DevicePending, Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
	if err := st.CreateDeviceAuth(t.Context(), a); err != nil {
		t.Fatalf("CreateDeviceAuth: %v", err)
	}
	if decide != "" {
		if _, err := st.DecideDeviceAuth(t.Context(), a.UserCodeHash, "ada", "", decide == "approve", t0); err != nil {
			t.Fatalf("DecideDeviceAuth: %v", err)
		}
	}
	return code
}

// poll sends one device access token request at t0+at.
func poll(g *device.Grant, at time.Duration, code string, creds oauth.ClientCredentials) (*token.Response, error) {
	g.Now = func() time.Time { return t0.Add(at) }
	return g.Exchange(context.Background(), &grant.Request{
		Form:  oauth.Form{"grant_type": store.GrantDeviceCode, "device_code": code},
		Creds: creds,
	})
}

// TestPoll: each answer of RFC 8628 §3.5, and who may poll a code.
func TestPoll(t *testing.T) {
	t.Parallel()
	tv := oauth.ClientCredentials{ID: "tv"}
	box := oauth.ClientCredentials{ID: "box", Secret: "box-secret", Basic: true}
	for _, tt := range []struct {
		name     string
		client   string // whose authorization; "" for no code at all
		decide   string
		polls    []time.Duration // earlier polls, whatever they got
		at       time.Duration
		creds    oauth.ClientCredentials
		wantCode string // "" for tokens
	}{
		{"pending", "tv", "", nil, 5 * time.Second, tv, oauth.AuthorizationPending},
		{"too soon after the last poll", "tv", "", []time.Duration{5 * time.Second}, 6 * time.Second, tv, oauth.SlowDown},
		{"denied", "tv", "deny", nil, 5 * time.Second, tv, oauth.AccessDenied},
		{"expired", "tv", "", nil, 11 * time.Minute, tv, oauth.ExpiredToken},
		{"approved", "tv", "approve", nil, 5 * time.Second, tv, ""},
		{"approved, redeemed already", "tv", "approve", []time.Duration{5 * time.Second}, 10 * time.Second, tv, oauth.InvalidGrant},
		{"approved for a confidential client", "box", "approve", nil, 5 * time.Second, box, ""},
		{"a confidential client's code without its secret", "box", "approve", nil, 5 * time.Second,
			oauth.ClientCredentials{ID: "box"}, oauth.InvalidClient},
		{"another client's code", "box", "approve", nil, 5 * time.Second, tv, oauth.InvalidGrant},
		{"unknown client", "tv", "approve", nil, 5 * time.Second, oauth.ClientCredentials{ID: "nobody"}, oauth.InvalidClient},
		{"unknown device_code", "", "", nil, 5 * time.Second, tv, oauth.InvalidGrant},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := sqlitetest.Open(t)
			g := newGrant(t, st, st)
			code := "lk_dc_no-such-code"
			if tt.client != "" {
				code = deviceCode(t, st, tt.client, tt.decide)
			}
			for _, at := range tt.polls {
				_, _ = poll(g, at, code, tt.creds)
			}
			resp, err := poll(g, tt.at, code, tt.creds)
			if tt.wantCode == "" {
				if err != nil || resp.AccessToken == "" {
					t.Fatalf("poll = %+v, %v; want tokens", resp, err)
				}
				return
			}
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != tt.wantCode {
				t.Errorf("poll = %v; want %s", err, tt.wantCode)
			}
		})
	}
}

// failingRedeem is a real store whose next fail redemptions fail as a lost
// database would, before writing anything.
type failingRedeem struct {
	*sqlite.Store
	fail int
}

func (s *failingRedeem) RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, rt *store.RefreshToken, now time.Time) error {
	if s.fail > 0 {
		s.fail--
		return fmt.Errorf("redeem: %w", store.ErrUnavailable)
	}
	return s.Store.RedeemDeviceAuth(ctx, deviceCodeHash, g, rt, now)
}

// TestPollRedeemRetried: a poll whose redemption failed consumed nothing,
// so the device's next poll gets its tokens; the one after that is a
// second redemption, which revokes what the first got (DF-13).
func TestPollRedeemRetried(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	g := newGrant(t, st, &failingRedeem{Store: st, fail: 1})
	code := deviceCode(t, st, "tv", "approve")
	tv := oauth.ClientCredentials{ID: "tv"}

	if _, err := poll(g, 5*time.Second, code, tv); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("poll while the database is lost = %v, want ErrUnavailable (503)", err)
	}
	resp, err := poll(g, 10*time.Second, code, tv)
	if err != nil {
		t.Fatalf("poll once the database is back: %v", err)
	}
	if resp.AccessToken == "" || resp.RefreshToken == "" {
		t.Errorf("token response lacks an access or refresh token: %+v", resp)
	}
	_, err = poll(g, 15*time.Second, code, tv)
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
		t.Errorf("second redemption: error = %v, want %s", err, oauth.InvalidGrant)
	}
	rt, err := st.GetRefreshToken(t.Context(), oauth.HashSecret(resp.RefreshToken))
	if err != nil {
		t.Fatalf("GetRefreshToken: %v", err)
	}
	if gr, err := st.GetGrant(t.Context(), rt.GrantID); err != nil || gr.RevokedAt.IsZero() {
		t.Errorf("grant after a second redemption = %+v, %v; want it revoked", gr, err)
	}
}

// TestPollAgainJustAfterRedemption: a poll of a redeemed code within
// ConcurrentPollWindow of its redemption (either way, for clocks that
// differ) is a retry of the same client and gets invalid_grant without
// revoking the tokens just issued (DF-15); at the window's edge and later it
// is a second redemption and revokes them (DF-13).
func TestPollAgainJustAfterRedemption(t *testing.T) {
	t.Parallel()
	tv := oauth.ClientCredentials{ID: "tv"}
	const redeemAt = 5 * time.Second
	for _, tt := range []struct {
		name        string
		at          time.Duration
		wantRevoked bool
	}{
		{"at the same instant", redeemAt, false},
		{"just inside the window", redeemAt + device.ConcurrentPollWindow - time.Millisecond, false},
		{"from an instance whose clock is behind", redeemAt - device.ConcurrentPollWindow + time.Millisecond, false},
		{"at the window's end", redeemAt + device.ConcurrentPollWindow, true},
		{"later", redeemAt + 5*time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := sqlitetest.Open(t)
			g := newGrant(t, st, st)
			code := deviceCode(t, st, "tv", "approve")
			resp, err := poll(g, redeemAt, code, tv)
			if err != nil {
				t.Fatalf("first poll: %v", err)
			}
			_, err = poll(g, tt.at, code, tv)
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
				t.Errorf("second poll: error = %v, want %s", err, oauth.InvalidGrant)
			}
			rt, err := st.GetRefreshToken(t.Context(), oauth.HashSecret(resp.RefreshToken))
			if err != nil {
				t.Fatalf("GetRefreshToken: %v", err)
			}
			gr, err := st.GetGrant(t.Context(), rt.GrantID)
			if err != nil {
				t.Fatalf("GetGrant: %v", err)
			}
			if revoked := !gr.RevokedAt.IsZero(); revoked != tt.wantRevoked {
				t.Errorf("grant revoked = %v; want %v", revoked, tt.wantRevoked)
			}
		})
	}
}
