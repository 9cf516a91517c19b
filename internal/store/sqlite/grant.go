package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// familyQuery reads a refresh token with its grant and the grant's user.
const familyQuery = `SELECT ` + sqlstore.FamilyColumns + sqlstore.FamilyFrom + ` WHERE r.hash = $1`

// RotateRefreshToken uses the unused token oldHash and stores its successor
// nextHash. Read, check and writes all run in the shared write transaction
// (batch.go), all or nothing (see the comment inside). The read runs there
// rather than on the reader pool because a reader's page cache is dropped
// whenever another connection has committed (WAL mode), which under load is
// always: a reader walks the token's, grant's and user's B-trees from the
// file on every rotation, where the writer finds those pages in its own
// cache. SQLite has one writer and the batcher runs writes one after
// another, so of concurrent rotations exactly one finds the token unused,
// and the others find it used.
func (b *backend) RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error) {
	var fam *store.RefreshFamily
	// No savepoint: every check comes before the first write, and of the
	// two writes the insert goes first, so a failure of either leaves
	// nothing to undo but, rarely, the inserted successor; the old token is
	// never left marked used without one. That is two statements fewer in
	// the writer's transaction per refresh.
	err := b.batch.do(ctx, func(c conn) error {
		q := querier{c}
		var err error
		if fam, err = sqlstore.ScanFamily(q.QueryRow(ctx, familyQuery, oldHash)); err != nil {
			return err // ErrNotFound: unknown
		}
		if !fam.Token.UsedAt.IsZero() {
			return fmt.Errorf("rotate refresh token: used already: %w", store.ErrConflict)
		}
		fam.Token.UsedAt = now
		if err := check(fam); err != nil {
			return err
		}
		next := &store.RefreshToken{Hash: nextHash, GrantID: fam.Token.GrantID, ClientID: fam.Token.ClientID,
			Scopes: fam.Token.Scopes, CreatedAt: now, ExpiresAt: sqlstore.SuccessorExpiry(fam.Grant.ExpiresAt, idleUntil)}
		if err := sqlstore.InsertRefreshToken(ctx, q, next); err != nil {
			if errors.Is(err, store.ErrConflict) {
				// ErrConflict means reuse, which revokes the grant; a taken
				// hash for the new token is not that.
				return fmt.Errorf("rotate refresh token: new token's hash is taken: %v", err)
			}
			return fmt.Errorf("rotate refresh token: new %w", err)
		}
		if _, err := q.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2`, now.UnixMilli(), oldHash); err != nil {
			err = fmt.Errorf("rotate refresh token: %w", err)
			if _, derr := q.Exec(ctx, `DELETE FROM refresh_tokens WHERE hash = $1`, nextHash); derr != nil {
				// The successor stays, unknown to anyone, until the sweeper
				// deletes it at its expiry.
				return errors.Join(err, fmt.Errorf("remove the successor: %w", derr))
			}
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		succ, serr := sqlstore.Successor(ctx, b.Reader(), fam)
		if serr != nil {
			return nil, fmt.Errorf("rotate refresh token: %w", serr)
		}
		fam.Successor = succ
		return fam, err
	case err != nil:
		return nil, err
	}
	return fam, nil
}
