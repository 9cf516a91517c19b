package sqlstore

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
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO sessions (hash, user_id, auth_time, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		sess.Hash, sess.UserID, Millis(sess.AuthTime), Millis(sess.CreatedAt), Millis(sess.ExpiresAt), Millis(sess.LastSeenAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
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
	err := s.b.Reader().QueryRow(ctx, `SELECT hash, user_id, auth_time, created_at, expires_at, last_seen_at
		FROM sessions WHERE hash = $1 AND expires_at > $2`, hash, now.UnixMilli()).
		Scan(&sess.Hash, &sess.UserID, TimeCol{&sess.AuthTime}, TimeCol{&sess.CreatedAt}, TimeCol{&sess.ExpiresAt},
			TimeCol{&sess.LastSeenAt})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// TouchSession moves the session's last_seen_at forward to now, never back,
// so a late write from a slower request cannot make a session look idle.
func (s *Store) TouchSession(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := execOne(ctx, s.b.Writer(), `UPDATE sessions SET last_seen_at = `+s.f.Greatest+`(COALESCE(last_seen_at, 0), $2)
		WHERE hash = $1`, hash, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// Reauthenticate sets the session's auth_time to at, never back.
func (s *Store) Reauthenticate(ctx context.Context, hash string, at time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := execOne(ctx, s.b.Writer(), `UPDATE sessions SET auth_time = `+s.f.Greatest+`(auth_time, $2) WHERE hash = $1`,
		hash, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("reauthenticate session: %w", err)
	}
	return nil
}

// DeleteSession deletes the session stored under hash. Deleting one that is
// gone already is not an error: signing out twice is still signed out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if !store.ValidText(hash) {
		return nil // no such session: gone already
	}
	if _, err := s.b.Writer().Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
