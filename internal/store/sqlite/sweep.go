package sqlite

import (
	"context"
	"fmt"
	"time"
)

// sweeps are the expired rows Sweep deletes, each by an indexed expires_at.
// A user's grants stay: they are the record of what a user allowed, and
// their refresh tokens go when those expire. Grants without a user (client
// credentials, one per token) go once expired.
var sweeps = []string{
	`DELETE FROM device_authorizations WHERE expires_at < ?`,
	`DELETE FROM sessions WHERE expires_at < ?`,
	`DELETE FROM refresh_tokens WHERE expires_at < ?`,
	`DELETE FROM throttles WHERE expires_at < ?`,
	`DELETE FROM authorization_requests WHERE expires_at < ?`,
	`DELETE FROM authorization_codes WHERE expires_at < ?`,
	`DELETE FROM grants WHERE user_id IS NULL AND expires_at < ?`,
	`DELETE FROM revoked_jtis WHERE expires_at < ?`,
}

// Sweep deletes device authorizations, sessions, refresh tokens, throttle
// windows, authorization requests and codes, user-less grants and records of
// revoked access tokens that ended before now, in one transaction, and
// returns how many rows went.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var total int64
	for _, q := range sweeps {
		res, err := tx.ExecContext(ctx, q, now.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sweep: %w", err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	return total, nil
}
