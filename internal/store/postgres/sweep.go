package postgres

import (
	"context"
	"fmt"
	"time"
)

// Sweep deletes device authorizations, sessions, refresh tokens, throttle
// windows, authorization requests and codes, user-less grants and records
// of revoked access tokens that ended before now, each by an indexed
// expires_at, in one statement, and returns how many rows went. A user's grants stay:
// they are the record of what a user allowed.
// Instances sweeping at once do no harm: a row another sweep deleted first is
// skipped, not counted twice.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `WITH
		d AS (DELETE FROM device_authorizations WHERE expires_at < $1 RETURNING 1),
		s AS (DELETE FROM sessions WHERE expires_at < $1 RETURNING 1),
		r AS (DELETE FROM refresh_tokens WHERE expires_at < $1 RETURNING 1),
		t AS (DELETE FROM throttles WHERE expires_at < $1 RETURNING 1),
		q AS (DELETE FROM authorization_requests WHERE expires_at < $1 RETURNING 1),
		c AS (DELETE FROM authorization_codes WHERE expires_at < $1 RETURNING 1),
		g AS (DELETE FROM grants WHERE user_id IS NULL AND expires_at < $1 RETURNING 1),
		a AS (DELETE FROM revoked_jtis WHERE expires_at < $1 RETURNING 1)
		SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM s) + (SELECT count(*) FROM r) + (SELECT count(*) FROM t)
			+ (SELECT count(*) FROM q) + (SELECT count(*) FROM c) + (SELECT count(*) FROM g) + (SELECT count(*) FROM a)`,
		now.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", mapErr(err))
	}
	return n, nil
}
