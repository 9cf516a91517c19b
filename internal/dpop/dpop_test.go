package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

const tokenURL = "https://id.example/oauth2/token"

// keyOnce: one EC key for the hand-made proofs.
var (
	ecOnce sync.Once
	ecKey  *ecdsa.PrivateKey
)

func testKey(t *testing.T) *ecdsa.PrivateKey {
	ecOnce.Do(func() {
		var err error
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return ecKey
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func publicJWK(k *ecdsa.PrivateKey) map[string]any {
	b, _ := k.PublicKey.Bytes() // uncompressed: 0x04 || X || Y
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(b[1:33]), "y": b64(b[33:])}
}

// handMade signs header and claims, as given, with k: ES256 over whatever
// they hold, so that every field can be wrong.
func handMade(t *testing.T, k *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	signing := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	return signing + "." + b64(sig)
}

func goodHeader(k *ecdsa.PrivateKey) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(k)}
}

func goodClaims(jti string) map[string]any {
	return map[string]any{"jti": jti, "htm": "POST", "htu": tokenURL, "iat": t0.Unix()}
}

func newChecker(t *testing.T) *Checker {
	return &Checker{Replays: sqlitetest.Open(t), Now: func() time.Time { return t0 }, Window: time.Minute}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// TestMalformedProofs: a proof wrong in any one field is invalid_dpop_proof.
func TestMalformedProofs(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	k := testKey(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv := publicJWK(k)
	d, _ := k.Bytes()
	priv["d"] = b64(d)
	edit := func(f func(h, c map[string]any)) string {
		h, cl := goodHeader(k), goodClaims(rand.Text())
		f(h, cl)
		return handMade(t, k, h, cl)
	}
	good := handMade(t, k, goodHeader(k), goodClaims("reused"))
	for _, tt := range []struct {
		name, proof string
		target      Target
	}{
		{"not a JWS", "abc.def", Target{}},
		{"not base64url", "a*b.c.d", Target{}},
		{"header not JSON", b64([]byte("{")) + ".e30.AAAA", Target{}},
		{"too large", strings.Repeat("a", MaxProofBytes+1), Target{}},
		{"typ missing", edit(func(h, c map[string]any) { delete(h, "typ") }), Target{}},
		{"typ JWT", edit(func(h, c map[string]any) { h["typ"] = "JWT" }), Target{}},
		{"alg none", edit(func(h, c map[string]any) { h["alg"] = "none" }), Target{}},
		{"alg HS256", edit(func(h, c map[string]any) { h["alg"] = "HS256" }), Target{}},
		{"alg ES384 not allowed", edit(func(h, c map[string]any) { h["alg"] = "ES384" }), Target{}},
		{"alg RS256 with an EC key", edit(func(h, c map[string]any) { h["alg"] = "RS256" }), Target{}},
		{"no jwk", edit(func(h, c map[string]any) { delete(h, "jwk") }), Target{}},
		{"private jwk", edit(func(h, c map[string]any) { h["jwk"] = priv }), Target{}},
		{"symmetric jwk", edit(func(h, c map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} }), Target{}},
		{"jwk of another key", edit(func(h, c map[string]any) { h["jwk"] = publicJWK(other) }), Target{}},
		{"jwk off the curve", edit(func(h, c map[string]any) {
			j := publicJWK(k)
			j["y"] = j["x"]
			h["jwk"] = j
		}), Target{}},
		{"kid beside jwk", edit(func(h, c map[string]any) { h["kid"] = "k1" }), Target{}},
		{"crit", edit(func(h, c map[string]any) { h["crit"] = []string{"exp"} }), Target{}},
		{"bad signature", good[:len(good)-4] + "AAAA", Target{}},
		{"no jti", edit(func(h, c map[string]any) { delete(c, "jti") }), Target{}},
		{"empty jti", edit(func(h, c map[string]any) { c["jti"] = "" }), Target{}},
		{"long jti", edit(func(h, c map[string]any) { c["jti"] = strings.Repeat("j", 257) }), Target{}},
		{"no htm", edit(func(h, c map[string]any) { delete(c, "htm") }), Target{}},
		{"htm GET", edit(func(h, c map[string]any) { c["htm"] = "GET" }), Target{}},
		{"htm lower case", edit(func(h, c map[string]any) { c["htm"] = "post" }), Target{}},
		{"no htu", edit(func(h, c map[string]any) { delete(c, "htu") }), Target{}},
		{"htu another path", edit(func(h, c map[string]any) { c["htu"] = "https://id.example/oauth2/revoke" }), Target{}},
		{"htu another host", edit(func(h, c map[string]any) { c["htu"] = "https://evil.example/oauth2/token" }), Target{}},
		{"htu http", edit(func(h, c map[string]any) { c["htu"] = "http://id.example/oauth2/token" }), Target{}},
		{"htu relative", edit(func(h, c map[string]any) { c["htu"] = "/oauth2/token" }), Target{}},
		{"no iat", edit(func(h, c map[string]any) { delete(c, "iat") }), Target{}},
		{"iat a string", edit(func(h, c map[string]any) { c["iat"] = "now" }), Target{}},
		{"iat fractional", edit(func(h, c map[string]any) { c["iat"] = 1.5 }), Target{}},
		{"iat too old", edit(func(h, c map[string]any) { c["iat"] = t0.Add(-2 * time.Minute).Unix() }), Target{}},
		{"iat in the future", edit(func(h, c map[string]any) { c["iat"] = t0.Add(2 * time.Minute).Unix() }), Target{}},
		{"no ath with a token", edit(func(h, c map[string]any) {}), Target{AccessToken: "at"}},
		{"ath of another token", edit(func(h, c map[string]any) {
			sum := sha256.Sum256([]byte("other"))
			c["ath"] = b64(sum[:])
		}), Target{AccessToken: "at"}},
		{"repeated claim", func() string {
			p := edit(func(h, c map[string]any) {})
			parts := strings.Split(p, ".")
			cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
			cb = []byte(strings.Replace(string(cb), `{`, `{"htm":"GET",`, 1))
			return handMadeRaw(t, k, parts[0], b64(cb))
		}(), Target{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			target.Method, target.URL = "POST", tokenURL
			p, err := c.CheckProof(t.Context(), tt.proof, target)
			if p != nil {
				t.Errorf("accepted: %+v", p)
			}
			wantCode(t, err, InvalidProof)
		})
	}
	// The good one passes once; its replay does not.
	target := Target{Method: "POST", URL: tokenURL}
	p, err := c.CheckProof(t.Context(), good, target)
	if err != nil || p.JTI != "reused" {
		t.Fatalf("a good proof: %+v, %v", p, err)
	}
	_, err = c.CheckProof(t.Context(), good, target)
	wantCode(t, err, InvalidProof)
}

func handMadeRaw(t *testing.T, k *ecdsa.PrivateKey, h, c string) string {
	digest := sha256.Sum256([]byte(h + "." + c))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + c + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}

// joseProof is a proof made by go-jose, a third-party JOSE library.
func joseProof(t *testing.T, alg jose.SignatureAlgorithm, key crypto.Signer, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProofAlgorithms: proofs of every allowed algorithm, made by go-jose,
// pass, with the thumbprint go-jose computes (RFC 7638), and with ath
// and an equivalent htu.
func TestProofAlgorithms(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	sum := sha256.Sum256([]byte("the-access-token"))
	for _, tt := range []struct {
		alg jose.SignatureAlgorithm
		key crypto.Signer
		ok  bool
	}{
		{jose.ES256, ec, true}, {jose.RS256, rk, true}, {jose.PS256, rk, true}, {jose.EdDSA, ed, true},
		{jose.RS256, small, false}, {jose.ES384, mustEC(elliptic.P384()), false},
	} {
		t.Run(string(tt.alg), func(t *testing.T) {
			claims := map[string]any{"jti": rand.Text(), "htm": "GET", "htu": "HTTPS://ID.EXAMPLE:443/userinfo?x=1#f",
				"iat": t0.Add(-30 * time.Second).Unix(), "ath": b64(sum[:])}
			p, err := c.CheckProof(t.Context(), joseProof(t, tt.alg, tt.key, claims),
				Target{Method: "GET", URL: "https://id.example/userinfo", AccessToken: "the-access-token"})
			if !tt.ok {
				wantCode(t, err, InvalidProof)
				return
			}
			if err != nil {
				t.Fatalf("CheckProof: %v", err)
			}
			jwk := jose.JSONWebKey{Key: tt.key.Public()}
			want, _ := jwk.Thumbprint(crypto.SHA256)
			if p.JKT != b64(want) {
				t.Errorf("jkt = %s, go-jose's thumbprint %s", p.JKT, b64(want))
			}
		})
	}
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// TestNonces: required nonces are use_dpop_nonce until sent; a nonce
// holds for its period and the next, from any instance with the key.
func TestNonces(t *testing.T) {
	t.Parallel()
	c := newChecker(t)
	now := t0
	c.Now = func() time.Time { return now }
	c.Nonces = &Nonces{Key: []byte("0123456789abcdef0123456789abcdef"), Period: 5 * time.Minute}
	k := testKey(t)
	target := Target{Method: "POST", URL: tokenURL}
	proof := func(nonce string) string {
		cl := goodClaims(rand.Text())
		cl["iat"] = now.Unix()
		if nonce != "" {
			cl["nonce"] = nonce
		}
		return handMade(t, k, goodHeader(k), cl)
	}
	_, err := c.CheckProof(t.Context(), proof(""), target)
	wantCode(t, err, UseNonce)
	_, err = c.CheckProof(t.Context(), proof("made-up"), target)
	wantCode(t, err, UseNonce)
	n := c.Nonces.Current(now)
	other := &Nonces{Key: c.Nonces.Key, Period: c.Nonces.Period} // another instance
	if other.Current(now) != n {
		t.Error("two instances with one key disagree on the nonce")
	}
	if _, err := c.CheckProof(t.Context(), proof(n), target); err != nil {
		t.Fatalf("with the nonce: %v", err)
	}
	now = now.Add(5 * time.Minute)
	if _, err := c.CheckProof(t.Context(), proof(n), target); err != nil {
		t.Errorf("in the next period: %v", err)
	}
	now = now.Add(5 * time.Minute)
	_, err = c.CheckProof(t.Context(), proof(n), target)
	wantCode(t, err, UseNonce)
	wrongKey := &Nonces{Key: []byte("another key of thirty-two bytes!"), Period: 5 * time.Minute}
	if wrongKey.Valid(c.Nonces.Current(now), now) {
		t.Error("a nonce verified under another key")
	}
}

// TestReplayAcrossCheckers: two instances on one store, SQLite or
// PostgreSQL, accept a proof once.
func TestReplayAcrossCheckers(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *Checker{
		"sqlite": func(t testing.TB) *Checker {
			return &Checker{Replays: sqlitetest.Open(t), Now: func() time.Time { return t0 }, Window: time.Minute}
		},
		"postgres": func(t testing.TB) *Checker {
			return &Checker{Replays: pgtest.Open(t), Now: func() time.Time { return t0 }, Window: time.Minute}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := open(t)
			b := &Checker{Replays: a.Replays, Now: a.Now, Window: a.Window}
			k := testKey(t)
			p := handMade(t, k, goodHeader(k), goodClaims("once"))
			target := Target{Method: "POST", URL: tokenURL}
			if _, err := a.CheckProof(context.Background(), p, target); err != nil {
				t.Fatal(err)
			}
			_, err := b.CheckProof(context.Background(), p, target)
			wantCode(t, err, InvalidProof)
		})
	}
}

// BenchmarkProofSignature is the server's cost of a proof's key and
// signature (parseJWK and verify), without the store's jti write.
func BenchmarkProofSignature(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	prove, err := ES256Prover(k, nil, func() time.Time { return t0 })
	if err != nil {
		b.Fatal(err)
	}
	p, _ := prove("POST", tokenURL, "", "")
	parts := strings.Split(p, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		key, _, err := parseJWK(h.JWK, h.Alg)
		if err != nil || !verify(h.Alg, key, []byte(parts[0]+"."+parts[1]), sig) {
			b.Fatal("does not verify")
		}
	}
}
