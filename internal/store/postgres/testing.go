package postgres

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/testenv"
)

// OpenTest returns a migrated store in a new schema of the test PostgreSQL
// server (testenv.PostgresDSN: skipped without one, failed in CI), closed
// and dropped when the test ends. Its pool is big enough for storetest's
// concurrent cases.
func OpenTest(t testing.TB) *Store {
	t.Helper()
	return openTest(t, testenv.PostgresDSN(t))
}

func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	schema := testSchema(t, dsn)
	s, err := OpenAndMigrate(t.Context(), dsn, Options{MaxConns: 25, Schema: schema})
	if err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before testSchema's DROP SCHEMA: cleanups run last first
	return s
}

// testSchema returns the name of a new schema for t, which does not exist
// yet (Migrate creates it), and drops it with everything in it when t ends.
func testSchema(t testing.TB, dsn string) string {
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
