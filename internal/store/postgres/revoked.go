package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// RevokeAccessToken records jti as revoked until expiresAt; a second
// revocation keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, jti, clientID string, expiresAt time.Time) error {
	if !store.ValidText(jti, clientID) {
		return fmt.Errorf("revoke access token: %w", store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO revoked_jtis (jti, client_id, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`, jti, clientID, expiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("revoke access token: %w", mapErr(err))
	}
	return nil
}

// AccessTokenRevoked reports whether jti was revoked.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if !store.ValidText(jti) {
		return false, nil
	}
	return exists(ctx, s.pool, `SELECT 1 FROM revoked_jtis WHERE jti = $1 LIMIT 1`, jti)
}
