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
	a, err := scanDeviceAuth(s.r.QueryRowContext(ctx,
		`SELECT `+deviceColumns+` FROM device_authorizations WHERE user_code_hash = ?`, userCodeHash))
	if err != nil {
		return nil, err
	}
	s.polls.show(a)
	return a, nil
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
	if err == nil {
		s.polls.show(a)
	}
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

// pollQuery reads the authorization a poll by clientID is about. Another
// client's device code, or a confidential client's for a poll without a
// secret (:public_only), matches no row.
const pollQuery = `SELECT ` + deviceColumns + ` FROM device_authorizations
	WHERE device_code_hash = :device_code_hash AND client_id = :client_id
		AND (client_public = 1 OR NOT :public_only)`

// PollDeviceAuth decides one poll by clientID and records it. The row is
// read on a reader connection; the poll's time and the interval live in the
// store's pollBook (polls.go), which decides the outcome, so a poll writes
// nothing to the file. Another client's device code, or a confidential
// client's when publicOnly is set, is ErrNotFound, and nothing changes.
//
// An approval or a redemption that commits while a poll is between its read
// and its answer is seen by the next poll: a poll that answers issue for a
// code another poll has just redeemed finds it consumed in
// RedeemDeviceAuth, which decides among them.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
	if !store.ValidText(deviceCodeHash, clientID) {
		return nil, store.ErrNotFound
	}
	a, err := scanDeviceAuth(s.r.QueryRowContext(ctx, pollQuery,
		sql.Named("device_code_hash", deviceCodeHash),
		sql.Named("client_id", clientID),
		sql.Named("public_only", publicOnly)))
	if err != nil {
		return nil, err
	}
	outcome := s.polls.poll(a, now)
	if outcome == "" {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: outcome, Auth: a}, nil
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
