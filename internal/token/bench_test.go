package token

import (
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// BenchmarkMint measures one token response: an ES256 access token, and an
// ID token as well when openid was granted.
func BenchmarkMint(b *testing.B) {
	st := sqlitetest.Open(b)
	km := &keys.Manager{Store: st, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublishDelay: time.Minute, Retain: time.Hour, Refresh: 30 * time.Second}
	if err := km.Init(b.Context()); err != nil {
		b.Fatal(err)
	}
	m := &Minter{Keys: km, Issuer: "https://auth.example.com", Now: time.Now, Rand: rand.Reader,
		AccessTTL: 10 * time.Minute, IDTTL: time.Hour}
	g := &store.Grant{ID: "g1", UserID: "u1", ClientID: "tv", ExpiresAt: time.Now().Add(time.Hour)}
	u := &store.User{ID: "u1", Email: "pat@example.com", Name: "Pat"}
	for _, tt := range []struct {
		name   string
		scopes []string
	}{
		{"access", []string{"offline_access"}},
		{"access+id", []string{"openid", "email", "offline_access"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Mint(b.Context(), Issue{Grant: g, User: u, Scopes: tt.scopes}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
