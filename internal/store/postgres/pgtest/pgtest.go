// Package pgtest gives tests a real PostgreSQL store: a new schema of the
// test server (testenv.PostgresDSN), migrated, and dropped when the test
// ends. It is a package of its own, not part of package postgres, so that
// the latchkey binary does not link package testing.
package pgtest

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Open returns a migrated store in a new schema of the test PostgreSQL
// server (testenv.PostgresDSN: skipped without one, failed in CI), closed
// and dropped when the test ends. Its pool is big enough for storetest's
// concurrent cases.
func Open(t testing.TB) *postgres.Store {
	t.Helper()
	return OpenDSN(t, testenv.PostgresDSN(t))
}

// OpenDSN is Open for the server at dsn, for tests that vary its
// parameters (package postgres runs the conformance suite with each of
// pgx's query exec modes).
func OpenDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, _ := OpenInSchema(t, dsn)
	return s
}

// OpenInSchema is OpenDSN that also names the store's schema, for tests
// that reach the tables directly (VACUUM, statistics).
func OpenInSchema(t testing.TB, dsn string) (*postgres.Store, string) {
	t.Helper()
	schema := Schema(t, dsn)
	s, err := postgres.OpenAndMigrate(t.Context(), dsn, postgres.Options{MaxConns: 25, Schema: schema})
	if err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before Schema's DROP SCHEMA: cleanups run last first
	return s, schema
}

// Schema returns the name of a new schema for t, which does not exist yet
// (postgres.Store.Migrate creates it), and drops it with everything in it
// when t ends. Close every store using it before then.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	schema := "test_" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return schema
}
