// Package store defines what Latchkey keeps: the records, the per-concern
// interfaces, and the errors every backend returns. It holds no SQL: the
// statements are package store/sqlstore's, run by the two backends,
// store/sqlite and store/postgres; store/storetest is the conformance suite
// both must pass. Code that uses a store declares the few methods it calls
// (see docs/architecture.md); only package server holds a whole Store.
//
// Every state change a flow depends on (deciding a device authorization,
// polling it, redeeming it for a grant, rotating a refresh token) is a single
// atomic operation in the backend, one statement or one transaction, so that
// several Latchkey instances sharing one database agree on the outcome, and a
// database lost halfway leaves nothing half done.
package store

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrNotFound: no record matches (or it matches but is no longer usable
	// for the operation asked, where the method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record with the same unique key exists already, or a
	// conditional update lost its race.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: a record to write holds a string that is not text (ValidText); nothing was written.
	ErrInvalid = errors.New("store: invalid text")
	// ErrUnavailable: the database could not be reached or the connection
	// was lost (refused, reset, timed out). The operation may or may not have
	// committed, so callers answer 503 with Retry-After and clients retry:
	// every Latchkey write is designed so a retry is safe (a redeemed device
	// code answers invalid_grant, a new device authorization simply replaces
	// a lost one).
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrSealed: a secret read from the database is sealed (SecretStore),
	// but the store has no Sealer to open it: the configuration lacks the
	// secrets key the database was written with.
	ErrSealed = errors.New("store: secret is sealed, and no secrets key is configured (secrets_keys, LATCHKEY_SECRETS_KEY)")
)

