package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// LoadPendingCodes is storetest.PollScale's bulk load for SQLite (the
// benchmark lives in package sqlite_test, since storetest imports this
// package): live pending codes "dc-0"…, user codes "uc-0"…, for the public
// client "tv", in one transaction with one prepared statement.
func LoadPendingCodes(ctx context.Context, s *Store, live int, created, expires time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO device_authorizations (`+sqlstore.DeviceColumns+`)
		VALUES (?, ?, 'tv', 1, '["openid"]', 'pending', NULL, 5000, NULL, ?, ?, NULL, NULL, '192.0.2.1', 'bench', NULL)`)
	if err != nil {
		return err
	}
	for i := range live {
		if _, err := ins.ExecContext(ctx, fmt.Sprintf("dc-%d", i), fmt.Sprintf("uc-%d", i),
			created.UnixMilli(), expires.UnixMilli()); err != nil {
			return err
		}
	}
	return tx.Commit()
}
