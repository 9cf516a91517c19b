package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
)

// Second factors (store.TOTPStore): the secret is sealed (totpColumn), each
// accepted step and each recovery code spent by one conditional update.

// BeginTOTP stores a new unconfirmed enrolment, replacing an unconfirmed one.
func (s *Store) BeginTOTP(ctx context.Context, userID string, secret []byte, now time.Time) error {
	if !store.ValidText(userID) || len(secret) == 0 {
		return fmt.Errorf("begin totp: %w", store.ErrInvalid)
	}
	sealed, err := s.seal(totpColumn, userID, secret)
	if err != nil {
		return fmt.Errorf("begin totp: %w", err)
	}
	n, err := s.b.Writer().Exec(ctx, `INSERT INTO totp (user_id, secret, created_at, confirmed_at, last_step)
		VALUES ($1, $2, $3, NULL, 0)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at
		WHERE totp.confirmed_at IS NULL`, userID, sealed, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("begin totp: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("begin totp: confirmed already: %w", store.ErrConflict)
	}
	return nil
}

// GetTOTP returns userID's enrolment.
func (s *Store) GetTOTP(ctx context.Context, userID string) (*store.TOTP, error) {
	if !store.ValidText(userID) {
		return nil, store.ErrNotFound
	}
	var t store.TOTP
	var sealed []byte
	err := s.b.Reader().QueryRow(ctx, `SELECT user_id, secret, created_at, confirmed_at, last_step FROM totp WHERE user_id = $1`, userID).
		Scan(&t.UserID, &sealed, TimeCol{&t.CreatedAt}, TimeCol{&t.ConfirmedAt}, &t.LastStep)
	if err != nil {
		return nil, fmt.Errorf("get totp: %w", err)
	}
	if t.Secret, err = s.open(totpColumn, userID, sealed); err != nil {
		return nil, fmt.Errorf("get totp: %w", err)
	}
	return &t, nil
}

// ConfirmTOTP confirms an enrolment and replaces the recovery codes.
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, recoveryHashes []string, now time.Time) error {
	if !store.ValidText(userID) {
		return store.ErrNotFound
	}
	if !store.ValidText(recoveryHashes...) {
		return fmt.Errorf("confirm totp: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		err := execOne(ctx, q, `UPDATE totp SET confirmed_at = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at IS NULL`,
			userID, now.UnixMilli(), step)
		if errors.Is(err, store.ErrNotFound) {
			ok, err := exists(ctx, q, `SELECT 1 FROM totp WHERE user_id = $1`, userID)
			if err != nil {
				return err
			}
			if ok {
				return fmt.Errorf("confirmed already: %w", store.ErrConflict)
			}
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, h := range recoveryHashes {
			if _, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, used_at) VALUES ($1, $2, NULL)`, userID, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("confirm totp: %w", err)
	}
	return nil
}

// UseTOTPStep records an accepted step, only after the last one (RFC 6238
// §5.2: a code is accepted once).
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	if !store.ValidText(userID) {
		return store.ErrNotFound
	}
	q := s.b.Writer()
	err := execOne(ctx, q, `UPDATE totp SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`, userID, step)
	if errors.Is(err, store.ErrNotFound) {
		ok, err := exists(ctx, q, `SELECT 1 FROM totp WHERE user_id = $1 AND confirmed_at IS NOT NULL`, userID)
		switch {
		case err != nil:
			return fmt.Errorf("use totp step: %w", err)
		case ok:
			return fmt.Errorf("use totp step: used already: %w", store.ErrConflict)
		}
		return fmt.Errorf("use totp step: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("use totp step: %w", err)
	}
	return nil
}

// UseRecoveryCode spends an unused recovery code.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error {
	if !store.ValidText(userID, hash) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`,
		userID, hash, now.UnixMilli()); err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	return nil
}

// CountRecoveryCodes returns how many unused recovery codes userID has.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	if !store.ValidText(userID) {
		return 0, nil
	}
	var n int64
	if err := s.b.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return int(n), nil
}

// DeleteTOTP removes userID's enrolment and recovery codes.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	if !store.ValidText(userID) {
		return store.ErrNotFound
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		return execOne(ctx, q, `DELETE FROM totp WHERE user_id = $1`, userID)
	})
	if err != nil {
		return fmt.Errorf("delete totp: %w", err)
	}
	return nil
}

