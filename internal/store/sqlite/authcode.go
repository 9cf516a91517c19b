package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The status strings in the SQL below are store.AuthRequestPending and its
// siblings; storetest checks they come back as the constants.

const authRequestColumns = `id_hash, client_id, redirect_uri, redirect_uri_sent, scopes, state, nonce,
	code_challenge, code_challenge_method, prompt, max_age_s, login_hint, error_code, error_description,
	status, session_hash, created_at, expires_at`

func scanAuthRequest(row rowScanner) (*store.AuthRequest, error) {
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO authorization_requests (`+authRequestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.IDHash, r.ClientID, r.RedirectURI, r.RedirectURISent, list(r.Scopes), r.State, r.Nonce,
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
	return scanAuthRequest(s.r.QueryRowContext(ctx, `SELECT `+authRequestColumns+`
		FROM authorization_requests WHERE id_hash = ? AND expires_at > ?`, idHash, now.UnixMilli()))
}

// BindAuthRequest binds a pending, unexpired request to sessionHash in one
// conditional update: of two sessions racing for an unbound request exactly
// one gets it.
func (s *Store) BindAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) (*store.AuthRequest, error) {
	if !store.ValidText(idHash) {
		return nil, store.ErrNotFound
	}
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return nil, fmt.Errorf("bind authorization request: session hash: %w", store.ErrInvalid)
	}
	r, err := scanAuthRequest(s.w.QueryRowContext(ctx, `UPDATE authorization_requests SET session_hash = ?
		WHERE id_hash = ? AND status = 'pending' AND expires_at > ? AND session_hash IN ('', ?)
		RETURNING `+authRequestColumns, sessionHash, idHash, now.UnixMilli(), sessionHash))
	if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	return nil, authRequestConflict(ctx, s.r, idHash, now)
}

// authRequestConflict tells, after a conditional update of a request matched
// nothing, an unknown or expired request (ErrNotFound) from one another
// session has or that is decided (ErrConflict).
func authRequestConflict(ctx context.Context, db authRowQuerier, idHash string, now time.Time) error {
	ok, err := rowExists(db.QueryRowContext(ctx, `SELECT 1 FROM authorization_requests
		WHERE id_hash = ? AND expires_at > ?`, idHash, now.UnixMilli()))
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
const endAuthRequest = `UPDATE authorization_requests SET status = ?
	WHERE id_hash = ? AND status = 'pending' AND expires_at > ? AND session_hash = ? AND session_hash <> ''`

// DenyAuthRequest ends a pending request bound to sessionHash without a
// code, in one conditional update, so nothing can approve it afterwards.
func (s *Store) DenyAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) error {
	if !store.ValidText(idHash, sessionHash) {
		return store.ErrNotFound
	}
	res, err := s.w.ExecContext(ctx, endAuthRequest, store.AuthRequestDenied, idHash, now.UnixMilli(), sessionHash)
	if err != nil {
		return fmt.Errorf("deny authorization request: %w", mapErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return authRequestConflict(ctx, s.r, idHash, now)
}

// authRowQuerier is a pool or a transaction.
type authRowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ApproveAuthRequest ends a pending request bound to sessionHash, stores
// code and remembers consent, in one transaction (BEGIN IMMEDIATE: SQLite's
// one writer decides which of concurrent decisions finds it pending).
func (s *Store) ApproveAuthRequest(ctx context.Context, idHash, sessionHash string, code *store.AuthCode, consent *store.Consent, now time.Time) error {
	if !store.ValidText(idHash, sessionHash) {
		return store.ErrNotFound
	}
	if !validAuthCode(code) || (consent != nil && !validConsent(consent)) {
		return fmt.Errorf("approve authorization request: %w", store.ErrInvalid)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", mapErr(err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, endAuthRequest, store.AuthRequestDone, idHash, now.UnixMilli(), sessionHash)
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", err)
	}
	if n == 0 {
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
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("approve authorization request: commit: %w", mapErr(err))
	}
	return nil
}

func validConsent(c *store.Consent) bool {
	return store.ValidText(c.UserID, c.ClientID) && store.ValidText(c.Scopes...)
}

// insertConsent adds c's scopes to what its user allowed its client; scopes
// allowed before keep their first time.
func insertConsent(ctx context.Context, db execer, c *store.Consent) error {
	for _, sc := range c.Scopes {
		if _, err := db.ExecContext(ctx, `INSERT INTO consents (user_id, client_id, scope, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.UserID, c.ClientID, sc, millis(c.CreatedAt)); err != nil {
			return fmt.Errorf("consent: %w", mapErr(err))
		}
	}
	return nil
}

