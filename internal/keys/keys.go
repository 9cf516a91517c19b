// Package keys owns the server's signing keys: creating the first ones,
// rotating across instances (a new key is published in the JWKS before any
// instance signs with it), the JWKS document, and signing and verifying
// compact JWS with ES256 and RS256. There is one signing key per algorithm
// at a time. What goes into a token is package token's business.
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
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The algorithms we sign with (RFC 7518 §3.1). ES256 is the default: a
// P-256 signature costs a small fraction of an RSA one and is 64 bytes
// rather than 256 or 384. RS256 is there because OpenID Connect Core §15.1
// makes it mandatory to implement and many relying parties and resource
// servers accept nothing else.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// Algorithms are the algorithms there is always a signing key for, in the
// order Init creates their first keys.
var Algorithms = []string{ES256, RS256}

// Supported reports whether alg is one we sign with.
func Supported(alg string) bool { return slices.Contains(Algorithms, alg) }

// RSA key sizes: what new keys may have (keys.rsa_bits), and the range a
// stored key must be in to be loaded (a key imported from elsewhere may
// be up to 4096 bits).
const (
	DefaultRSABits = 2048
	minRSABits     = 2048
	maxRSABits     = 4096
)

// CheckRSABits reports whether new RSA keys may have bits: 2048 (NIST SP
// 800-57's minimum until 2030) or 3072 (beyond it).
func CheckRSABits(bits int) error {
	if bits != 2048 && bits != 3072 {
		return fmt.Errorf("%d: want 2048 or 3072", bits)
	}
	return nil
}

// Manager keeps the signing keys of all instances in step. It caches the
// key set for Refresh: a stale cache cannot break a flow, because a new key
// is published PublishDelay before anyone signs with it and every instance
// reloads within Refresh < PublishDelay, and because a verifier that meets
// an unknown kid reloads at once.
type Manager struct {
	Store store.KeyStore
	Now   func() time.Time
	Log   *slog.Logger
	// PublishDelay is how long a rotated-in key is only published.
	PublishDelay time.Duration
	// Retain is how long a retired key stays published: the longest token life.
	Retain time.Duration
	// Refresh is how long the cached key set is trusted.
	Refresh time.Duration
	// RSABits is the size of new RSA keys: 2048 or 3072 (CheckRSABits);
	// 0 means DefaultRSABits.
	RSABits int
	// NewRSA makes an RSA key of bits; rsa.GenerateKey with crypto/rand
	// when nil. Tests give a source of keys made once, since a 2048-bit
	// key costs a tenth of a second or more under the race detector.
	NewRSA func(bits int) (*rsa.PrivateKey, error)

	mu       sync.RWMutex
	keys     []*Key // by NotBefore, oldest first
	loadedAt time.Time
	loadMu   sync.Mutex // one reload at a time
}

// Key is one loaded signing key.
type Key struct {
	Record *store.SigningKey
	priv   crypto.Signer // *ecdsa.PrivateKey (P-256) or *rsa.PrivateKey
}

// ID is the key's kid.
func (k *Key) ID() string { return k.Record.ID }

// Algorithm is the JWS alg the key signs with: ES256 or RS256.
func (k *Key) Algorithm() string { return k.Record.Algorithm }

// Public returns the public half: *ecdsa.PublicKey or *rsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// Init makes sure there is a signing key for every algorithm and loads
// the set.
//
// The first keys of an empty set sign at once: no instance can have
// served, or cached, a key set without them. A key set that lacks an
// algorithm's key (a database from before Latchkey signed RS256) gets one
// that is published now and signs from PublishDelay on, as a rotated-in
// key does; until then Signer falls back to it anyway, as its rule for an
// algorithm with no key in its signing window says, rather than sign a
// token with an algorithm its client did not register.
func (m *Manager) Init(ctx context.Context) error {
	ks, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	fresh := len(ks) == 0
	for _, alg := range Algorithms {
		if slices.ContainsFunc(ks, func(k *store.SigningKey) bool { return k.Algorithm == alg }) {
			continue
		}
		notBefore := m.Now()
		if !fresh {
			notBefore = notBefore.Add(m.PublishDelay)
		}
		if err := m.createFirst(ctx, alg, notBefore); err != nil {
			return err
		}
	}
	return m.reload(ctx)
}

// firstKeyWait bounds how long an instance waits for another instance's
// first key to appear before creating its own.
const firstKeyWait = 10 * time.Second

// firstKeySecret names the ServerSecret through which instances agree on
// the first key of alg. ES256's keeps the name it had when it was the only
// algorithm, so an upgraded instance agrees with one that was not.
func firstKeySecret(alg string) string {
	if alg == ES256 {
		return "first-signing-key"
	}
	return "first-signing-key-" + alg
}

