package sqlite

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/internal/store"
)

const clientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes,
	user_code_alphabet, user_code_length, user_code_group, device_code_lifetime_ms, poll_interval_ms,
	created_at, updated_at, post_logout_redirect_uris, session_attachment, org_id`

func scanClient(row rowScanner) (*store.Client, error) {
	var c store.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.AuthMethod,
		listCol{&c.GrantTypes}, listCol{&c.RedirectURIs}, listCol{&c.Scopes},
		&c.UserCode.Alphabet, &c.UserCode.Length, &c.UserCode.Group,
		durationCol{&c.DeviceCodeLifetime}, durationCol{&c.PollInterval},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt},
		listCol{&c.PostLogoutRedirectURIs}, &c.SessionAttachment, optionalCol{&c.OrgID})
	if err != nil {
		return nil, mapErr(err)
	}
	return &c, nil
}

// CreateClient stores c; ErrConflict if its id is taken.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if !store.ValidText(c.ID) || !clientText(c) {
		return fmt.Errorf("create client: %w", store.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.SecretHash, c.AuthMethod,
		list(c.GrantTypes), list(c.RedirectURIs), list(c.Scopes),
		c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
		c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(),
		millis(c.CreatedAt), millis(c.UpdatedAt),
		list(c.PostLogoutRedirectURIs), c.SessionAttachment, optional(c.OrgID))
	if err != nil {
		return fmt.Errorf("create client: %w", mapErr(err))
	}
	return nil
}

// GetClient returns the client with id, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanClient(s.r.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []*store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// UpdateClient replaces everything but the id and CreatedAt; ErrNotFound if
// there is no such client.
func (s *Store) UpdateClient(ctx context.Context, c *store.Client) error {
	if !store.ValidText(c.ID) {
		return store.ErrNotFound
	}
	if !clientText(c) {
		return fmt.Errorf("update client %q: %w", c.ID, store.ErrInvalid)
	}
	err := s.execOne(ctx, `UPDATE clients SET name = ?, secret_hash = ?, auth_method = ?,
		grant_types = ?, redirect_uris = ?, scopes = ?,
		user_code_alphabet = ?, user_code_length = ?, user_code_group = ?,
		device_code_lifetime_ms = ?, poll_interval_ms = ?, updated_at = ?,
		post_logout_redirect_uris = ?, session_attachment = ?, org_id = ?
		WHERE id = ?`,
		c.Name, c.SecretHash, c.AuthMethod,
		list(c.GrantTypes), list(c.RedirectURIs), list(c.Scopes),
		c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
		c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(), millis(c.UpdatedAt),
		list(c.PostLogoutRedirectURIs), c.SessionAttachment, optional(c.OrgID),
		c.ID)
	if err != nil {
		return fmt.Errorf("update client %q: %w", c.ID, err)
	}
	return nil
}

// DeleteClient deletes the client with its device authorizations and grants
// (and so its refresh tokens); ErrNotFound if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := s.execOne(ctx, `DELETE FROM clients WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

// clientText reports whether every string of c but its id is text
// (store.ValidText).
func clientText(c *store.Client) bool {
	return store.ValidText(c.Name, c.SecretHash, c.AuthMethod, c.UserCode.Alphabet, c.SessionAttachment, c.OrgID) &&
		store.ValidText(c.GrantTypes...) && store.ValidText(c.RedirectURIs...) && store.ValidText(c.Scopes...) &&
		store.ValidText(c.PostLogoutRedirectURIs...)
}
