package sqlstore

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
	private, err := s.seal(keyColumn, k.ID, k.PrivateKey)
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	_, err = s.b.Writer().Exec(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, created_at, not_before, not_after)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Algorithm, blob(private), Millis(k.CreatedAt), Millis(k.NotBefore), Millis(k.NotAfter))
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	return nil
}

func scanSigningKey(row Row) (*store.SigningKey, error) {
	var k store.SigningKey
	err := row.Scan(&k.ID, &k.Algorithm, &k.PrivateKey,
		TimeCol{&k.CreatedAt}, TimeCol{&k.NotBefore}, TimeCol{&k.NotAfter})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error) {
	ks, err := queryAll(ctx, s.b.Reader(), scanSigningKey, `SELECT id, algorithm, private_key, created_at, not_before, not_after
		FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	for _, k := range ks {
		if k.PrivateKey, err = s.open(keyColumn, k.ID, k.PrivateKey); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
	}
	return ks, nil
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
	private, err := s.seal(keyColumn, k.ID, k.PrivateKey)
	if err != nil {
		return fmt.Errorf("update signing key %q: %w", k.ID, err)
	}
	err = execOne(ctx, s.b.Writer(), `UPDATE signing_keys SET algorithm = $1, private_key = $2, not_before = $3, not_after = $4
		WHERE id = $5`,
		k.Algorithm, blob(private), Millis(k.NotBefore), Millis(k.NotAfter), k.ID)
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
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM signing_keys WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete signing key %q: %w", id, err)
	}
	return nil
}

// ServerSecret returns the secret called name, storing value as it if there
// is none yet. The insert does nothing when another caller got there first
// (on PostgreSQL waiting, if that caller has not committed, to see whether
// it does), and the read that follows, a new statement with a new
// snapshot, returns whichever value was stored first: every caller and
// every instance agrees. One statement could not do it: on PostgreSQL its
// read would not see a row committed by another instance after the
// statement began.
func (s *Store) ServerSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if !store.ValidText(name) {
		return nil, fmt.Errorf("server secret %q: %w", name, store.ErrInvalid)
	}
	sealed, err := s.seal(secretColumn, name, value)
	if err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, err)
	}
	_, err = s.b.Writer().Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, blob(sealed), time.Now().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, err)
	}
	var stored []byte
	if err := s.b.Reader().QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&stored); err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, err)
	}
	if stored, err = s.open(secretColumn, name, stored); err != nil {
		return nil, fmt.Errorf("server secret %q: %w", name, err)
	}
	return stored, nil
}