// IsOrgAdmin reports whether userID is an admin of any organization.
func (s *Store) IsOrgAdmin(ctx context.Context, userID string) (bool, error) {
	if !store.ValidText(userID) {
		return false, nil
	}
	ok, err := exists(ctx, s.b.Reader(), `SELECT 1 FROM org_members WHERE user_id = $1 AND role = $2`, userID, store.RoleAdmin)
	if err != nil {
		return false, fmt.Errorf("is org admin: %w", err)
	}
	return ok, nil
}

// ListSealedTOTP returns every enrolment with its secret as stored and its
// recovery codes, by user id: two queries, the codes matched in memory.
func (s *Store) ListSealedTOTP(ctx context.Context) ([]*store.SealedTOTP, error) {
	q := s.b.Reader()
	ts, err := queryAll(ctx, q, func(r Row) (*store.SealedTOTP, error) {
		var t store.SealedTOTP
		err := r.Scan(&t.UserID, &t.Secret, TimeCol{&t.CreatedAt}, TimeCol{&t.ConfirmedAt}, &t.LastStep)
		return &t, err
	}, `SELECT user_id, secret, created_at, confirmed_at, last_step FROM totp ORDER BY user_id`)
	if err != nil {
		return nil, fmt.Errorf("list sealed totp: %w", err)
	}
	type code struct {
		userID string
		store.RecoveryCode
	}
	codes, err := queryAll(ctx, q, func(r Row) (code, error) {
		var c code
		err := r.Scan(&c.userID, &c.Hash, TimeCol{&c.UsedAt})
		return c, err
	}, `SELECT user_id, hash, used_at FROM recovery_codes ORDER BY user_id, hash`)
	if err != nil {
		return nil, fmt.Errorf("list sealed totp: recovery codes: %w", err)
	}
	byUser := make(map[string]*store.SealedTOTP, len(ts))
	for _, t := range ts {
		byUser[t.UserID] = t
	}
	for _, c := range codes {
		// A code without an enrolment (none is written so) has nothing to
		// go with, and is left out.
		if t := byUser[c.userID]; t != nil {
			t.Recovery = append(t.Recovery, c.RecoveryCode)
		}
	}
	return ts, nil
}

// CheckSealedTOTP reports whether sealed opens as userID's secret.
func (s *Store) CheckSealedTOTP(userID string, sealed []byte) error {
	_, err := s.openImportedTOTP(userID, sealed)
	return err
}

// openImportedTOTP opens a sealed secret from another database: it must be
// sealed (an export never carries the plaintext), and open for this row.
func (s *Store) openImportedTOTP(userID string, sealed []byte) ([]byte, error) {
	switch {
	case !store.ValidText(userID):
		return nil, fmt.Errorf("totp secret: %w", store.ErrInvalid)
	case !seal.Sealed(sealed):
		return nil, fmt.Errorf("totp secret of %q is not a sealed value: %w", userID, store.ErrInvalid)
	case s.sealer.Load() == nil:
		return nil, fmt.Errorf("totp secret of %q: %w", userID, store.ErrSealed)
	}
	plain, err := s.open(totpColumn, userID, sealed)
	if err != nil {
		return nil, fmt.Errorf("totp secret of %q: %w: %w", userID, store.ErrInvalid, err)
	}
	if len(plain) == 0 {
		return nil, fmt.Errorf("totp secret of %q is empty: %w", userID, store.ErrInvalid)
	}
	return plain, nil
}

// CreateSealedTOTP stores an enrolment from another database, re-sealed.
func (s *Store) CreateSealedTOTP(ctx context.Context, t *store.SealedTOTP) error {
	plain, err := s.openImportedTOTP(t.UserID, t.Secret)
	if err != nil {
		return fmt.Errorf("create sealed totp: %w", err)
	}
	for _, c := range t.Recovery {
		if c.Hash == "" || !store.ValidText(c.Hash) {
			return fmt.Errorf("create sealed totp: recovery code hash: %w", store.ErrInvalid)
		}
	}
	resealed, err := s.seal(totpColumn, t.UserID, plain)
	if err != nil {
		return fmt.Errorf("create sealed totp: %w", err)
	}
	err = s.b.Tx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO totp (user_id, secret, created_at, confirmed_at, last_step) VALUES ($1, $2, $3, $4, $5)`,
			t.UserID, resealed, Millis(t.CreatedAt), Millis(t.ConfirmedAt), t.LastStep); err != nil {
			return err
		}
		for _, c := range t.Recovery {
			if _, err := q.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, used_at) VALUES ($1, $2, $3)`,
				t.UserID, c.Hash, Millis(c.UsedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create sealed totp: %w", err)
	}
	return nil
}
