package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Passkeys (store.PasskeyStore).

const passkeyColumns = `id, user_id, public_key, sign_count, transports, aaguid, flags, attestation_format, name, created_at, last_used_at`

func scanPasskey(row Row) (*store.Passkey, error) {
	var p store.Passkey
	var count, flags int64
	err := row.Scan(&p.ID, &p.UserID, &p.PublicKey, &count, listCol{&p.Transports}, &p.AAGUID, &flags,
		&p.AttestationFormat, &p.Name, TimeCol{&p.CreatedAt}, TimeCol{&p.LastUsedAt})
	if err != nil {
		return nil, err
	}
	p.SignCount, p.Flags = uint32(count), uint8(flags)
	return &p, nil
}

// CreatePasskey stores p.
func (s *Store) CreatePasskey(ctx context.Context, p *store.Passkey) error {
	if p.ID == "" || !store.ValidText(p.ID, p.UserID, p.Name, p.AttestationFormat) || !store.ValidText(p.Transports...) ||
		len(p.Name) > store.MaxPasskeyName {
		return fmt.Errorf("create passkey: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		p.ID, p.UserID, blob(p.PublicKey), int64(p.SignCount), jsonList(p.Transports), blob(p.AAGUID), int64(p.Flags),
		p.AttestationFormat, p.Name, Millis(p.CreatedAt), Millis(p.LastUsedAt))
	if err != nil {
		return fmt.Errorf("create passkey: %w", err)
	}
	return nil
}

// GetPasskey returns the passkey with id.
func (s *Store) GetPasskey(ctx context.Context, id string) (*store.Passkey, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	p, err := scanPasskey(s.b.Reader().QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get passkey: %w", err)
	}
	return p, nil
}

// ListPasskeys returns userID's passkeys, oldest first.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]*store.Passkey, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	ps, err := queryAll(ctx, s.b.Reader(), scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return ps, nil
}

// RenamePasskey names userID's passkey id.
func (s *Store) RenamePasskey(ctx context.Context, userID, id, name string) error {
	if !store.ValidText(userID, id) {
		return store.ErrNotFound
	}
	if !store.ValidText(name) || len(name) > store.MaxPasskeyName {
		return fmt.Errorf("rename passkey: %w", store.ErrInvalid)
	}
	if err := execOne(ctx, s.b.Writer(), `UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2`, id, userID, name); err != nil {
		return fmt.Errorf("rename passkey: %w", err)
	}
	return nil
}

// DeletePasskey removes userID's passkey id.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	if !store.ValidText(userID, id) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID); err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	return nil
}

// UsePasskey advances the sign count of passkey id, in one conditional
// update (WebAuthn §7.2 step 21: a count that does not advance is a sign of
// a cloned authenticator; both zero is an authenticator without one).
func (s *Store) UsePasskey(ctx context.Context, id string, signCount uint32, flags uint8, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	q := s.b.Writer()
	err := execOne(ctx, q, `UPDATE passkeys SET sign_count = $2, flags = $3, last_used_at = $4
		WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		id, int64(signCount), int64(flags), now.UnixMilli())
	if errors.Is(err, store.ErrNotFound) {
		ok, err := exists(ctx, q, `SELECT 1 FROM passkeys WHERE id = $1`, id)
		switch {
		case err != nil:
			return fmt.Errorf("use passkey: %w", err)
		case ok:
			return fmt.Errorf("use passkey: sign count did not advance: %w", store.ErrConflict)
		}
		return fmt.Errorf("use passkey: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("use passkey: %w", err)
	}
	return nil
}

// ListAllPasskeys returns every passkey, by user, oldest first.
func (s *Store) ListAllPasskeys(ctx context.Context) ([]*store.Passkey, error) {
	ps, err := queryAll(ctx, s.b.Reader(), scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys ORDER BY user_id, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list all passkeys: %w", err)
	}
	return ps, nil
}
