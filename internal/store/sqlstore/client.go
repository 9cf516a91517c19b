package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const clientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes,
	user_code_alphabet, user_code_length, user_code_group, device_code_lifetime_ms, poll_interval_ms,
	created_at, updated_at, post_logout_redirect_uris, session_attachment, org_id,
	id_token_signing_alg, access_token_lifetime_ms, id_token_lifetime_ms,
	refresh_lifetime_ms, refresh_idle_lifetime_ms, refresh_token_policy, dpop_bound_access_tokens, tokens_revoked_at`

func scanClient(row Row) (*store.Client, error) {
	var c store.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.AuthMethod,
		listCol{&c.GrantTypes}, listCol{&c.RedirectURIs}, listCol{&c.Scopes},
		&c.UserCode.Alphabet, &c.UserCode.Length, &c.UserCode.Group,
		durationCol{&c.DeviceCodeLifetime}, durationCol{&c.PollInterval},
		TimeCol{&c.CreatedAt}, TimeCol{&c.UpdatedAt},
		listCol{&c.PostLogoutRedirectURIs}, &c.SessionAttachment, optionalCol{&c.OrgID},
		&c.Tokens.IDTokenSigningAlg, durationCol{&c.Tokens.AccessTokenLifetime}, durationCol{&c.Tokens.IDTokenLifetime},
		durationCol{&c.Tokens.RefreshLifetime}, durationCol{&c.Tokens.RefreshIdleLifetime}, &c.Tokens.RefreshTokens, &c.DPoPBound,
		TimeCol{&c.TokensRevokedAt})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// clientText reports whether every string of c but its id is text
// (store.ValidText).
func clientText(c *store.Client) bool {
	return store.ValidText(c.Name, c.SecretHash, c.AuthMethod, c.UserCode.Alphabet, c.SessionAttachment, c.OrgID,
		c.Tokens.IDTokenSigningAlg, c.Tokens.RefreshTokens) &&
		store.ValidText(c.GrantTypes...) && store.ValidText(c.RedirectURIs...) && store.ValidText(c.Scopes...) &&
		store.ValidText(c.PostLogoutRedirectURIs...)
}

// insertClient stores c, whose strings are text, with q.
func insertClient(ctx context.Context, q Querier, c *store.Client) error {
	_, err := q.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
			$18, $19, $20, $21, $22, $23, $24, $25)`,
		c.ID, c.Name, c.SecretHash, c.AuthMethod,
		jsonList(c.GrantTypes), jsonList(c.RedirectURIs), jsonList(c.Scopes),
		c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
		c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(),
		Millis(c.CreatedAt), Millis(c.UpdatedAt),
		jsonList(c.PostLogoutRedirectURIs), c.SessionAttachment, optional(c.OrgID),
		c.Tokens.IDTokenSigningAlg, c.Tokens.AccessTokenLifetime.Milliseconds(), c.Tokens.IDTokenLifetime.Milliseconds(),
		c.Tokens.RefreshLifetime.Milliseconds(), c.Tokens.RefreshIdleLifetime.Milliseconds(), c.Tokens.RefreshTokens, c.DPoPBound,
		Millis(c.TokensRevokedAt))
	return err
}

// CreateClient stores c; ErrConflict if its id is taken.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if !store.ValidText(c.ID) || !clientText(c) {
		return fmt.Errorf("create client: %w", store.ErrInvalid)
	}
	if err := insertClient(ctx, s.b.Writer(), c); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

// GetClient returns the client with id, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanClient(s.b.Reader().QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
}

// ListClients returns every client, ordered by id (bytewise).
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	cs, err := queryAll(ctx, s.b.Reader(), scanClient, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// HasClients reports whether the clients table has a row; EXISTS stops at
// the first.
func (s *Store) HasClients(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.b.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("has clients: %w", err)
	}
	return ok, nil
}

