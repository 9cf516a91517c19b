package token

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// FuzzVerifyAccess: whatever string comes as an access token, Verifier.Access
// neither panics nor accepts it unless it is a token Latchkey signed, with
// that token's claims (docs/security.md BI-13: JWT parsing). The seeds are
// a real access token, its ID token (the wrong typ), and hand-made
// variations: no signature, alg none, a flipped signature, junk.
func FuzzVerifyAccess(f *testing.F) {
	ctx := f.Context()
	st := sqlitetest.Open(f)
	now := func() time.Time { return t0 }
	km := &keys.Manager{Store: st, Now: now, Log: slog.New(slog.DiscardHandler),
		PublishDelay: time.Hour, Retain: time.Hour, Refresh: time.Hour}
	if err := km.Init(ctx); err != nil {
		f.Fatal(err)
	}
	m := &Minter{Keys: km, Issuer: issuer, Now: now, Rand: rand.Reader, AccessTTL: 10 * time.Minute, IDTTL: time.Hour}
	v := &Verifier{Keys: km, Issuer: issuer}
	u := &store.User{ID: "ada", Email: "ada@example.com", CreatedAt: t0, UpdatedAt: t0}
	resp, err := m.Mint(ctx, Issue{Grant: &store.Grant{ID: "g1", UserID: "ada", ClientID: "tv", Scopes: []string{"openid"}, AuthTime: t0},
		User: u, Scopes: []string{"openid"}})
	if err != nil {
		f.Fatal(err)
	}
	genuine, err := v.Access(ctx, resp.AccessToken)
	if err != nil {
		f.Fatalf("the genuine token does not verify: %v", err)
	}
	parts := strings.Split(resp.AccessToken, ".")
	flipped := []byte(parts[2])
	flipped[5] ^= 1
	for _, seed := range []string{
		resp.AccessToken,
		resp.IDToken,
		parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + string(flipped),
		parts[0] + "." + parts[1],
		"..", "", "not a token", strings.Repeat("a.", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Access(ctx, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Access(%q) = %v, want ErrInvalid for anything not ours", raw, err)
			}
			return
		}
		if d := cmp.Diff(genuine, c); d != "" {
			t.Fatalf("Access(%q) accepted claims that are not the genuine token's:\n%s", raw, d)
		}
	})
}
