package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// The status strings in the SQL below are store.AuthRequestPending and its
// siblings; storetest checks they come back as the constants.

const authRequestColumns = `id_hash, client_id, redirect_uri, redirect_uri_sent, scopes, state, nonce,
	code_challenge, code_challenge_method, prompt, max_age_s, login_hint, error_code, error_description,
	status, session_hash, created_at, expires_at`

func scanAuthRequest(row pgx.Row) (*store.AuthRequest, error) {
	var r store.AuthRequest
	var maxAge int64
	err := row.Scan(&r.IDHash, &r.ClientID, &r.RedirectURI, &r.RedirectURISent, listCol{&r.Scopes}, &r.State, &r.Nonce,
		&r.CodeChallenge, &r.CodeChallengeMethod, &r.Prompt, &maxAge, &r.LoginHint, &r.ErrorCode, &r.ErrorDescription,
		&r.Status, &r.SessionHash, timeCol{&r.CreatedAt}, timeCol{&r.ExpiresAt})
	if err != nil {
		return nil, mapErr(err)
	}
	r.MaxAge = authMaxAgeFrom(maxAge)
	return &r, nil
}

// authMaxAgeSeconds is how a max_age is stored: whole seconds, -1 for none.
func authMaxAgeSeconds(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Second)
}

func authMaxAgeFrom(s int64) time.Duration {
	if s < 0 {
		return -1
	}
	return time.Duration(s) * time.Second
}

