package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	return []any{&a.DeviceCodeHash, &a.UserCodeHash, &a.ClientID, &a.ClientPublic,
		listCol{&a.Scopes}, &a.Status, optionalCol{&a.UserID}, durationCol{&a.Interval}, timeCol{&a.LastPollAt},
		timeCol{&a.CreatedAt}, timeCol{&a.ExpiresAt}, timeCol{&a.DecidedAt}, optionalCol{&a.GrantID},
		&a.RequestIP, &a.RequestUserAgent, optionalCol{&a.SessionHash}}
}

func scanDeviceAuth(row pgx.Row) (*store.DeviceAuth, error) {
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
	// Batched (batch.go): a burst of devices starting at once shares commits.
	err := s.writes.do(&write{ctx: ctx, key: deviceKey(a.DeviceCodeHash),
		sql: `INSERT INTO device_authorizations (` + deviceColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		args: []any{a.DeviceCodeHash, a.UserCodeHash, a.ClientID, a.ClientPublic, jsonList(a.Scopes), a.Status,
			optional(a.UserID), a.Interval.Milliseconds(), millis(a.LastPollAt), millis(a.CreatedAt),
			millis(a.ExpiresAt), millis(a.DecidedAt), optional(a.GrantID),
			a.RequestIP, a.RequestUserAgent, optional(a.SessionHash)}})
	if err != nil {
		return fmt.Errorf("create device authorization: %w", mapErr(err))
	}
	return nil
}

// deviceKey is the batch ordering key (see write.key) of the device
// authorization row with device code hash h.
func deviceKey(h string) string { return "device_authorizations\x00" + h }

// GetDeviceAuthByUserCode returns the authorization whose user code hashes to
// userCodeHash, in whatever state it is.
func (s *Store) GetDeviceAuthByUserCode(ctx context.Context, userCodeHash string) (*store.DeviceAuth, error) {
	if !store.ValidText(userCodeHash) {
		return nil, store.ErrNotFound
	}
	return scanDeviceAuth(s.pool.QueryRow(ctx,
		`SELECT `+deviceColumns+` FROM device_authorizations WHERE user_code_hash = $1`, userCodeHash))
}

