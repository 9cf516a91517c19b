// Package dpop checks DPoP proofs (RFC 9449): a client proves, with each
// request, that it holds the private key its tokens are bound to. It owns
// the proof's checks (§4.3: typ, alg, the public jwk, the signature, htm,
// htu, iat, jti replay and, at a resource, ath), the key's thumbprint the
// tokens carry (cnf.jkt, RFC 7638), and the server-provided nonces (§8).
// Which tokens a proof binds, and when one is required, is the token
// endpoint's business (package grant) and the resource's (package token).
package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
)

// Error codes (RFC 9449 §12.2).
const (
	InvalidProof = "invalid_dpop_proof"
	UseNonce     = "use_dpop_nonce"
)

// Header is the request header a proof travels in, and NonceHeader the
// response header a server-provided nonce does (RFC 9449 §4.1, §8.1).
const (
	Header      = "DPoP"
	NonceHeader = "DPoP-Nonce"
)

// headerKey is Header as a request's Header map keys it: looked up
// directly, every token request without a proof is spared canonicalizing
// "DPoP" (which allocates) just to find it absent.
var headerKey = http.CanonicalHeaderKey(Header)

// Sent reports whether r carries a DPoP header, well-formed or not.
func Sent(r *http.Request) bool { return len(r.Header[headerKey]) > 0 }

// Algorithms are the JWS algorithms a proof may be signed with, for
// dpop_signing_alg_values_supported (RFC 9449 §5.1). Neither none nor an
// HMAC: a proof is signed with the private half of the key it carries.
var Algorithms = []string{"ES256", "RS256", "PS256", "EdDSA"}

// MaxProofBytes bounds a proof: an RSA key of 4096 bits and the claims fit
// in a few KiB.
const MaxProofBytes = 8 << 10

// minRSABits is the smallest RSA key a proof may carry.
const minRSABits = 2048

// Proof is what a checked proof tells: the key it was signed with, by its
// thumbprint, and its jti.
type Proof struct {
	JKT      string // base64url SHA-256 JWK thumbprint (RFC 7638) of the proof's key
	JTI      string
	IssuedAt time.Time
}

// Target is the request a proof must be for.
type Target struct {
	Method string // htm
	URL    string // htu: the URL the request was sent to, without query and fragment
	// AccessToken is the token the request carries, whose hash the proof's
	// ath must be (RFC 9449 §4.2); "" at the token endpoint, which has none.
	AccessToken string
}

// Checker checks proofs.
type Checker struct {
	// Replays records each proof's jti for as long as its iat is
	// acceptable, in the store, so a proof is used once across every
	// instance: the first Hit of a key counts 1.
	Replays interface {
		Hit(ctx context.Context, key string, window, until time.Time) (int, error)
	}
	Now func() time.Time
	// Window is how far a proof's iat may be from now, either way (RFC
	// 9449 §11.1: a short window, and jti kept for it).
	Window time.Duration
	// Nonces, when set, requires every proof to carry a nonce it issued
	// (RFC 9449 §8); nil requires none.
	Nonces *Nonces
}

// Check verifies the proof in r's DPoP header against t. It returns nil
// and no error when the request has no proof, and an *oauth.Error
// (invalid_dpop_proof, or use_dpop_nonce with a fresh nonce to send) for a
// bad one.
func (c *Checker) Check(ctx context.Context, r *http.Request, t Target) (*Proof, error) {
	values := r.Header[headerKey]
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		// RFC 9449 §4.3: exactly one DPoP header.
		return nil, invalid("more than one DPoP header")
	}
	return c.CheckProof(ctx, values[0], t)
}

// header is a proof's JOSE header.
type header struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
	Kid  json.RawMessage `json:"kid"`
	X5C  json.RawMessage `json:"x5c"`
	JKU  json.RawMessage `json:"jku"`
}

// claims are a proof's claims; pointers tell a missing claim.
type claims struct {
	JTI   *string      `json:"jti"`
	HTM   *string      `json:"htm"`
	HTU   *string      `json:"htu"`
	IAT   *json.Number `json:"iat"`
	ATH   *string      `json:"ath"`
	Nonce *string      `json:"nonce"`
}

