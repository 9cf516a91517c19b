package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Account tokens (store.AccountStore): links mailed to a person, each used
// once by a conditional update that the rest of its transaction follows.

const accountTokenColumns = `hash, purpose, user_id, email, created_at, expires_at, used_at`

func scanAccountToken(row Row) (*store.AccountToken, error) {
	var t store.AccountToken
	err := row.Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, TimeCol{&t.CreatedAt}, TimeCol{&t.ExpiresAt}, TimeCol{&t.UsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateAccountToken stores t and its mail (nil for none) in one transaction.
func (s *Store) CreateAccountToken(ctx context.Context, t *store.AccountToken, mail *store.Mail) error {
	if !store.ValidText(t.Hash, t.UserID, t.Email) || (mail != nil && !validMail(mail)) ||
		(t.Purpose != store.PurposeVerifyEmail && t.Purpose != store.PurposeResetPassword) {
		return fmt.Errorf("create account token: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO account_tokens (`+accountTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.Hash, t.Purpose, t.UserID, strings.ToLower(t.Email), Millis(t.CreatedAt), t.ExpiresAt.UnixMilli(), Millis(t.UsedAt))
		if err != nil || mail == nil {
			return err
		}
		return s.insertMail(ctx, q, mail)
	})
	if err != nil {
		return fmt.Errorf("create account token: %w", err)
	}
	return nil
}

// QueueMail puts a notice into the outbox.
func (s *Store) QueueMail(ctx context.Context, m *store.Mail) error {
	if !validMail(m) {
		return fmt.Errorf("queue mail: %w", store.ErrInvalid)
	}
	if err := s.insertMail(ctx, s.b.Writer(), m); err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

// GetAccountToken returns the token stored under hash for purpose.
func (s *Store) GetAccountToken(ctx context.Context, hash, purpose string) (*store.AccountToken, error) {
	if !store.ValidText(hash, purpose) {
		return nil, store.ErrNotFound
	}
	return scanAccountToken(s.b.Reader().QueryRow(ctx, `SELECT `+accountTokenColumns+` FROM account_tokens
		WHERE hash = $1 AND purpose = $2`, hash, purpose))
}

// useAccountToken marks an unused, unexpired token of purpose used at now,
// in q's transaction, and spends the same user's other unused tokens (of
// purposes, all when empty). ErrNotFound for an unknown token; ErrConflict
// for a used or expired one.
func useAccountToken(ctx context.Context, q Querier, hash, purpose string, now time.Time) (*store.AccountToken, error) {
	t, err := scanAccountToken(q.QueryRow(ctx, `UPDATE account_tokens SET used_at = $3
		WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING `+accountTokenColumns, hash, purpose, now.UnixMilli()))
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	ok, err := exists(ctx, q, `SELECT 1 FROM account_tokens WHERE hash = $1 AND purpose = $2`, hash, purpose)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return nil, fmt.Errorf("account token used or expired: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// spendTokens marks the user's unused tokens of purpose used at now.
func spendTokens(ctx context.Context, q Querier, userID, purpose string, now time.Time) error {
	_, err := q.Exec(ctx, `UPDATE account_tokens SET used_at = $3 WHERE user_id = $1 AND used_at IS NULL AND purpose = $2`,
		userID, purpose, now.UnixMilli())
	return err
}

// VerifyEmail uses a verification token: the account's address becomes the
// token's, verified. The user's other unused verification tokens are spent
// (an older link must not turn the address back), and so are reset tokens
// when the address changed (they went to the old one).
func (s *Store) VerifyEmail(ctx context.Context, hash string, now time.Time) (*store.User, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	var u *store.User
	err := s.b.Tx(ctx, func(q Querier) error {
		t, err := useAccountToken(ctx, q, hash, store.PurposeVerifyEmail, now)
		if err != nil {
			return err
		}
		old, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, t.UserID))
		if err != nil {
			return err
		}
		taken, err := exists(ctx, q, `SELECT 1 FROM users WHERE email = $1 AND id <> $2`, t.Email, t.UserID)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("address is another account's: %w", store.ErrConflict)
		}
		u, err = scanUser(q.QueryRow(ctx, `UPDATE users SET email = $1, email_verified = TRUE, updated_at = $2
			WHERE id = $3 RETURNING `+userColumns, t.Email, now.UnixMilli(), t.UserID))
		if err != nil {
			return err
		}
		if err := spendTokens(ctx, q, t.UserID, store.PurposeVerifyEmail, now); err != nil {
			return err
		}
		if old.Email != u.Email {
			return spendTokens(ctx, q, t.UserID, store.PurposeResetPassword, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify email: %w", err)
	}
	return u, nil
}

// ResetPassword uses a reset token to set a new password hash, then does
// what SetPassword does.
func (s *Store) ResetPassword(ctx context.Context, hash, passwordHash string, now time.Time) (*store.User, error) {
	if !store.ValidText(hash) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(passwordHash) {
		return nil, fmt.Errorf("reset password: %w", store.ErrInvalid)
	}
	var u *store.User
	err := s.b.Tx(ctx, func(q Querier) error {
		t, err := useAccountToken(ctx, q, hash, store.PurposeResetPassword, now)
		if err != nil {
			return err
		}
		if _, err := setPassword(ctx, q, t.UserID, passwordHash, "", now); err != nil {
			return err
		}
		u, err = scanUser(q.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, t.UserID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reset password: %w", err)
	}
	return u, nil
}

// SetPassword replaces a password hash and ends the user's other sessions.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash, keepSession string, now time.Time) (int, error) {
	if !store.ValidText(userID, keepSession) {
		return 0, store.ErrNotFound
	}
	if !store.ValidText(passwordHash) {
		return 0, fmt.Errorf("set password: %w", store.ErrInvalid)
	}
	var n int
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		n, err = setPassword(ctx, q, userID, passwordHash, keepSession, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("set password: %w", err)
	}
	return n, nil
}

// userAttachedGrants selects the active grants of attached clients approved
// in user $2's sessions other than $3: what signing them all out revokes.
const userAttachedGrants = `SELECT g.id FROM grants g JOIN clients c ON c.id = g.client_id
	JOIN sessions s ON s.hash = g.session_hash
	WHERE s.user_id = $2 AND s.hash <> $3 AND g.revoked_at IS NULL AND c.session_attachment = 'attached'`

// setPassword is SetPassword in q's transaction: the password first (its
// conditional update finds the user), then the attached grants, their
// refresh tokens first as RevokeGrantsBySession does, then the sessions.
func setPassword(ctx context.Context, q Querier, userID, passwordHash, keepSession string, now time.Time) (int, error) {
	if err := execOne(ctx, q, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`,
		passwordHash, now.UnixMilli(), userID); err != nil {
		return 0, err
	}
	if _, err := q.Exec(ctx, endTokens+`IN (`+userAttachedGrants+`)`, now.UnixMilli(), userID, keepSession); err != nil {
		return 0, fmt.Errorf("refresh tokens: %w", err)
	}
	if _, err := q.Exec(ctx, `UPDATE grants SET revoked_at = $1 WHERE id IN (`+userAttachedGrants+`)`,
		now.UnixMilli(), userID, keepSession); err != nil {
		return 0, fmt.Errorf("grants: %w", err)
	}
	n, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND hash <> $2`, userID, keepSession)
	if err != nil {
		return 0, fmt.Errorf("sessions: %w", err)
	}
	if err := spendTokens(ctx, q, userID, store.PurposeResetPassword, now); err != nil {
		return 0, err
	}
	return int(n), nil
}

// ListUserGrants returns the person's active grants with what the account
// page shows of them. The last use is the newest refresh token's creation,
// read through refresh_tokens' grant index.
func (s *Store) ListUserGrants(ctx context.Context, userID string, now time.Time) ([]*store.GrantInfo, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	cols := ""
	for _, c := range strings.Split(grantColumns, ", ") {
		cols += "g." + c + ", "
	}
	rows, err := queryAll(ctx, s.b.Reader(), func(row Row) (*store.GrantInfo, error) {
		gi := &store.GrantInfo{Grant: &store.Grant{}}
		err := row.Scan(append(grantDest(gi.Grant), &gi.ClientName, TimeCol{&gi.LastUsedAt}, &gi.OriginIP, &gi.OriginUserAgent)...)
		if err != nil {
			return nil, err
		}
		if gi.LastUsedAt.IsZero() {
			gi.LastUsedAt = gi.Grant.CreatedAt
		}
		return gi, nil
	}, `SELECT `+cols+`c.name, (SELECT MAX(r.created_at) FROM refresh_tokens r WHERE r.grant_id = g.id),
		g.origin_ip, g.origin_user_agent
		FROM grants g JOIN clients c ON c.id = g.client_id
		WHERE g.user_id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2
		ORDER BY g.created_at DESC, g.id`, userID, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list user grants: %w", err)
	}
	return rows, nil
}

// ListConsents returns the person's remembered consent, one record per
// client (the table keeps a row per scope).
func (s *Store) ListConsents(ctx context.Context, userID string) ([]*store.Consent, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	type row struct {
		client, scope string
		created       time.Time
	}
	rs, err := queryAll(ctx, s.b.Reader(), func(r Row) (row, error) {
		var x row
		err := r.Scan(&x.client, &x.scope, TimeCol{&x.created})
		return x, err
	}, `SELECT client_id, scope, created_at FROM consents WHERE user_id = $1 ORDER BY client_id, scope`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	var out []*store.Consent
	for _, x := range rs {
		if len(out) == 0 || out[len(out)-1].ClientID != x.client {
			out = append(out, &store.Consent{UserID: userID, ClientID: x.client, CreatedAt: x.created})
		}
		c := out[len(out)-1]
		c.Scopes = append(c.Scopes, x.scope)
		if !x.created.IsZero() && (c.CreatedAt.IsZero() || x.created.Before(c.CreatedAt)) {
			c.CreatedAt = x.created
		}
	}
	return out, nil
}
