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
	// IsOrgAdmin reports whether userID is an admin of any organization.
	IsOrgAdmin(ctx context.Context, userID string) (bool, error)
}