// CheckProof verifies one proof against t (RFC 9449 §4.3).
func (c *Checker) CheckProof(ctx context.Context, proof string, t Target) (*Proof, error) {
	if len(proof) > MaxProofBytes {
		return nil, invalid("the DPoP proof is too large")
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return nil, invalid("the DPoP proof is not a compact JWS")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, invalid("the DPoP proof is not base64url")
	}
	var h header
	if err := strictJSON(hb, &h); err != nil {
		return nil, invalid("the DPoP proof's header is not a JSON object")
	}
	switch {
	case h.Typ != "dpop+jwt":
		return nil, invalid("the DPoP proof's typ must be dpop+jwt")
	case !slices.Contains(Algorithms, h.Alg):
		return nil, invalid("the DPoP proof's alg must be one of " + strings.Join(Algorithms, ", "))
	case h.Crit != nil:
		return nil, invalid("the DPoP proof has a crit header, which is not understood")
	case h.JWK == nil:
		return nil, invalid("the DPoP proof has no jwk header")
	case h.Kid != nil || h.X5C != nil || h.JKU != nil:
		// The key is the jwk and nothing else (RFC 9449 §4.2).
		return nil, invalid("the DPoP proof names its key other than by jwk")
	}
	key, jkt, err := parseJWK(h.JWK, h.Alg)
	if err != nil {
		return nil, invalid("the DPoP proof's jwk: " + err.Error())
	}
	if !verify(h.Alg, key, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, invalid("the DPoP proof's signature does not verify with its jwk")
	}
	var cl claims
	if err := strictJSON(pb, &cl); err != nil {
		return nil, invalid("the DPoP proof's claims are not a JSON object")
	}
	switch {
	case cl.JTI == nil || *cl.JTI == "" || len(*cl.JTI) > 256:
		return nil, invalid("the DPoP proof needs a jti of at most 256 characters")
	case cl.HTM == nil || *cl.HTM != t.Method:
		return nil, invalid("the DPoP proof's htm is not this request's method")
	case cl.HTU == nil || !sameURL(*cl.HTU, t.URL):
		return nil, invalid("the DPoP proof's htu is not this request's URL")
	case cl.IAT == nil:
		return nil, invalid("the DPoP proof has no iat")
	}
	iat, err := cl.IAT.Int64()
	if err != nil {
		return nil, invalid("the DPoP proof's iat is not a whole number of seconds")
	}
	now := c.Now()
	issued := time.Unix(iat, 0)
	if d := now.Sub(issued); d > c.Window || d < -c.Window {
		return nil, invalid("the DPoP proof's iat is not within " + c.Window.String() + " of the server's time")
	}
	if t.AccessToken != "" {
		sum := sha256.Sum256([]byte(t.AccessToken))
		if cl.ATH == nil || *cl.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, invalid("the DPoP proof's ath is not the hash of the access token")
		}
	}
	if c.Nonces != nil {
		if cl.Nonce == nil || !c.Nonces.Valid(*cl.Nonce, now) {
			return nil, &oauth.Error{Code: UseNonce, Description: "the DPoP proof must carry the nonce in the DPoP-Nonce header"}
		}
	}
	// Replay (RFC 9449 §11.1): one Hit per jti and key, kept until the
	// proof's iat could no longer pass. The key is hashed to a fixed length.
	id := sha256.Sum256([]byte(jkt + "\x00" + *cl.JTI))
	n, err := c.Replays.Hit(ctx, "dpop:jti:"+hex.EncodeToString(id[:]), time.Unix(0, 0), issued.Add(c.Window+time.Minute))
	if err != nil {
		return nil, fmt.Errorf("dpop jti: %w", err)
	}
	if n > 1 {
		return nil, invalid("the DPoP proof was used before: each request needs a new one")
	}
	return &Proof{JKT: jkt, JTI: *cl.JTI, IssuedAt: issued}, nil
}

func invalid(description string) *oauth.Error {
	return &oauth.Error{Code: InvalidProof, Description: description}
}

