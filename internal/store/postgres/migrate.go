package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		return nil, fmt.Errorf("%s: %w", "postgres", err)
	}
	return ms, nil
}

// migrateLock is the first half of the advisory lock key Migrate takes
// ("LKMG"); the second is the hash of the schema's name, so deployments in
// other schemas of the same database migrate independently.
const migrateLock = 0x4c4b4d47

// Migrate creates the schema if it is missing and applies the migrations it
// lacks, each in its own transaction with its row in schema_migrations, so a
// failed one leaves the schema at the previous version. Running it again is
// a no-op. Instances that start together may all call it: it holds an
// advisory lock for the whole run, so one migrates and the others then find
// nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	// The lock belongs to this session, so the session ends with Migrate:
	// closing it releases the lock on every path, and the SET below never
	// reaches a connection that serves requests.
	conn := c.Hijack()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(ctx)
	}()
	if err := migrate(ctx, conn, s.schema, ms); err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	return nil
}

func migrate(ctx context.Context, conn *pgx.Conn, schema string, ms []sqlstore.Migration) error {
	// statement_timeout is for requests. Waiting for another instance's
	// migration, or building an index, may take longer; ctx still bounds it.
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return err
	}
	// Strings are TEXT. A database in another encoding refuses what it cannot
	// represent ("日本語" in LATIN1), where SQLite keeps every valid string.
	var encoding string
	if err := conn.QueryRow(ctx, `SHOW server_encoding`).Scan(&encoding); err != nil {
		return err
	}
	if encoding != "UTF8" {
		return fmt.Errorf("database encoding is %s, want UTF8 (CREATE DATABASE … ENCODING 'UTF8')", encoding)
	}
	if schema == "" {
		var current *string // NULL when no schema on the search_path exists
		if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
			return err
		}
		if current == nil {
			return errors.New("no schema on the search_path exists")
		}
		schema = *current
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, migrateLock, schema); err != nil {
		return err
	}
	// Under the lock, since CREATE … IF NOT EXISTS is not safe against itself.
	// Only when missing: CREATE SCHEMA checks for the CREATE privilege on the
	// database even when the schema exists, and a DBA who made the schema
	// need not grant that.
	var found bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&found); err != nil {
		return err
	}
	if !found {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return err
		}
	}
	have, err := schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	// Only when missing, for the same reason: an instance whose role may not
	// create tables can still run Migrate on a current schema and be told so.
	if have == 0 {
		if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return err
		}
	}
	if have > len(ms) {
		return fmt.Errorf("schema at version %d is newer than this binary's %d", have, len(ms))
	}
	for _, m := range ms[have:] {
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx sends it as a simple query, several statements in one.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMilli())
			return err
		}); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// schemaVersion returns the highest applied migration, 0 for a new schema
// (or one that does not exist yet).
func schemaVersion(ctx context.Context, q conn) (int, error) {
	// Two statements: PostgreSQL resolves table names when it plans one, so
	// a single query naming schema_migrations fails on a new schema.
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
