// Package keys owns the server's signing keys: creating the first one,
// rotating across instances (a new key is published in the JWKS before any
// instance signs with it), the JWKS document, and signing and verifying
// compact JWS with ES256. What goes into a token is package token's business.
package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// ES256 is the only algorithm we sign with: compact, fast (RFC 7518 §3.4).
const ES256 = "ES256"

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

	mu       sync.RWMutex
	keys     []*Key // by NotBefore, oldest first
	loadedAt time.Time
	loadMu   sync.Mutex // one reload at a time
}

// Key is one loaded signing key.
type Key struct {
	Record *store.SigningKey
	priv   *ecdsa.PrivateKey
}

// ID is the key's kid.
func (k *Key) ID() string { return k.Record.ID }

// Public returns the public half.
func (k *Key) Public() *ecdsa.PublicKey { return &k.priv.PublicKey }

// Init makes sure a signing key exists (creating the first one, usable at
// once since nothing can have tokens signed by another yet) and loads the set.
func (m *Manager) Init(ctx context.Context) error {
	ks, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	if len(ks) == 0 {
		if err := m.createFirst(ctx); err != nil {
			return err
		}
	}
	return m.reload(ctx)
}

// firstKeyWait bounds how long an instance waits for another instance's
// first key to appear before creating its own.
const firstKeyWait = 10 * time.Second

// createFirst creates the first signing key once, however many instances
// start together on an empty database: they agree on whose key it is
// through ServerSecret (the first stored kid wins), the winner stores it,
// and the others wait for it. Two "first" keys would each be published only
// by the instance that made it until the others reloaded, so a token could
// meet a JWKS that lacks its key.
func (m *Manager) createFirst(ctx context.Context) error {
	rec, err := newKey(m.Now(), m.Now())
	if err != nil {
		return err
	}
	winner, err := m.Store.ServerSecret(ctx, "first-signing-key", []byte(rec.ID))
	if err != nil {
		return fmt.Errorf("agree on the first signing key: %w", err)
	}
	if string(winner) != rec.ID {
		deadline := time.Now().Add(firstKeyWait)
		for time.Now().Before(deadline) {
			ks, err := m.Store.ListSigningKeys(ctx)
			if err != nil {
				return fmt.Errorf("list signing keys: %w", err)
			}
			if len(ks) > 0 {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		m.Log.Warn("the instance that was to create the first signing key did not; creating one here")
	}
	if err := m.Store.CreateSigningKey(ctx, rec); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("store signing key: %w", err)
	}
	m.Log.Info("created the first signing key", "kid", rec.ID)
	return nil
}

// Rotate creates a key that is published now and signs from PublishDelay
// on; the current signing key stops signing then and is deleted Retain later.
func (m *Manager) Rotate(ctx context.Context) (*store.SigningKey, error) {
	now := m.Now()
	from := now.Add(m.PublishDelay)
	ks, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	rec, err := m.create(ctx, from)
	if err != nil {
		return nil, err
	}
	for _, k := range ks {
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

func (m *Manager) create(ctx context.Context, notBefore time.Time) (*store.SigningKey, error) {
	rec, err := newKey(m.Now(), notBefore)
	if err != nil {
		return nil, err
	}
	if err := m.Store.CreateSigningKey(ctx, rec); err != nil {
		return nil, fmt.Errorf("store signing key: %w", err)
	}
	return rec, nil
}

// newKey generates a P-256 key, named by its RFC 7638 thumbprint.
func newKey(now, notBefore time.Time) (*store.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{
		ID:         thumbprint(&priv.PublicKey),
		Algorithm:  ES256,
		PrivateKey: der,
		CreatedAt:  now,
		NotBefore:  notBefore,
	}, nil
}

func (m *Manager) reload(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	recs, err := m.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	loaded := make([]*Key, 0, len(recs))
	for _, rec := range recs {
		k, err := parseKey(rec)
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

func parseKey(rec *store.SigningKey) (*Key, error) {
	if rec.Algorithm != ES256 {
		return nil, fmt.Errorf("unsupported algorithm %q", rec.Algorithm)
	}
	pk, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, ok := pk.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return &Key{Record: rec, priv: priv}, nil
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

// Signer returns the key to sign with now: the newest whose signing window
// has begun and not ended.
func (m *Manager) Signer(ctx context.Context) (*Key, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	now := m.Now()
	for i := len(ks) - 1; i >= 0; i-- {
		r := ks[i].Record
		if !now.Before(r.NotBefore) && (r.NotAfter.IsZero() || now.Before(r.NotAfter)) {
			return ks[i], nil
		}
	}
	// Every key has a future NotBefore or a past NotAfter: sign with the
	// newest published one rather than not at all.
	if len(ks) > 0 {
		return ks[len(ks)-1], nil
	}
	return nil, errors.New("no signing key")
}

// Lookup returns the published key with the given kid, reloading once if
// it is unknown (another instance may have just rotated).
func (m *Manager) Lookup(ctx context.Context, kid string) (*Key, error) {
	for attempt := 0; attempt < 2; attempt++ {
		ks, err := m.current(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if k.ID() == kid {
				return k, nil
			}
		}
		if attempt == 0 {
			if err := m.reload(ctx); err != nil {
				return nil, err
			}
		}
	}
	return nil, store.ErrNotFound
}

// JWK is one public key in a JWKS (RFC 7517 §4, RFC 7518 §6.2.1).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the key set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public half of every published key.
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
	x, y := coordinates(k.Public())
	return JWK{Kty: "EC", Crv: "P-256", X: b64(x), Y: b64(y), Kid: k.ID(), Use: "sig", Alg: ES256}
}

// coordinates are the key's X and Y as 32 big-endian bytes each, read from
// its uncompressed encoding (0x04 || X || Y, SEC 1 §2.3.3).
func coordinates(pub *ecdsa.PublicKey) (x, y []byte) {
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		panic("keys: not a P-256 public key") // parseKey and newKey admit only P-256
	}
	return b[1:33], b[33:]
}

// thumbprint is the RFC 7638 JWK thumbprint, used as the kid so that a kid
// names exactly one key on every instance.
func thumbprint(pub *ecdsa.PublicKey) string {
	// RFC 7638 §3.2: members in lexicographic order, no whitespace.
	x, y := coordinates(pub)
	s := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(x), b64(y))
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}

func pad32(n *big.Int) []byte {
	var b [32]byte
	return n.FillBytes(b[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign returns a compact JWS (RFC 7515 §7.1) of claims with header typ.
func (k *Key) Sign(rand io.Reader, typ string, claims any) (string, error) {
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{ES256, k.ID(), typ})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand, k.priv, digest[:])
	if err != nil {
		return "", err
	}
	// RFC 7518 §3.4: the signature is R and S as 32-byte big-endian each.
	sig := append(pad32(r), pad32(s)...)
	return signing + "." + b64(sig), nil
}

// ErrInvalidToken is any failure to verify a JWS.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks a compact JWS signed by one of our published keys and
// returns its header typ and payload. Only ES256 is accepted, whatever the
// header says, so no algorithm confusion is possible.
func (m *Manager) Verify(ctx context.Context, jws string) (typ string, payload []byte, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || len(jws) > 16<<10 {
		return "", nil, ErrInvalidToken
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != ES256 || h.Kid == "" {
		return "", nil, ErrInvalidToken
	}
	k, err := m.Lookup(ctx, h.Kid)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalidToken
	}
	if err != nil {
		return "", nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", nil, ErrInvalidToken
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(k.Public(), digest[:], r, s) {
		return "", nil, ErrInvalidToken
	}
	payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	return h.Typ, payload, nil
}
