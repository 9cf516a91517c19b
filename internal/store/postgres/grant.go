package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

const grantColumns = `id, user_id, client_id, scopes, auth_time, created_at, expires_at, revoked_at, session_hash`

func scanGrant(row pgx.Row) (*store.Grant, error) {
	var g store.Grant
	err := row.Scan(&g.ID, optionalCol{&g.UserID}, &g.ClientID, listCol{&g.Scopes},
		timeCol{&g.AuthTime}, timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt}, timeCol{&g.RevokedAt},
		optionalCol{&g.SessionHash})
	if err != nil {
		return nil, mapErr(err)
	}
	return &g, nil
}

// CreateGrant stores g; ErrConflict if its id is taken, ErrNotFound if its
// client or user does not exist.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	if !validGrant(g) {
		return fmt.Errorf("create grant: %w", store.ErrInvalid)
	}
	if err := insertGrant(ctx, s.pool, g); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// validGrant reports whether every string of g is text (store.ValidText).
func validGrant(g *store.Grant) bool {
	return store.ValidText(g.ID, g.UserID, g.ClientID, g.SessionHash) && store.ValidText(g.Scopes...)
}

// insertGrant stores g, which validGrant accepted, with db: the pool or a
// transaction.
func insertGrant(ctx context.Context, db execer, g *store.Grant) error {
	_, err := db.Exec(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		g.ID, optional(g.UserID), g.ClientID, jsonList(g.Scopes),
		millis(g.AuthTime), millis(g.CreatedAt), millis(g.ExpiresAt), millis(g.RevokedAt),
		optional(g.SessionHash))
	if err != nil {
		return fmt.Errorf("grant: %w", mapErr(err))
	}
	return nil
}

// GetGrant returns the grant with id, revoked or not, or ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanGrant(s.pool.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
}

// ListGrantsByUser returns userID's grants, revoked ones included, oldest first.
func (s *Store) ListGrantsByUser(ctx context.Context, userID string) ([]*store.Grant, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	gs, err := queryAll(ctx, s, scanGrant, `SELECT `+grantColumns+` FROM grants
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return gs, nil
}

// RevokeGrant marks the grant revoked at now unless it was revoked already
// (the first time stands), and ends its refresh tokens: their expiry moves to
// now, so they fail as expired and Sweep removes them. They are not marked
// used, which would make their next use look like reuse (RFC 9700 §4.14.2).
// ErrNotFound if there is no such grant.
//
// One statement: a data-modifying WITH runs to completion whether or not the
// outer query reads it, and both updates commit or neither does.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH g AS (
			UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING id
		), t AS (
			UPDATE refresh_tokens SET expires_at = $2
			WHERE grant_id = $1 AND (expires_at IS NULL OR expires_at > $2)
		)
		SELECT count(*) FROM g`, id, now.UnixMilli()).Scan(&n)
	if err != nil {
		return fmt.Errorf("revoke grant: %w", mapErr(err))
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

const refreshColumns = `hash, grant_id, client_id, scopes, created_at, expires_at, used_at`

func scanRefreshToken(row pgx.Row) (*store.RefreshToken, error) {
	var t store.RefreshToken
	err := row.Scan(&t.Hash, &t.GrantID, &t.ClientID, listCol{&t.Scopes},
		timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt})
	if err != nil {
		return nil, mapErr(err)
	}
	return &t, nil
}

// CreateRefreshToken stores t; ErrConflict if its hash is taken, ErrNotFound
// if its grant does not exist.
func (s *Store) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if !validRefreshToken(t) {
		return fmt.Errorf("create refresh token: %w", store.ErrInvalid)
	}
	if err := insertRefreshToken(ctx, s.pool, t); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// validRefreshToken reports whether every string of t is text (store.ValidText).
func validRefreshToken(t *store.RefreshToken) bool {
	return store.ValidText(t.Hash, t.GrantID, t.ClientID) && store.ValidText(t.Scopes...)
}

// insertRefreshToken stores t, which validRefreshToken accepted, with db:
// the pool or a transaction.
func insertRefreshToken(ctx context.Context, db execer, t *store.RefreshToken) error {
	_, err := db.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Hash, t.GrantID, t.ClientID, jsonList(t.Scopes),
		millis(t.CreatedAt), millis(t.ExpiresAt), millis(t.UsedAt))
	if err != nil {
		return fmt.Errorf("refresh token: %w", mapErr(err))
	}
	return nil
}

