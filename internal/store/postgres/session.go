package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// CreateSession stores s; ErrConflict if its hash is taken, ErrNotFound if
// its user does not exist.
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	if !store.ValidText(sess.Hash, sess.UserID) {
		return fmt.Errorf("create session: %w", store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, auth_time, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		sess.Hash, sess.UserID, millis(sess.AuthTime), millis(sess.CreatedAt), millis(sess.ExpiresAt), millis(sess.LastSeenAt))
	if err != nil {
		return fmt.Errorf("create session: %w", mapErr(err))
	}
	return nil
}

// GetSession returns the session stored under hash if it has not expired at
// now; an expired one is ErrNotFound, as if Sweep had run.
func (s *Store) GetSession(ctx context.Context, hash string, now time.Time) (*store.Session, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	var sess store.Session
	err := s.pool.QueryRow(ctx, `SELECT hash, user_id, auth_time, created_at, expires_at, last_seen_at
		FROM sessions WHERE hash = $1 AND expires_at > $2`, hash, now.UnixMilli()).
		Scan(&sess.Hash, &sess.UserID,
			timeCol{&sess.AuthTime}, timeCol{&sess.CreatedAt}, timeCol{&sess.ExpiresAt}, timeCol{&sess.LastSeenAt})
	if err != nil {
		return nil, mapErr(err)
	}
	return &sess, nil
}

// DeleteSession deletes the session stored under hash. Deleting one that is
// gone already is not an error: signing out twice is still signed out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if !store.ValidText(hash) {
		return nil // no such session: gone already
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", mapErr(err))
	}
	return nil
}
