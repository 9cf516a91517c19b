package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The status strings in the SQL are store.AuthRequestPending and its
// siblings; storetest checks they come back as the constants.

const authRequestColumns = `id_hash, client_id, redirect_uri, redirect_uri_sent, scopes, state, nonce,
	code_challenge, code_challenge_method, prompt, max_age_s, login_hint, error_code, error_description,
	status, session_hash, created_at, expires_at, dpop_jkt`

func scanAuthRequest(row Row) (*store.AuthRequest, error) {
	var r store.AuthRequest
	var maxAge int64
	err := row.Scan(&r.IDHash, &r.ClientID, &r.RedirectURI, &r.RedirectURISent, listCol{&r.Scopes}, &r.State, &r.Nonce,
		&r.CodeChallenge, &r.CodeChallengeMethod, &r.Prompt, &maxAge, &r.LoginHint, &r.ErrorCode, &r.ErrorDescription,
		&r.Status, &r.SessionHash, TimeCol{&r.CreatedAt}, TimeCol{&r.ExpiresAt}, optionalCol{&r.DPoPJKT})
	if err != nil {
		return nil, err
	}
	r.MaxAge = -1
	if maxAge >= 0 {
		r.MaxAge = time.Duration(maxAge) * time.Second
	}
	return &r, nil
}

// maxAgeSeconds is how a max_age is stored: whole seconds, -1 for none.
func maxAgeSeconds(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Second)
}

