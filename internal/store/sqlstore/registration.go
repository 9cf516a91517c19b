package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const registrationTokenColumns = `id, hash, description, uses_left, created_at, expires_at`

func scanRegistrationToken(row Row) (*store.RegistrationToken, error) {
	var t store.RegistrationToken
	err := row.Scan(&t.ID, &t.Hash, &t.Description, &t.UsesLeft, TimeCol{&t.CreatedAt}, TimeCol{&t.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateRegistrationToken stores t; ErrConflict if its id or hash is taken.
func (s *Store) CreateRegistrationToken(ctx context.Context, t *store.RegistrationToken) error {
	if !store.ValidText(t.ID, t.Hash, t.Description) {
		return fmt.Errorf("create registration token: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO registration_tokens (`+registrationTokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Hash, t.Description, t.UsesLeft, t.CreatedAt.UnixMilli(), t.ExpiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	return nil
}

// ListRegistrationTokens returns every token, oldest first.
func (s *Store) ListRegistrationTokens(ctx context.Context) ([]*store.RegistrationToken, error) {
	ts, err := queryAll(ctx, s.b.Reader(), scanRegistrationToken, `SELECT `+registrationTokenColumns+`
		FROM registration_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list registration tokens: %w", err)
	}
	return ts, nil
}

// GetRegistrationToken returns the token whose hash is hash.
func (s *Store) GetRegistrationToken(ctx context.Context, hash string) (*store.RegistrationToken, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	t, err := scanRegistrationToken(s.b.Reader().QueryRow(ctx, `SELECT `+registrationTokenColumns+`
		FROM registration_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("get registration token: %w", err)
	}
	return t, nil
}

// DeleteRegistrationToken deletes the token with id.
func (s *Store) DeleteRegistrationToken(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM registration_tokens WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete registration token: %w", err)
	}
	return nil
}

// RegisterClient spends one use of the token and stores the client and its
// registration access token hash, in one transaction that begins with the
// conditional decrement, so concurrent registrations never spend more uses
// than there are (PostgreSQL: the row lock and READ COMMITTED's re-check of
// the WHERE; SQLite: its one writer).
func (s *Store) RegisterClient(ctx context.Context, tokenHash string, c *store.Client, accessHash string, now time.Time) error {
	if !store.ValidText(tokenHash) {
		return fmt.Errorf("register client: %w", store.ErrNotFound)
	}
	if !store.ValidText(c.ID, accessHash) || !clientText(c) {
		return fmt.Errorf("register client: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := execOne(ctx, q, `UPDATE registration_tokens SET uses_left = uses_left - 1
			WHERE hash = $1 AND uses_left > 0 AND expires_at > $2`, tokenHash, now.UnixMilli()); err != nil {
			return err
		}
		if err := insertClient(ctx, q, c); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO client_registrations (client_id, access_hash, created_at) VALUES ($1, $2, $3)`,
			c.ID, accessHash, now.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("register client: %w", err)
	}
	return nil
}

// RotateClientRegistrationHash replaces the client's registration access
// token hash, only if it is still oldHash: one conditional update.
func (s *Store) RotateClientRegistrationHash(ctx context.Context, clientID, oldHash, newHash string) error {
	if !store.ValidText(clientID, oldHash, newHash) {
		return store.ErrNotFound
	}
	err := execOne(ctx, s.b.Writer(), `UPDATE client_registrations SET access_hash = $3 WHERE client_id = $1 AND access_hash = $2`,
		clientID, oldHash, newHash)
	if err != nil {
		return fmt.Errorf("rotate client registration: %w", err)
	}
	return nil
}

// ClientRegistrationHash returns the client's registration access token hash.
func (s *Store) ClientRegistrationHash(ctx context.Context, clientID string) (string, error) {
	if !store.ValidText(clientID) {
		return "", store.ErrNotFound
	}
	var h string
	err := s.b.Reader().QueryRow(ctx, `SELECT access_hash FROM client_registrations WHERE client_id = $1`, clientID).Scan(&h)
	if err != nil {
		return "", fmt.Errorf("client registration: %w", err)
	}
	return h, nil
}

// ListClientRegistrations returns every client registration, by client id.
func (s *Store) ListClientRegistrations(ctx context.Context) ([]*store.ClientRegistration, error) {
	rs, err := queryAll(ctx, s.b.Reader(), func(r Row) (*store.ClientRegistration, error) {
		var c store.ClientRegistration
		err := r.Scan(&c.ClientID, &c.AccessHash, TimeCol{&c.CreatedAt})
		return &c, err
	}, `SELECT client_id, access_hash, created_at FROM client_registrations ORDER BY client_id`)
	if err != nil {
		return nil, fmt.Errorf("list client registrations: %w", err)
	}
	return rs, nil
}

// CreateClientRegistration stores r for its existing client.
func (s *Store) CreateClientRegistration(ctx context.Context, r *store.ClientRegistration) error {
	if r.ClientID == "" || r.AccessHash == "" || !store.ValidText(r.ClientID, r.AccessHash) {
		return fmt.Errorf("create client registration: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO client_registrations (client_id, access_hash, created_at) VALUES ($1, $2, $3)`,
		r.ClientID, r.AccessHash, r.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create client registration: %w", err)
	}
	return nil
}