// GetConsent returns every scope userID allowed clientID; ErrNotFound if none.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error) {
	if !store.ValidText(userID, clientID) {
		return nil, store.ErrNotFound
	}
	rows, err := s.r.QueryContext(ctx, `SELECT scope, created_at FROM consents
		WHERE user_id = ? AND client_id = ? ORDER BY scope`, userID, clientID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	c := &store.Consent{UserID: userID, ClientID: clientID}
	for rows.Next() {
		var sc string
		var created time.Time
		if err := rows.Scan(&sc, timeCol{&created}); err != nil {
			return nil, err
		}
		c.Scopes = append(c.Scopes, sc)
		if c.CreatedAt.IsZero() || created.Before(c.CreatedAt) {
			c.CreatedAt = created
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if len(c.Scopes) == 0 {
		return nil, store.ErrNotFound
	}
	return c, nil
}

// DeleteConsent forgets what userID allowed clientID.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	if !store.ValidText(userID, clientID) {
		return store.ErrNotFound
	}
	return s.execOne(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
}

const authCodeColumns = `hash, client_id, user_id, redirect_uri, redirect_uri_sent, scopes, nonce,
	code_challenge, code_challenge_method, auth_time, session_hash, created_at, expires_at, used_at, grant_id`

func scanAuthCode(row rowScanner) (*store.AuthCode, error) {
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

// insertAuthCode stores c, which validAuthCode accepted, with db: the
// writer pool or a transaction on it.
func insertAuthCode(ctx context.Context, db execer, c *store.AuthCode) error {
	_, err := db.ExecContext(ctx, `INSERT INTO authorization_codes (`+authCodeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.RedirectURISent, list(c.Scopes), c.Nonce,
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
	if err := insertAuthCode(ctx, s.w, c); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// GetAuthCode returns the code under hash, in whatever state.
func (s *Store) GetAuthCode(ctx context.Context, hash string) (*store.AuthCode, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	return scanAuthCode(s.r.QueryRowContext(ctx, `SELECT `+authCodeColumns+` FROM authorization_codes WHERE hash = ?`, hash))
}

// BurnAuthCode marks an unused code used without a grant.
func (s *Store) BurnAuthCode(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := s.execOne(ctx, `UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL`,
		now.UnixMilli(), hash)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := s.exists(ctx, `SELECT 1 FROM authorization_codes WHERE hash = ?`, hash)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("burn authorization code: used already: %w", store.ErrConflict)
	}
	return store.ErrNotFound
}

// RedeemAuthCode marks an unused, unexpired code used for g and stores g
// and refresh, in one transaction. Of concurrent redemptions exactly one
// finds the code unused: SQLite has one writer at a time, and BEGIN
// IMMEDIATE makes the others wait for it, then see it used.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) (string, error) {
	if !store.ValidText(hash) {
		return "", store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return "", fmt.Errorf("redeem authorization code: %w", store.ErrInvalid)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE authorization_codes SET used_at = ?, grant_id = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ?`, now.UnixMilli(), g.ID, hash, now.UnixMilli())
	if err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return "", fmt.Errorf("redeem authorization code: %w", err)
	}
	if n == 0 {
		// Nothing matched: an unknown or expired code, or a used one, whose
		// first grant the caller revokes.
		var usedAt sql.NullInt64
		var grantID sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT used_at, grant_id FROM authorization_codes WHERE hash = ?`, hash).Scan(&usedAt, &grantID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return "", store.ErrNotFound
		case err != nil:
			return "", fmt.Errorf("redeem authorization code: %w", mapErr(err))
		case usedAt.Valid:
			return grantID.String, fmt.Errorf("redeem authorization code: used already: %w", store.ErrConflict)
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
	if err := tx.Commit(); err != nil {
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
