package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"time"
)

// Nonces are server-provided nonces (RFC 9449 §8) that every instance can
// issue and check without keeping any: a nonce is an HMAC, under a secret
// the instances share (the store's ServerSecret), of the period it was
// issued in. One is valid in its own period and the next, so a client that
// got one just before a period ended still has a whole period to use it.
type Nonces struct {
	Key    []byte        // at least 32 bytes
	Period time.Duration // how often a new nonce is issued
}

// Current is the nonce to hand out at now.
func (n *Nonces) Current(now time.Time) string { return n.at(n.period(now)) }

// Valid reports whether nonce was issued in now's period or the one before.
func (n *Nonces) Valid(nonce string, now time.Time) bool {
	p := n.period(now)
	for _, q := range []int64{p, p - 1} {
		if hmac.Equal([]byte(nonce), []byte(n.at(q))) {
			return true
		}
	}
	return false
}

func (n *Nonces) period(now time.Time) int64 { return now.UnixNano() / int64(n.Period) }

func (n *Nonces) at(period int64) string {
	m := hmac.New(sha256.New, n.Key)
	m.Write([]byte("dpop-nonce\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(period))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