// createFirst creates the first signing key of alg once, however many
// instances start together: they agree on whose key it is through
// ServerSecret (the first stored kid wins), the winner stores it, and the
// others wait for it. Two "first" keys would each be published only by
// the instance that made it until the others reloaded, so a token could
// meet a JWKS that lacks its key.
func (m *Manager) createFirst(ctx context.Context, alg string, notBefore time.Time) error {
	rec, err := m.newKey(alg, m.Now(), notBefore)
	if err != nil {
		return err
	}
	winner, err := m.Store.ServerSecret(ctx, firstKeySecret(alg), []byte(rec.ID))
	if err != nil {
		return fmt.Errorf("agree on the first %s signing key: %w", alg, err)
	}
	if string(winner) != rec.ID {
		deadline := time.Now().Add(firstKeyWait)
		for time.Now().Before(deadline) {
			ks, err := m.Store.ListSigningKeys(ctx)
			if err != nil {
				return fmt.Errorf("list signing keys: %w", err)
			}
			if slices.ContainsFunc(ks, func(k *store.SigningKey) bool { return k.Algorithm == alg }) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		m.Log.Warn("the instance that was to create the first signing key did not; creating one here", "alg", alg)
	}
	if err := m.Store.CreateSigningKey(ctx, rec); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("store signing key: %w", err)
	}
	m.Log.Info("created the first signing key", "alg", alg, "kid", rec.ID, "signs_from", rec.NotBefore)
	return nil
}

// Rotate creates a key of alg that is published now and signs from
// PublishDelay on; the current signing key of alg stops signing then and
// is deleted Retain later. Keys of other algorithms are left alone.
func (m *Manager) Rotate(ctx context.Context, alg string) (*store.SigningKey, error) {
	if !Supported(alg) {
		return nil, fmt.Errorf("rotate: algorithm %q: want %s", alg, strings.Join(Algorithms, " or "))
	}
	now := m.Now()
	from := now.Add(m.PublishDelay)
	ks, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	rec, err := m.newKey(alg, now, from)
	if err != nil {
		return nil, err
	}
	if err := m.Store.CreateSigningKey(ctx, rec); err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	for _, k := range ks {
		if k.Algorithm != alg {
			continue
		}
		if k.NotAfter.IsZero() || k.NotAfter.After(from) {
			k.NotAfter = from
			if err := m.Store.UpdateSigningKey(ctx, k); err != nil {
				return nil, fmt.Errorf("retire key %s: %w", k.ID, err)
			}
		}
	}
	if err := m.reload(ctx); err != nil {
		return nil, err
	}
	return rec, nil
}

