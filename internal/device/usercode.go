package device

import (
	"fmt"
	"io"
	"strings"
)

// Named alphabets for user codes.
const (
	// Base20 has no vowels (so no words) and no digits (nothing to confuse
	// with letters): RFC 8628 §6.1.
	Base20 = "BCDFGHJKLMNPQRSTVWXZ"
	Digits = "0123456789"
)

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

// Placeholder shows the shape of a code as a person would type it:
// "XXXX-XXXX", or "0000-0000" when the alphabet is digits only.
func (p CodePolicy) Placeholder() string {
	c := "X"
	if p.Alphabet != "" && strings.Trim(p.Alphabet, "0123456789") == "" {
		c = "0"
	}
	return p.Format(strings.Repeat(c, p.Length))
}
