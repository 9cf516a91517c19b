package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newManager(t testing.TB, clk *fakeClock) *Manager {
	t.Helper()
	st := sqlitetest.Open(t)
	return &Manager{Store: st, Now: clk.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublishDelay: time.Minute, Retain: time.Hour, Refresh: 30 * time.Second}
}

// started is newManager at the start of 2026, initialized: a key of each
// algorithm, signing.
func started(t *testing.T) (*Manager, *fakeClock) {
	t.Helper()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, clk)
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m, clk
}

// sameStore is another instance of m: its own cache, the same database.
func sameStore(m *Manager) *Manager {
	return &Manager{Store: m.Store, Now: m.Now, Log: m.Log, PublishDelay: m.PublishDelay, Retain: m.Retain, Refresh: m.Refresh, RSABits: m.RSABits}
}

// kids are the JWKS kids, newest first.
func kids(t *testing.T, m *Manager) []string { return kidsOf(t, m, "") }

// kidsOf are the JWKS kids of keys of alg ("": of any), newest first.
func kidsOf(t *testing.T, m *Manager, alg string) []string {
	t.Helper()
	set, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if alg == "" || k.Alg == alg {
			out = append(out, k.Kid)
		}
	}
	return out
}

func mustSigner(t *testing.T, m *Manager, alg string) *Key {
	t.Helper()
	k, err := m.Signer(t.Context(), alg)
	if err != nil {
		t.Fatalf("Signer(%s): %v", alg, err)
	}
	if k.Algorithm() != alg {
		t.Fatalf("Signer(%s) = a %s key", alg, k.Algorithm())
	}
	return k
}

// TestInitCreatesOneKeyPerAlgorithm: a fresh key set gets one key of each
// algorithm, each signing at once; a restart keeps them.
func TestInitCreatesOneKeyPerAlgorithm(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, clk)
	for range 2 { // a second Init (a restart) keeps the keys
		if err := m.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := kids(t, m); len(got) != 2 {
		t.Fatalf("JWKS kids = %v; want two", got)
	}
	for _, alg := range Algorithms {
		got := kidsOf(t, m, alg)
		if len(got) != 1 {
			t.Fatalf("%s kids = %v; want one", alg, got)
		}
		if k := mustSigner(t, m, alg); k.ID() != got[0] || k.Record.NotBefore.After(clk.t) {
			t.Errorf("Signer(%s) = %s from %s; want %s signing now", alg, k.ID(), k.Record.NotBefore, got[0])
		}
	}
	set, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Use != "sig" {
			t.Errorf("key %s: use %q; want sig", k.Kid, k.Use)
		}
		if k.Alg == RS256 && (k.Kty != "RSA" || k.E != "AQAB" || len(k.N) != 342 || k.X != "" || k.Crv != "") {
			t.Errorf("RSA JWK = %+v; want kty RSA, e AQAB and a 2048-bit n (342 base64url characters) only", k)
		}
		if k.Alg == ES256 && (k.Kty != "EC" || k.Crv != "P-256" || len(k.X) != 43 || len(k.Y) != 43 || k.N != "") {
			t.Errorf("EC JWK = %+v", k)
		}
	}
}

// TestInitAddsRSAToAnExistingSet: a database from before RS256 has only an
// EC key. Init publishes an RSA key that signs from PublishDelay on, as a
// rotated key would; meanwhile RS256 requests are signed with it anyway,
// rather than with ES256 or not at all (the rule Signer documents). The
// EC key is left as it was.
func TestInitAddsRSAToAnExistingSet(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, clk)
	ec, err := m.newKey(ES256, clk.t.Add(-time.Hour), clk.t.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store.CreateSigningKey(t.Context(), ec); err != nil {
		t.Fatal(err)
	}
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if k := mustSigner(t, m, ES256); k.ID() != ec.ID {
		t.Errorf("ES256 signer = %s; want the existing key %s", k.ID(), ec.ID)
	}
	rsaKids := kidsOf(t, m, RS256)
	if len(rsaKids) != 1 {
		t.Fatalf("RS256 kids after Init = %v; want one, published", rsaKids)
	}
	k := mustSigner(t, m, RS256)
	if k.ID() != rsaKids[0] || !k.Record.NotBefore.Equal(clk.t.Add(m.PublishDelay)) {
		t.Errorf("RS256 signer %s signs from %s; want %s from %s", k.ID(), k.Record.NotBefore, rsaKids[0], clk.t.Add(m.PublishDelay))
	}
	// A second instance starting later agrees on the same key.
	clk.t = clk.t.Add(10 * time.Second)
	b := sameStore(m)
	if err := b.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := kidsOf(t, b, RS256); !slices.Equal(got, rsaKids) {
		t.Errorf("the second instance's RS256 kids = %v; want %v", got, rsaKids)
	}
}

