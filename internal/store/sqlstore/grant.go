package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const grantColumns = `id, user_id, client_id, scopes, auth_time, created_at, expires_at, revoked_at, session_hash, dpop_jkt, subject, claims`

func grantDest(g *store.Grant) []any {
	return appendGrantDest(make([]any, 0, grantCols), g)
}

// grantCols is the number of columns grantDest scans.
const grantCols = 12

// appendGrantDest appends grantDest's destinations to dest.
func appendGrantDest(dest []any, g *store.Grant) []any {
	return append(dest, &g.ID, optionalCol{&g.UserID}, &g.ClientID, listCol{&g.Scopes},
		TimeCol{&g.AuthTime}, TimeCol{&g.CreatedAt}, TimeCol{&g.ExpiresAt}, TimeCol{&g.RevokedAt},
		optionalCol{&g.SessionHash}, optionalCol{&g.DPoPJKT}, optionalCol{&g.Subject}, optionalCol{&g.Claims})
}

func scanGrant(row Row) (*store.Grant, error) {
	var g store.Grant
	if err := row.Scan(grantDest(&g)...); err != nil {
		return nil, err
	}
	return &g, nil
}

// validGrant reports whether every string of g is text (store.ValidText).
func validGrant(g *store.Grant) bool {
	return store.ValidText(g.ID, g.UserID, g.ClientID, g.SessionHash, g.DPoPJKT, g.Subject, g.Claims) && store.ValidText(g.Scopes...)
}

const insertGrant = `INSERT INTO grants (` + grantColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func grantArgs(g *store.Grant) []any {
	return []any{g.ID, optional(g.UserID), g.ClientID, jsonList(g.Scopes),
		Millis(g.AuthTime), Millis(g.CreatedAt), Millis(g.ExpiresAt), Millis(g.RevokedAt),
		optional(g.SessionHash), optional(g.DPoPJKT), optional(g.Subject), optional(g.Claims)}
}

// insertGrantAndToken stores g and refresh (nil for none), both valid, with
// q: a transaction that has just used up the code they are issued for.
func insertGrantAndToken(ctx context.Context, q Querier, g *store.Grant, refresh *store.RefreshToken) error {
	if _, err := q.Exec(ctx, insertGrant, grantArgs(g)...); err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	if refresh != nil {
		return InsertRefreshToken(ctx, q, refresh)
	}
	return nil
}

// CreateGrant stores g; ErrConflict if its id is taken, ErrNotFound if its
// client or user does not exist. It is batched: the client credentials
// grant stores one per token.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	if !validGrant(g) {
		return fmt.Errorf("create grant: %w", store.ErrInvalid)
	}
	if err := s.b.Batch(ctx, Write{Key: RowKey{Table: "grants", Key: g.ID}, Query: insertGrant, Args: grantArgs(g)}); err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	return nil
}

// GetGrant returns the grant with id, revoked or not, or ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanGrant(s.b.Reader().QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
}