// ValidText reports whether every s is text both backends keep as it is:
// valid UTF-8 (so no overlong forms or surrogates) without NUL, which
// PostgreSQL's TEXT refuses and SQLite would store. The HTTP layer refuses
// anything else in every input, so such a string never names a record:
// backends answer a lookup, update or delete keyed by one as they answer an
// unknown key (ErrNotFound), and refuse to write one (ErrInvalid), the same
// on both rather than whatever each database would make of the bytes.
func ValidText(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// Store is everything a Latchkey server needs from its database.
type Store interface {
	ClientStore
	UserStore
	DeviceStore
	GrantStore
	SessionStore
	AuthorizationStore
	KeyStore
	ThrottleStore
	OrgStore
	ServiceKeyStore
	AuditStore
	SecretStore
	RegistrationStore
	AccountStore
	PasskeyStore
	TOTPStore
	Sweeper

	// Ping reports whether the database answers and its schema is current.
	Ping(ctx context.Context) error
	Close() error
}

// Client authentication methods (RFC 7591 §2).
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// Grant types a client may be registered for.
const (
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
)

// UserCodePolicy overrides the server's user-code settings for one client.
// Zero fields inherit the server's value.
type UserCodePolicy struct {
	Alphabet string `json:"alphabet,omitempty"` // "base20", "digits" or the characters themselves
	Length   int    `json:"length,omitempty"`
	Group    int    `json:"group,omitempty"` // characters between dashes when displayed; 0 inherits, -1 means no dashes
}

// Refresh token policies: when a client registered for the refresh_token
// grant gets a refresh token with a user's grant.
const (
	// RefreshWithOfflineAccess: only when the user granted offline_access
	// (OpenID Connect Core §11). The default; "" means it too.
	RefreshWithOfflineAccess = "offline_access"
	// RefreshAlways: with every grant a user approves, whatever the scopes,
	// as 10Duke hands refresh tokens to the clients configured for them.
	RefreshAlways = "always"
)

// TokenPolicy overrides the server's token settings for one client (10Duke
// sets lifetimes per client). Zero fields inherit the server's value.
type TokenPolicy struct {
	// IDTokenSigningAlg is the JWS alg of the client's ID tokens, RFC 7591
	// §2's id_token_signed_response_alg: "ES256" or "RS256".
	IDTokenSigningAlg   string
	AccessTokenLifetime time.Duration
	IDTokenLifetime     time.Duration
	// RefreshLifetime is a new grant's absolute life: refreshable_until.
	RefreshLifetime time.Duration
	// RefreshIdleLifetime is how long a refresh token lives unused.
	RefreshIdleLifetime time.Duration
	// RefreshTokens is RefreshWithOfflineAccess (or "") or RefreshAlways.
	RefreshTokens string
}

// Client is a registered OAuth client.
type Client struct {
	ID           string
	Name         string
	SecretHash   string // hex SHA-256 of the generated secret; empty for public clients
	AuthMethod   string // AuthNone, AuthClientSecretBasic or AuthClientSecretPost
	GrantTypes   []string
	RedirectURIs []string
	Scopes       []string // the scopes this client may ask for

	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to (OpenID Connect RP-Initiated Logout 1.0 §3.1).
	PostLogoutRedirectURIs []string
	// SessionAttachment is SessionDetached (or empty) or SessionAttached:
	// whether the client's grants end when the browser session that
	// approved them signs out.
	SessionAttachment string

	UserCode           UserCodePolicy
	DeviceCodeLifetime time.Duration // 0 inherits the server's
	PollInterval       time.Duration // 0 inherits the server's

	// Tokens are the client's token lifetimes, ID token algorithm and
	// refresh token policy; zero fields inherit the server's.
	Tokens TokenPolicy

	// DPoPBound is RFC 9449 §5.2's dpop_bound_access_tokens: every token
	// request of the client must carry a DPoP proof.
	DPoPBound bool

	// OrgID is the organization that owns the client (a device client
	// enrolled by invitation); empty for none. An owned client's scopes are
	// those its groups grant, narrowed by Scopes when Scopes is not empty.
	OrgID string

	// TokensRevokedAt is when every token of the client was last revoked
	// (RevokeClientTokens); zero for never. A token the client got for
	// itself (no grant) issued at or before it is not live. UpdateClient
	// leaves it as it is.
	TokensRevokedAt time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// OrgClientQuery selects a page of an organization's clients.
type OrgClientQuery struct {
	OrgID string
	// Search, when not empty, keeps the clients whose id or name holds it,
	// compared without case for ASCII letters.
	Search  string
	AfterID string // this page begins after the client with this id ("": the first page)
	Limit   int    // at most this many, from 1
}

// Public reports whether the client has no secret.
func (c *Client) Public() bool { return c.AuthMethod == AuthNone }

// HasGrant reports whether the client is registered for grant type gt.
func (c *Client) HasGrant(gt string) bool {
	for _, g := range c.GrantTypes {
		if g == gt {
			return true
		}
	}
	return false
}

// ClientStore keeps registered clients.
type ClientStore interface {
	CreateClient(ctx context.Context, c *Client) error // ErrConflict if the id exists
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]*Client, error) // ordered by id
	// HasClients reports whether there is any client, without reading them
	// all: serve says what a new installation lacks.
	HasClients(ctx context.Context) (bool, error)
	UpdateClient(ctx context.Context, c *Client) error // ErrNotFound if missing
	DeleteClient(ctx context.Context, id string) error // ErrNotFound if missing
	// ListOrgClients returns a page of the clients organization q.OrgID
	// owns, ordered by id (bytewise).
	ListOrgClients(ctx context.Context, q OrgClientQuery) ([]*Client, error)
	// RevokeClientTokens revokes every token of client id at now: it sets
	// TokensRevokedAt, and revokes each of its active grants with their
	// refresh tokens (as RevokeGrant does), in one transaction; it returns
	// how many grants. ErrNotFound if missing.
	RevokeClientTokens(ctx context.Context, id string, now time.Time) (int, error)
}

// User is a person who can sign in.
type User struct {
	ID    string
	Email string // the login name; stored lower-cased, unique
	// EmailVerified: the person used a link mailed to Email (or an admin
	// vouched for it); the email_verified claim.
	EmailVerified bool
	Name          string
	PasswordHash  string // PHC-formatted argon2id
	Disabled      bool
	// Sysadmin: the user is a system administrator, who may use the
	// SysAdmin console. Set by the CLI and the admin API only.
	Sysadmin  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserStore keeps users.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error // ErrConflict if the id or email exists
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error) // ordered by email
	HasUsers(ctx context.Context) (bool, error)     // whether there is any user, as HasClients
	UpdateUser(ctx context.Context, u *User) error  // ErrNotFound if missing; ErrConflict on a taken email
	// UpdateUserEndSessions is UpdateUser, and then what
	// AccountStore.SetPassword does with no session kept — every session
	// of the user ends, with the attached clients' grants approved in them,
	// and their unused reset tokens are spent — in one transaction: the
	// change and the sign-out happen together or not at all. It returns
	// how many sessions ended. Errors as UpdateUser's.
	UpdateUserEndSessions(ctx context.Context, u *User, now time.Time) (int, error)
	DeleteUser(ctx context.Context, id string) error
}