// TestRotate: the new key is published at once but signs only after
// PublishDelay; the old one stays published for Retain after it stops.
// Rotating one algorithm leaves the other's key alone.
func TestRotate(t *testing.T) {
	t.Parallel()
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			m, clk := started(t)
			ctx := t.Context()
			other := ES256
			if alg == ES256 {
				other = RS256
			}
			otherKey := mustSigner(t, m, other)
			old := mustSigner(t, m, alg)
			rec, err := m.Rotate(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Algorithm != alg {
				t.Fatalf("Rotate(%s) made a %s key", alg, rec.Algorithm)
			}
			if got := kidsOf(t, m, alg); len(got) != 2 || got[0] != rec.ID {
				t.Fatalf("after rotate %s kids = %v; want the new %s first, then the old", alg, got, rec.ID)
			}
			if k := mustSigner(t, m, alg); k.ID() != old.ID() {
				t.Errorf("signing with %s before the publish delay; want the old key %s", k.ID(), old.ID())
			}
			clk.t = clk.t.Add(time.Minute + time.Second)
			if k := mustSigner(t, m, alg); k.ID() != rec.ID {
				t.Errorf("after the publish delay signing with %s; want %s", k.ID(), rec.ID)
			}
			if k := mustSigner(t, m, other); k.ID() != otherKey.ID() || !k.Record.NotAfter.IsZero() {
				t.Errorf("rotating %s changed the %s key: %s, until %s", alg, other, k.ID(), k.Record.NotAfter)
			}
			// Tokens the old key signed still verify until it is pruned.
			jws, err := old.Sign(rand.Reader, "JWT", map[string]string{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := m.Verify(ctx, jws); err != nil {
				t.Errorf("token of the retired key: %v", err)
			}
			clk.t = clk.t.Add(30 * time.Minute)
			if err := m.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			if got := kidsOf(t, m, alg); len(got) != 2 {
				t.Errorf("pruned before Retain: %v", got)
			}
			clk.t = clk.t.Add(31 * time.Minute)
			if err := m.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			clk.t = clk.t.Add(time.Minute) // let the cache expire
			if got := kidsOf(t, m, alg); len(got) != 1 || got[0] != rec.ID {
				t.Errorf("after Retain %s kids = %v; want only %s", alg, got, rec.ID)
			}
			if got := kidsOf(t, m, other); len(got) != 1 || got[0] != otherKey.ID() {
				t.Errorf("after Retain %s kids = %v; want %s kept", other, got, otherKey.ID())
			}
			if _, _, err := m.Verify(ctx, jws); err != ErrInvalidToken {
				t.Errorf("token of a pruned key: %v; want ErrInvalidToken", err)
			}
		})
	}
	if _, err := newManager(t, &fakeClock{time.Now()}).Rotate(t.Context(), "HS256"); err == nil {
		t.Error("Rotate(HS256) succeeded")
	}
}

// TestOtherInstanceSeesRotation: a second manager on the same store (another
// instance) publishes the new key within Refresh, and verifies tokens signed
// with a key it has not loaded yet by reloading on the unknown kid, for
// either algorithm.
func TestOtherInstanceSeesRotation(t *testing.T) {
	t.Parallel()
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			a, clk := started(t)
			ctx := t.Context()
			b := sameStore(a)
			if err := b.Init(ctx); err != nil {
				t.Fatal(err)
			}
			rec, err := a.Rotate(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			clk.t = clk.t.Add(a.Refresh)
			if got := kidsOf(t, b, alg); len(got) != 2 || got[0] != rec.ID {
				t.Fatalf("instance b %s kids after Refresh = %v; want %s published", alg, got, rec.ID)
			}
			clk.t = clk.t.Add(a.PublishDelay)
			jws, err := mustSigner(t, a, alg).Sign(rand.Reader, "at+jwt", map[string]string{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.Verify(ctx, jws); err != nil {
				t.Errorf("instance b cannot verify instance a's token: %v", err)
			}
			// Both instances now sign with the new key.
			if k := mustSigner(t, b, alg); k.ID() != rec.ID {
				t.Errorf("instance b signs with %s; want %s", k.ID(), rec.ID)
			}
		})
	}
}

