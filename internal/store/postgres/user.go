package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// Emails are lower-cased here as well as by the caller, so that uniqueness and
// lookups never depend on every caller remembering to. Go does it, not SQL's
// lower(): the column holds bytes, and both backends then agree.

const userColumns = `id, email, name, password_hash, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (*store.User, error) {
	var u store.User
	err := row.Scan(byteaCol{&u.ID}, byteaCol{&u.Email}, byteaCol{&u.Name}, byteaCol{&u.PasswordHash}, &u.Disabled,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err != nil {
		return nil, mapErr(err)
	}
	return &u, nil
}

// CreateUser stores u; ErrConflict if its id or email is taken.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		bytea(u.ID), bytea(strings.ToLower(u.Email)), bytea(u.Name), bytea(u.PasswordHash), u.Disabled,
		millis(u.CreatedAt), millis(u.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create user: %w", mapErr(err))
	}
	return nil
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, bytea(id)))
}

// GetUserByEmail returns the user whose email is email in any case, or ErrNotFound.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`,
		bytea(strings.ToLower(email))))
}

// ListUsers returns every user, ordered by email (bytewise).
func (s *Store) ListUsers(ctx context.Context) ([]*store.User, error) {
	us, err := queryAll(ctx, s, scanUser, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser replaces everything but the id and CreatedAt; ErrNotFound if
// there is no such user, ErrConflict if the new email is another user's.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	err := s.execOne(ctx, `UPDATE users SET email = $1, name = $2, password_hash = $3, disabled = $4, updated_at = $5
		WHERE id = $6`,
		bytea(strings.ToLower(u.Email)), bytea(u.Name), bytea(u.PasswordHash), u.Disabled, millis(u.UpdatedAt),
		bytea(u.ID))
	if err != nil {
		return fmt.Errorf("update user %q: %w", u.ID, err)
	}
	return nil
}

// DeleteUser deletes the user with their sessions and grants (and so their
// refresh tokens); ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := s.execOne(ctx, `DELETE FROM users WHERE id = $1`, bytea(id)); err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}
