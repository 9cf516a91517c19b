// Package token mints what the token endpoint hands out: JWT access tokens
// (RFC 9068), OpenID Connect ID tokens (OIDC Core §2), opaque refresh tokens,
// and the token response that carries them. Which grant may have them is
// package grant's business; the keys come from package keys.
package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Minter signs tokens for one issuer.
type Minter struct {
	Keys      *keys.Manager
	Issuer    string
	Audience  string // aud of access tokens; the issuer when empty
	Now       func() time.Time
	Rand      io.Reader
	AccessTTL time.Duration
	IDTTL     time.Duration
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
}

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
}

// Issue is what a grant hands to Mint.
type Issue struct {
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
}

// Mint signs the access token (and the ID token when openid was granted)
// and assembles the response.
func (m *Minter) Mint(ctx context.Context, in Issue) (*Response, error) {
	now := m.Now()
	key, err := m.Keys.Signer(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	aud := m.Audience
	if aud == "" {
		aud = m.Issuer
	}
	sub := in.Grant.ClientID
	if in.User != nil {
		sub = in.User.ID
	}
	var authTime int64
	if !in.Grant.AuthTime.IsZero() {
		authTime = in.Grant.AuthTime.Unix()
	}
	scope := oauth.JoinScope(in.Scopes)
	at := AccessClaims{
		Issuer: m.Issuer, Subject: sub, Audience: aud,
		Expiry: now.Add(m.AccessTTL).Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(),
		JTI: m.newJTI(), ClientID: in.Grant.ClientID, Scope: scope, GrantID: in.Grant.ID, AuthTime: authTime,
		OrgID: in.OrgID, Groups: in.Groups,
	}
	access, err := key.Sign(m.Rand, "at+jwt", at) // RFC 9068 §2.1
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	resp := &Response{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(m.AccessTTL / time.Second),
		RefreshToken: in.Refresh,
		Scope:        scope,
		IssuedAt:     now.Unix(),
	}
	if in.Refresh != "" {
		resp.RefreshableUntil = in.Grant.ExpiresAt.Unix()
	}
	if in.User != nil && slices.Contains(in.Scopes, "openid") {
		idc := IDClaims{
			Issuer: m.Issuer, Subject: in.User.ID, Audience: in.Grant.ClientID, AuthorizedBy: in.Grant.ClientID,
			Expiry: now.Add(m.IDTTL).Unix(), IssuedAt: now.Unix(), AuthTime: authTime, Nonce: in.Nonce,
		}
		if slices.Contains(in.Scopes, "email") {
			idc.Email = in.User.Email
			f := false // we do not verify addresses yet, and say so
			idc.EmailVerified = &f
		}
		if slices.Contains(in.Scopes, "profile") {
			idc.Name = in.User.Name
		}
		id, err := key.Sign(m.Rand, "JWT", idc)
		if err != nil {
			return nil, fmt.Errorf("sign id token: %w", err)
		}
		resp.IDToken = id
	}
	return resp, nil
}

func (m *Minter) newJTI() string {
	var b [16]byte
	if _, err := io.ReadFull(m.Rand, b[:]); err != nil {
		_, _ = rand.Read(b[:])
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