// Device authorization states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
	DeviceConsumed = "consumed" // redeemed: its grant and refresh token are stored
)

// DeviceAuth is one device authorization request (RFC 8628 §3.1).
type DeviceAuth struct {
	DeviceCodeHash string // primary key: hex SHA-256 of the device_code
	UserCodeHash   string // hex SHA-256 of the normalised user_code; unique
	ClientID       string
	ClientPublic   bool // copied from the client at creation, so a public poll needs no client lookup
	Scopes         []string
	Status         string
	UserID         string // set on approve or deny
	Interval       time.Duration
	LastPollAt     time.Time // zero until the first poll
	CreatedAt      time.Time
	ExpiresAt      time.Time
	DecidedAt      time.Time
	GrantID        string // set by RedeemDeviceAuth
	SessionHash    string // the browser session that decided it; set by DecideDeviceAuth

	// Where the request came from, shown on the verification page (RFC 8628 §5.4).
	RequestIP        string
	RequestUserAgent string

	// Set when a front end decided through the service API
	// (CompleteDeviceAuth) rather than a signed-in user of ours.
	Subject  string    // the person, in the front end's own terms; no user row
	Claims   string    // a JSON object for the ID token; "" for none
	AuthTime time.Time // when the front end authenticated the person; zero: DecidedAt
	// ErrorCode and ErrorDescription are what a denied authorization's
	// poll answers instead of access_denied with our description; "" for
	// the defaults.
	ErrorCode        string
	ErrorDescription string
}

// DeviceCompletion is a decision a front end made through the service API
// (Authlete's /device/complete): for a person it identifies by Subject, who
// has no user row of ours.
type DeviceCompletion struct {
	Approve  bool
	Subject  string
	Claims   string    // a JSON object, or ""
	Scopes   []string  // replace the requested scopes; nil keeps them
	AuthTime time.Time // zero: the decision's time
	// ErrorCode and ErrorDescription, for a denial, are what the device's
	// poll gets; "" for access_denied and our description.
	ErrorCode, ErrorDescription string
}

// Poll outcomes, decided atomically by DeviceStore.PollDeviceAuth.
const (
	PollPending  = "pending"   // authorization_pending
	PollSlowDown = "slow_down" // too soon; the stored interval grew by SlowDownStep
	PollDenied   = "denied"    // access_denied
	PollExpired  = "expired"   // expired_token
	PollIssue    = "issue"     // approved: the caller may redeem it (RedeemDeviceAuth), then issue tokens
	PollUsed     = "used"      // redeemed by an earlier poll: invalid_grant
)

// SlowDownStep is what RFC 8628 §3.5 tells a client to add to its interval
// on slow_down, so it is what we add to the interval we expect.
const SlowDownStep = 5 * time.Second

// PollTolerance is how much earlier than the interval a poll may arrive and
// still count as on time: requests that left a well-behaved client on schedule
// can arrive a little early when the previous one was delayed in transit.
//
// The tolerance a poll gets is min(PollTolerance, interval/5): a whole second
// off a 1 s interval would tolerate any rate at all, so short intervals get a
// fifth of themselves (200 ms of 1 s) and intervals of 5 s and more the full
// second. A poll is too soon, slow_down, when it arrives before
// last poll + interval - tolerance.
const PollTolerance = time.Second

// PollResult is what one poll did.
type PollResult struct {
	Outcome string
	Auth    *DeviceAuth // the record after the poll
}

