package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Emails are lower-cased here as well as by the caller, so that uniqueness
// and lookups never depend on every caller remembering to.

const userColumns = `id, email, name, password_hash, disabled, sysadmin, created_at, updated_at, email_verified`

func scanUser(row Row) (*store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Disabled, &u.Sysadmin,
		TimeCol{&u.CreatedAt}, TimeCol{&u.UpdatedAt}, &u.EmailVerified)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// userText reports whether every string of u but its id is text
// (store.ValidText).
func userText(u *store.User) bool {
	return store.ValidText(u.Email, u.Name, u.PasswordHash)
}

// CreateUser stores u; ErrConflict if its id or email is taken.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	// Before lower-casing, which would quietly turn invalid UTF-8 into U+FFFD.
	if !store.ValidText(u.ID) || !userText(u) {
		return fmt.Errorf("create user: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, strings.ToLower(u.Email), u.Name, u.PasswordHash, u.Disabled, u.Sysadmin,
		Millis(u.CreatedAt), Millis(u.UpdatedAt), u.EmailVerified)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanUser(s.b.Reader().QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// GetUserByEmail returns the user whose email is email in any case, or ErrNotFound.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	if !store.ValidText(email) {
		return nil, store.ErrNotFound
	}
	return scanUser(s.b.Reader().QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`,
		strings.ToLower(email)))
}

// ListUsers returns every user, ordered by email (bytewise).
func (s *Store) ListUsers(ctx context.Context) ([]*store.User, error) {
	us, err := queryAll(ctx, s.b.Reader(), scanUser, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// HasUsers reports whether the users table has a row.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.b.Reader().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("has users: %w", err)
	}
	return ok, nil
}

// UpdateUser replaces everything but the id and CreatedAt; ErrNotFound if
// there is no such user, ErrConflict if the new email is another user's.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	if !store.ValidText(u.ID) {
		return store.ErrNotFound
	}
	if !userText(u) {
		return fmt.Errorf("update user %q: %w", u.ID, store.ErrInvalid)
	}
	if err := updateUser(ctx, s.b.Writer(), u); err != nil {
		return fmt.Errorf("update user %q: %w", u.ID, err)
	}
	return nil
}

func updateUser(ctx context.Context, q Querier, u *store.User) error {
	return execOne(ctx, q, `UPDATE users SET email = $1, name = $2, password_hash = $3, disabled = $4,
		sysadmin = $5, updated_at = $6, email_verified = $8 WHERE id = $7`,
		strings.ToLower(u.Email), u.Name, u.PasswordHash, u.Disabled, u.Sysadmin, Millis(u.UpdatedAt), u.ID, u.EmailVerified)
}

// UpdateUserEndSessions updates the user and ends their sessions, as
// SetPassword does, in one transaction.
func (s *Store) UpdateUserEndSessions(ctx context.Context, u *store.User, now time.Time) (int, error) {
	if !store.ValidText(u.ID) {
		return 0, store.ErrNotFound
	}
	if !userText(u) {
		return 0, fmt.Errorf("update user %q: %w", u.ID, store.ErrInvalid)
	}
	var n int
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := updateUser(ctx, q, u); err != nil {
			return err
		}
		var err error
		n, err = setPassword(ctx, q, u.ID, u.PasswordHash, "", now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("update user %q: %w", u.ID, err)
	}
	return n, nil
}

// DeleteUser deletes the user with their sessions and grants (and so their
// refresh tokens); ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if err := execOne(ctx, s.b.Writer(), `DELETE FROM users WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}
