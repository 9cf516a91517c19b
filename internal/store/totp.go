package store

import (
	"context"
	"time"
)

// TOTP second factor (RFC 6238; docs/architecture.md "Second factor"): a
// person's authenticator-app secret, sealed at rest (it must be read back to
// check a code, so it cannot be hashed), the last time step a code was
// accepted for (a code is good once: a later one must be of a later step),
// and ten single-use recovery codes, stored as hashes.

// TOTP is a person's authenticator-app enrolment.
type TOTP struct {
	UserID      string
	Secret      []byte // the shared secret (raw bytes; shown to the person base32-encoded)
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while the person has not yet entered a code from the app
	LastStep    int64     // the last time step a code was accepted for; 0 before any
}

// SealedTOTP is an enrolment as the database holds it, for moving it to
// another database (package portable) without ever opening its secret.
type SealedTOTP struct {
	UserID string
	// Secret is the secret as stored: sealed under the secrets key
	// ("lks1.<key id>.<...>", package seal), or plaintext in a database
	// that never had a key (the caller decides what to do with that).
	Secret      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while unconfirmed
	LastStep    int64
	// Recovery is every recovery code, used ones too (a used code must
	// stay used), by hash.
	Recovery []RecoveryCode
}

// RecoveryCode is one recovery code of an enrolment, by its hash.
type RecoveryCode struct {
	Hash   string
	UsedAt time.Time // zero while unused
}

// TOTPStore keeps second factors.
type TOTPStore interface {
	// BeginTOTP stores a new, unconfirmed enrolment of userID with secret,
	// replacing an unconfirmed one. ErrConflict if userID has a confirmed
	// one; ErrNotFound if there is no such user.
	BeginTOTP(ctx context.Context, userID string, secret []byte, now time.Time) error
	// GetTOTP returns userID's enrolment; ErrNotFound if there is none.
	GetTOTP(ctx context.Context, userID string) (*TOTP, error)
	// ConfirmTOTP confirms userID's unconfirmed enrolment with the step of
	// the code that proved it, and replaces the user's recovery codes with
	// recoveryHashes, in one transaction that begins with the conditional
	// update. ErrNotFound if there is no enrolment; ErrConflict if it is
	// confirmed already.
	ConfirmTOTP(ctx context.Context, userID string, step int64, recoveryHashes []string, now time.Time) error
	// UseTOTPStep records that a code of step was accepted for userID's
	// confirmed enrolment, in one conditional update that succeeds only if
	// step is after the last accepted one: ErrConflict for a step used
	// already (a replayed code) or an earlier one; ErrNotFound if userID
	// has no confirmed enrolment.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	// UseRecoveryCode spends userID's unused recovery code of hash.
	// ErrNotFound if there is none (unknown, or used already).
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error
	// CountRecoveryCodes returns how many unused recovery codes userID has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteTOTP removes userID's enrolment and recovery codes.
	// ErrNotFound if there was no enrolment.
	DeleteTOTP(ctx context.Context, userID string) error
	// ListSealedTOTP returns every enrolment, confirmed or not, by user
	// id, with its secret as stored and all its recovery codes by hash.
	ListSealedTOTP(ctx context.Context) ([]*SealedTOTP, error)
	// CheckSealedTOTP reports whether CreateSealedTOTP would accept sealed
	// as userID's secret: nil, or ErrInvalid when it is not a sealed value
	// or no key of the store's Sealer opens it for userID's row (the error
	// says which), ErrSealed when the store has no Sealer. It reads nothing.
	CheckSealedTOTP(userID string, sealed []byte) error
	// CreateSealedTOTP stores t, which ListSealedTOTP returned from another
	// database, with its recovery codes, in one transaction. Its secret is
	// checked as by CheckSealedTOTP and stored re-sealed under the sealing
	// key. ErrConflict if the user has an enrolment; ErrNotFound if there
	// is no such user.
	CreateSealedTOTP(ctx context.Context, t *SealedTOTP) error
	// IsOrgAdmin reports whether userID is an admin of any organization.
	IsOrgAdmin(ctx context.Context, userID string) (bool, error)
}