// signRaw signs header and payload, both JSON as given, with k's private
// key by its own algorithm: for tokens Sign would never make.
func signRaw(t *testing.T, k *Key, header, payload string) string {
	t.Helper()
	signing := b64([]byte(header)) + "." + b64([]byte(payload))
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = append(pad32(r), pad32(s)...)
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	}
	return signing + "." + b64(sig)
}

// TestVerifyRejects: every way a JWS can be not quite ours is refused, for
// either algorithm: algorithm confusion between our own keys, alg none and
// HS256, unknown keys, crit in any form, tampering, bad encodings.
func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Now()}
	m := newManager(t, clk)
	ctx := t.Context()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	ec, rs := mustSigner(t, m, ES256), mustSigner(t, m, RS256)
	const payload = `{"sub":"x"}`
	header := func(alg, kid, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"at+jwt"` + extra + `}`
	}
	for _, k := range []*Key{ec, rs} {
		good := signRaw(t, k, header(k.Algorithm(), k.ID(), ""), payload)
		if typ, got, err := m.Verify(ctx, good); err != nil || typ != "at+jwt" || string(got) != payload {
			t.Fatalf("%s: a good token: %q, %s, %v", k.Algorithm(), typ, got, err)
		}
		via, _ := k.Sign(rand.Reader, "at+jwt", map[string]string{"sub": "x"})
		if _, _, err := m.Verify(ctx, via); err != nil {
			t.Fatalf("%s: Sign's token: %v", k.Algorithm(), err)
		}
	}
	goodEC := signRaw(t, ec, header(ES256, ec.ID(), ""), payload)
	goodRS := signRaw(t, rs, header(RS256, rs.ID(), ""), payload)
	ecParts, rsParts := strings.Split(goodEC, "."), strings.Split(goodRS, ".")
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// An HMAC over the token with the RSA key's public modulus as the
	// secret: the classic confusion attack on verifiers that let the header
	// pick the algorithm.
	hsHeader := enc(header("HS256", rs.ID(), ""))
	for _, tt := range []struct {
		name string
		jws  string
	}{
		{"alg none", enc(`{"alg":"none","kid":"`+ec.ID()+`"}`) + "." + ecParts[1] + "."},
		{"alg HS256 on the RSA key", hsHeader + "." + rsParts[1] + "." + rsParts[2]},
		{"RS256 header on the EC key", signRaw(t, ec, header(RS256, ec.ID(), ""), payload)},
		{"ES256 header on the RSA key", signRaw(t, rs, header(ES256, rs.ID(), ""), payload)},
		{"RS256 signature, header names the EC kid", enc(header(RS256, ec.ID(), "")) + "." + rsParts[1] + "." + rsParts[2]},
		{"PS256", signRaw(t, rs, header("PS256", rs.ID(), ""), payload)},
		{"ES384", signRaw(t, ec, header("ES384", ec.ID(), ""), payload)},
		{"lower-case alg", signRaw(t, rs, header("rs256", rs.ID(), ""), payload)},
		{"unknown kid", signRaw(t, rs, header(RS256, "nope", ""), payload)},
		{"no kid", signRaw(t, ec, `{"alg":"ES256"}`, payload)},
		{"crit with an unknown extension", signRaw(t, ec, header(ES256, ec.ID(), `,"crit":["exp"],"exp":1`), payload)},
		{"crit naming b64 (RFC 7797)", signRaw(t, rs, header(RS256, rs.ID(), `,"crit":["b64"],"b64":true`), payload)},
		{"crit empty", signRaw(t, ec, header(ES256, ec.ID(), `,"crit":[]`), payload)},
		{"crit null", signRaw(t, rs, header(RS256, rs.ID(), `,"crit":null`), payload)},
		{"crit a string", signRaw(t, ec, header(ES256, ec.ID(), `,"crit":"x"`), payload)},
		{"tampered claims (EC)", ecParts[0] + "." + enc(`{"sub":"admin"}`) + "." + ecParts[2]},
		{"tampered claims (RSA)", rsParts[0] + "." + enc(`{"sub":"admin"}`) + "." + rsParts[2]},
		{"RSA signature cut short", rsParts[0] + "." + rsParts[1] + "." + rsParts[2][:len(rsParts[2])-4]},
		{"RSA signature with a leading zero byte", rsParts[0] + "." + rsParts[1] + "." + b64(append([]byte{0}, mustDecode(t, rsParts[2])...))},
		{"EC signature as long as an RSA one", ecParts[0] + "." + ecParts[1] + "." + rsParts[2]},
		{"signature not base64url", ecParts[0] + "." + ecParts[1] + "." + "a+b/"},
		{"header not JSON", enc("nope") + "." + ecParts[1] + "." + ecParts[2]},
		{"two parts", ecParts[0] + "." + ecParts[1]},
		{"four parts", goodRS + ".x"},
		{"garbage", "a.b.c"},
		{"empty", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := m.Verify(ctx, tt.jws); err != ErrInvalidToken {
				t.Errorf("Verify = %v; want ErrInvalidToken", err)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJWKSWithGoJose: a third-party implementation (go-jose) reads our
// JWKS, computes each key's RFC 7638 thumbprint to the kid we gave it, and
// verifies tokens of both algorithms with the published public keys alone.
func TestJWKSWithGoJose(t *testing.T) {
	t.Parallel()
	m := newManager(t, &fakeClock{time.Now()})
	m.RSABits = 3072
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	set, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &jwks); err != nil {
		t.Fatalf("go-jose cannot read our JWKS: %v\n%s", err, raw)
	}
	if len(jwks.Keys) != 2 {
		t.Fatalf("go-jose read %d keys; want 2", len(jwks.Keys))
	}
	for _, alg := range Algorithms {
		k := mustSigner(t, m, alg)
		found := jwks.Key(k.ID())
		if len(found) != 1 || found[0].Algorithm != alg || found[0].Use != "sig" || !found[0].IsPublic() {
			t.Fatalf("go-jose finds %d public %s keys for kid %s: %+v", len(found), alg, k.ID(), found)
		}
		tp, err := found[0].Thumbprint(crypto.SHA256)
		if err != nil || b64(tp) != k.ID() {
			t.Errorf("%s: go-jose thumbprint %s, %v; want the kid %s", alg, b64(tp), err, k.ID())
		}
		if pub, ok := found[0].Key.(*rsa.PublicKey); ok && pub.N.BitLen() != 3072 {
			t.Errorf("RSA key of %d bits; want keys.rsa_bits 3072", pub.N.BitLen())
		}
		jws, err := k.Sign(rand.Reader, "JWT", map[string]string{"sub": "x"})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			t.Fatalf("%s: go-jose cannot parse our token: %v", alg, err)
		}
		payload, err := parsed.Verify(found[0].Key)
		if err != nil || string(payload) != `{"sub":"x"}` {
			t.Errorf("%s: go-jose verifies %s, %v", alg, payload, err)
		}
	}
}

// TestParseKey: a stored key loads only as what its algorithm says it is.
func TestParseKey(t *testing.T) {
	t.Parallel()
	der := func(k any) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024) // too small, on purpose
	for _, tt := range []struct {
		name    string
		alg     string
		key     []byte
		wantErr string
	}{
		{"ES256 P-256", ES256, der(p256), ""},
		{"RS256 2048", RS256, der(rsa2048), ""},
		{"ES256 on an RSA key", ES256, der(rsa2048), "not a P-256 key"},
		{"ES256 on P-384", ES256, der(p384), "not a P-256 key"},
		{"RS256 on an EC key", RS256, der(p256), "not an RSA key"},
		{"RS256 1024 bits", RS256, der(rsa1024), "1024 bits"},
		{"HS256", "HS256", der(p256), `unsupported algorithm "HS256"`},
		{"no algorithm", "", der(p256), `unsupported algorithm ""`},
		{"not PKCS #8", ES256, []byte("junk"), "asn1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(&store.SigningKey{ID: "k", Algorithm: tt.alg, PrivateKey: tt.key})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseKey = %v", err)
			case tt.wantErr == "" && k.Algorithm() != tt.alg:
				t.Errorf("ParseKey = a %s key", k.Algorithm())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseKey = %v; want an error with %q", err, tt.wantErr)
			}
		})
	}
	for _, bits := range []int{0, 1024, 4096} {
		m := &Manager{RSABits: bits}
		_, err := m.newKey(RS256, time.Now(), time.Now())
		if (bits == 0) != (err == nil) { // 0 is the default, 2048
			t.Errorf("a new RSA key with RSABits %d: %v", bits, err)
		}
	}
}

// TestInitTogether: instances starting at once on an empty database end up
// with one first key of each algorithm between them.
func TestInitTogether(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	first := newManager(t, clk)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			m := &Manager{Store: first.Store, Now: clk.Now, Log: first.Log, PublishDelay: time.Minute, Retain: time.Hour, Refresh: time.Second}
			errs <- m.Init(t.Context())
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ks, err := first.Store.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var algs []string
	for _, k := range ks {
		algs = append(algs, k.Algorithm)
	}
	slices.Sort(algs)
	if !slices.Equal(algs, []string{ES256, RS256}) {
		t.Errorf("signing keys after 8 instances started together: %v; want one ES256 and one RS256", algs)
	}
}

// BenchmarkSign is what one signature costs by algorithm and key size: the
// price of RS256, which BENCHMARKS.md's RS256 rows show per request.
func BenchmarkSign(b *testing.B) {
	claims := map[string]any{"iss": "https://auth.example.com", "sub": "u1", "aud": "tv", "exp": 1767225600,
		"iat": 1767225000, "jti": "Zm9vYmFyYmF6cXV4cXV1eA", "scope": "openid profile offline_access"}
	for _, tt := range []struct {
		name string
		alg  string
		bits int
	}{
		{"ES256", ES256, 0},
		{"RS256-2048", RS256, 2048},
		{"RS256-3072", RS256, 3072},
	} {
		b.Run(tt.name, func(b *testing.B) {
			m := &Manager{RSABits: tt.bits}
			rec, err := m.newKey(tt.alg, time.Now(), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			k, err := ParseKey(rec)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(rand.Reader, "at+jwt", claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// countingKeys counts the reads of the key set.
type countingKeys struct {
	store.KeyStore
	lists atomic.Int64
}

func (c *countingKeys) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	c.lists.Add(1)
	return c.KeyStore.ListSigningKeys(ctx)
}

// TestUnknownKidReloadBounded: tokens naming kids nobody ever made, sent
// together, cost one read of the key set at most per UnknownKidReload
// (docs/security.md G-8), and a real key rotated in by another instance
// is still found by the reload an unknown kid allows.
func TestUnknownKidReloadBounded(t *testing.T) {
	t.Parallel()
	a, clk := started(t)
	ctx := t.Context()
	counted := &countingKeys{KeyStore: a.Store}
	b := sameStore(a)
	b.Store = counted
	if err := b.Init(ctx); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(UnknownKidReload) // b's set is as old as the bound allows
	before := counted.lists.Load()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := b.Lookup(ctx, fmt.Sprintf("made-up-%d", i)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Lookup of a made-up kid = %v; want ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if got := counted.lists.Load() - before; got != 1 {
		t.Errorf("50 made-up kids at once read the key set %d times; want 1", got)
	}
	for range 20 {
		if _, err := b.Lookup(ctx, "made-up-again"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Lookup = %v; want ErrNotFound", err)
		}
	}
	if got := counted.lists.Load() - before; got != 1 {
		t.Errorf("made-up kids within %s of the last read read the key set %d times in all; want 1", UnknownKidReload, got)
	}

	// Another instance rotates; past the bound, b's lookup of the new kid
	// reloads and finds it.
	rec, err := a.Rotate(ctx, ES256)
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(UnknownKidReload)
	if k, err := b.Lookup(ctx, rec.ID); err != nil || k.ID() != rec.ID {
		t.Errorf("Lookup(%s) after the other instance's rotation = %v, %v; want the new key", rec.ID, k, err)
	}
}