// DeviceStore keeps device authorizations.
type DeviceStore interface {
	// CreateDeviceAuth stores a new request; ErrConflict if its device code
	// hash or user code hash is taken (the caller draws a new user code).
	CreateDeviceAuth(ctx context.Context, a *DeviceAuth) error
	// GetDeviceAuthByUserCode returns the authorization whose user code hashes
	// to userCodeHash, in whatever state it is.
	GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*DeviceAuth, error)
	// DecideDeviceAuth moves a pending, unexpired authorization to approved or
	// denied for userID in one conditional update, recording sessionHash,
	// the browser session that decided ("" for none). ErrNotFound if no such
	// authorization exists; ErrConflict if it is no longer pending or expired.
	DecideDeviceAuth(ctx context.Context, userCodeHash, userID, sessionHash string, approve bool, now time.Time) (*DeviceAuth, error)
	// PollDeviceAuth records one poll by clientID and decides its outcome
	// atomically (one statement on PostgreSQL; on SQLite a read, then the
	// store's in-memory poll times under a lock): expiry, slow_down
	// (interval + SlowDownStep), pending,
	// denied, issue for an approved authorization and used for a consumed
	// one. It changes no status: an approved authorization answers issue to
	// every poll on time until RedeemDeviceAuth consumes it, so a redemption
	// that failed is simply tried again by the next poll. A poll for another
	// client's device code is ErrNotFound and changes nothing.
	// When publicOnly is set, only an authorization created by a public client
	// matches (the caller presented no client secret).
	PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*PollResult, error)
	// RedeemDeviceAuth moves an approved, unexpired authorization to consumed,
	// recording g.ID, and stores g and refresh (nil for none), all in one
	// transaction: either the code is consumed and the grant and token exist,
	// or nothing changed. Of concurrent redemptions exactly one succeeds.
	// ErrNotFound if no such authorization exists (or g's client or user does
	// not); ErrConflict if it is not approved (another redemption won) or has
	// expired (or g's id or refresh's hash is taken); ErrInvalid if g or
	// refresh holds a string that is not text.
	RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *Grant, refresh *RefreshToken, now time.Time) error
	// CompleteDeviceAuth is DecideDeviceAuth for a decision made through
	// the service API: it moves a pending, unexpired authorization to
	// approved or denied in one conditional update, recording d's subject,
	// claims, auth time and error, and replacing the scopes when d.Scopes is
	// not nil. The user and session stay empty. ErrNotFound if no such
	// authorization exists; ErrConflict if it is no longer pending or has
	// expired; ErrInvalid if d holds a string that is not text.
	CompleteDeviceAuth(ctx context.Context, userCodeHash string, d *DeviceCompletion, now time.Time) (*DeviceAuth, error)
}

// Grant is what a user allowed a client: the scopes, and until when tokens
// may be refreshed. Access and refresh tokens carry its ID; revoking it makes
// them all inactive.
type Grant struct {
	ID        string
	UserID    string // empty for a client acting on its own behalf
	ClientID  string
	Scopes    []string
	AuthTime  time.Time // when the user last authenticated for it
	CreatedAt time.Time
	ExpiresAt time.Time // absolute: refreshable_until
	RevokedAt time.Time // zero while active
	// SessionHash is the browser session the user approved it in; "" for
	// none. An attached client's grants are revoked when it signs out.
	SessionHash string
	// Subject is the person a front end approved it for through the
	// service API, who has no user row (UserID is then empty); Claims are
	// the JSON object of claims it gave for the ID token. Both "" otherwise.
	Subject string
	Claims  string
	// DPoPJKT is the thumbprint of the DPoP key its refresh tokens are
	// bound to (RFC 9449 §5: a public client's); "" when they are not.
	DPoPJKT string
}

// Active reports whether the grant can still be used at now.
func (g *Grant) Active(now time.Time) bool {
	return g.RevokedAt.IsZero() && now.Before(g.ExpiresAt)
}

// RefreshToken is an opaque refresh token, stored by hash.
type RefreshToken struct {
	Hash      string
	GrantID   string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // set when it was rotated; a second use is reuse
}

// RefreshFamily is a refresh token with the grant it belongs to (a grant
// is its token family) and the user the grant acts for: nil for a client
// acting for itself.
type RefreshFamily struct {
	Token *RefreshToken
	Grant *Grant
	User  *User
	// Successor is, with RotateRefreshToken's ErrConflict only, the token
	// Token was rotated into, as stored now (used or not); nil if it is
	// gone, and for every other answer.
	Successor *RefreshToken
	// Session is the browser session the grant was approved in, as stored
	// (expired or not); nil when the grant names none or it is gone (signed
	// out, timed out, swept). An attached client's grant ends with it.
	Session *Session
}

