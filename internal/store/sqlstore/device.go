package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The status strings in the SQL are store.DevicePending and its siblings;
// storetest checks every one of them comes back as the constant.

// DeviceColumns are a device authorization's columns, in the order
// DeviceDest scans them.
const DeviceColumns = `device_code_hash, user_code_hash, client_id, client_public, scopes, status,
	user_id, interval_ms, last_poll_at, created_at, expires_at, decided_at, grant_id,
	request_ip, request_user_agent, session_hash, subject, claims, auth_time, error_code, error_description`

// DeviceDest is where a row of DeviceColumns scans into a.
func DeviceDest(a *store.DeviceAuth) []any {
	return []any{&a.DeviceCodeHash, &a.UserCodeHash, &a.ClientID, &a.ClientPublic, listCol{&a.Scopes}, &a.Status,
		optionalCol{&a.UserID}, durationCol{&a.Interval}, TimeCol{&a.LastPollAt}, TimeCol{&a.CreatedAt},
		TimeCol{&a.ExpiresAt}, TimeCol{&a.DecidedAt}, optionalCol{&a.GrantID},
		&a.RequestIP, &a.RequestUserAgent, optionalCol{&a.SessionHash},
		optionalCol{&a.Subject}, optionalCol{&a.Claims}, TimeCol{&a.AuthTime},
		optionalCol{&a.ErrorCode}, optionalCol{&a.ErrorDescription}}
}

// ScanDeviceAuth scans a row of DeviceColumns.
func ScanDeviceAuth(row Row) (*store.DeviceAuth, error) {
	var a store.DeviceAuth
	if err := row.Scan(DeviceDest(&a)...); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateDeviceAuth stores a new request; ErrConflict if its device code hash
// or user code hash is taken, ErrNotFound if its client does not exist. It
// is batched: a burst of devices starting at once shares commits.
func (s *Store) CreateDeviceAuth(ctx context.Context, a *store.DeviceAuth) error {
	if !store.ValidText(a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.Status, a.UserID, a.GrantID,
		a.RequestIP, a.RequestUserAgent, a.SessionHash, a.Subject, a.Claims, a.ErrorCode, a.ErrorDescription) ||
		!store.ValidText(a.Scopes...) {
		return fmt.Errorf("create device authorization: %w", store.ErrInvalid)
	}
	err := s.b.Batch(ctx, Write{Key: DeviceKey(a.DeviceCodeHash),
		Query: `INSERT INTO device_authorizations (` + DeviceColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		Args: []any{a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.ClientPublic, jsonList(a.Scopes), a.Status,
			optional(a.UserID), a.Interval.Milliseconds(), Millis(a.LastPollAt), Millis(a.CreatedAt),
			Millis(a.ExpiresAt), Millis(a.DecidedAt), optional(a.GrantID),
			a.RequestIP, a.RequestUserAgent, optional(a.SessionHash),
			optional(a.Subject), optional(a.Claims), Millis(a.AuthTime), optional(a.ErrorCode), optional(a.ErrorDescription)}})
	if err != nil {
		return fmt.Errorf("create device authorization: %w", err)
	}
	return nil
}

// DeviceKey names the device authorization row with device code hash h
// (Write.Key).
func DeviceKey(h string) RowKey { return RowKey{Table: "device_authorizations", Key: h} }

// GetDeviceAuthByUserCode returns the authorization whose user code hashes to
// userCodeHash, in whatever state it is.
func (s *Store) GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	a, err := ScanDeviceAuth(s.b.Reader().QueryRow(ctx,
		`SELECT `+DeviceColumns+` FROM device_authorizations WHERE user_code_hash = $1`, userCodeHash))
	if err != nil {
		return nil, err
	}
	s.b.ShowPolls(a)
	return a, nil
}

