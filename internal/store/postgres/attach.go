package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// RevokeGrantsBySession revokes the attached clients' active grants
// approved in the browser session sessionHash, and ends their refresh
// tokens as RevokeGrant does. One statement: the data-modifying WITH runs
// to completion whether or not the outer query reads it, so the grants and
// their tokens are revoked together or not at all. Two sign-outs of one
// session racing both find the grants active; each row is locked by the
// first, and the second (READ COMMITTED) re-checks revoked_at IS NULL and
// skips it, so every grant is revoked once, at the first time.
func (s *Store) RevokeGrantsBySession(ctx context.Context, sessionHash string, now time.Time) (int, error) {
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return 0, nil // no grant has such a session
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH g AS (
			UPDATE grants SET revoked_at = $2
			WHERE session_hash = $1 AND revoked_at IS NULL
				AND client_id IN (SELECT id FROM clients WHERE session_attachment = 'attached')
			RETURNING id
		), t AS (
			UPDATE refresh_tokens SET expires_at = $2
			WHERE grant_id IN (SELECT id FROM g) AND (expires_at IS NULL OR expires_at > $2)
		)
		SELECT count(*) FROM g`, sessionHash, now.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("revoke grants by session: %w", mapErr(err))
	}
	return n, nil
}

// TouchSession moves the session's last_seen_at forward to now, never back,
// so a late write from a slower request cannot make a session look idle.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := s.execOne(ctx, `UPDATE sessions SET last_seen_at = GREATEST(COALESCE(last_seen_at, 0), $2) WHERE hash = $1`,
		hash, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}
