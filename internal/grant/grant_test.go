package grant

import (
	"context"
	"crypto/rand"
	"errors"
	"github.com/latchkey/latchkey/internal/clientauth"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/token"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// newDeps returns the grants' dependencies on st, with a signing key, the
// clock at t0, client "tv" (public, device_code and refresh_token) and its
// user "ada". The device_code grant's tests are package device's.
func newDeps(t *testing.T, st store.Store) *Deps {
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
		st.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com"}),
	} {
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	return &Deps{
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
	}
}

// TestRefreshNotRotated: a refresh token that may not be used any more is
// refused before it is rotated, so it is not marked used.
func TestRefreshNotRotated(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlitetest.Open(t)
	d := newDeps(t, st)
	for _, tt := range []struct {
		name    string
		grant   func(*store.Grant)
		expires time.Time
		user    func(*store.User)
	}{
		{name: "revoked grant", grant: func(g *store.Grant) { g.RevokedAt = t0.Add(-time.Minute) }},
		{name: "expired grant", grant: func(g *store.Grant) { g.ExpiresAt = t0 }},
		{name: "expired token", expires: t0},
		{name: "disabled user", user: func(u *store.User) { u.Disabled = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := st.GetUser(ctx, "ada")
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if tt.user != nil {
				disabled := *u
				tt.user(&disabled)
				mustDo(t, st.UpdateUser(ctx, &disabled))
				defer func() { mustDo(t, st.UpdateUser(context.Background(), u)) }()
			}
			g := &store.Grant{
				ID: rand.Text(), UserID: "ada", ClientID: "tv", Scopes: []string{"openid", "offline_access"},
				CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour),
			}
			if tt.grant != nil {
				tt.grant(g)
			}
			mustDo(t, st.CreateGrant(ctx, g))
			refresh := oauth.PrefixRefreshToken + rand.Text()
			rt := &store.RefreshToken{Hash: oauth.HashSecret(refresh), GrantID: g.ID, ClientID: "tv", Scopes: g.Scopes,
				CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt}
			if !tt.expires.IsZero() {
				rt.ExpiresAt = tt.expires
			}
			mustDo(t, st.CreateRefreshToken(ctx, rt))

			_, err = Refresh{Deps: d, Store: st}.Exchange(ctx, &Request{
				Form:  oauth.Form{"grant_type": store.GrantRefreshToken, "refresh_token": refresh},
				Creds: oauth.ClientCredentials{ID: "tv"},
			})
			wantInvalidGrant(t, "refresh", err)
			got, err := st.GetRefreshToken(ctx, rt.Hash)
			if err != nil {
				t.Fatalf("GetRefreshToken: %v", err)
			}
			if !got.UsedAt.IsZero() {
				t.Errorf("refused refresh token was rotated: used at %v", got.UsedAt)
			}
		})
	}
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
		t.Errorf("%s: error = %v, want %s", what, err, oauth.InvalidGrant)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