// GetRefreshToken returns the token stored under hash, used or not.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	return scanRefreshToken(s.pool.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash))
}

// familyColumns are a refresh token's, its grant's and the grant's user's
// columns, from r, g and u (LEFT JOINed: NULL for none).
const familyColumns = `r.hash, r.grant_id, r.client_id, r.scopes, r.created_at, r.expires_at, r.used_at,
	g.id, g.user_id, g.client_id, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.session_hash,
	u.id, COALESCE(u.email, ''), COALESCE(u.name, ''), COALESCE(u.password_hash, ''), COALESCE(u.disabled, false),
	u.created_at, u.updated_at`

// scanFamily scans familyColumns, then into extra.
func scanFamily(row pgx.Row, extra ...any) (*store.RefreshFamily, error) {
	var t store.RefreshToken
	var g store.Grant
	var u store.User
	err := row.Scan(append([]any{
		&t.Hash, &t.GrantID, &t.ClientID, listCol{&t.Scopes}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt},
		&g.ID, optionalCol{&g.UserID}, &g.ClientID, listCol{&g.Scopes},
		timeCol{&g.AuthTime}, timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt}, timeCol{&g.RevokedAt},
		optionalCol{&g.SessionHash},
		optionalCol{&u.ID}, &u.Email, &u.Name, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}}, extra...)...)
	if err != nil {
		return nil, err // unmapped: the caller tells no row from a failure
	}
	f := &store.RefreshFamily{Token: &t, Grant: &g}
	if u.ID != "" {
		f.User = &u
	}
	return f, nil
}

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
		INSERT INTO refresh_tokens (` + refreshColumns + `)
		SELECT $3::text, used.grant_id, used.client_id, used.scopes, $1::bigint,
			CASE WHEN $4::bigint IS NOT NULL AND (g.expires_at IS NULL OR $4::bigint < g.expires_at) THEN $4::bigint ELSE g.expires_at END,
			NULL
		FROM used JOIN grants g ON g.id = used.grant_id
	)
	SELECT ` + familyColumns + `, (SELECT count(*) FROM used)
	FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
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
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error) {
	if !store.ValidText(oldHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(nextHash) {
		return nil, fmt.Errorf("rotate refresh token: %w", store.ErrInvalid)
	}
	var (
		fam      *store.RefreshFamily
		rotated  bool
		checkErr error
	)
	w := &write{ctx: ctx, key: oldHash, sql: rotateQuery, args: []any{now.UnixMilli(), oldHash, nextHash, millis(idleUntil)}}
	// scan may run twice (batch.go), so it only assigns.
	w.scan = func(row pgx.Row) error {
		var n int
		f, err := scanFamily(row, &n)
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
	switch err := s.rotations.do(w); {
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
			if err := s.pool.QueryRow(ctx, `SELECT used_at FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(timeCol{&usedAt}); err != nil {
				return nil, fmt.Errorf("rotate refresh token: %w", mapErr(err))
			}
			fam.Token.UsedAt = usedAt
		}
		// The token it was rotated into: same grant, created when the old
		// one was used (one clock reading sets both); a used match first,
		// should two rotations share a millisecond, so a doubt revokes.
		succ, err := scanRefreshToken(s.pool.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens
			WHERE grant_id = $1 AND created_at = $2 AND hash <> $3 ORDER BY used_at IS NULL LIMIT 1`,
			fam.Token.GrantID, fam.Token.UsedAt.UnixMilli(), oldHash))
		switch {
		case err == nil:
			fam.Successor = succ
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("rotate refresh token: successor: %w", err)
		}
		return fam, fmt.Errorf("rotate refresh token: used already: %w", store.ErrConflict)
	}
	return fam, nil
}
