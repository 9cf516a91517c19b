package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const grantColumns = `id, user_id, client_id, scopes, auth_time, created_at, expires_at, revoked_at, session_hash`

func scanGrant(row rowScanner) (*store.Grant, error) {
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
	// Batched (batch.go): the client credentials grant stores one per token.
	if err := s.batch.do(ctx, func(q querier) error { return insertGrant(ctx, q, g) }); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// validGrant reports whether every string of g is text (store.ValidText).
func validGrant(g *store.Grant) bool {
	return store.ValidText(g.ID, g.UserID, g.ClientID, g.SessionHash) && store.ValidText(g.Scopes...)
}

// insertGrant stores g, which validGrant accepted, with db: the writer pool
// or a transaction on it.
func insertGrant(ctx context.Context, db execer, g *store.Grant) error {
	_, err := db.ExecContext(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, optional(g.UserID), g.ClientID, list(g.Scopes),
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
	return scanGrant(s.r.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = ?`, id))
}

// ListGrantsByUser returns userID's grants, revoked ones included, oldest first.
func (s *Store) ListGrantsByUser(ctx context.Context, userID string) ([]*store.Grant, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants
		WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var gs []*store.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, rows.Err()
}

// RevokeGrant marks the grant revoked at now unless it was revoked already
// (the first time stands), and ends its refresh tokens: their expiry moves to
// now, so they fail as expired and Sweep removes them. They are not marked
// used, which would make their next use look like reuse (RFC 9700 §4.14.2).
// ErrNotFound if there is no such grant.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		now.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, store.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET expires_at = ?
		WHERE grant_id = ? AND (expires_at IS NULL OR expires_at > ?)`,
		now.UnixMilli(), id, now.UnixMilli()); err != nil {
		return fmt.Errorf("revoke grant: refresh tokens: %w", err)
	}
	return tx.Commit()
}

const refreshColumns = `hash, grant_id, client_id, scopes, created_at, expires_at, used_at`

func scanRefreshToken(row rowScanner) (*store.RefreshToken, error) {
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
	if err := insertRefreshToken(ctx, s.w, t); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// validRefreshToken reports whether every string of t is text (store.ValidText).
func validRefreshToken(t *store.RefreshToken) bool {
	return store.ValidText(t.Hash, t.GrantID, t.ClientID) && store.ValidText(t.Scopes...)
}

// insertRefreshToken stores t, which validRefreshToken accepted, with db:
// the writer pool or a transaction on it.
func insertRefreshToken(ctx context.Context, db execer, t *store.RefreshToken) error {
	_, err := db.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.GrantID, t.ClientID, list(t.Scopes), millis(t.CreatedAt), millis(t.ExpiresAt), millis(t.UsedAt))
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
	return scanRefreshToken(s.r.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = ?`, hash))
}

// familyQuery reads a refresh token with its grant and the grant's user.
const familyQuery = `SELECT r.hash, r.grant_id, r.client_id, r.scopes, r.created_at, r.expires_at, r.used_at,
		g.id, g.user_id, g.client_id, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.session_hash,
		u.id, COALESCE(u.email, ''), COALESCE(u.name, ''), COALESCE(u.password_hash, ''), COALESCE(u.disabled, 0),
		u.created_at, u.updated_at
	FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
	WHERE r.hash = ?`

func scanFamily(row rowScanner) (*store.RefreshFamily, error) {
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
		return nil, mapErr(err)
	}
	f := &store.RefreshFamily{Token: &t, Grant: &g}
	if u.ID != "" {
		f.User = &u
	}
	return f, nil
}

// RotateRefreshToken uses the unused token oldHash and stores its successor
// nextHash. Read, check and writes all run in the shared write transaction
// (batch.go), all or nothing (see the comment inside). The read runs there rather
// than on the reader pool because a reader's page cache is dropped whenever
// another connection has committed (WAL mode), which under load is always:
// a reader walks the token's, grant's and user's B-trees from the file on
// every rotation, where the writer finds those pages in its own cache. SQLite
// has one writer and the batcher runs writes one after another, so of
// concurrent rotations exactly one finds the token unused, and the others
// find it used.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error) {
	if !store.ValidText(oldHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(nextHash) {
		return nil, fmt.Errorf("rotate refresh token: %w", store.ErrInvalid)
	}
	var fam *store.RefreshFamily
	// No savepoint: every check comes before the first write, and of the
	// two writes the insert goes first, so a failure of either leaves
	// nothing to undo but, rarely, the inserted successor; the old token is
	// never left marked used without one. That is two statements fewer in
	// the writer's transaction per refresh.
	err := s.batch.do(ctx, func(q querier) error {
		var err error
		if fam, err = scanFamily(q.QueryRowContext(ctx, familyQuery, oldHash)); err != nil {
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
			Scopes: fam.Token.Scopes, CreatedAt: now, ExpiresAt: successorExpiry(fam.Grant.ExpiresAt, idleUntil)}
		if err := insertRefreshToken(ctx, q, next); err != nil {
			if errors.Is(err, store.ErrConflict) {
				// ErrConflict means reuse, which revokes the grant; a taken
				// hash for the new token is not that.
				return fmt.Errorf("rotate refresh token: new token's hash is taken: %v", err)
			}
			return fmt.Errorf("rotate refresh token: new %w", err)
		}
		if _, err := q.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ?`, now.UnixMilli(), oldHash); err != nil {
			err = fmt.Errorf("rotate refresh token: %w", mapErr(err))
			if _, derr := q.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE hash = ?`, nextHash); derr != nil {
				// The successor stays, unknown to anyone, until the sweeper
				// deletes it at its expiry.
				return errors.Join(err, fmt.Errorf("remove the successor: %w", mapErr(derr)))
			}
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		succ, serr := scanRefreshToken(s.r.QueryRowContext(ctx, successorQuery,
			fam.Token.GrantID, fam.Token.UsedAt.UnixMilli(), oldHash))
		switch {
		case serr == nil:
			fam.Successor = succ
		case !errors.Is(serr, store.ErrNotFound):
			return nil, fmt.Errorf("rotate refresh token: successor: %w", serr)
		}
		return fam, err
	case err != nil:
		return nil, err
	}
	return fam, nil
}

// successorQuery finds the token a used one was rotated into: same grant,
// created when the old one was used (RotateRefreshToken sets both from one
// clock reading). Should two rotations of a chain share a millisecond, a
// used match comes first, so that a doubt ends in revocation.
const successorQuery = `SELECT ` + refreshColumns + ` FROM refresh_tokens
	WHERE grant_id = ? AND created_at = ? AND hash <> ? ORDER BY used_at IS NULL LIMIT 1`

// successorExpiry is when a rotated-in refresh token expires: with its
// grant, or at idleUntil if that is sooner (zero: no idle limit).
func successorExpiry(grantExpires, idleUntil time.Time) time.Time {
	if !idleUntil.IsZero() && (grantExpires.IsZero() || idleUntil.Before(grantExpires)) {
		return idleUntil
	}
	return grantExpires
}
