package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
)

// Prefixes of the credentials Latchkey issues, so that secret scanners can
// recognise a leaked one and tell what it is.
const (
	PrefixClientSecret = "lk_cs_"
	PrefixDeviceCode   = "lk_dc_"
	PrefixRefreshToken = "lk_rt_"
	PrefixAuthCode     = "lk_ac_"
	PrefixSession      = "lk_ss_"
	PrefixInvitation   = "lk_inv_"
	// PrefixMemberInvitation marks an invitation of a person into an
	// organization (a member invitation's link).
	PrefixMemberInvitation = "lk_minv_"
	// PrefixServiceSecret marks a service API secret, which is also the
	// service access token of its Authlete 3.0 paths.
	PrefixServiceSecret = "lk_sk_"
	// Dynamic client registration: an admin's initial access token
	// (RFC 7591 §3) and a client's registration access token (RFC 7592 §3).
	PrefixInitialAccess      = "lk_iat_"
	PrefixRegistrationAccess = "lk_rat_"
	PrefixVerifyEmail        = "lk_ev_" // an email verification link's token
	PrefixResetPassword      = "lk_pr_" // a password reset link's token
)

// NewSecret returns prefix followed by 256 random bits from rand, base64url
// encoded: far beyond RFC 6749 §10.10's 2^-128 guessing bound.
func NewSecret(rand io.Reader, prefix string) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// idEncoding spells generated ids: lower-case base32, easy to read aloud
// and safe in URLs, headers and Basic credentials.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// IDLength is the length of a generated id: 20 characters, 100 random bits.
const IDLength = 20

// NewID returns a random id for a record others will name: a client_id, a
// user's subject, an organization. IDLength characters from rand: not a
// secret, but not guessable either.
func NewID(rand io.Reader) (string, error) {
	var b [13]byte // 104 bits: 21 characters, of which we keep 20
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return idEncoding.EncodeToString(b[:])[:IDLength], nil
}

// HashSecret is what we store for a generated secret or code: hex SHA-256.
// Generated secrets carry 256 bits, so a slow hash would add no strength;
// a copy of the database then holds no live credential.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares secret against a stored hash in constant time.
func SecretMatches(secret, hash string) bool {
	got := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// Secret is a credential that must not appear in logs.
type Secret string

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// SessionID is the sid claim (OpenID Connect Front-Channel Logout 1.0 §3,
// Back-Channel Logout 1.0 §2.4) of the ID tokens issued for an approval
// given in the browser session whose stored hash is sessionHash; "" for
// none. It is derived from the hash rather than being it: the hash keys
// the session's row and is never shown, while ID tokens travel to relying
// parties and their logs. SHA-256 under a label of its own, cut to 128
// bits: it reveals neither the cookie nor the hash, every instance derives
// the same one, and nothing more is stored (docs/security.md ID-09).
func SessionID(sessionHash string) string {
	if sessionHash == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("latchkey sid\x00" + sessionHash))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
