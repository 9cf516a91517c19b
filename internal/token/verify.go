package token

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
)

// ErrInvalid is any token that is not one we issued of the kind asked for:
// a bad signature, an unknown key, another type, issuer or audience.
var ErrInvalid = errors.New("token: invalid")

// Verifier checks the JWTs this server signed. It says nothing of whether
// a token may still be used: that is the grant's state, which Handler
// checks.
type Verifier struct {
	Keys     *keys.Manager
	Issuer   string
	Audience string           // aud of access tokens; the issuer when empty, as for Minter
	Now      func() time.Time // time.Now when nil
}

// Access verifies an access token (RFC 9068 §4): one of our keys signed it
// with that key's algorithm and no crit header (keys.Manager.Verify), its
// typ is at+jwt, its iss and aud are ours, and it was not issued in the
// future (IssuedLater). It does not check exp or nbf, so that revocation
// can find the grant of an expired token; callers that answer whether a
// token is usable check them (UsableAt).
func (v *Verifier) Access(ctx context.Context, raw string) (*AccessClaims, error) {
	typ, payload, err := v.Keys.Verify(ctx, raw)
	if err != nil {
		return nil, verifyErr(err)
	}
	// RFC 9068 §4: typ is "at+jwt" or "application/at+jwt", compared
	// without regard to case (RFC 7515 §4.1.9); an ID token (typ JWT) is
	// not an access token.
	if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
		return nil, ErrInvalid
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrInvalid
	}
	if c.Issuer != v.Issuer || c.Audience != v.audience() || c.JTI == "" || c.ClientID == "" || v.issuedLater(c.IssuedAt) {
		return nil, ErrInvalid
	}
	return &c, nil
}

// IDTokenHint verifies an ID token sent back to us as id_token_hint (OpenID
// Connect RP-Initiated Logout 1.0 §2): one of our keys signed it, its typ is
// JWT (not an access token), its iss is ours, it names a client in aud and
// it was not issued in the future.
// Expiry is not checked: §4 has the OP accept an ID token as a hint even
// after it expired, since logging out is when old ones come back.
func (v *Verifier) IDTokenHint(ctx context.Context, raw string) (*IDClaims, error) {
	typ, payload, err := v.Keys.Verify(ctx, raw)
	if err != nil {
		return nil, verifyErr(err)
	}
	if !strings.EqualFold(typ, "JWT") {
		return nil, ErrInvalid
	}
	var c IDClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrInvalid
	}
	if c.Issuer != v.Issuer || c.Audience == "" || c.Subject == "" || v.issuedLater(c.IssuedAt) {
		return nil, ErrInvalid
	}
	return &c, nil
}

// issuedLater reports whether a token's iat is more than ClockSkew ahead
// of our clock. We never sign such a token (every instance stamps its own
// now), so it is forged with a stolen key, or signed by an instance whose
// clock is wrong; either way it is refused (RFC 7519 §4.1.6 leaves the
// check to us; docs/security.md TE-09).
func (v *Verifier) issuedLater(iat int64) bool {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	return iat > now().Add(ClockSkew).Unix()
}

func (v *Verifier) audience() string {
	if v.Audience == "" {
		return v.Issuer
	}
	return v.Audience
}

// verifyErr makes a failed signature check ErrInvalid; anything else (the
// key store was out of reach) stays what it is, so callers fail closed.
func verifyErr(err error) error {
	if errors.Is(err, keys.ErrInvalidToken) {
		return ErrInvalid
	}
	return err
}

// ClockSkew is how far ahead of ours another instance's clock may be when
// it signs a token: its nbf (which is its iat) may be that far in our
// future. Without it, a token minted on an instance a second ahead read as
// not yet valid on the others for that second. exp gets no leeway: a
// token is never accepted after it expired.
const ClockSkew = 30 * time.Second

// UsableAt reports whether an access token's validity window holds at now
// (RFC 7519 §4.1.4: not on or after exp; §4.1.5: not before nbf, less
// ClockSkew).
func (c *AccessClaims) UsableAt(now time.Time) bool {
	return now.Unix() < c.Expiry && c.NotBefore <= now.Add(ClockSkew).Unix()
}