// strictJSON decodes one JSON object, refusing repeated members.
func strictJSON(b []byte, v any) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return fmt.Errorf("not an object")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	seen := map[string]bool{}
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("member %s twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

// sameURL compares htu with the request's URL (RFC 9449 §4.3 step 9):
// without query and fragment, with scheme and host compared without case
// and default ports dropped (RFC 3986 §6.2.2, §6.2.3).
func sameURL(htu, want string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(want)
	if err1 != nil || err2 != nil || !a.IsAbs() || a.User != nil {
		return false
	}
	norm := func(u *url.URL) string {
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[scheme])
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + path
	}
	return norm(a) == norm(b)
}

// jwk is a public JSON Web Key (RFC 7517) of the types proofs may carry.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	// Private members: a proof that carries any is refused (RFC 9449 §4.3
	// step 7: the jwk must not contain a private key).
	D  *json.RawMessage `json:"d"`
	P  *json.RawMessage `json:"p"`
	Q  *json.RawMessage `json:"q"`
	DP *json.RawMessage `json:"dp"`
	DQ *json.RawMessage `json:"dq"`
	QI *json.RawMessage `json:"qi"`
	K  *json.RawMessage `json:"k"`
}

// parseJWK returns the public key of raw, which alg must fit, and its
// RFC 7638 thumbprint.
func parseJWK(raw json.RawMessage, alg string) (crypto.PublicKey, string, error) {
	var k jwk
	if err := strictJSON(raw, &k); err != nil {
		return nil, "", fmt.Errorf("not a JSON object")
	}
	if k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil || k.QI != nil || k.K != nil {
		return nil, "", fmt.Errorf("it holds a private or symmetric key")
	}
	b64 := func(s string) ([]byte, bool) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		return b, err == nil && len(b) > 0
	}
	var thumb string
	var pub crypto.PublicKey
	switch {
	case k.Kty == "EC" && alg == "ES256":
		x, okx := b64(k.X)
		y, oky := b64(k.Y)
		if k.Crv != "P-256" || !okx || !oky || len(x) != 32 || len(y) != 32 {
			return nil, "", fmt.Errorf("an ES256 key must be a P-256 point")
		}
		// RFC 7638 §3.2: the required members, in lexicographic order.
		thumb = `{"crv":"P-256","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
		uncompressed := append([]byte{4}, append(x, y...)...)
		ek, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), uncompressed)
		if err != nil {
			return nil, "", fmt.Errorf("not a point on P-256")
		}
		pub = ek
	case k.Kty == "RSA" && (alg == "RS256" || alg == "PS256"):
		n, okn := b64(k.N)
		e, oke := b64(k.E)
		if !okn || !oke || len(e) > 4 || n[0] == 0 || e[0] == 0 {
			return nil, "", fmt.Errorf("an RSA key needs n and e, without leading zeros")
		}
		rk := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if rk.N.BitLen() < minRSABits || rk.E < 3 || rk.E%2 == 0 {
			return nil, "", fmt.Errorf("an RSA key must have at least %d bits and an odd exponent", minRSABits)
		}
		thumb = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
		pub = rk
	case k.Kty == "OKP" && alg == "EdDSA":
		x, ok := b64(k.X)
		if k.Crv != "Ed25519" || !ok || len(x) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("an EdDSA key must be an Ed25519 key")
		}
		thumb = `{"crv":"Ed25519","kty":"OKP","x":"` + k.X + `"}`
		pub = ed25519.PublicKey(x)
	default:
		return nil, "", fmt.Errorf("a key of type %q cannot sign %s", oauth.Shorten(k.Kty), alg)
	}
	sum := sha256.Sum256([]byte(thumb))
	return pub, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// verify checks a JWS signature with alg and key, which parseJWK matched.
func verify(alg string, key crypto.PublicKey, signing, sig []byte) bool {
	digest := sha256.Sum256(signing)
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest[:], r, s)
	case *rsa.PublicKey:
		if len(sig) != k.Size() {
			return false
		}
		if alg == "PS256" {
			return rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, signing, sig)
	}
	return false
}
