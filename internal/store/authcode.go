package store

import (
	"context"
	"time"
)

// Authorization request states.
const (
	AuthRequestPending = "pending" // waiting for the person to sign in and decide
	AuthRequestDenied  = "denied"  // ended without a code: denied, or an error went back to the client
	AuthRequestDone    = "done"    // ended with a code (ApproveAuthRequest)
)

// AuthRequest is an authorization request (RFC 6749 §4.1.1, OpenID Connect
// Core §3.1.2.1) that waits, on the server, for the person to sign in or
// decide. The browser carries only its id; everything the client asked for
// stays here, so nothing the person's browser sends later can change it.
type AuthRequest struct {
	IDHash              string // primary key: hex SHA-256 of the request id
	ClientID            string
	RedirectURI         string // validated against the client's registered list
	RedirectURISent     bool   // the request named it, so the token request must too (RFC 6749 §4.1.3)
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string        // the prompt values asked for, space-separated
	MaxAge              time.Duration // negative when max_age was not sent
	LoginHint           string
	// DPoPJKT is the request's dpop_jkt (RFC 9449 §10): the thumbprint of
	// the DPoP key its code must be redeemed with; "" when not bound.
	DPoPJKT string
	// ErrorCode and ErrorDescription, when set, are the error to send back
	// once the person has signed in (docs/security.md AC-22: no redirect
	// to a client before the person is authenticated).
	ErrorCode        string
	ErrorDescription string
	Status           string
	// SessionHash is the browser session the request is bound to: the first
	// one signed in to continue it. "" until then.
	SessionHash string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Consent is what a user allowed a client once, remembered so they are not
// asked again for the same scopes, until it is deleted.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string  // every scope the user allowed the client, in no particular order
	CreatedAt time.Time // when the first of them was allowed
}

// AuthCode is an authorization code (RFC 6749 §4.1.2), stored by hash, with
// everything the token request is checked against.
type AuthCode struct {
	Hash                string // primary key: hex SHA-256 of the code
	ClientID            string
	UserID              string
	RedirectURI         string
	RedirectURISent     bool
	Scopes              []string
	Nonce               string
	CodeChallenge       string // RFC 7636 §4.2; "" when the client sent none
	CodeChallengeMethod string // "S256" with a challenge
	DPoPJKT             string // the request's dpop_jkt: redeemed only with a proof by that key; "" when not bound
	AuthTime            time.Time
	SessionHash         string // the browser session that approved it
	CreatedAt           time.Time
	ExpiresAt           time.Time
	UsedAt              time.Time // set by RedeemAuthCode or BurnAuthCode
	GrantID             string    // set by RedeemAuthCode
}

// AuthorizationStore is everything the authorization code flow keeps.
type AuthorizationStore interface {
	AuthRequestStore
	ConsentStore
	AuthCodeStore
}

// AuthRequestStore keeps authorization requests while the person signs in
// and decides.
type AuthRequestStore interface {
	// CreateAuthRequest stores a new request; ErrConflict if its id hash is
	// taken, ErrNotFound if its client does not exist.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// GetAuthRequest returns the request stored under idHash, in whatever
	// state, unless it has expired at now (ErrNotFound).
	GetAuthRequest(ctx context.Context, idHash string, now time.Time) (*AuthRequest, error)
	// BindAuthRequest binds a pending, unexpired request to the browser
	// session sessionHash, unless another session has it already, in one
	// conditional update, and returns it. ErrNotFound if there is no such
	// request or it expired; ErrConflict if it is bound to another session
	// or no longer pending.
	BindAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) (*AuthRequest, error)
	// DenyAuthRequest ends a pending, unexpired request bound to sessionHash
	// without a code (AuthRequestDenied), in one conditional update, so a
	// denial is final. ErrNotFound if there is no such request or it
	// expired; ErrConflict if it is bound to another session or no longer
	// pending.
	DenyAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) error
	// ApproveAuthRequest ends a pending, unexpired request bound to
	// sessionHash with code (AuthRequestDone), stores code, and, when
	// consent is not nil, adds its scopes to what its user allowed its
	// client, all in one transaction. Of concurrent decisions exactly one
	// lands. Errors as DenyAuthRequest's; ErrInvalid if code or consent holds
	// a string that is not text.
	ApproveAuthRequest(ctx context.Context, idHash, sessionHash string, code *AuthCode, consent *Consent, now time.Time) error
}

// ConsentStore keeps remembered consent.
type ConsentStore interface {
	// GetConsent returns what userID allowed clientID; ErrNotFound if nothing.
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error)
	// DeleteConsent forgets what userID allowed clientID, so they are asked
	// again; ErrNotFound if there was nothing.
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// AuthCodeStore keeps authorization codes.
type AuthCodeStore interface {
	// CreateAuthCode stores a new code; ErrConflict if its hash is taken,
	// ErrNotFound if its client or user does not exist.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// GetAuthCode returns the code stored under hash, used or expired or not.
	GetAuthCode(ctx context.Context, hash string) (*AuthCode, error)
	// BurnAuthCode marks an unused code used at now without a grant: a token
	// request that failed its checks spends the code (RFC 9700 §4.8.2 and
	// docs/security.md AC-07, AC-12). ErrNotFound if there is no such
	// code; ErrConflict if it was used already.
	BurnAuthCode(ctx context.Context, hash string, now time.Time) error
	// RedeemAuthCode marks an unused, unexpired code used at now, recording
	// g.ID, and stores g and refresh (nil for none), all in one transaction:
	// either the code is used and the grant and token exist, or nothing
	// changed. Of concurrent redemptions exactly one succeeds. ErrConflict
	// if the code was used already, and only then, with the id of the grant
	// its first redemption stored ("" when it was burnt), so the caller can
	// revoke it (RFC 6749 §4.1.2); ErrNotFound if the code is unknown or
	// expired (or g's client or user is unknown); ErrInvalid if g or refresh
	// holds a string that is not text.
	RedeemAuthCode(ctx context.Context, hash string, g *Grant, refresh *RefreshToken, now time.Time) (firstGrantID string, err error)
}
