package token

import (
	"crypto/rand"
	"encoding/base64"
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
// a real access token of each algorithm, its ID token (the wrong typ), and
// hand-made variations: no signature, alg none, a flipped signature, crit
// added, junk.
func FuzzVerifyAccess(f *testing.F) {
	ctx := f.Context()
	st := sqlitetest.Open(f)
	now := func() time.Time { return t0 }
	km := &keys.Manager{Store: st, Now: now, Log: slog.New(slog.DiscardHandler),
		PublishDelay: time.Hour, Retain: time.Hour, Refresh: time.Hour}
	if err := km.Init(ctx); err != nil {
		f.Fatal(err)
	}
	v := &Verifier{Keys: km, Issuer: issuer, Now: now}
	u := &store.User{ID: "ada", Email: "ada@example.com", CreatedAt: t0, UpdatedAt: t0}
	// One genuine token of each algorithm.
	var genuine []*AccessClaims
	for _, alg := range keys.Algorithms {
		m := &Minter{Keys: km, Issuer: issuer, Now: now, Rand: rand.Reader, AccessTTL: 10 * time.Minute, IDTTL: time.Hour, AccessAlg: alg, IDAlg: alg}
		resp, err := m.Mint(ctx, Issue{Grant: &store.Grant{ID: "g-" + alg, UserID: "ada", ClientID: "tv", Scopes: []string{"openid"}, AuthTime: t0},
			User: u, Scopes: []string{"openid"}})
		if err != nil {
			f.Fatal(err)
		}
		c, err := v.Access(ctx, resp.AccessToken)
		if err != nil {
			f.Fatalf("the genuine %s token does not verify: %v", alg, err)
		}
		genuine = append(genuine, c)
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
			// The header with crit added, the signature kept.
			base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+alg+`","crit":["x"],"x":1}`)) + "." + parts[1] + "." + parts[2],
		} {
			f.Add(seed)
		}
	}
	for _, seed := range []string{"..", "", "not a token", strings.Repeat("a.", 5000)} {
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
		for _, g := range genuine {
			if cmp.Diff(g, c) == "" {
				return
			}
		}
		t.Fatalf("Access(%q) accepted claims that are no genuine token's: %+v", raw, c)
	})
}
