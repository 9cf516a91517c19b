package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// The status strings in the SQL below are store.DevicePending and its
// siblings, and the outcomes store.PollPending and its siblings; storetest
// checks every one of them comes back as the constant.

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
	RETURNING ` + sqlstore.DeviceColumns + `, last_outcome`

// PollDeviceAuth records one poll by clientID and decides its outcome in a
// single statement. Another client's device code, or a confidential client's
// when publicOnly is set, matches no row: ErrNotFound, and nothing changes.
func (b *backend) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
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
	err := b.polls.do(&write{ctx: ctx, key: sqlstore.DeviceKey(deviceCodeHash),
		sql: pollStatement,
		args: []any{now.UnixMilli(), store.PollTolerance.Milliseconds(),
			store.SlowDownStep.Milliseconds(), deviceCodeHash, clientID, publicOnly},
		scan: func(row pgx.Row) error {
			a, outcome = store.DeviceAuth{}, nil
			return row.Scan(append(sqlstore.DeviceDest(&a), &outcome)...)
		}})
	if err != nil {
		return nil, mapErr(err)
	}
	if outcome == nil {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: *outcome, Auth: &a}, nil
}
