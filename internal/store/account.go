package store

import (
	"context"
	"time"
)

// Accounts: the links mailed to a person (docs/architecture.md, "Accounts").
// A link carries a random token; the store keeps only its hash, and using
// one is a single conditional update, so a link works once however many
// instances see it at the same moment.

// Account token purposes.
const (
	// PurposeVerifyEmail proves an address: using it makes Email the
	// account's address, verified. When Email is not the account's address
	// yet, that is an email change.
	PurposeVerifyEmail = "verify_email"
	// PurposeResetPassword lets the person set a new password once.
	PurposeResetPassword = "reset_password"
)

// AccountToken is a single-use link's token, stored by hash.
type AccountToken struct {
	Hash      string // hex SHA-256 of the token; primary key
	Purpose   string // PurposeVerifyEmail or PurposeResetPassword
	UserID    string
	Email     string // the address the link was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
}

// Usable reports whether t can still be used at now.
func (t *AccountToken) Usable(now time.Time) bool {
	return t.UsedAt.IsZero() && now.Before(t.ExpiresAt)
}

// AccountStore keeps account tokens and what using them does.
type AccountStore interface {
	// CreateAccountToken stores t and its mail (nil for none) in one
	// transaction, so a link is never stored without the mail that carries
	// it. ErrConflict if the hash is taken; ErrNotFound if the user does
	// not exist; ErrInvalid for a string that is not text or an unknown
	// purpose.
	CreateAccountToken(ctx context.Context, t *AccountToken, mail *Mail) error
	// QueueMail puts a mail that carries no token (a notice) into the outbox.
	// ErrConflict if its id is taken; ErrInvalid for a string that is not text.
	QueueMail(ctx context.Context, m *Mail) error
	// GetAccountToken returns the token stored under hash for purpose, in
	// whatever state; ErrNotFound if there is none (or it is for another
	// purpose).
	GetAccountToken(ctx context.Context, hash, purpose string) (*AccountToken, error)
	// VerifyEmail uses an unused, unexpired PurposeVerifyEmail token: its
	// user's email becomes the token's, verified, and the user's other
	// unused tokens are spent with it, all in one transaction that begins
	// with the conditional update (of concurrent uses exactly one
	// succeeds). It returns the user as changed. ErrNotFound for an unknown
	// token; ErrConflict if it was used or has expired, or its address is
	// now another account's (then nothing changed).
	VerifyEmail(ctx context.Context, hash string, now time.Time) (*User, error)
	// ResetPassword uses an unused, unexpired PurposeResetPassword token:
	// the user's password hash becomes passwordHash and everything
	// SetPassword does with keepSession "" happens, in one transaction that
	// begins with the conditional update. Errors as VerifyEmail's.
	ResetPassword(ctx context.Context, hash, passwordHash string, now time.Time) (*User, error)
	// SetPassword replaces userID's password hash, ends every session of
	// the user but keepSession ("" for none) with the attached clients'
	// grants approved in them (as signing each out would), and spends the
	// user's unused reset tokens, in one transaction. It returns how many
	// sessions ended. ErrNotFound if there is no such user.
	SetPassword(ctx context.Context, userID, passwordHash, keepSession string, now time.Time) (int, error)

	// ListUserGrants returns what the account page shows of userID's
	// grants that are active at now, newest first: each grant with its
	// client's name, when it was last used and where it came from.
	ListUserGrants(ctx context.Context, userID string, now time.Time) ([]*GrantInfo, error)
	// ListConsents returns what userID allowed each client, ordered by
	// client id.
	ListConsents(ctx context.Context, userID string) ([]*Consent, error)
}

// GrantInfo is a grant as the person it acts for sees it.
type GrantInfo struct {
	Grant      *Grant
	ClientName string
	// LastUsedAt is when a refresh token of it was last issued (the
	// grant's CreatedAt when none was).
	LastUsedAt time.Time
	// OriginIP and OriginUserAgent are where a device asked from (its
	// device authorization's request); "" when unknown.
	OriginIP, OriginUserAgent string
}