// GrantStore keeps grants and their refresh tokens.
type GrantStore interface {
	CreateGrant(ctx context.Context, g *Grant) error
	GetGrant(ctx context.Context, id string) (*Grant, error)
	ListGrantsByUser(ctx context.Context, userID string) ([]*Grant, error)
	// RevokeGrant marks the grant revoked (idempotent) and its refresh tokens with it.
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	// RevokeGrantsBySession revokes, as RevokeGrant does, every active grant
	// approved in the browser session sessionHash whose client is attached
	// (SessionAttached), in one transaction, and returns how many it revoked.
	// Detached clients' grants are untouched; an unknown or empty hash
	// revokes nothing.
	RevokeGrantsBySession(ctx context.Context, sessionHash string, now time.Time) (int, error)
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	GetRefreshToken(ctx context.Context, hash string) (*RefreshToken, error)
	// RotateRefreshToken uses the unused refresh token oldHash. In one
	// transaction it marks it used at now and stores its successor under
	// nextHash: same grant, client and scopes, created at now, expiring with
	// the grant or at idleUntil, whichever is sooner (zero idleUntil: with
	// the grant). Before anything commits it hands check the old token's
	// family (the token, UsedAt now set; its grant, revoked or not; the
	// grant's user), which decides whether the token may be used at all: an
	// error from check undoes everything and is returned as it is. check
	// runs inside the store's shared write, on a goroutine of the store's,
	// and (rarely: a shared batch run again) more than once for one call:
	// it must be quick, and keep only what its last call decided. It
	// returns the family it gave check. Of concurrent rotations of one token
	// exactly one succeeds. ErrConflict, with the family and its Successor,
	// if the token was used already (reuse, RFC 9700 §4.14.2, or a loser of
	// concurrent rotations), and only then; ErrNotFound if
	// it is unknown; ErrInvalid if nextHash is not text.
	RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*RefreshFamily) error) (*RefreshFamily, error)
	// RevokeAccessToken records that the access token with jti, which
	// clientID got for itself and which has no grant behind it, is revoked
	// until expiresAt, when it would have expired anyway (Sweep then drops
	// the record). Revoking one twice is no error.
	RevokeAccessToken(ctx context.Context, jti, clientID string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether RevokeAccessToken recorded jti.
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
	// ListRevokedAccessTokens returns what RevokeAccessToken recorded
	// that has not expired at now, by jti (for export).
	ListRevokedAccessTokens(ctx context.Context, now time.Time) ([]*RevokedAccessToken, error)
}

// Session is a signed-in browser.
type Session struct {
	Hash      string // hex SHA-256 of the cookie value
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time // absolute
	// LastSeenAt is when the browser last used it, to within a minute or so
	// (see TouchSession); zero for a session stored before it was kept.
	LastSeenAt time.Time
}

// SessionStore keeps browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the session if it exists and has not expired at now.
	GetSession(ctx context.Context, hash string, now time.Time) (*Session, error)
	// TouchSession moves the session's LastSeenAt forward to now (never
	// back); ErrNotFound if there is no such session.
	TouchSession(ctx context.Context, hash string, now time.Time) error
	// Reauthenticate sets the session's AuthTime to at: the person just
	// entered their password again (the console's re-authentication before
	// its most sensitive actions). ErrNotFound if there is no such session.
	Reauthenticate(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
}

// SigningKey is a private key the server signs tokens with.
type SigningKey struct {
	ID         string // the JWK kid
	Algorithm  string // "ES256" (a P-256 key) or "RS256" (an RSA key)
	PrivateKey []byte // PKCS #8, DER
	CreatedAt  time.Time
	// NotBefore is when instances may start signing with it; until then it is
	// only published, so every instance's verifiers know it first.
	NotBefore time.Time
	// NotAfter is when it stops signing; it stays published until tokens
	// signed with it have expired, then it is deleted.
	NotAfter time.Time // zero: no end yet
}

// KeyStore keeps signing keys and other server-wide secrets.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error) // ordered by CreatedAt, oldest first
	UpdateSigningKey(ctx context.Context, k *SigningKey) error
	DeleteSigningKey(ctx context.Context, id string) error
	// ServerSecret returns the secret called name, storing value as it if
	// there is none yet; every instance gets the same answer.
	ServerSecret(ctx context.Context, name string, value []byte) ([]byte, error)
}

