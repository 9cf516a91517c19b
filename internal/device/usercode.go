package device

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
)

// Named alphabets for user codes.
const (
	// Base20 has no vowels (so no words) and no digits (nothing to confuse
	// with letters): RFC 8628 §6.1.
	Base20 = "BCDFGHJKLMNPQRSTVWXZ"
	Digits = "0123456789"
)

// MaxUserCodeLength bounds a user code: people type it.
const MaxUserCodeLength = 16

// CodePolicy says how user codes are drawn and shown.
type CodePolicy struct {
	Alphabet string // the characters themselves (see ResolveAlphabet)
	Length   int    // characters drawn
	Group    int    // characters between dashes when displayed; 0 for none
}

// ResolveAlphabet turns a configured alphabet ("base20", "digits" or the
// characters) into its characters, checking that people can type it and
// that input folding cannot confuse two of its characters.
func ResolveAlphabet(name string) (string, error) {
	switch strings.ToLower(name) {
	case "", "base20":
		return Base20, nil
	case "digits":
		return Digits, nil
	}
	if len(name) < 2 {
		return "", errors.New("a custom alphabet needs at least 2 characters")
	}
	seen := map[byte]bool{}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			// Input is folded to upper case and dashes and spaces are
			// dropped, so only these can be told apart when typed.
			return "", fmt.Errorf("custom alphabet character %q is not one of A-Z or 0-9", c)
		}
		if seen[c] {
			return "", fmt.Errorf("custom alphabet repeats %q", c)
		}
		seen[c] = true
	}
	return name, nil
}

// Override applies a client's user code settings to p: zero fields keep
// p's, and a group of -1 means no dashes.
func (p CodePolicy) Override(o store.UserCodePolicy) (CodePolicy, error) {
	if o.Alphabet != "" {
		a, err := ResolveAlphabet(o.Alphabet)
		if err != nil {
			return p, fmt.Errorf("user code alphabet: %w", err)
		}
		p.Alphabet = a
	}
	if o.Length > 0 {
		p.Length = o.Length
	}
	switch {
	case o.Group > 0:
		p.Group = o.Group
	case o.Group < 0:
		p.Group = 0
	}
	return p, nil
}

// Bits is the entropy of one code under the policy.
func (p CodePolicy) Bits() float64 {
	return float64(p.Length) * math.Log2(float64(len(p.Alphabet)))
}

// Space is the number of distinct codes under the policy.
func (p CodePolicy) Space() float64 {
	return math.Pow(float64(len(p.Alphabet)), float64(p.Length))
}

// Generate draws a code from rand and returns its normalised form (what is
// hashed and stored) and its display form. Each character is drawn by
// rejection sampling, so every character of the alphabet is equally likely
// (a plain modulo would favour the first 256 mod n characters).
func (p CodePolicy) Generate(rand io.Reader) (normalized, display string, err error) {
	n := len(p.Alphabet)
	if n < 2 || n > 256 || p.Length < 1 {
		return "", "", fmt.Errorf("invalid user code policy")
	}
	limit := 256 - 256%n // bytes at or above limit would bias the draw
	out := make([]byte, 0, p.Length)
	var buf [32]byte
	for len(out) < p.Length {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return "", "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, p.Alphabet[int(b)%n])
			if len(out) == p.Length {
				break
			}
		}
	}
	normalized = string(out)
	return normalized, p.Format(normalized), nil
}

// Format inserts a dash every Group characters: "WDJBMJHT" -> "WDJB-MJHT".
func (p CodePolicy) Format(normalized string) string {
	if p.Group <= 0 || p.Group >= len(normalized) {
		return normalized
	}
	var b strings.Builder
	for i := 0; i < len(normalized); i++ {
		if i > 0 && i%p.Group == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(normalized[i])
	}
	return b.String()
}

// NormalizeUserCode turns what a person typed into the stored form: ASCII
// letters upper-cased, dashes and spaces dropped (RFC 8628 §6.1). Anything
// else that no alphabet can hold (other punctuation, non-ASCII look-alikes
// such as fullwidth letters) makes the input invalid rather than being
// folded into something it is not. The code is not checked against one
// policy's alphabet: clients may override the alphabet, and a code that no
// client issued simply matches nothing.
func NormalizeUserCode(in string) (string, bool) {
	if len(in) > 4*MaxUserCodeLength {
		return "", false
	}
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+'A')
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			out = append(out, c)
		default:
			return "", false
		}
	}
	if len(out) == 0 || len(out) > MaxUserCodeLength {
		return "", false
	}
	return string(out), true
}
