package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// throttleKey names key's row for the window starting at window (Write.Key).
func throttleKey(key string, window time.Time) RowKey {
	return RowKey{Table: "throttles", Key: key, N: window.UnixMilli()}
}

// Hit adds one to key's count in the window starting at window, in one
// upsert, and returns the new count: concurrent hits each see a distinct
// count (on PostgreSQL, ON CONFLICT DO UPDATE locks the row and updates its
// newest version; on SQLite the one writer takes them in turn). It is
// batched: each device authorization counts two keys, each wrong user code
// or password several.
func (s *Store) Hit(ctx context.Context, key string, window, until time.Time) (int, error) {
	n, err := s.add(ctx, key, window, until, 1)
	if err != nil {
		return 0, fmt.Errorf("throttle hit: %w", err)
	}
	return n, nil
}

// Add adds n (at least one) to key's count in the window starting at
// window and returns the new count: Hit for the events an instance counted
// itself first (throttle.PerMinute), in the same upsert.
func (s *Store) Add(ctx context.Context, key string, window, until time.Time, n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("throttle add %d: %w", n, store.ErrInvalid)
	}
	total, err := s.add(ctx, key, window, until, n)
	if err != nil {
		return 0, fmt.Errorf("throttle add: %w", err)
	}
	return total, nil
}

func (s *Store) add(ctx context.Context, key string, window, until time.Time, n int) (int, error) {
	if !store.ValidText(key) {
		return 0, store.ErrInvalid
	}
	var total int
	err := s.b.Batch(ctx, Write{Key: throttleKey(key, window),
		Query: `INSERT INTO throttles (key, window_start, count, expires_at) VALUES ($1, $2, $4, $3)
		ON CONFLICT (key, window_start) DO UPDATE
		SET count = throttles.count + excluded.count, expires_at = ` + s.f.Greatest + `(throttles.expires_at, excluded.expires_at)
		RETURNING count`,
		Args: []any{key, window.UnixMilli(), until.UnixMilli(), n},
		Scan: func(row Row) error { return row.Scan(&total) }})
	if err != nil {
		return 0, err // total may yet be written: see Write.Scan
	}
	return total, nil
}

// Refund takes one back from key's count in the window starting at window,
// never below zero; a window with nothing counted stays so. It is batched
// with the hits of the same key, in order.
func (s *Store) Refund(ctx context.Context, key string, window time.Time) error {
	if !store.ValidText(key) {
		return nil // nothing was counted under it
	}
	err := s.b.Batch(ctx, Write{Key: throttleKey(key, window),
		Query: `UPDATE throttles SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0`,
		Args:  []any{key, window.UnixMilli()}})
	if err != nil {
		return fmt.Errorf("throttle refund: %w", err)
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
	err := s.b.Reader().QueryRow(ctx, `SELECT count FROM throttles WHERE key = $1 AND window_start = $2`,
		key, window.UnixMilli()).Scan(&n)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("throttle count: %w", err)
	}
	return n, nil
}

// Sum adds up key's counts over the windows starting in [from, to), one
// range read of the primary key (key, window_start): a sliding window made
// of fixed slices.
func (s *Store) Sum(ctx context.Context, key string, from, to time.Time) (int, error) {
	if !store.ValidText(key) {
		return 0, nil // nothing was counted under it
	}
	var n int64
	err := s.b.Reader().QueryRow(ctx, `SELECT COALESCE(SUM(count), 0) FROM throttles
		WHERE key = $1 AND window_start >= $2 AND window_start < $3`,
		key, from.UnixMilli(), to.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("throttle sum: %w", err)
	}
	return int(n), nil
}
