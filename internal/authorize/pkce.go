package authorize

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// MethodS256 is the only code_challenge_method we accept. RFC 7636 §4.2
// also defines "plain", which hands the verifier to anyone who sees the
// authorization request; RFC 9700 §2.1.1 says clients should not use it, and
// we refuse it (docs/security.md AC-11).
const MethodS256 = "S256"

// ValidVerifier reports whether v is a code_verifier as RFC 7636 §4.1
// defines it: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." /
// "_" / "~".
func ValidVerifier(v string) bool {
	return len(v) >= 43 && len(v) <= 128 && unreserved(v)
}

// ValidChallenge reports whether c can be an S256 code_challenge: the
// base64url encoding, without padding, of a SHA-256 hash, which is always
// 43 characters (RFC 7636 §4.2).
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// VerifyS256 reports whether verifier hashes to challenge
// (RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) ==
// code_challenge), comparing in constant time.
func VerifyS256(verifier, challenge string) bool {
	if !ValidVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// unreserved reports whether s holds only RFC 3986 §2.3 unreserved characters.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