// Prune deletes keys retired longer than Retain ago.
func (m *Manager) Prune(ctx context.Context) error {
	ks, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	now := m.Now()
	for _, k := range ks {
		if !k.NotAfter.IsZero() && now.After(k.NotAfter.Add(m.Retain)) {
			if err := m.Store.DeleteSigningKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// newKey generates a key for alg (a P-256 key, or an RSA key of RSABits),
// named by its RFC 7638 thumbprint.
func (m *Manager) newKey(alg string, now, notBefore time.Time) (*store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		bits := m.RSABits
		if bits == 0 {
			bits = DefaultRSABits
		}
		if err := CheckRSABits(bits); err != nil {
			return nil, fmt.Errorf("new RSA key: %w", err)
		}
		if m.NewRSA != nil {
			priv, err = m.NewRSA(bits)
		} else {
			priv, err = rsa.GenerateKey(rand.Reader, bits)
		}
	default:
		return nil, fmt.Errorf("new key: algorithm %q: want %s", alg, strings.Join(Algorithms, " or "))
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{
		ID:         thumbprint(priv.Public()),
		Algorithm:  alg,
		PrivateKey: der,
		CreatedAt:  now,
		NotBefore:  notBefore,
	}, nil
}

func (m *Manager) reload(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	return m.reloadLocked(ctx)
}

// reloadLocked is reload's work, with loadMu held.
func (m *Manager) reloadLocked(ctx context.Context) error {
	recs, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	loaded := make([]*Key, 0, len(recs))
	for _, rec := range recs {
		k, err := ParseKey(rec)
		if err != nil {
			m.Log.Error("skipping an unreadable signing key", "kid", rec.ID, "err", err)
			continue
		}
		loaded = append(loaded, k)
	}
	// Oldest first by when each may sign, so the newest usable key is the
	// last one whose window has begun, on every instance alike.
	slices.SortStableFunc(loaded, func(a, b *Key) int {
		if c := a.Record.NotBefore.Compare(b.Record.NotBefore); c != 0 {
			return c
		}
		if c := a.Record.CreatedAt.Compare(b.Record.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID(), b.ID())
	})
	m.mu.Lock()
	m.keys, m.loadedAt = loaded, m.Now()
	m.mu.Unlock()
	return nil
}

// ParseKey loads a stored key: its algorithm must be one we sign with and
// its private key of that kind (P-256 for ES256; RSA of 2048 to 4096 bits
// for RS256), so a key can never be used with another algorithm than its
// own.
func ParseKey(rec *store.SigningKey) (*Key, error) {
	pk, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
	if err != nil {
		return nil, err
	}
	switch rec.Algorithm {
	case ES256:
		priv, ok := pk.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return nil, errors.New("an ES256 key that is not a P-256 key")
		}
		return &Key{Record: rec, priv: priv}, nil
	case RS256:
		priv, ok := pk.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("an RS256 key that is not an RSA key")
		}
		if bits := priv.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("an RSA key of %d bits: want %d to %d", bits, minRSABits, maxRSABits)
		}
		return &Key{Record: rec, priv: priv}, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", rec.Algorithm)
}

// current returns the loaded set, reloading it when older than Refresh.
func (m *Manager) current(ctx context.Context) ([]*Key, error) {
	m.mu.RLock()
	ks, at := m.keys, m.loadedAt
	m.mu.RUnlock()
	if ks != nil && m.Now().Sub(at) < m.Refresh {
		return ks, nil
	}
	if err := m.reload(ctx); err != nil {
		if ks != nil {
			// The database is unreachable: keep signing with what we know
			// rather than failing every request; the keys did not change.
			return ks, nil
		}
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.keys, nil
}

// Signer returns the key to sign with now for alg: the newest of alg whose
// signing window has begun and not ended.
//
// When no key of alg is in its window, it is the newest published key of
// alg: in practice the first key of an algorithm added to an existing key
// set, during its publish delay (see Init). Signing a little early with a
// key every instance already publishes, and that a verifier meeting its
// unknown kid reloads to find, beats signing with another algorithm than
// the one a client registered, or not at all.
func (m *Manager) Signer(ctx context.Context, alg string) (*Key, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	var newest *Key
	for i := len(ks) - 1; i >= 0; i-- {
		k := ks[i]
		if k.Algorithm() != alg {
			continue
		}
		r := k.Record
		if !now.Before(r.NotBefore) && (r.NotAfter.IsZero() || now.Before(r.NotAfter)) {
			return k, nil
		}
		if newest == nil {
			newest = k
		}
	}
	if newest != nil {
		return newest, nil
	}
	return nil, fmt.Errorf("no %s signing key", alg)
}

// UnknownKidReload is how old the loaded key set must be before a token
// naming an unknown kid makes Lookup read the set again. The kid comes from
// whoever sent the token, before any signature is checked, so without a
// bound every request with a made-up kid cost a database read
// (docs/security.md G-8); with it, all of them together cost one read a
// second at most, and requests that arrive together share it.
const UnknownKidReload = time.Second

// Lookup returns the published key with the given kid. An unknown kid
// reloads the key set (another instance may have just rotated), unless it
// was loaded less than UnknownKidReload ago.
func (m *Manager) Lookup(ctx context.Context, kid string) (*Key, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	if k := keyWithID(ks, kid); k != nil {
		return k, nil
	}
	if err := m.reloadIfOlder(ctx, UnknownKidReload); err != nil {
		return nil, err
	}
	m.mu.RLock()
	ks = m.keys
	m.mu.RUnlock()
	if k := keyWithID(ks, kid); k != nil {
		return k, nil
	}
	return nil, store.ErrNotFound
}

// reloadIfOlder reloads the key set unless it was loaded less than age
// ago, as seen once the reload lock is held: of callers that wait for the
// lock together, the first reloads and the others use what it read.
func (m *Manager) reloadIfOlder(ctx context.Context, age time.Duration) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.mu.RLock()
	at := m.loadedAt
	m.mu.RUnlock()
	if !at.IsZero() && m.Now().Sub(at) < age {
		return nil
	}
	return m.reloadLocked(ctx)
}

func keyWithID(ks []*Key, kid string) *Key {
	for _, k := range ks {
		if k.ID() == kid {
			return k
		}
	}
	return nil
}

// JWK is one public key in a JWKS (RFC 7517 §4): an EC key (RFC 7518
// §6.2.1: crv, x, y) or an RSA key (§6.3.1: n, e).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the key set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public half of every published key, of every algorithm.
func (m *Manager) JWKS(ctx context.Context) (JWKS, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return JWKS{}, err
	}
	out := JWKS{Keys: make([]JWK, 0, len(ks))}
	for i := len(ks) - 1; i >= 0; i-- { // newest first
		out.Keys = append(out.Keys, publicJWK(ks[i]))
	}
	return out, nil
}

