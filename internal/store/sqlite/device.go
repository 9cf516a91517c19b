package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The status strings in the SQL below are store.DevicePending and its
// siblings, and the outcomes store.PollPending and its siblings; storetest
// checks every one of them comes back as the constant.

const deviceColumns = `device_code_hash, user_code_hash, client_id, client_public, scopes, status,
	user_id, interval_ms, last_poll_at, created_at, expires_at, decided_at, grant_id,
	request_ip, request_user_agent, session_hash`

// deviceDest is where a row of deviceColumns scans into a.
func deviceDest(a *store.DeviceAuth) []any {
	return []any{&a.DeviceCodeHash, &a.UserCodeHash, &a.ClientID, &a.ClientPublic, listCol{&a.Scopes}, &a.Status,
		optionalCol{&a.UserID}, durationCol{&a.Interval}, timeCol{&a.LastPollAt}, timeCol{&a.CreatedAt},
		timeCol{&a.ExpiresAt}, timeCol{&a.DecidedAt}, optionalCol{&a.GrantID},
		&a.RequestIP, &a.RequestUserAgent, optionalCol{&a.SessionHash}}
}

func scanDeviceAuth(row rowScanner) (*store.DeviceAuth, error) {
	var a store.DeviceAuth
	if err := row.Scan(deviceDest(&a)...); err != nil {
		return nil, mapErr(err)
	}
	return &a, nil
}