// ListGrantsByUser returns userID's grants, revoked ones included, oldest first.
func (s *Store) ListGrantsByUser(ctx context.Context, userID string) ([]*store.Grant, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	gs, err := queryAll(ctx, s.b.Reader(), scanGrant, `SELECT `+grantColumns+` FROM grants
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return gs, nil
}

// endTokens ends the refresh tokens of the grants a condition on grant_id
// picks: their expiry moves to now ($1), so they fail as expired and Sweep
// removes them. They are not marked used, which would make their next use
// look like reuse (RFC 9700 §4.14.2).
const endTokens = `UPDATE refresh_tokens SET expires_at = $1
	WHERE (expires_at IS NULL OR expires_at > $1) AND grant_id `

// RevokeGrant marks the grant revoked at now unless it was revoked already
// (the first time stands), and ends its refresh tokens, in one transaction.
// ErrNotFound if there is no such grant.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := execOne(ctx, q, `UPDATE grants SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`,
			now.UnixMilli(), id); err != nil {
			return err
		}
		_, err := q.Exec(ctx, endTokens+`= $2`, now.UnixMilli(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	return nil
}

// attachedGrants selects the active grants approved in session $2 whose
// client is attached: what signing that session out revokes.
const attachedGrants = `SELECT g.id FROM grants g JOIN clients c ON c.id = g.client_id
	WHERE g.session_hash = $2 AND g.revoked_at IS NULL AND c.session_attachment = 'attached'`

// RevokeGrantsBySession revokes the attached clients' active grants
// approved in the browser session sessionHash, and ends their refresh
// tokens as RevokeGrant does, in one transaction: sign-out leaves no such
// grant half revoked. The refresh tokens go first, while the grants still
// read as active. Two sign-outs of one session racing both find the grants
// active; on PostgreSQL the second waits for the first's row locks, then
// (READ COMMITTED) re-checks each row and skips it, so every grant is
// revoked once, at the first time.
func (s *Store) RevokeGrantsBySession(ctx context.Context, sessionHash string, now time.Time) (int, error) {
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return 0, nil // no grant has such a session
	}
	var n int64
	err := s.b.Tx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, endTokens+`IN (`+attachedGrants+`)`, now.UnixMilli(), sessionHash); err != nil {
			return fmt.Errorf("refresh tokens: %w", err)
		}
		var err error
		n, err = q.Exec(ctx, `UPDATE grants SET revoked_at = $1 WHERE id IN (`+attachedGrants+`)`,
			now.UnixMilli(), sessionHash)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke grants by session: %w", err)
	}
	return int(n), nil
}

// RefreshColumns are a refresh token's columns, in the order
// ScanRefreshToken scans them.
const RefreshColumns = `hash, grant_id, client_id, scopes, created_at, expires_at, used_at`

// ScanRefreshToken scans a row of RefreshColumns.
func ScanRefreshToken(row Row) (*store.RefreshToken, error) {
	var t store.RefreshToken
	err := row.Scan(&t.Hash, &t.GrantID, &t.ClientID, listCol{&t.Scopes},
		TimeCol{&t.CreatedAt}, TimeCol{&t.ExpiresAt}, TimeCol{&t.UsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// validRefreshToken reports whether every string of t is text (store.ValidText).
func validRefreshToken(t *store.RefreshToken) bool {
	return store.ValidText(t.Hash, t.GrantID, t.ClientID) && store.ValidText(t.Scopes...)
}

// InsertRefreshToken stores t, whose strings are text, with q.
func InsertRefreshToken(ctx context.Context, q Querier, t *store.RefreshToken) error {
	_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (`+RefreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Hash, t.GrantID, t.ClientID, jsonList(t.Scopes), Millis(t.CreatedAt), Millis(t.ExpiresAt), Millis(t.UsedAt))
	if err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	return nil
}

// CreateRefreshToken stores t; ErrConflict if its hash is taken, ErrNotFound
// if its grant does not exist.
func (s *Store) CreateRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if !validRefreshToken(t) {
		return fmt.Errorf("create refresh token: %w", store.ErrInvalid)
	}
	if err := InsertRefreshToken(ctx, s.b.Writer(), t); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// GetRefreshToken returns the token stored under hash, used or not.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	return ScanRefreshToken(s.b.Reader().QueryRow(ctx, `SELECT `+RefreshColumns+` FROM refresh_tokens WHERE hash = $1`, hash))
}

// FamilyColumns are a refresh token's, its grant's, the grant's user's and
// the grant's session's columns, from r, g, u and s (u and s LEFT JOINed:
// NULL for none), in the order ScanFamily scans them.
const FamilyColumns = `r.hash, r.grant_id, r.client_id, r.scopes, r.created_at, r.expires_at, r.used_at,
	g.id, g.user_id, g.client_id, g.scopes, g.auth_time, g.created_at, g.expires_at, g.revoked_at, g.session_hash, g.dpop_jkt,
	g.subject, g.claims, u.id, COALESCE(u.email, ''), COALESCE(u.name, ''), COALESCE(u.password_hash, ''), COALESCE(u.disabled, FALSE),
	u.created_at, u.updated_at,
	s.hash, s.user_id, s.auth_time, s.created_at, s.expires_at, s.last_seen_at`

// FamilyFrom joins a refresh token r with its grant g, the grant's user u and
// the session s the grant was approved in.
const FamilyFrom = ` FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
	LEFT JOIN sessions s ON s.hash = g.session_hash`

