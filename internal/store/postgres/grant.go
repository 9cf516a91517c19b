package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// rotateQuery marks the token used and stores its successor, copying the
// grant, client and scopes, and returns the token's family as it was before
// (the statement's snapshot) with rotated: 1 when the update took the
// token, 0 when it did not (used already, or used by a concurrent rotation
// whose row lock it waited for); no row for an unknown token. A
// data-modifying WITH runs once whether or not the outer query reads it.
const rotateQuery = `WITH used AS (
		UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL
		RETURNING grant_id, client_id, scopes
	), next AS (
		INSERT INTO refresh_tokens (` + sqlstore.RefreshColumns + `)
		SELECT $3::text, used.grant_id, used.client_id, used.scopes, $1::bigint,
			CASE WHEN $4::bigint IS NOT NULL AND (g.expires_at IS NULL OR $4::bigint < g.expires_at) THEN $4::bigint ELSE g.expires_at END,
			NULL
		FROM used JOIN grants g ON g.id = used.grant_id
	)
	SELECT ` + sqlstore.FamilyColumns + `, (SELECT count(*) FROM used)` + sqlstore.FamilyFrom + `
	WHERE r.hash = $2`

// unrotateQuery undoes a rotation inside its still open transaction (see
// RotateRefreshToken): the row locks it took are still held, so nobody
// has seen it.
const unrotateQuery = `WITH gone AS (DELETE FROM refresh_tokens WHERE hash = $2)
	UPDATE refresh_tokens SET used_at = NULL WHERE hash = $1`

// RotateRefreshToken uses the unused token oldHash and stores its successor
// nextHash, in one statement that also returns the family; the rotations
// batcher (batch.go) sends it with its neighbours in an explicit
// transaction, committed only once every statement has answered. The checks
// run on that answer, before the commit: a rotation they refuse is undone
// in the same transaction, by a statement that goes out with the COMMIT. So
// a rotation costs two round trips, shared with its batch: the statements,
// then the commit.
//
// The statement makes a rotation both or neither; the explicit transaction
// makes a lost connection roll it back even when the statement ran to its
// end after the client was gone (say, having waited for another rotation's
// row lock), so a device that got an error still holds a working token,
// and its retry is not taken for reuse. Of concurrent rotations, on any
// number of instances, exactly one finds the old token unused: the others
// wait for its row lock, then (READ COMMITTED) re-check the WHERE clause
// against the newest version, and find it used.
func (b *backend) RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error) {
	var (
		fam      *store.RefreshFamily
		rotated  bool
		checkErr error
	)
	w := &write{ctx: ctx, key: sqlstore.RowKey{Table: "refresh_tokens", Key: oldHash}, sql: rotateQuery, args: []any{now.UnixMilli(), oldHash, nextHash, sqlstore.Millis(idleUntil)}}
	// scan may run twice (batch.go), so it only assigns.
	w.scan = func(row pgx.Row) error {
		var n int
		f, err := sqlstore.ScanFamily(row, &n)
		if err != nil {
			return err
		}
		fam, rotated, checkErr = f, n == 1, nil
		if rotated {
			f.Token.UsedAt = now
			if checkErr = check(f); checkErr != nil {
				w.undo = &undo{sql: unrotateQuery, args: []any{oldHash, nextHash}}
			}
		}
		return nil
	}
	switch err := b.rotations.do(w); {
	case errors.Is(err, store.ErrNotFound):
		return nil, err // unknown
	case errors.Is(err, store.ErrConflict):
		// ErrConflict means reuse, which revokes the grant; a taken hash
		// for the new token is not that.
		return nil, fmt.Errorf("rotate refresh token: new token's hash is taken: %v", err)
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	case checkErr != nil:
		return nil, checkErr // refused, and undone
	case !rotated:
		if fam.Token.UsedAt.IsZero() {
			// Used by a concurrent rotation after this statement's snapshot.
			var usedAt time.Time
			if err := b.Reader().QueryRow(ctx, `SELECT used_at FROM refresh_tokens WHERE hash = $1`, oldHash).
				Scan(sqlstore.TimeCol{T: &usedAt}); err != nil {
				return nil, fmt.Errorf("rotate refresh token: %w", err)
			}
			fam.Token.UsedAt = usedAt
		}
		succ, err := sqlstore.Successor(ctx, b.Reader(), fam)
		if err != nil {
			return nil, fmt.Errorf("rotate refresh token: %w", err)
		}
		fam.Successor = succ
		return fam, fmt.Errorf("rotate refresh token: used already: %w", store.ErrConflict)
	}
	return fam, nil
}
