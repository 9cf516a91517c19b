package store

import (
	"context"
	"time"
)

// Passkeys (WebAuthn credentials, docs/architecture.md "Passkeys"): a
// person's public keys, each made by an authenticator (a phone, a laptop,
// a security key) that keeps the private key. Nothing here is secret: a
// copy of the table lets no one sign in. The sign count is advanced by one
// conditional update, so two instances cannot both accept the same count.

// MaxPasskeyName bounds the name a person gives a passkey.
const MaxPasskeyName = 64

// Passkey is one WebAuthn credential of a user.
type Passkey struct {
	ID                string // base64url (no padding) of the credential id; primary key
	UserID            string
	PublicKey         []byte   // the COSE key of the credential
	SignCount         uint32   // the authenticator's signature counter at its last use
	Transports        []string // how the browser can reach the authenticator ("internal", "hybrid", "usb", ...)
	AAGUID            []byte   // the authenticator model (16 bytes; zeros when it does not say)
	Flags             uint8    // the credential flags (user verified, backup eligible, backup state)
	AttestationFormat string   // the attestation statement's format ("none", "packed", ...)
	Name              string   // what the person calls it
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero until its first sign-in
}

// PasskeyStore keeps passkeys.
type PasskeyStore interface {
	// CreatePasskey stores p. ErrConflict if its id is taken (by anyone:
	// an authenticator's credential id is unique); ErrNotFound if the user
	// does not exist; ErrInvalid for a string that is not text.
	CreatePasskey(ctx context.Context, p *Passkey) error
	// GetPasskey returns the passkey with id; ErrNotFound if there is none.
	GetPasskey(ctx context.Context, id string) (*Passkey, error)
	// ListPasskeys returns userID's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error)
	// ListAllPasskeys returns every user's passkeys, by user id and then
	// oldest first (for export).
	ListAllPasskeys(ctx context.Context) ([]*Passkey, error)
	// RenamePasskey names userID's passkey id. ErrNotFound if userID has
	// no passkey id; ErrInvalid for a name that is not text.
	RenamePasskey(ctx context.Context, userID, id, name string) error
	// DeletePasskey removes userID's passkey id. ErrNotFound if userID has
	// no passkey id.
	DeletePasskey(ctx context.Context, userID, id string) error
	// UsePasskey records a sign-in with passkey id: its sign count becomes
	// signCount, its flags flags and its last use now, in one conditional
	// update that succeeds only if signCount is above the stored count
	// (or both are zero: an authenticator without a counter). ErrConflict
	// when the count did not advance (a cloned authenticator, or a
	// replayed assertion); ErrNotFound if the passkey is gone.
	UsePasskey(ctx context.Context, id string, signCount uint32, flags uint8, now time.Time) error
}
