package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Hit adds one to key's count in the window starting at window, in one
// upsert, and returns the new count: concurrent hits each see a distinct count.
func (s *Store) Hit(ctx context.Context, key string, window, until time.Time) (int, error) {
	if !store.ValidText(key) {
		return 0, fmt.Errorf("throttle hit: %w", store.ErrInvalid)
	}
	var n int
	err := s.batch.do(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, `INSERT INTO throttles (key, window_start, count, expires_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1, expires_at = max(expires_at, excluded.expires_at)
		RETURNING count`, key, window.UnixMilli(), until.UnixMilli()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("throttle hit: %w", err)
	}
	return n, nil
}

// Refund takes one back from key's count in the window starting at window,
// never below zero; a window with nothing counted stays so.
func (s *Store) Refund(ctx context.Context, key string, window time.Time) error {
	if !store.ValidText(key) {
		return nil // nothing was counted under it
	}
	err := s.batch.do(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `UPDATE throttles SET count = count - 1
			WHERE key = ? AND window_start = ? AND count > 0`, key, window.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("throttle refund: %w", mapErr(err))
	}
	return nil
}

// Count returns key's count in the window starting at window: 0 when nothing
// was counted.
func (s *Store) Count(ctx context.Context, key string, window time.Time) (int, error) {
	if !store.ValidText(key) {
		return 0, nil // nothing was counted under it
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count FROM throttles WHERE key = ? AND window_start = ?`,
		key, window.UnixMilli()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("throttle count: %w", err)
	}
	return n, nil
}