// DecideDeviceAuth approves or denies a pending, unexpired authorization in
// one conditional update, so of two decisions racing exactly one lands: on
// PostgreSQL the second waits for the first's row lock, then finds the row
// no longer pending (READ COMMITTED re-checks the WHERE clause on the row's
// newest version); on SQLite the one writer takes them in turn.
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
	a, err := ScanDeviceAuth(s.b.Writer().QueryRow(ctx, `UPDATE device_authorizations
		SET status = $1, user_id = $2, decided_at = $3, session_hash = $5
		WHERE user_code_hash = $4 AND status = 'pending' AND expires_at > $3
		RETURNING `+DeviceColumns,
		status, optional(userID), now.UnixMilli(), userCodeHash, optional(sessionHash)))
	if err == nil {
		s.b.ShowPolls(a)
		return a, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("decide device authorization: %w", err)
	}
	// Nothing matched: tell an unknown code from one that is decided or expired.
	ok, err := exists(ctx, s.b.Reader(), `SELECT 1 FROM device_authorizations WHERE user_code_hash = $1`, userCodeHash)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("decide device authorization: no longer pending: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// CompleteDeviceAuth records a decision made through the service API in
// one conditional update, as DecideDeviceAuth does for a person of ours, so
// of concurrent completions exactly one lands.
func (s *Store) CompleteDeviceAuth(ctx context.Context, userCodeHash string, d *store.DeviceCompletion, now time.Time) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(d.Subject, d.Claims, d.ErrorCode, d.ErrorDescription) || !store.ValidText(d.Scopes...) {
		return nil, fmt.Errorf("complete device authorization: %w", store.ErrInvalid)
	}
	status := store.DeviceDenied
	if d.Approve {
		status = store.DeviceApproved
	}
	var scopes any // NULL keeps the requested scopes
	if d.Scopes != nil {
		scopes = jsonList(d.Scopes)
	}
	a, err := ScanDeviceAuth(s.b.Writer().QueryRow(ctx, `UPDATE device_authorizations
		SET status = $1, decided_at = $3, subject = $4, claims = $5, auth_time = $6,
			error_code = $7, error_description = $8, scopes = COALESCE($9, scopes)
		WHERE user_code_hash = $2 AND status = 'pending' AND expires_at > $3
		RETURNING `+DeviceColumns,
		status, userCodeHash, now.UnixMilli(), optional(d.Subject), optional(d.Claims), Millis(d.AuthTime),
		optional(d.ErrorCode), optional(d.ErrorDescription), scopes))
	if err == nil {
		s.b.ShowPolls(a)
		return a, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("complete device authorization: %w", err)
	}
	ok, err := exists(ctx, s.b.Reader(), `SELECT 1 FROM device_authorizations WHERE user_code_hash = $1`, userCodeHash)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("complete device authorization: no longer pending: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// PollDeviceAuth decides one poll by clientID, which each backend does its
// own way (Backend.PollDeviceAuth). Another client's device code, or a
// confidential client's when publicOnly is set, is ErrNotFound, and nothing
// changes.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
	if !store.ValidText(deviceCodeHash, clientID) {
		return nil, store.ErrNotFound
	}
	return s.b.PollDeviceAuth(ctx, deviceCodeHash, clientID, publicOnly, now)
}

// RedeemDeviceAuth moves an approved, unexpired authorization to consumed
// for g and stores g and refresh (nil for none), in one transaction: a
// failure anywhere, the connection included, rolls it all back, and the next
// poll tries again. Of concurrent redemptions, on any number of instances,
// exactly one finds the row approved: on PostgreSQL the others wait for its
// row lock, then (READ COMMITTED) re-check the WHERE clause against the
// consumed row, or against the approved one if the winner rolled back; on
// SQLite the one writer (BEGIN IMMEDIATE) takes them in turn.
func (s *Store) RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) error {
	if !store.ValidText(deviceCodeHash) {
		return store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return fmt.Errorf("redeem device authorization: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE device_authorizations SET status = 'consumed', grant_id = $2
			WHERE device_code_hash = $1 AND status = 'approved' AND expires_at > $3`,
			deviceCodeHash, g.ID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n == 0 {
			// Nothing matched: tell an unknown code from one that another
			// redemption won, or that expired.
			ok, err := exists(ctx, q, `SELECT 1 FROM device_authorizations WHERE device_code_hash = $1`, deviceCodeHash)
			if err != nil {
				return err
			}
			if ok {
				return fmt.Errorf("not approved or expired: %w", store.ErrConflict)
			}
			return store.ErrNotFound
		}
		if err := insertGrantAndToken(ctx, q, g, refresh); err != nil {
			return err
		}
		// Where the device asked from, for the person's account page.
		_, err = q.Exec(ctx, `UPDATE grants SET
			origin_ip = (SELECT request_ip FROM device_authorizations WHERE device_code_hash = $1),
			origin_user_agent = (SELECT request_user_agent FROM device_authorizations WHERE device_code_hash = $1)
			WHERE id = $2`, deviceCodeHash, g.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", err)
	}
	return nil
}
