package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSigningKey stores k; ErrConflict if its id is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	if !store.ValidText(k.ID, k.Algorithm) {
		return fmt.Errorf("create signing key: %w", store.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at, not_before, not_after)
		VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, blob(k.PrivateKey), millis(k.CreatedAt), millis(k.NotBefore), millis(k.NotAfter))
	if err != nil {
		return fmt.Errorf("create signing key: %w", mapErr(err))
	}
	return nil
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, algorithm, private_key, created_at, not_before, not_after
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ks []*store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey,
			timeCol{&k.CreatedAt}, timeCol{&k.NotBefore}, timeCol{&k.NotAfter}); err != nil {
			return nil, err
		}
		ks = append(ks, &k)
	}
	return ks, rows.Err()
}

// UpdateSigningKey replaces everything but the id and CreatedAt (in practice:
// NotBefore and NotAfter as a key rotates); ErrNotFound if there is no such key.
func (s *Store) UpdateSigningKey(ctx context.Context, k *store.SigningKey) error {
	if !store.ValidText(k.ID) {
		return store.ErrNotFound
	}
	if !store.ValidText(k.Algorithm) {
		return fmt.Errorf("update signing key %q: %w", k.ID, store.ErrInvalid)
	}
	err := s.execOne(ctx, `UPDATE signing_keys SET algorithm = ?, private_key = ?, not_before = ?, not_after = ?
		WHERE id = ?`,
		k.Algorithm, blob(k.PrivateKey), millis(k.NotBefore), millis(k.NotAfter), k.ID)
	if err != nil {
		return fmt.Errorf("update signing key %q: %w", k.ID, err)
	}
	return nil
}

// DeleteSigningKey deletes the key with id; ErrNotFound if there is none.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := s.execOne(ctx, `DELETE FROM signing_keys WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete signing key %q: %w", id, err)
	}
	return nil
}

// ServerSecret returns the secret called name, storing value as it if there
// is none yet. The insert does nothing when another caller got there first,
// and the read that follows returns whichever value was stored first, so
// every caller and every instance agrees.
func (s *Store) ServerSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if !store.ValidText(name) {
		return nil, fmt.Errorf("server secret %q: %w", name, store.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, blob(value), time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, err)
	}
	var stored []byte
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&stored); err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, mapErr(err))
	}
	return stored, nil
}

// blob keeps an empty or nil byte slice a BLOB: the driver would bind nil
// as NULL, which a NOT NULL column refuses.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