// DecideDeviceAuth approves or denies a pending, unexpired authorization in
// one conditional update, so of two decisions racing exactly one lands: the
// second waits for the first's row lock, then finds the row no longer pending
// (READ COMMITTED re-checks the WHERE clause on the row's newest version).
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
	a, err := scanDeviceAuth(s.pool.QueryRow(ctx, `UPDATE device_authorizations
		SET status = $1, user_id = $2, decided_at = $3, session_hash = $5
		WHERE user_code_hash = $4 AND status = 'pending' AND expires_at > $3
		RETURNING `+deviceColumns,
		status, optional(userID), now.UnixMilli(), userCodeHash, optional(sessionHash)))
	if !errors.Is(err, store.ErrNotFound) {
		return a, err
	}
	// Nothing matched: tell an unknown code from one that is decided or expired.
	ok, err := exists(ctx, s.pool, `SELECT 1 FROM device_authorizations WHERE user_code_hash = $1`, userCodeHash)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, fmt.Errorf("decide device authorization: no longer pending: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// pollOutcome decides a poll (RFC 8628 §3.5) from the row as it was before
// the poll: every SET expression of an UPDATE sees the old row, so the
// outcome and the new interval see the same state. In order:
//   - expired: past expires_at, whatever else holds (expired_token);
//   - used: RedeemDeviceAuth consumed it for an earlier poll (invalid_grant);
//   - slow_down: sooner than the interval after the previous poll, less the
//     tolerance min(store.PollTolerance, interval/5); the interval then grows
//     by store.SlowDownStep;
//   - pending, denied, or issue for an approved authorization. Issue changes
//     nothing but last_poll_at: the caller redeems the code with
//     RedeemDeviceAuth, which decides among callers that all saw issue.
//
// The parameters are positional ($1 now, $2 tolerance, $3 step, $4 device
// code hash, $5 client id, $6 public only): pgx.NamedArgs would rewrite the
// SQL text on every poll.
const pollOutcome = `CASE
		WHEN $1 >= expires_at THEN 'expired'
		WHEN status = 'consumed' THEN 'used'
		WHEN last_poll_at IS NOT NULL
			AND $1 < last_poll_at + interval_ms - LEAST($2::bigint, interval_ms / 5) THEN 'slow_down'
		WHEN status = 'pending' THEN 'pending'
		WHEN status = 'denied' THEN 'denied'
		WHEN status = 'approved' THEN 'issue'
	END`

// pollStatement records one poll and returns its outcome. last_poll_at is
// set on every poll, slow_down included: RFC 8628 §3.5 has the client wait
// the new interval from the slow_down answer, so that is what we measure from.
//
// Concurrent polls of one code, on any number of instances, take turns: the
// first to reach the row locks it, and the others wait. Under READ COMMITTED
// (which Open sets for every session), when the first commits PostgreSQL
// re-evaluates each waiting UPDATE's WHERE clause and SET expressions against
// the row's newest version, so each poll sees the last_poll_at and interval
// the one before it left, and no slow_down is lost.
const pollStatement = `UPDATE device_authorizations SET
		last_outcome = ` + pollOutcome + `,
		interval_ms = interval_ms + CASE WHEN ` + pollOutcome + ` = 'slow_down' THEN $3::bigint ELSE 0 END,
		last_poll_at = $1
	WHERE device_code_hash = $4 AND client_id = $5
		AND (client_public OR NOT $6::boolean)
	RETURNING ` + deviceColumns + `, last_outcome`

// PollDeviceAuth records one poll by clientID and decides its outcome in a
// single statement. Another client's device code, or a confidential client's
// when publicOnly is set, matches no row: ErrNotFound, and nothing changes.
func (s *Store) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
	if !store.ValidText(deviceCodeHash, clientID) {
		return nil, store.ErrNotFound
	}
	var a store.DeviceAuth
	var outcome *string // NULL for a status the CASE does not know
	// Batched (batch.go): most requests to a device server are polls. Their
	// batches commit with synchronous_commit off, not waiting for the WAL
	// to reach the disk, because a poll changes only soft state: the poll
	// time, the interval and the outcome it answered. A crash within a
	// moment of the commit (at most three wal_writer_delay) may lose that
	// change: the next poll is then measured from the one before, which
	// can cost one slow_down, never add one. Nothing else is lost with it:
	// any later synchronous commit (an approval, a redemption) flushes the
	// WAL up to itself, so the polls before it too; and a code a poll
	// answered issue for is redeemed by RedeemDeviceAuth, durably.
	err := s.polls.do(&write{ctx: ctx, key: deviceKey(deviceCodeHash),
		sql: pollStatement,
		args: []any{now.UnixMilli(), store.PollTolerance.Milliseconds(),
			store.SlowDownStep.Milliseconds(), deviceCodeHash, clientID, publicOnly},
		scan: func(row pgx.Row) error {
			a, outcome = store.DeviceAuth{}, nil
			return row.Scan(append(deviceDest(&a), &outcome)...)
		}})
	if err != nil {
		return nil, mapErr(err)
	}
	if outcome == nil {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: *outcome, Auth: &a}, nil
}

// RedeemDeviceAuth moves an approved, unexpired authorization to consumed
// for g and stores g and refresh (nil for none), in one transaction: a
// failure anywhere, the connection included, rolls it all back, and the next
// poll tries again. Of concurrent redemptions, on any number of instances,
// exactly one finds the row approved: the others wait for its row lock, then
// (READ COMMITTED) re-check the WHERE clause against the consumed row, or
// against the approved one if the winner rolled back.
func (s *Store) RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) error {
	if !store.ValidText(deviceCodeHash) {
		return store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return fmt.Errorf("redeem device authorization: %w", store.ErrInvalid)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", mapErr(err))
	}
	defer tx.Rollback(ctx) // a no-op once committed
	tag, err := tx.Exec(ctx, `UPDATE device_authorizations SET status = 'consumed', grant_id = $2
		WHERE device_code_hash = $1 AND status = 'approved' AND expires_at > $3`,
		deviceCodeHash, g.ID, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("redeem device authorization: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		// Nothing matched: tell an unknown code from one that another
		// redemption won, or that expired.
		ok, err := exists(ctx, tx, `SELECT 1 FROM device_authorizations WHERE device_code_hash = $1`, deviceCodeHash)
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
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("redeem device authorization: commit: %w", mapErr(err))
	}
	return nil
}
