package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const serviceKeyColumns = `id, name, secret_hash, created_at, rotated_at`

func scanServiceKey(row Row) (*store.ServiceKey, error) {
	var k store.ServiceKey
	if err := row.Scan(&k.ID, &k.Name, &k.SecretHash, TimeCol{&k.CreatedAt}, TimeCol{&k.RotatedAt}); err != nil {
		return nil, err
	}
	return &k, nil
}

// CreateServiceKey stores k; ErrConflict if its id or secret hash is taken.
func (s *Store) CreateServiceKey(ctx context.Context, k *store.ServiceKey) error {
	if !store.ValidText(k.ID, k.Name, k.SecretHash) {
		return fmt.Errorf("create service key: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO service_api_keys (`+serviceKeyColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Name, k.SecretHash, Millis(k.CreatedAt), Millis(k.RotatedAt))
	if err != nil {
		return fmt.Errorf("create service key: %w", err)
	}
	return nil
}

// GetServiceKeyBySecret returns the key whose secret hashes to secretHash.
func (s *Store) GetServiceKeyBySecret(ctx context.Context, secretHash string) (*store.ServiceKey, error) {
	if !store.ValidText(secretHash) {
		return nil, store.ErrNotFound
	}
	return scanServiceKey(s.b.Reader().QueryRow(ctx,
		`SELECT `+serviceKeyColumns+` FROM service_api_keys WHERE secret_hash = $1`, secretHash))
}

// ListServiceKeys returns every key, ordered by id.
func (s *Store) ListServiceKeys(ctx context.Context) ([]*store.ServiceKey, error) {
	ks, err := queryAll(ctx, s.b.Reader(), scanServiceKey, `SELECT `+serviceKeyColumns+` FROM service_api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list service keys: %w", err)
	}
	return ks, nil
}

// RotateServiceKey replaces key id's secret hash in one statement: the old
// secret stops working as it commits.
func (s *Store) RotateServiceKey(ctx context.Context, id, secretHash string, now time.Time) (*store.ServiceKey, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(secretHash) {
		return nil, fmt.Errorf("rotate service key: %w", store.ErrInvalid)
	}
	k, err := scanServiceKey(s.b.Writer().QueryRow(ctx, `UPDATE service_api_keys SET secret_hash = $2, rotated_at = $3
		WHERE id = $1 RETURNING `+serviceKeyColumns, id, secretHash, now.UnixMilli()))
	if err != nil {
		return nil, fmt.Errorf("rotate service key %q: %w", id, err)
	}
	return k, nil
}

// DeleteServiceKey deletes key id; ErrNotFound if there is none.
func (s *Store) DeleteServiceKey(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM service_api_keys WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete service key %q: %w", id, err)
	}
	return nil
}