func publicJWK(k *Key) JWK {
	j := JWK{Kid: k.ID(), Use: "sig", Alg: k.Algorithm()}
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		x, y := coordinates(pub)
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(x), b64(y)
	case *rsa.PublicKey:
		n, e := rsaMembers(pub)
		j.Kty, j.N, j.E = "RSA", n, e
	}
	return j
}

// coordinates are the key's X and Y as 32 big-endian bytes each, read from
// its uncompressed encoding (0x04 || X || Y, SEC 1 §2.3.3).
func coordinates(pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		panic("keys: not a P-256 public key") // ParseKey and newKey admit only P-256
	}
	return b[1:33], b[33:]
}

// rsaMembers are n and e as RFC 7518 §6.3.1 writes them: base64url of the
// unsigned big-endian value in as few octets as it takes.
func rsaMembers(pub *rsa.PublicKey) (n, e string) {
	return b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
}

// thumbprint is the RFC 7638 JWK thumbprint, used as the kid so that a kid
// names exactly one key on every instance.
func thumbprint(pub crypto.PublicKey) string {
	// RFC 7638 §3.2: the required members in lexicographic order, no
	// whitespace (§3.2.1 for EC, §3.3's example for RSA).
	var s string
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		x, y := coordinates(pub)
		s = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(x), b64(y))
	case *rsa.PublicKey:
		n, e := rsaMembers(pub)
		s = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, e, n)
	default:
		panic(fmt.Sprintf("keys: no thumbprint for %T", pub))
	}
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}

func pad32(n *big.Int) []byte {
	var b [32]byte
	return n.FillBytes(b[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign returns a compact JWS (RFC 7515 §7.1) of claims with header typ,
// signed with the key's own algorithm.
func (k *Key) Sign(rand io.Reader, typ string, claims any) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{k.Algorithm(), k.ID(), typ})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand, priv, digest[:])
		if err != nil {
			return "", err
		}
		// RFC 7518 §3.4: the signature is R and S as 32-byte big-endian each.
		sig = append(pad32(r), pad32(s)...)
	case *rsa.PrivateKey:
		// RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256. It takes no
		// randomness (the blinding is crypto/rsa's own).
		if sig, err = rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("keys: cannot sign with %T", k.priv)
	}
	return signing + "." + b64(sig), nil
}

// ErrInvalidToken is any failure to verify a JWS.
var ErrInvalidToken = errors.New("invalid token")

// jwsHeader is the protected header of a JWS we verify.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
	// Crit lists header extensions the recipient must understand (RFC 7515
	// §4.1.11). We understand none, so any crit at all, even an empty or
	// null one, makes the token invalid.
	Crit json.RawMessage `json:"crit"`
}

// Verify checks a compact JWS signed by one of our published keys and
// returns its header typ and payload. The header's alg must be the
// algorithm of the key its kid names: a key is never used with another
// algorithm, whatever the header says, so no algorithm confusion (RS256
// against an EC key, HS256 with a public key as the secret, none) is
// possible. A header with crit is refused (RFC 7515 §4.1.11).
func (m *Manager) Verify(ctx context.Context, jws string) (typ string, payload []byte, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || len(jws) > 16<<10 {
		return "", nil, ErrInvalidToken
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	var h jwsHeader
	if json.Unmarshal(hb, &h) != nil || !Supported(h.Alg) || h.Kid == "" || h.Crit != nil {
		return "", nil, ErrInvalidToken
	}
	k, err := m.Lookup(ctx, h.Kid)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalidToken
	}
	if err != nil {
		return "", nil, err
	}
	if k.Algorithm() != h.Alg {
		return "", nil, ErrInvalidToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !k.verify(digest[:], sig) {
		return "", nil, ErrInvalidToken
	}
	payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	return h.Typ, payload, nil
}

// verify checks sig over the SHA-256 digest with the key's own algorithm.
func (k *Key) verify(digest, sig []byte) bool {
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, digest, r, s)
	case *rsa.PublicKey:
		// RFC 7518 §3.3 and RFC 8017 §8.2.2: the signature is exactly as
		// long as the modulus.
		return len(sig) == pub.Size() && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig) == nil
	}
	return false
}