// CreateDeviceAuth stores a new request; ErrConflict if its device code hash
// or user code hash is taken, ErrNotFound if its client does not exist.
func (s *Store) CreateDeviceAuth(ctx context.Context, a *store.DeviceAuth) error {
	if !store.ValidText(a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.Status, a.UserID, a.GrantID,
		a.RequestIP, a.RequestUserAgent, a.SessionHash) || !store.ValidText(a.Scopes...) {
		return fmt.Errorf("create device authorization: %w", store.ErrInvalid)
	}
	err := s.batch.do(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO device_authorizations (`+deviceColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.ClientPublic, list(a.Scopes), a.Status,
			optional(a.UserID), a.Interval.Milliseconds(), millis(a.LastPollAt), millis(a.CreatedAt),
			millis(a.ExpiresAt), millis(a.DecidedAt), optional(a.GrantID),
			a.RequestIP, a.RequestUserAgent, optional(a.SessionHash))
		return err
	})
	if err != nil {
		return fmt.Errorf("create device authorization: %w", mapErr(err))
	}
	return nil
}

// GetDeviceAuthByUserCode returns the authorization whose user code hashes to
// userCodeHash, in whatever state it is.
func (s *Store) GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	return scanDeviceAuth(s.r.QueryRowContext(ctx,
		`SELECT `+deviceColumns+` FROM device_authorizations WHERE user_code_hash = ?`, userCodeHash))
}

// DecideDeviceAuth approves or denies a pending, unexpired authorization in
// one conditional update, so of two decisions racing exactly one lands.
func (s *Store) DecideDeviceAuth(ctx context.Context, userCodeHash, userID, sessionHash string, approve bool, now time.Time) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(userID, sessionHash) {
		return nil, fmt.Errorf("decide device authorization: user id or session: %w", store.ErrInvalid)
	}
	status := store.DeviceDenied
	if approve {
		status = store.DeviceApproved
	}
	a, err := scanDeviceAuth(s.w.QueryRowContext(ctx, `UPDATE device_authorizations
		SET status = ?, user_id = ?, decided_at = ?, session_hash = ?
		WHERE user_code_hash = ? AND status = 'pending' AND expires_at > ?
		RETURNING `+deviceColumns,
		status, optional(userID), now.UnixMilli(), optional(sessionHash), userCodeHash, now.UnixMilli()))
	if !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	// Nothing matched: tell an unknown code from one that is decided or expired.
	ok, err := s.exists(ctx, `SELECT 1 FROM device_authorizations WHERE user_code_hash = ?`, userCodeHash)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("decide device authorization: no longer pending: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// pollOutcome decides a poll (RFC 8628 §3.5) from the row as it was before
// the poll: SQLite evaluates every SET expression on the old row, so the
// outcome and the new interval see the same state, and the statement as a
// whole is atomic. In order:
//   - expired: past expires_at, whatever else holds (expired_token);
//   - used: RedeemDeviceAuth consumed it for an earlier poll (invalid_grant);
//   - slow_down: sooner than the interval after the previous poll, less the
//     tolerance min(store.PollTolerance, interval/5); the interval then grows
//     by store.SlowDownStep;
//   - pending, denied, or issue for an approved authorization. Issue changes
//     nothing but last_poll_at: the caller redeems the code with
//     RedeemDeviceAuth, which decides among callers that all saw issue.
const pollOutcome = `CASE
		WHEN :now >= expires_at THEN 'expired'
		WHEN status = 'consumed' THEN 'used'
		WHEN last_poll_at IS NOT NULL
			AND :now < last_poll_at + interval_ms - min(:tolerance, interval_ms / 5) THEN 'slow_down'
		WHEN status = 'pending' THEN 'pending'
		WHEN status = 'denied' THEN 'denied'
		WHEN status = 'approved' THEN 'issue'
	END`

// pollStatement records one poll and returns its outcome. last_poll_at is
// set on every poll, slow_down included: RFC 8628 §3.5 has the client wait
// the new interval from the slow_down answer, so that is what we measure from.
const pollStatement = `UPDATE device_authorizations SET
		last_outcome = ` + pollOutcome + `,
		interval_ms = interval_ms + CASE WHEN ` + pollOutcome + ` = 'slow_down' THEN :step ELSE 0 END,
		last_poll_at = :now
	WHERE device_code_hash = :device_code_hash AND client_id = :client_id
		AND (client_public = 1 OR NOT :public_only)
	RETURNING ` + deviceColumns + `, last_outcome`

// PollDeviceAuth records one poll by clientID and decides its outcome in a
// single statement. Another client's device code, or a confidential client's
// when publicOnly is set, matches no row: ErrNotFound, and nothing changes.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
	if !store.ValidText(deviceCodeHash, clientID) {
		return nil, store.ErrNotFound
	}
	var a store.DeviceAuth
	var outcome sql.NullString
	err := s.batch.do(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, pollStatement,
			sql.Named("now", now.UnixMilli()),
			sql.Named("tolerance", store.PollTolerance.Milliseconds()),
			sql.Named("step", store.SlowDownStep.Milliseconds()),
			sql.Named("device_code_hash", deviceCodeHash),
			sql.Named("client_id", clientID),
			sql.Named("public_only", publicOnly),
		).Scan(append(deviceDest(&a), &outcome)...)
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if !outcome.Valid {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: outcome.String, Auth: &a}, nil
}

// RedeemDeviceAuth moves an approved, unexpired authorization to consumed
// for g and stores g and refresh (nil for none), in one transaction: a
// failure anywhere rolls it all back, and the next poll tries again. Of
// concurrent redemptions exactly one finds the row approved; SQLite has one
// writer at a time, and BEGIN IMMEDIATE makes the others wait for it.
func (s *Store) RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) error {
	if !store.ValidText(deviceCodeHash) {
		return store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return fmt.Errorf("redeem device authorization: %w", store.ErrInvalid)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", mapErr(err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE device_authorizations SET status = 'consumed', grant_id = ?
		WHERE device_code_hash = ? AND status = 'approved' AND expires_at > ?`,
		g.ID, deviceCodeHash, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", err)
	}
	if n == 0 {
		// Nothing matched: tell an unknown code from one that another
		// redemption won, or that expired.
		ok, err := txExists(ctx, tx, `SELECT 1 FROM device_authorizations WHERE device_code_hash = ?`, deviceCodeHash)
		if err != nil {
			return fmt.Errorf("redeem device authorization: %w", err)
		}
		if ok {
			return fmt.Errorf("redeem device authorization: not approved or expired: %w", store.ErrConflict)
		}
		return store.ErrNotFound
	}
	if err := insertGrant(ctx, tx, g); err != nil {
		return fmt.Errorf("redeem device authorization: %w", err)
	}
	if refresh != nil {
		if err := insertRefreshToken(ctx, tx, refresh); err != nil {
			return fmt.Errorf("redeem device authorization: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("redeem device authorization: commit: %w", mapErr(err))
	}
	return nil
}
