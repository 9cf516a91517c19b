// Package token mints what the token endpoint hands out: JWT access tokens
// (RFC 9068), OpenID Connect ID tokens (OIDC Core §2), opaque refresh tokens,
// and the token response that carries them. Which grant may have them is
// package grant's business; the keys come from package keys.
package token

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Minter signs tokens for one issuer. Its lifetimes and algorithms are the
// server's; a client's token policy (store.TokenPolicy) overrides them for
// that client's tokens.
type Minter struct {
	Keys      *keys.Manager
	Issuer    string
	Audience  string // aud of access tokens; the issuer when empty
	Now       func() time.Time
	Rand      io.Reader
	AccessTTL time.Duration
	IDTTL     time.Duration
	// AccessAlg signs every access token (tokens.signing_alg): resource
	// servers verify them, not clients, so it is the server's choice.
	// ES256 when empty.
	AccessAlg string
	// IDAlg signs the ID tokens of clients that registered no
	// id_token_signed_response_alg (tokens.id_token_signing_alg). ES256
	// when empty.
	IDAlg string
}

// accessTTL is how long the access tokens of client c live: its own
// lifetime, or the server's.
func (m *Minter) accessTTL(c *store.Client) time.Duration {
	if c != nil && c.Tokens.AccessTokenLifetime > 0 {
		return c.Tokens.AccessTokenLifetime
	}
	return m.AccessTTL
}

// idTTL is how long the ID tokens of client c live.
func (m *Minter) idTTL(c *store.Client) time.Duration {
	if c != nil && c.Tokens.IDTokenLifetime > 0 {
		return c.Tokens.IDTokenLifetime
	}
	return m.IDTTL
}

// IDAlgFor is the algorithm of client c's ID tokens: the one it registered
// (id_token_signed_response_alg, OpenID Connect Registration 1.0 §2: the
// ID token must then be signed with it), or the server's default.
func (m *Minter) IDAlgFor(c *store.Client) string {
	if c != nil && c.Tokens.IDTokenSigningAlg != "" {
		return c.Tokens.IDTokenSigningAlg
	}
	return cmp.Or(m.IDAlg, keys.ES256)
}

// AccessClaims are the claims of an access token (RFC 9068 §2.2).
type AccessClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	Expiry    int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	JTI       string `json:"jti"`
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope,omitempty"`
	GrantID   string `json:"grant_id,omitempty"`
	AuthTime  int64  `json:"auth_time,omitempty"`
	// OrgID and Groups are the owning organization and the device client
	// groups of a device client acting for itself (client credentials).
	OrgID  string   `json:"org_id,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Confirmation binds the token to a DPoP key (RFC 9449 §6.1); nil for
	// a bearer token.
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// Confirmation is the cnf claim of a DPoP-bound token (RFC 7800 §3.1,
// RFC 9449 §6.1): the SHA-256 JWK thumbprint of the key.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// Token types of a token response (RFC 6749 §7.1, RFC 9449 §5).
const (
	TypeBearer = "Bearer"
	TypeDPoP   = "DPoP"
)

// IDClaims are the claims of an ID token (OIDC Core §2, §5.1).
type IDClaims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Audience      string `json:"aud"`
	AuthorizedBy  string `json:"azp"`
	Expiry        int64  `json:"exp"`
	IssuedAt      int64  `json:"iat"`
	AuthTime      int64  `json:"auth_time,omitempty"`
	Nonce         string `json:"nonce,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	// SessionID is the browser session the user approved in (OpenID
	// Connect Front-Channel Logout 1.0 §3): oauth.SessionID of the grant's
	// session hash; absent when there was none.
	SessionID string `json:"sid,omitempty"`
}

// Response is the token endpoint's success body (RFC 6749 §5.1), with
// issued_at and refreshable_until beside the standard members so a device
// knows when it must ask its user again.
type Response struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	IDToken          string `json:"id_token,omitempty"`
	Scope            string `json:"scope,omitempty"`
	IssuedAt         int64  `json:"issued_at"`
	RefreshableUntil int64  `json:"refreshable_until,omitempty"`

	// For the security event log only, never sent: whose tokens these are.
	UserID  string `json:"-"`
	GrantID string `json:"-"`
}

// Issue is what a grant hands to Mint.
type Issue struct {
	// Client is the client the tokens are for: its token policy sets their
	// lifetimes and the ID token's algorithm. nil: the server's.
	Client *store.Client
	Grant  *store.Grant
	User   *store.User // nil for a client acting for itself
	Scopes []string
	Nonce  string
	// Refresh is the new refresh token to return, already stored; empty for none.
	Refresh string
	// OrgID and Groups go into the access token as org_id and groups; empty
	// for none.
	OrgID  string
	Groups []string
	// JKT is the thumbprint of the DPoP key the access token is bound to
	// (cnf.jkt; token_type DPoP); "" for a bearer token.
	JKT string
}

