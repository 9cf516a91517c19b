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

func scanFamily(row pgx.Row) (*store.RefreshFamily, error) {
	var t store.RefreshToken
	var g store.Grant
	var u store.User
	err := row.Scan(
		&t.Hash, &t.GrantID, &t.ClientID, listCol{&t.Scopes}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt},
		&g.ID, optionalCol{&g.UserID}, &g.ClientID, listCol{&g.Scopes},
		timeCol{&g.AuthTime}, timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt}, timeCol{&g.RevokedAt},
		optionalCol{&g.SessionHash},
		optionalCol{&u.ID}, &u.Email, &u.Name, &u.PasswordHash, &u.Disabled, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err != nil {
		return nil, err // unmapped: the caller tells no row from a failure
	}
	f := &store.RefreshFamily{Token: &t, Grant: &g}
	if u.ID != "" {
		f.User = &u
	}
	return f, nil
}

// familyQuery reads a refresh token with its grant and the grant's user.
const familyQuery = `SELECT ` + familyColumns + `
	FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
	WHERE r.hash = $1`

// rotateQuery marks the token used and stores its successor, copying the
// grant, client and scopes, in one statement; it returns a row only when it
// did. A data-modifying WITH runs once whether or not the outer query reads
// it.
const rotateQuery = `WITH r AS (
		UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL
		RETURNING grant_id, client_id, scopes
	), next AS (
		INSERT INTO refresh_tokens (` + refreshColumns + `)
		SELECT $3::text, r.grant_id, r.client_id, r.scopes, $1::bigint,
			CASE WHEN $4::bigint IS NOT NULL AND (g.expires_at IS NULL OR $4::bigint < g.expires_at) THEN $4::bigint ELSE g.expires_at END,
			NULL
		FROM r JOIN grants g ON g.id = r.grant_id
	)
	SELECT 1 FROM r`

// RotateRefreshToken uses the unused token oldHash and stores its successor
// nextHash. The family is read and checked first; then one statement,
// which inserts the successor only from the row its update changed, goes to
// the rotations batcher (batch.go), whose batches run in an explicit
// transaction committed only once every statement has answered. The
// statement makes a rotation both or neither; the explicit transaction
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
	// The read, too, shares round trips with its neighbours (batch.go): a
	// read-only batch commits nothing.
	var fam *store.RefreshFamily
	err := s.reads.do(&write{ctx: ctx, key: oldHash, sql: familyQuery, args: []any{oldHash},
		scan: func(row pgx.Row) (err error) { fam, err = scanFamily(row); return err }})
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token: %w", mapErr(err))
	}
	if !fam.Token.UsedAt.IsZero() {
		return fam, fmt.Errorf("rotate refresh token: used already: %w", store.ErrConflict)
	}
	fam.Token.UsedAt = now
	if err := check(fam); err != nil {
		return nil, err
	}
	err = s.rotations.do(&write{ctx: ctx, key: oldHash, sql: rotateQuery,
		args: []any{now.UnixMilli(), oldHash, nextHash, millis(idleUntil)},
		scan: func(row pgx.Row) error { var one int; return row.Scan(&one) }})
	switch err = mapErr(err); {
	case errors.Is(err, store.ErrNotFound):
		// The update changed nothing: used since it was read (the race's
		// loser), or deleted meanwhile.
		var usedAt time.Time
		if err := s.pool.QueryRow(ctx, `SELECT used_at FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(timeCol{&usedAt}); err != nil {
			return nil, fmt.Errorf("rotate refresh token: %w", mapErr(err))
		}
		fam.Token.UsedAt = usedAt
		return fam, fmt.Errorf("rotate refresh token: used already: %w", store.ErrConflict)
	case errors.Is(err, store.ErrConflict):
		// ErrConflict means reuse, which revokes the grant; a taken hash
		// for the new token is not that.
		return nil, fmt.Errorf("rotate refresh token: new token's hash is taken: %v", err)
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return fam, nil
}