// Sealer encrypts the secrets a store must read back, and so cannot hash
// (package seal's Ring). ad names the row a value belongs to, so a value
// copied into another row does not open.
type Sealer interface {
	// Seal encrypts plain under the sealing key; empty stays empty.
	Seal(plain []byte, ad string) ([]byte, error)
	// Open returns what stored holds: a sealed value decrypted, anything
	// else (plaintext from before sealing, or empty) as it is.
	Open(stored []byte, ad string) ([]byte, error)
	// Current reports whether stored is sealed under the sealing key.
	Current(stored []byte) bool
}

// SealReport is what SealSecrets did.
type SealReport struct {
	// Sealed is how many values it sealed or re-sealed.
	Sealed int
	// Left is how many it found still not under the sealing key when it
	// ended: a value another writer changed under it (sealed by an
	// instance that still seals with an older key), to seal on a later run.
	Left int
}

// SecretStore keeps the recoverable secrets sealed at rest
// (docs/security.md SS-05): private signing keys, the messages in the mail
// outbox (body and link) and the server's secrets.
type SecretStore interface {
	// UseSealer makes the store seal those secrets as it writes them and
	// open them as it reads them; nil stores them as given (development).
	// Call it before the store is used.
	UseSealer(s Sealer)
	// SealSecrets seals the values stored in plaintext, and with all also
	// re-seals those sealed under another key of the ring, each by a
	// conditional update of its own, so it may run while the server
	// serves: a value changed meanwhile is left to its writer (and
	// counted in Left if that writer sealed it under an older key). It
	// fails without a Sealer, and on a value no key of the ring opens.
	SealSecrets(ctx context.Context, all bool) (SealReport, error)
}

// ThrottleStore counts events in fixed time windows, shared by every
// instance. A sliding window is several fixed ones summed (Sum).
type ThrottleStore interface {
	// Hit adds one to key's count in the window starting at window and
	// returns the new count; the row may be swept once until has passed.
	Hit(ctx context.Context, key string, window, until time.Time) (int, error)
	// Add adds n, at least one, to key's count in the window starting at
	// window and returns the new count: many events counted at once, in
	// the same upsert as Hit (n < 1 is ErrInvalid).
	Add(ctx context.Context, key string, window, until time.Time, n int) (int, error)
	// Count returns key's count in the window starting at window.
	Count(ctx context.Context, key string, window time.Time) (int, error)
	// Sum returns key's counts added up over the windows that start at or
	// after from and before to: 0 when nothing was counted.
	Sum(ctx context.Context, key string, from, to time.Time) (int, error)
	// Refund takes back one Hit of key in the window starting at window
	// (never below zero), for an attempt counted before it was judged that
	// turned out not to count: Hit first, so that concurrent attempts each
	// see a distinct count, then Refund the ones that succeed.
	Refund(ctx context.Context, key string, window time.Time) error
}

// ServiceKey is a credential of the service API (/api/…, Authlete's API
// for bring-your-own front ends): the key is public, its secret is stored
// hashed. It is accepted nowhere else, and the admin token is not accepted
// by the service API.
type ServiceKey struct {
	ID         string // the API key: public, what Basic authentication names
	Name       string
	SecretHash string // hex SHA-256 of the generated secret; unique
	CreatedAt  time.Time
	RotatedAt  time.Time // zero until the secret is first replaced
}

// ServiceKeyStore keeps service API credentials.
type ServiceKeyStore interface {
	CreateServiceKey(ctx context.Context, k *ServiceKey) error // ErrConflict if the id or secret hash is taken
	// GetServiceKeyBySecret returns the key whose secret hashes to
	// secretHash: the secret is 256 random bits, so its hash finds it.
	GetServiceKeyBySecret(ctx context.Context, secretHash string) (*ServiceKey, error)
	ListServiceKeys(ctx context.Context) ([]*ServiceKey, error) // ordered by id
	// RotateServiceKey replaces key id's secret hash at now; the old
	// secret stops working at once. ErrNotFound if there is no such key.
	RotateServiceKey(ctx context.Context, id, secretHash string, now time.Time) (*ServiceKey, error)
	DeleteServiceKey(ctx context.Context, id string) error // ErrNotFound if missing
}

