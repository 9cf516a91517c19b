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
	request_ip, request_user_agent`

// deviceDest is where a row of deviceColumns scans into a.
func deviceDest(a *store.DeviceAuth) []any {
	return []any{&a.DeviceCodeHash, &a.UserCodeHash, &a.ClientID, &a.ClientPublic, listCol{&a.Scopes}, &a.Status,
		optionalCol{&a.UserID}, durationCol{&a.Interval}, timeCol{&a.LastPollAt}, timeCol{&a.CreatedAt},
		timeCol{&a.ExpiresAt}, timeCol{&a.DecidedAt}, optionalCol{&a.GrantID},
		&a.RequestIP, &a.RequestUserAgent}
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
		a.RequestIP, a.RequestUserAgent) || !store.ValidText(a.Scopes...) {
		return fmt.Errorf("create device authorization: %w", store.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO device_authorizations (`+deviceColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.ClientPublic, list(a.Scopes), a.Status,
		optional(a.UserID), a.Interval.Milliseconds(), millis(a.LastPollAt), millis(a.CreatedAt),
		millis(a.ExpiresAt), millis(a.DecidedAt), optional(a.GrantID),
		a.RequestIP, a.RequestUserAgent)
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
func (s *Store) DecideDeviceAuth(ctx context.Context, userCodeHash, userID string, approve bool, now time.Time) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(userID) {
		return nil, fmt.Errorf("decide device authorization: user id: %w", store.ErrInvalid)
	}
	status := store.DeviceDenied
	if approve {
		status = store.DeviceApproved
	}
	a, err := scanDeviceAuth(s.w.QueryRowContext(ctx, `UPDATE device_authorizations
		SET status = ?, user_id = ?, decided_at = ?
		WHERE user_code_hash = ? AND status = 'pending' AND expires_at > ?
		RETURNING `+deviceColumns,
		status, optional(userID), now.UnixMilli(), userCodeHash, now.UnixMilli()))
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
// outcome, the new interval and the new status all see the same state, and
// the statement as a whole is atomic. In order:
//   - expired: past expires_at, whatever else holds (expired_token);
//   - used: tokens went to an earlier poll (invalid_grant);
//   - slow_down: sooner than the interval after the previous poll, less
//     store.PollTolerance; the interval then grows by store.SlowDownStep;
//   - pending, denied, or issue for an approved authorization, which this
//     same statement moves to consumed, so only one poll ever sees issue.
const pollOutcome = `CASE
		WHEN :now >= expires_at THEN 'expired'
		WHEN status = 'consumed' THEN 'used'
		WHEN last_poll_at IS NOT NULL AND :now < last_poll_at + interval_ms - :tolerance THEN 'slow_down'
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
		status = CASE WHEN ` + pollOutcome + ` = 'issue' THEN 'consumed' ELSE status END,
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
	err := s.w.QueryRowContext(ctx, pollStatement,
		sql.Named("now", now.UnixMilli()),
		sql.Named("tolerance", store.PollTolerance.Milliseconds()),
		sql.Named("step", store.SlowDownStep.Milliseconds()),
		sql.Named("device_code_hash", deviceCodeHash),
		sql.Named("client_id", clientID),
		sql.Named("public_only", publicOnly),
	).Scan(append(deviceDest(&a), &outcome)...)
	if err != nil {
		return nil, mapErr(err)
	}
	if !outcome.Valid {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: outcome.String, Auth: &a}, nil
}

// SetDeviceAuthGrant records the grant issued for a consumed authorization.
// ErrNotFound if there is no such authorization; ErrConflict if it is not
// consumed or records another grant already.
func (s *Store) SetDeviceAuthGrant(ctx context.Context, deviceCodeHash, grantID string) error {
	if !store.ValidText(deviceCodeHash) {
		return store.ErrNotFound
	}
	if !store.ValidText(grantID) {
		return fmt.Errorf("set device authorization grant: %w", store.ErrInvalid)
	}
	err := s.execOne(ctx, `UPDATE device_authorizations SET grant_id = ?
		WHERE device_code_hash = ? AND status = 'consumed' AND (grant_id IS NULL OR grant_id = ?)`,
		optional(grantID), deviceCodeHash, grantID)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := s.exists(ctx, `SELECT 1 FROM device_authorizations WHERE device_code_hash = ?`, deviceCodeHash)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("set device authorization grant: %w", store.ErrConflict)
	}
	return store.ErrNotFound
}
