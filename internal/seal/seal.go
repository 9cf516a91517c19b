// Package seal encrypts the secrets Latchkey must read back, and so cannot
// hash: private signing keys, the messages waiting in the mail outbox (an
// invitation link is a credential), and the server's own secrets (the CSRF
// key). It holds a ring of key-encryption keys from the configuration
// (LATCHKEY_SECRETS_KEY, secrets_keys): the first seals, every one opens,
// so a new key can be put first, the rows re-sealed (`latchkey secrets
// rotate`), and the old key dropped. It knows nothing of the database;
// package store/sqlstore seals and opens the columns, naming each row for
// the associated data.
//
// A sealed value is text, so it fits a TEXT column as well as a BLOB:
//
//	lks1.<key id: 8 hex digits>.<base64url: 12-byte nonce || AES-256-GCM ciphertext and tag>
//
// The associated data is the prefix up to the last dot and the row's
// identity ("signing_keys/<kid>"), so a sealed value copied into another
// row, or relabelled with another key id, does not open.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyPrefix begins every key Latchkey generates, so that secret scanners
// recognise one (as the lk_ prefixes of docs/security.md SS-01).
const KeyPrefix = "lk_sk_"

// prefix begins every sealed value; its version names the format.
const prefix = "lks1."

// Errors of Open.
var (
	// ErrUnknownKey: the value was sealed under a key the ring does not hold.
	ErrUnknownKey = errors.New("seal: sealed under a secrets key that is not configured")
	// ErrOpen: the value does not open: damaged, moved to another row, or forged.
	ErrOpen = errors.New("seal: sealed value does not open (damaged, or not this row's)")
)

// Ring is the key-encryption keys, the first of which seals.
type Ring struct {
	keys []key
	rand io.Reader
}

type key struct {
	id   string // 8 hex digits, derived from the key
	aead cipher.AEAD
}

// NewKey returns a fresh key as the configuration holds it: KeyPrefix and
// 256 bits from rand, base64url.
func NewKey(rand io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Parse returns the ring of the keys given, first the one that seals. A key
// is 32 bytes in base64 (standard or URL alphabet, padded or not), with or
// without KeyPrefix: what NewKey returns, or `openssl rand -base64 32`. The
// error names a key by its position, never by its text.
func Parse(texts []string) (*Ring, error) {
	if len(texts) == 0 {
		return nil, errors.New("no secrets key")
	}
	r := &Ring{rand: rand.Reader}
	for i, t := range texts {
		raw, err := decodeKey(t)
		if err != nil {
			return nil, fmt.Errorf("secrets key %d of %d: %w", i+1, len(texts), err)
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, err
		}
		for _, o := range r.keys {
			if o.id == k.id {
				return nil, fmt.Errorf("secrets key %d of %d is given twice", i+1, len(texts))
			}
		}
		r.keys = append(r.keys, k)
	}
	return r, nil
}

func decodeKey(t string) ([]byte, error) {
	t = strings.TrimPrefix(strings.TrimSpace(t), KeyPrefix)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(t); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("want 32 bytes (256 bits), base64: it has %d; make one with latchkey secrets new-key", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64; make one with latchkey secrets new-key")
}

func newKey(raw []byte) (key, error) {
	sum := sha256.Sum256(append([]byte("latchkey secrets key id\x00"), raw...))
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	return key{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// KeyIDs returns the ids of the ring's keys, the sealing one first: they
// name keys in messages and sealed values without revealing them.
func (r *Ring) KeyIDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Seal encrypts plain under the first key for the row named ad. An empty
// plain seals to empty: an erased column stays erased.
func (r *Ring) Seal(plain []byte, ad string) ([]byte, error) {
	if len(plain) == 0 {
		return nil, nil
	}
	k := r.keys[0]
	head := prefix + k.id + "."
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: read random: %w", err)
	}
	ct := k.aead.Seal(nonce, nonce, plain, additional(head, ad))
	out := make([]byte, len(head)+base64.RawURLEncoding.EncodedLen(len(ct)))
	copy(out, head)
	base64.RawURLEncoding.Encode(out[len(head):], ct)
	return out, nil
}

// additional is the associated data: the sealed value's header and the row.
func additional(head, ad string) []byte { return []byte(head + ad) }

// Sealed reports whether stored is a sealed value (rather than a
// plaintext written before a key was configured).
func Sealed(stored []byte) bool { return bytes.HasPrefix(stored, []byte(prefix)) }

// Current reports whether stored is sealed under the ring's sealing key:
// what `secrets rotate` need not touch.
func (r *Ring) Current(stored []byte) bool {
	return bytes.HasPrefix(stored, []byte(prefix+r.keys[0].id+"."))
}

// Open returns what stored holds for the row named ad: a sealed value
// decrypted by whichever key of the ring sealed it, and anything else
// (plaintext from before sealing, or empty) as it is.
func (r *Ring) Open(stored []byte, ad string) ([]byte, error) {
	if !Sealed(stored) {
		return stored, nil
	}
	rest := stored[len(prefix):]
	dot := bytes.IndexByte(rest, '.')
	if dot < 0 {
		return nil, ErrOpen
	}
	id := string(rest[:dot])
	for _, k := range r.keys {
		if k.id != id {
			continue
		}
		ct, err := base64.RawURLEncoding.DecodeString(string(rest[dot+1:]))
		if err != nil || len(ct) < k.aead.NonceSize() {
			return nil, ErrOpen
		}
		n := k.aead.NonceSize()
		plain, err := k.aead.Open(nil, ct[:n], ct[n:], additional(prefix+id+".", ad))
		if err != nil {
			return nil, ErrOpen
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w (sealed by key %s; configured: %s)", ErrUnknownKey, id, strings.Join(r.KeyIDs(), ", "))
}