// CreateAuthRequest stores a new request; ErrConflict if its id hash is
// taken, ErrNotFound if its client does not exist.
func (s *Store) CreateAuthRequest(ctx context.Context, r *store.AuthRequest) error {
	if !store.ValidText(r.IDHash, r.ClientID, r.RedirectURI, r.State, r.Nonce, r.CodeChallenge, r.CodeChallengeMethod,
		r.Prompt, r.LoginHint, r.ErrorCode, r.ErrorDescription, r.Status, r.SessionHash, r.DPoPJKT) || !store.ValidText(r.Scopes...) {
		return fmt.Errorf("create authorization request: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO authorization_requests (`+authRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		r.IDHash, r.ClientID, r.RedirectURI, r.RedirectURISent, jsonList(r.Scopes), r.State, r.Nonce,
		r.CodeChallenge, r.CodeChallengeMethod, r.Prompt, maxAgeSeconds(r.MaxAge), r.LoginHint, r.ErrorCode, r.ErrorDescription,
		r.Status, r.SessionHash, Millis(r.CreatedAt), r.ExpiresAt.UnixMilli(), optional(r.DPoPJKT))
	if err != nil {
		return fmt.Errorf("create authorization request: %w", err)
	}
	return nil
}

// GetAuthRequest returns the request under idHash unless it expired at now.
func (s *Store) GetAuthRequest(ctx context.Context, idHash string, now time.Time) (*store.AuthRequest, error) {
	if !store.ValidText(idHash) {
		return nil, store.ErrNotFound
	}
	return scanAuthRequest(s.b.Reader().QueryRow(ctx, `SELECT `+authRequestColumns+`
		FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2`, idHash, now.UnixMilli()))
}

// BindAuthRequest binds a pending, unexpired request to sessionHash in one
// conditional update: of two sessions racing for an unbound request exactly
// one gets it (on PostgreSQL the second waits for the first's row lock and
// then, READ COMMITTED, finds it bound).
func (s *Store) BindAuthRequest(ctx context.Context, idHash, sessionHash string, now time.Time) (*store.AuthRequest, error) {
	if !store.ValidText(idHash) {
		return nil, store.ErrNotFound
	}
	if sessionHash == "" || !store.ValidText(sessionHash) {
		return nil, fmt.Errorf("bind authorization request: session hash: %w", store.ErrInvalid)
	}
	r, err := scanAuthRequest(s.b.Writer().QueryRow(ctx, `UPDATE authorization_requests SET session_hash = $2
		WHERE id_hash = $1 AND status = 'pending' AND expires_at > $3 AND session_hash IN ('', $2)
		RETURNING `+authRequestColumns, idHash, sessionHash, now.UnixMilli()))
	if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	return nil, authRequestConflict(ctx, s.b.Reader(), idHash, now)
}

// authRequestConflict tells, after a conditional update of a request
// matched nothing, an unknown or expired request (ErrNotFound) from one
// another session has or that is decided (ErrConflict).
func authRequestConflict(ctx context.Context, q Querier, idHash string, now time.Time) error {
	ok, err := exists(ctx, q, `SELECT 1 FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2`,
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
	n, err := s.b.Writer().Exec(ctx, endAuthRequest, store.AuthRequestDenied, idHash, now.UnixMilli(), sessionHash)
	if err != nil {
		return fmt.Errorf("deny authorization request: %w", err)
	}
	if n == 1 {
		return nil
	}
	return authRequestConflict(ctx, s.b.Reader(), idHash, now)
}

// ApproveAuthRequest ends a pending request bound to sessionHash, stores
// code and remembers consent, in one transaction. Of concurrent decisions,
// on any number of instances, exactly one finds the request pending: on
// PostgreSQL the others wait for its row lock, then re-check the WHERE
// clause; on SQLite the one writer takes them in turn.
func (s *Store) ApproveAuthRequest(ctx context.Context, idHash, sessionHash string, code *store.AuthCode, consent *store.Consent, now time.Time) error {
	if !store.ValidText(idHash, sessionHash) {
		return store.ErrNotFound
	}
	if !validAuthCode(code) || (consent != nil && !validConsent(consent)) {
		return fmt.Errorf("approve authorization request: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, endAuthRequest, store.AuthRequestDone, idHash, now.UnixMilli(), sessionHash)
		if err != nil {
			return err
		}
		if n == 0 {
			return authRequestConflict(ctx, q, idHash, now)
		}
		if err := insertAuthCode(ctx, q, code); err != nil {
			return err
		}
		if consent != nil {
			return insertConsent(ctx, q, consent)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("approve authorization request: %w", err)
	}
	return nil
}

func validConsent(c *store.Consent) bool {
	return store.ValidText(c.UserID, c.ClientID) && store.ValidText(c.Scopes...)
}

// insertConsent adds c's scopes to what its user allowed its client; scopes
// allowed before keep their first time. ON CONFLICT DO NOTHING never fails
// on a row a concurrent approval inserted first.
func insertConsent(ctx context.Context, q Querier, c *store.Consent) error {
	for _, sc := range c.Scopes {
		if _, err := q.Exec(ctx, `INSERT INTO consents (user_id, client_id, scope, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, c.UserID, c.ClientID, sc, Millis(c.CreatedAt)); err != nil {
			return fmt.Errorf("consent: %w", err)
		}
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
	rows, err := queryAll(ctx, s.b.Reader(), func(r Row) (row, error) {
		var x row
		return x, r.Scan(&x.scope, TimeCol{&x.created})
	}, `SELECT scope, created_at FROM consents WHERE user_id = $1 AND client_id = $2 ORDER BY scope`, userID, clientID)
	if err != nil {
		return nil, fmt.Errorf("get consent: %w", err)
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
	return execOne(ctx, s.b.Writer(), `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

const authCodeColumns = `hash, client_id, user_id, redirect_uri, redirect_uri_sent, scopes, nonce,
	code_challenge, code_challenge_method, auth_time, session_hash, created_at, expires_at, used_at, grant_id, dpop_jkt`

func scanAuthCode(row Row) (*store.AuthCode, error) {
	var c store.AuthCode
	err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.RedirectURISent, listCol{&c.Scopes}, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, TimeCol{&c.AuthTime}, &c.SessionHash, TimeCol{&c.CreatedAt},
		TimeCol{&c.ExpiresAt}, TimeCol{&c.UsedAt}, optionalCol{&c.GrantID}, optionalCol{&c.DPoPJKT})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func validAuthCode(c *store.AuthCode) bool {
	return store.ValidText(c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.Nonce, c.CodeChallenge,
		c.CodeChallengeMethod, c.SessionHash, c.GrantID, c.DPoPJKT) && store.ValidText(c.Scopes...)
}

// insertAuthCode stores c, which validAuthCode accepted, with q.
func insertAuthCode(ctx context.Context, q Querier, c *store.AuthCode) error {
	_, err := q.Exec(ctx, `INSERT INTO authorization_codes (`+authCodeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.Hash, c.ClientID, c.UserID, c.RedirectURI, c.RedirectURISent, jsonList(c.Scopes), c.Nonce,
		c.CodeChallenge, c.CodeChallengeMethod, Millis(c.AuthTime), c.SessionHash, Millis(c.CreatedAt),
		c.ExpiresAt.UnixMilli(), Millis(c.UsedAt), optional(c.GrantID), optional(c.DPoPJKT))
	if err != nil {
		return fmt.Errorf("authorization code: %w", err)
	}
	return nil
}

// CreateAuthCode stores c; ErrConflict if its hash is taken, ErrNotFound if
// its client or user does not exist.
func (s *Store) CreateAuthCode(ctx context.Context, c *store.AuthCode) error {
	if !validAuthCode(c) {
		return fmt.Errorf("create authorization code: %w", store.ErrInvalid)
	}
	if err := insertAuthCode(ctx, s.b.Writer(), c); err != nil {
		return fmt.Errorf("create %w", err)
	}
	return nil
}

// GetAuthCode returns the code under hash, in whatever state.
func (s *Store) GetAuthCode(ctx context.Context, hash string) (*store.AuthCode, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	return scanAuthCode(s.b.Reader().QueryRow(ctx, `SELECT `+authCodeColumns+` FROM authorization_codes WHERE hash = $1`, hash))
}

// BurnAuthCode marks an unused code used without a grant.
func (s *Store) BurnAuthCode(ctx context.Context, hash string, now time.Time) error {
	if !store.ValidText(hash) {
		return store.ErrNotFound
	}
	err := execOne(ctx, s.b.Writer(), `UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL`,
		hash, now.UnixMilli())
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := exists(ctx, s.b.Reader(), `SELECT 1 FROM authorization_codes WHERE hash = $1`, hash)
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
// of instances, exactly one finds the code unused: on PostgreSQL the others
// wait for its row lock, then (READ COMMITTED) re-check used_at on the
// committed row, and read the winner's grant id in a statement that sees its
// commit; on SQLite the one writer takes them in turn.
func (s *Store) RedeemAuthCode(ctx context.Context, hash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) (string, error) {
	if !store.ValidText(hash) {
		return "", store.ErrNotFound
	}
	if !validGrant(g) || (refresh != nil && !validRefreshToken(refresh)) {
		return "", fmt.Errorf("redeem authorization code: %w", store.ErrInvalid)
	}
	var first string
	err := s.b.Tx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, `UPDATE authorization_codes SET used_at = $2, grant_id = $3
			WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, now.UnixMilli(), g.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			// Nothing matched: an unknown or expired code, or a used one,
			// whose first grant the caller revokes.
			var usedAt time.Time
			err := q.QueryRow(ctx, `SELECT used_at, grant_id FROM authorization_codes WHERE hash = $1`, hash).
				Scan(TimeCol{&usedAt}, optionalCol{&first})
			switch {
			case err != nil:
				return err // ErrNotFound: unknown
			case !usedAt.IsZero():
				return fmt.Errorf("used already: %w", store.ErrConflict)
			}
			first = ""
			return store.ErrNotFound // expired
		}
		if err := insertGrantAndToken(ctx, q, g, refresh); err != nil {
			// A taken grant id or token hash must not read as
			// ErrConflict, which for a redemption means a used code.
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("new record's key is taken: %v", err)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return first, fmt.Errorf("redeem authorization code: %w", err)
	}
	return "", nil
}