// CreateAuthRequest stores a new request; ErrConflict if its id hash is
// taken, ErrNotFound if its client does not exist.
func (s *Store) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	if !store.ValidText(r.IDHash, r.ClientID, r.RedirectURI, r.State, r.Nonce, r.CodeChallenge, r.CodeChallengeMethod,
		r.Prompt, r.LoginHint, r.ErrorCode, r.ErrorDescription, r.Status, r.SessionHash) || !store.ValidText(r.Scopes...) {
		return fmt.Errorf("create authorization request: %w", store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO authorization_requests (`+authRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.IDHash, r.ClientID, r.RedirectURI, r.RedirectURISent, jsonList(r.Scopes), r.State, r.Nonce,
		r.CodeChallenge, r.CodeChallengeMethod, r.Prompt, authMaxAgeSeconds(r.MaxAge), r.LoginHint, r.ErrorCode, r.ErrorDescription,
		r.Status, r.SessionHash, millis(r.CreatedAt), r.ExpiresAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("create authorization request: %w", mapErr(err))
	}
	return nil
}

// GetAuthRequest returns the request under idHash unless it expired at now.
func (s *Store) GetAuthRequest(ctx context.Context, idHash string, now time.Time) (*store.AuthRequest, error) {
	if !store.ValidText(idHash) {
		return nil, store.ErrNotFound
	}
	return scanAuthRequest(s.pool.QueryRow(ctx, `SELECT `+authRequestColumns+`
		FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2`, idHash, now.UnixMilli()))
}

// BindAuthRequest binds a pending, unexpired request to sessionHash in one
// conditional update: of two sessions racing for an unbound request, the
// second waits for the first's row lock and then (READ COMMITTED) finds it
// bound.
func (s *Store) BindAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) (*store.AuthRequest, error) {
	if !store.ValidText(idHash) {
		return nil, store.ErrNotFound
	}
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return nil, fmt.Errorf("bind authorization request: session hash: %w", store.ErrInvalid)
	}
	r, err := scanAuthRequest(s.pool.QueryRow(ctx, `UPDATE authorization_requests SET session_hash = $2
		WHERE id_hash = $1 AND status = 'pending' AND expires_at > $3 AND session_hash IN ('', $2)
		RETURNING `+authRequestColumns, idHash, sessionHash, now.UnixMilli()))
	if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	return nil, authRequestConflict(ctx, s.pool, idHash, now)
}

// authRequestConflict tells, after a conditional update of a request
// matched nothing, an unknown or expired request (ErrNotFound) from one
// another session has or that is decided (ErrConflict).
func authRequestConflict(ctx context.Context, db querier, idHash string, now time.Time) error {
	ok, err := exists(ctx, db, `SELECT 1 FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2`,
		idHash, now.UnixMilli())
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("authorization request: decided, or bound to another session: %w", store.ErrConflict)
	}
	return store.ErrNotFound
}

// endAuthRequest is the conditional update that ends a request: pending,
// unexpired and bound to the session deciding it.
const endAuthRequest = `UPDATE authorization_requests SET status = $1
	WHERE id_hash = $2 AND status = 'pending' AND expires_at > $3 AND session_hash = $4 AND session_hash <> ''`

// DenyAuthRequest ends a pending request bound to sessionHash without a
// code, in one conditional update, so nothing can approve it afterwards.
func (s *Store) DenyAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) error {
	if !store.ValidText(idHash, sessionHash) {
		return store.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, endAuthRequest, store.AuthRequestDenied, idHash, now.UnixMilli(), sessionHash)
	if err != nil {
		return fmt.Errorf("deny authorization request: %w", mapErr(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	return authRequestConflict(ctx, s.pool, idHash, now)
}

// ApproveAuthRequest ends a pending request bound to sessionHash, stores
// code and remembers consent, in one transaction. Of concurrent decisions,
// on any number of instances, exactly one finds the request pending: the
// others wait for its row lock, then re-check the WHERE clause.
func (s *Store) ApproveAuthRequest(ctx context.Context, idHash, sessionHash string, code *store.AuthCode, consent *store.Consent, now time.Time) error {
	if !store.ValidText(idHash, sessionHash) {
		return store.ErrNotFound
	}
	if !validAuthCode(code) || (consent != nil && !validConsent(consent)) {
		return fmt.Errorf("approve authorization request: %w", store.ErrInvalid)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", mapErr(err))
	}
	defer tx.Rollback(ctx) // a no-op once committed
	tag, err := tx.Exec(ctx, endAuthRequest, store.AuthRequestDone, idHash, now.UnixMilli(), sessionHash)
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return authRequestConflict(ctx, tx, idHash, now)
	}
	if err := insertAuthCode(ctx, tx, code); err != nil {
		return fmt.Errorf("approve authorization request: %w", err)
	}
	if consent != nil {
		if err := insertConsent(ctx, tx, consent); err != nil {
			return fmt.Errorf("approve authorization request: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("approve authorization request: commit: %w", mapErr(err))
	}
	return nil
}

func validConsent(c *store.Consent) bool {
	return store.ValidText(c.UserID, c.ClientID) && store.ValidText(c.Scopes...)
}

// insertConsent adds c's scopes to what its user allowed its client; scopes
// allowed before keep their first time. ON CONFLICT DO NOTHING never fails
// on a row a concurrent approval inserted first.
func insertConsent(ctx context.Context, db execer, c *store.Consent) error {
	if len(c.Scopes) == 0 {
		return nil
	}
	_, err := db.Exec(ctx, `INSERT INTO consents (user_id, client_id, scope, created_at)
		SELECT $1, $2, scope, $4 FROM unnest($3::text[]) AS scope
		ON CONFLICT DO NOTHING`, c.UserID, c.ClientID, c.Scopes, millis(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("consent: %w", mapErr(err))
	}
	return nil
}

// GetConsent returns every scope userID allowed clientID; ErrNotFound if none.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	if !store.ValidText(userID, clientID) {
		return nil, store.ErrNotFound
	}
	type row struct {
		scope   string
		created time.Time
	}
	rows, err := queryAll(ctx, s, func(r pgx.Row) (row, error) {
		var x row
		return x, r.Scan(&x.scope, timeCol{&x.created})
	}, `SELECT scope, created_at FROM consents WHERE user_id = $1 AND client_id = $2 ORDER BY scope`, userID, clientID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, store.ErrNotFound
	}
	c := &store.Consent{UserID: userID, ClientID: clientID}
	for _, x := range rows {
		c.Scopes = append(c.Scopes, x.scope)
		if c.CreatedAt.IsZero() || x.created.Before(c.CreatedAt) {
			c.CreatedAt = x.created
		}
	}
	return c, nil
}

// DeleteConsent forgets what userID allowed clientID.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	if !store.ValidText(userID, clientID) {
		return store.ErrNotFound
	}
	return s.execOne(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

const authCodeColumns = `hash, client_id, user_id, redirect_uri, redirect_uri_sent, scopes, nonce,
	code_challenge, code_challenge_method, auth_time, session_hash, created_at, expires_at, used_at, grant_id`

func scanAuthCode(row pgx.Row) (*store.AuthCode, error) {
	var c store.AuthCode
	err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.RedirectURISent, listCol{&c.Scopes}, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, timeCol{&c.AuthTime}, &c.SessionHash, timeCol{&c.CreatedAt},
		timeCol{&c.ExpiresAt}, timeCol{&c.UsedAt}, optionalCol{&c.GrantID})
	if err != nil {
		return nil, mapErr(err)
	}
	return &c, nil
}

func validAuthCode(c *store.AuthCode) bool {
	return store.ValidText(c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.Nonce, c.CodeChallenge,
		c.CodeChallengeMethod, c.SessionHash, c.GrantID) && store.ValidText(c.Scopes...)
}

// insertAuthCode stores c, which validAuthCode accepted, with db: the pool
// or a transaction.
func insertAuthCode(ctx context.Context, db execer, c *store.AuthCode) error {
	_, err := db.Exec(ctx, `INSERT INTO authorization_codes (`+authCodeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.RedirectURISent, jsonList(c.Scopes), c.Nonce,
		c.CodeChallenge, c.CodeChallengeMethod, millis(c.AuthTime), c.SessionHash, millis(c.CreatedAt),
		c.ExpiresAt.UnixMilli(), millis(c.UsedAt), optional(c.GrantID))
	if err != nil {
		return fmt.Errorf("authorization code: %w", mapErr(err))
	}
	return nil
}

// CreateAuthCode stores c; ErrConflict if its hash is taken, ErrNotFound if
// its client or user does not exist.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	if !validAuthCode(c) {
		return fmt.Errorf("create authorization code: %w", store.ErrInvalid)
	}
	if err := insertAuthCode(ctx, s.pool, c); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// GetAuthCode returns the code under hash, in whatever state.
func (s *Store) GetAuthCode(ctx context.Context, hash string) (*store.AuthCode, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	return scanAuthCode(s.pool.QueryRow(ctx, `SELECT `+authCodeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
}

// BurnAuthCode marks an unused code used without a grant.
func (s *Store) BurnAuthCode(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := s.execOne(ctx, `UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`,
		hash, now.UnixMilli())
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := exists(ctx, s.pool, `SELECT 1 FROM authorization_codes WHERE hash = $1`, hash)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("burn authorization code: used already: %w", store.ErrConflict)
	}
	return store.ErrNotFound
}

// RedeemAuthCode marks an unused, unexpired code used for g and stores g
// and refresh, in one transaction. Of concurrent redemptions, on any number
// of instances, exactly one finds the code unused: the others wait for its
// row lock, then (READ COMMITTED) re-check used_at on the committed row, and
// read the winner's grant id in a statement that sees its commit.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) (string, error) {
	if !store.ValidText(hash) {
		return "", store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return "", fmt.Errorf("redeem authorization code: %w", store.ErrInvalid)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
	}
	defer tx.Rollback(ctx) // a no-op once committed
	tag, err := tx.Exec(ctx, `UPDATE authorization_codes SET used_at = $2, grant_id = $3
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, now.UnixMilli(), g.ID)
	if err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		// Nothing matched: an unknown or expired code, or a used one, whose
		// first grant the caller revokes.
		var usedAt *int64
		var grantID *string
		err := tx.QueryRow(ctx, `SELECT used_at, grant_id FROM authorization_codes WHERE hash = $1`, hash).Scan(&usedAt, &grantID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return "", store.ErrNotFound
		case err != nil:
			return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
		case usedAt != nil:
			first := ""
			if grantID != nil {
				first = *grantID
			}
			return first, fmt.Errorf("redeem authorization code: used already: %w", store.ErrConflict)
		}
		return "", store.ErrNotFound // expired
	}
	if err := insertGrant(ctx, tx, g); err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", redeemKeyTaken(err))
	}
	if refresh != nil {
		if err := insertRefreshToken(ctx, tx, refresh); err != nil {
			return "", fmt.Errorf("redeem authorization code: %w", redeemKeyTaken(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("redeem authorization code: commit: %w", mapErr(err))
	}
	return "", nil
}

// redeemKeyTaken keeps a taken grant id or token hash from reading as
// store.ErrConflict, which for a redemption means a used code.
func redeemKeyTaken(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("new record's key is taken: %v", err)
	}
	return err
}