// Mint signs the access token (and the ID token when openid was granted)
// and assembles the response.
func (m *Minter) Mint(ctx context.Context, in Issue) (*Response, error) {
	now := m.Now()
	key, err := m.Keys.Signer(ctx, cmp.Or(m.AccessAlg, keys.ES256))
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	accessTTL := m.accessTTL(in.Client)
	aud := m.Audience
	if aud == "" {
		aud = m.Issuer
	}
	sub := in.Grant.ClientID
	switch {
	case in.User != nil:
		sub = in.User.ID
	case in.Grant.Subject != "":
		sub = in.Grant.Subject // a front end's person (the service API)
	}
	var authTime int64
	if !in.Grant.AuthTime.IsZero() {
		authTime = in.Grant.AuthTime.Unix()
	}
	scope := oauth.JoinScope(in.Scopes)
	at := AccessClaims{
		Issuer: m.Issuer, Subject: sub, Audience: aud,
		Expiry: now.Add(accessTTL).Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(),
		JTI: m.newJTI(), ClientID: in.Grant.ClientID, Scope: scope, GrantID: in.Grant.ID, AuthTime: authTime,
		OrgID: in.OrgID, Groups: in.Groups,
	}
	tokenType := TypeBearer
	if in.JKT != "" {
		at.Confirmation = &Confirmation{JKT: in.JKT}
		tokenType = TypeDPoP
	}
	access, err := key.Sign(m.Rand, "at+jwt", at) // RFC 9068 §2.1
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	resp := &Response{
		AccessToken:  access,
		TokenType:    tokenType,
		ExpiresIn:    int64(accessTTL / time.Second),
		RefreshToken: in.Refresh,
		Scope:        scope,
		IssuedAt:     now.Unix(),
		GrantID:      in.Grant.ID,
	}
	if in.User != nil {
		resp.UserID = in.User.ID
	}
	if in.Refresh != "" {
		resp.RefreshableUntil = in.Grant.ExpiresAt.Unix()
	}
	if (in.User != nil || in.Grant.Subject != "") && slices.Contains(in.Scopes, "openid") {
		idc := IDClaims{
			Issuer: m.Issuer, Subject: sub, Audience: in.Grant.ClientID, AuthorizedBy: in.Grant.ClientID,
			Expiry: now.Add(m.idTTL(in.Client)).Unix(), IssuedAt: now.Unix(), AuthTime: authTime, Nonce: in.Nonce,
			SessionID: oauth.SessionID(in.Grant.SessionHash),
		}
		if in.User != nil && slices.Contains(in.Scopes, "email") {
			idc.Email = in.User.Email
			v := in.User.EmailVerified // true once a link mailed to it was used
			idc.EmailVerified = &v
		}
		if in.User != nil && slices.Contains(in.Scopes, "profile") {
			idc.Name = in.User.Name
		}
		var payload any = idc
		if in.Grant.Claims != "" {
			if payload, err = withClaims(idc, in.Grant.Claims); err != nil {
				return nil, err
			}
		}
		idKey := key
		if alg := m.IDAlgFor(in.Client); alg != key.Algorithm() {
			if idKey, err = m.Keys.Signer(ctx, alg); err != nil {
				return nil, fmt.Errorf("signing key: %w", err)
			}
		}
		id, err := idKey.Sign(m.Rand, "JWT", payload)
		if err != nil {
			return nil, fmt.Errorf("sign id token: %w", err)
		}
		resp.IDToken = id
	}
	return resp, nil
}

// withClaims is idc with the claims of the JSON object extra that it does
// not set itself: a front end's claims (the service API's /device/complete)
// add to an ID token, but never replace iss, sub, aud, exp or any other
// claim Latchkey vouches for.
func withClaims(idc IDClaims, extra string) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal([]byte(extra), &out); err != nil || out == nil {
		return nil, fmt.Errorf("the grant's claims are not a JSON object: %v", err)
	}
	for _, name := range ReservedClaims {
		delete(out, name)
	}
	own, err := json.Marshal(idc)
	if err != nil {
		return nil, err
	}
	var ownMap map[string]any
	if err := json.Unmarshal(own, &ownMap); err != nil {
		return nil, err
	}
	maps.Copy(out, ownMap)
	return out, nil
}

// ReservedClaims are the ID token claims a front end's claims may not set
// (OIDC Core §2 and the ones Latchkey adds): the service API refuses them.
var ReservedClaims = []string{"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "auth_time", "nonce", "sid", "jti", "at_hash", "c_hash"}

func (m *Minter) newJTI() string {
	var b [16]byte
	if _, err := io.ReadFull(m.Rand, b[:]); err != nil {
		_, _ = rand.Read(b[:])
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