// ScanFamily scans a row of FamilyColumns, then the row's further columns
// into extra.
func ScanFamily(row Row, extra ...any) (*store.RefreshFamily, error) {
	// Every rotation scans one of these rows, so the records are one
	// allocation and the destinations one slice of the right size, rather
	// than four records and a slice grown three times (BENCHMARKS.md, "The
	// gap to 2026-11-23").
	var r struct {
		t    store.RefreshToken
		g    store.Grant
		u    store.User
		sess store.Session
		f    store.RefreshFamily
	}
	t, g, u, sess := &r.t, &r.g, &r.u, &r.sess
	dest := make([]any, 0, familyCols+len(extra))
	dest = append(dest,
		&t.Hash, &t.GrantID, &t.ClientID, listCol{&t.Scopes}, TimeCol{&t.CreatedAt}, TimeCol{&t.ExpiresAt}, TimeCol{&t.UsedAt})
	dest = appendGrantDest(dest, g)
	dest = append(dest, optionalCol{&u.ID}, &u.Email, &u.Name, &u.PasswordHash, &u.Disabled,
		TimeCol{&u.CreatedAt}, TimeCol{&u.UpdatedAt},
		optionalCol{&sess.Hash}, optionalCol{&sess.UserID}, TimeCol{&sess.AuthTime}, TimeCol{&sess.CreatedAt},
		TimeCol{&sess.ExpiresAt}, TimeCol{&sess.LastSeenAt})
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	f := &r.f
	f.Token, f.Grant = t, g
	if u.ID != "" {
		f.User = u
	}
	if sess.Hash != "" {
		f.Session = sess
	}
	return f, nil
}

// familyCols is the number of FamilyColumns: the token's 7, the grant's,
// the user's 7 and the session's 6.
const familyCols = 7 + grantCols + 7 + 6

// RotateRefreshToken uses the unused token oldHash and stores its successor
// nextHash, which each backend does its own way (Backend.RotateRefreshToken).
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error) {
	if !store.ValidText(oldHash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(nextHash) {
		return nil, fmt.Errorf("rotate refresh token: %w", store.ErrInvalid)
	}
	return s.b.RotateRefreshToken(ctx, oldHash, nextHash, idleUntil, now, check)
}

// Successor returns the token the used token oldHash of fam was rotated
// into: same grant, created when the old one was used (a rotation sets both
// from one clock reading). Should two rotations of a chain share a
// millisecond, a used match comes first, so that a doubt ends in
// revocation. Nil if it is gone.
func Successor(ctx context.Context, q Querier, fam *store.RefreshFamily) (*store.RefreshToken, error) {
	t, err := ScanRefreshToken(q.QueryRow(ctx, `SELECT `+RefreshColumns+` FROM refresh_tokens
		WHERE grant_id = $1 AND created_at = $2 AND hash <> $3 ORDER BY used_at IS NULL LIMIT 1`,
		fam.Token.GrantID, fam.Token.UsedAt.UnixMilli(), fam.Token.Hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("successor: %w", err)
	}
	return t, nil
}

// SuccessorExpiry is when a rotated-in refresh token expires: with its
// grant, or at idleUntil if that is sooner (zero: no idle limit).
func SuccessorExpiry(grantExpires, idleUntil time.Time) time.Time {
	if !idleUntil.IsZero() && (grantExpires.IsZero() || idleUntil.Before(grantExpires)) {
		return idleUntil
	}
	return grantExpires
}

// RevokeAccessToken records jti as revoked until expiresAt; a second
// revocation keeps the first record.
func (s *Store) RevokeAccessToken(ctx context.Context, jti, clientID string, expiresAt time.Time) error {
	if !store.ValidText(jti, clientID) {
		return fmt.Errorf("revoke access token: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO revoked_jtis (jti, client_id, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`, jti, clientID, expiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("revoke access token: %w", err)
	}
	return nil
}

// AccessTokenRevoked reports whether jti was revoked.
func (s *Store) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if !store.ValidText(jti) {
		return false, nil
	}
	return exists(ctx, s.b.Reader(), `SELECT 1 FROM revoked_jtis WHERE jti = $1`, jti)
}

// ListRevokedAccessTokens returns the revocations not expired at now.
func (s *Store) ListRevokedAccessTokens(ctx context.Context, now time.Time) ([]*store.RevokedAccessToken, error) {
	rs, err := queryAll(ctx, s.b.Reader(), func(r Row) (*store.RevokedAccessToken, error) {
		var x store.RevokedAccessToken
		err := r.Scan(&x.JTI, &x.ClientID, TimeCol{&x.ExpiresAt})
		return &x, err
	}, `SELECT jti, client_id, expires_at FROM revoked_jtis WHERE expires_at > $1 ORDER BY jti`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list revoked access tokens: %w", err)
	}
	return rs, nil
}