// ListOrgClients returns a page of q.OrgID's clients, ordered by id. The
// search is a LIKE of the lower-cased id and name, its wildcards escaped.
func (s *Store) ListOrgClients(ctx context.Context, q store.OrgClientQuery) ([]*store.Client, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("list organization clients: limit %d: %w", q.Limit, store.ErrInvalid)
	}
	if !store.ValidText(q.OrgID, q.Search, q.AfterID) {
		return nil, nil
	}
	pattern := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
	cs, err := queryAll(ctx, s.b.Reader(), scanClient, `SELECT `+clientColumns+` FROM clients
		WHERE org_id = $1 AND id > $2 AND ($3 = '' OR LOWER(id) LIKE $4 ESCAPE '\' OR LOWER(name) LIKE $4 ESCAPE '\')
		ORDER BY id LIMIT $5`, q.OrgID, q.AfterID, q.Search, pattern, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list organization clients: %w", err)
	}
	return cs, nil
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// RevokeClientTokens records at now that every token clientID has is
// revoked: its own access tokens through TokensRevokedAt, and every grant
// of it with the grant's refresh tokens as RevokeGrant does, in one
// transaction. It returns how many grants it revoked; ErrNotFound if there
// is no such client.
func (s *Store) RevokeClientTokens(ctx context.Context, clientID string, now time.Time) (int, error) {
	if !store.ValidText(clientID) {
		return 0, store.ErrNotFound
	}
	var n int64
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := execOne(ctx, q, `UPDATE clients SET tokens_revoked_at = $1 WHERE id = $2`, now.UnixMilli(), clientID); err != nil {
			return err
		}
		active := `SELECT id FROM grants WHERE client_id = $2 AND revoked_at IS NULL`
		if _, err := q.Exec(ctx, endTokens+`IN (`+active+`)`, now.UnixMilli(), clientID); err != nil {
			return fmt.Errorf("refresh tokens: %w", err)
		}
		var err error
		n, err = q.Exec(ctx, `UPDATE grants SET revoked_at = $1 WHERE id IN (`+active+`)`, now.UnixMilli(), clientID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke client tokens: %w", err)
	}
	return int(n), nil
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
	err := execOne(ctx, s.b.Writer(), `UPDATE clients SET name = $1, secret_hash = $2, auth_method = $3,
		grant_types = $4, redirect_uris = $5, scopes = $6,
		user_code_alphabet = $7, user_code_length = $8, user_code_group = $9,
		device_code_lifetime_ms = $10, poll_interval_ms = $11, updated_at = $12,
		post_logout_redirect_uris = $13, session_attachment = $14, org_id = $15,
		id_token_signing_alg = $16, access_token_lifetime_ms = $17, id_token_lifetime_ms = $18,
		refresh_lifetime_ms = $19, refresh_idle_lifetime_ms = $20, refresh_token_policy = $21,
		dpop_bound_access_tokens = $22
		WHERE id = $23`,
		c.Name, c.SecretHash, c.AuthMethod,
		jsonList(c.GrantTypes), jsonList(c.RedirectURIs), jsonList(c.Scopes),
		c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
		c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(), Millis(c.UpdatedAt),
		jsonList(c.PostLogoutRedirectURIs), c.SessionAttachment, optional(c.OrgID),
		c.Tokens.IDTokenSigningAlg, c.Tokens.AccessTokenLifetime.Milliseconds(), c.Tokens.IDTokenLifetime.Milliseconds(),
		c.Tokens.RefreshLifetime.Milliseconds(), c.Tokens.RefreshIdleLifetime.Milliseconds(), c.Tokens.RefreshTokens,
		c.DPoPBound, c.ID)
	if err != nil {
		return fmt.Errorf("update client %q: %w", c.ID, err)
	}
	return nil
}

// DeleteClient deletes the client with its device authorizations and grants
// (and so their refresh tokens); ErrNotFound if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM clients WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}
