package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// migrationFiles are the schema changes, named NNNN_what.sql and numbered
// from 0001 without gaps. A released file never changes; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the embedded migrations in order.
func migrations() ([]sqlstore.Migration, error) {
	ms, err := sqlstore.Migrations(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", "sqlite", err)
	}
	return ms, nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction with its row in schema_migrations, so a failed one leaves the
// schema at the previous version. Running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.w.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.apply(ctx, m, len(ms)); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// apply runs m unless it was applied already. The version is read inside the
// (immediate, so write-locked) transaction: two processes migrating at once
// cannot both apply m.
func (s *Store) apply(ctx context.Context, m sqlstore.Migration, latest int) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have > latest {
		return fmt.Errorf("schema at version %d is newer than this binary's %d", have, latest)
	}
	if have >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// schemaVersion returns the highest applied migration, 0 for a new database.
func (s *Store) schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	// Two statements: SQLite resolves table names when it prepares one, so a
	// single query naming schema_migrations fails on a new database.
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