// RegistrationToken is an initial access token (RFC 7591 §3): an admin
// makes one, and it lets its holder register a few clients dynamically.
type RegistrationToken struct {
	ID          string // public: how admins list and delete it
	Hash        string // hex SHA-256 of the token; unique
	Description string
	UsesLeft    int // registrations it still allows
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// RevokedAccessToken is a revoked access token that a client got for
// itself (RevokeAccessToken), kept until it would have expired.
type RevokedAccessToken struct {
	JTI       string
	ClientID  string
	ExpiresAt time.Time
}

// ClientRegistration is what a dynamically registered client manages its
// registration with (RFC 7592 §3): the hash of its registration access
// token.
type ClientRegistration struct {
	ClientID   string
	AccessHash string // hex SHA-256 of the registration access token
	CreatedAt  time.Time
}

// RegistrationStore keeps initial access tokens and what dynamically
// registered clients manage themselves with (RFC 7591, RFC 7592).
type RegistrationStore interface {
	// CreateRegistrationToken stores t; ErrConflict if its id or hash is taken.
	CreateRegistrationToken(ctx context.Context, t *RegistrationToken) error
	// ListRegistrationTokens returns every token, expired or used up too,
	// ordered by CreatedAt then ID.
	ListRegistrationTokens(ctx context.Context) ([]*RegistrationToken, error)
	// GetRegistrationToken returns the token whose hash is hash, as it is.
	GetRegistrationToken(ctx context.Context, hash string) (*RegistrationToken, error)
	// DeleteRegistrationToken deletes the token with id; ErrNotFound if missing.
	DeleteRegistrationToken(ctx context.Context, id string) error
	// RegisterClient uses one of the initial access token tokenHash's uses
	// and stores c with accessHash, the hash of its registration access
	// token (RFC 7592 §3), in one transaction that begins with the
	// conditional decrement: of concurrent registrations no more succeed
	// than the token has uses. ErrNotFound if the token is unknown, used
	// up or expired at now, and nothing is stored; ErrConflict if c's id is
	// taken, and no use is spent.
	RegisterClient(ctx context.Context, tokenHash string, c *Client, accessHash string, now time.Time) error
	// ClientRegistrationHash returns the hash of the registration access
	// token of a dynamically registered client; ErrNotFound for a client
	// that was not registered so (or is gone). Deleting the client deletes it.
	ClientRegistrationHash(ctx context.Context, clientID string) (string, error)
	// RotateClientRegistrationHash replaces the client's registration
	// access token hash oldHash with newHash; ErrNotFound, and nothing
	// changes, unless oldHash is the current one (a concurrent request
	// rotated it first, or the client is gone).
	RotateClientRegistrationHash(ctx context.Context, clientID, oldHash, newHash string) error
	// ListClientRegistrations returns every dynamically registered
	// client's registration, by client id (for export).
	ListClientRegistrations(ctx context.Context) ([]*ClientRegistration, error)
	// CreateClientRegistration stores r for its existing client, as
	// RegisterClient would have (for import). ErrNotFound if there is no
	// such client; ErrConflict if it has a registration.
	CreateClientRegistration(ctx context.Context, r *ClientRegistration) error
}

// SweepChunk is how many rows one statement of a sweep or prune deletes
// at most, the next chunk following until one comes short: few enough that
// a statement holds SQLite's one writer, or runs within PostgreSQL's
// statement_timeout, briefly even when the backlog is large (the first
// sweep after an upgrade that widened what is swept, or after a retention
// was shortened).
const SweepChunk = 2000

// MailGrace is how long after its link expired a mail no longer pending
// is kept: a sender that claimed it just before (and another instance
// cancelled it since) can still record what it did.
const MailGrace = time.Hour

// Sweeper deletes what has expired.
type Sweeper interface {
	// Sweep deletes device authorizations, sessions, refresh tokens,
	// grants, account tokens and throttle windows that ended before now,
	// and mail of no device invitation, no longer pending, whose link
	// expired MailGrace before now, and returns how many rows went.
	Sweep(ctx context.Context, now time.Time) (int64, error)
	// PruneInvitations deletes the device and member invitations that were
	// decided, or expired pending, before before, and returns how many.
	PruneInvitations(ctx context.Context, before time.Time) (int64, error)
}
