package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// attachedGrants selects the active grants approved in session ? whose
// client is attached: what signing that session out revokes.
const attachedGrants = `SELECT g.id FROM grants g JOIN clients c ON c.id = g.client_id
	WHERE g.session_hash = ? AND g.revoked_at IS NULL AND c.session_attachment = 'attached'`

// RevokeGrantsBySession revokes the attached clients' active grants
// approved in the browser session sessionHash, and ends their refresh
// tokens as RevokeGrant does, in one transaction: sign-out leaves no such
// grant half revoked. The refresh tokens go first, while the grants still
// read as active.
func (s *Store) RevokeGrantsBySession(ctx context.Context, sessionHash string, now time.Time) (int, error) {
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return 0, nil // no grant has such a session
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("revoke grants by session: %w", mapErr(err))
	}
	defer tx.Rollback()
	ms := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET expires_at = ?
		WHERE grant_id IN (`+attachedGrants+`) AND (expires_at IS NULL OR expires_at > ?)`,
		ms, sessionHash, ms); err != nil {
		return 0, fmt.Errorf("revoke grants by session: refresh tokens: %w", mapErr(err))
	}
	res, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = ? WHERE id IN (`+attachedGrants+`)`,
		ms, sessionHash)
	if err != nil {
		return 0, fmt.Errorf("revoke grants by session: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke grants by session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("revoke grants by session: commit: %w", mapErr(err))
	}
	return int(n), nil
}

// TouchSession moves the session's last_seen_at forward to now, never back,
// so a late write from a slower request cannot make a session look idle.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := s.execOne(ctx, `UPDATE sessions SET last_seen_at = max(COALESCE(last_seen_at, 0), ?) WHERE hash = ?`,
		now.UnixMilli(), hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}
