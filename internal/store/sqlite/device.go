package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// pollQuery reads the authorization a poll by client $2 is about. Another
// client's device code, or a confidential client's for a poll without a
// secret ($3, public only), matches no row.
const pollQuery = `SELECT ` + sqlstore.DeviceColumns + ` FROM device_authorizations
	WHERE device_code_hash = $1 AND client_id = $2 AND (client_public = TRUE OR NOT $3)`

// PollDeviceAuth decides one poll by clientID and records it. The row is
// read on a reader connection; the poll's time and the interval live in the
// store's pollBook (polls.go), which decides the outcome, so a poll writes
// nothing to the file.
//
// An approval or a redemption that commits while a poll is between its read
// and its answer is seen by the next poll: a poll that answers issue for a
// code another poll has just redeemed finds it consumed in
// RedeemDeviceAuth, which decides among them.
func (b *backend) PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error) {
	a, err := sqlstore.ScanDeviceAuth(b.Reader().QueryRow(ctx, pollQuery, deviceCodeHash, clientID, publicOnly))
	if err != nil {
		return nil, err
	}
	outcome := b.polls.poll(a, now)
	if outcome == "" {
		return nil, fmt.Errorf("poll device authorization: unknown status %q", a.Status)
	}
	return &store.PollResult{Outcome: outcome, Auth: a}, nil
}

// ShowPolls lays the poll book's record of a's polls over what its row says.
func (b *backend) ShowPolls(a *store.DeviceAuth) { b.polls.show(a) }
