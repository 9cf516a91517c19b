package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one schema change of a backend: its file NNNN_what.sql.
// The files differ between backends (each database's types and DDL), and
// so do the runners that apply them (a lock of their own, a transaction
// each); the naming rule and the version check are the same.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads the migrations in dir of fsys, in order, and checks
// that they are numbered from 0001 without gaps. A released file never
// changes; a change is a new file.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var ms []Migration // fs.Glob returns names sorted, so NNNN_ orders them
	for i, p := range names {
		name := path.Base(p)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", name, i+1)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	return ms, nil
}

// SchemaCurrent reports, as an error, a database whose schema is at
// version have when ms is what this binary knows: behind (not migrated
// yet), or ahead (a newer binary migrated it). Readiness checks fail on it.
func SchemaCurrent(have int, ms []Migration) error {
	if want := len(ms); have != want {
		return fmt.Errorf("schema at version %d, want %d", have, want)
	}
	return nil
}

// Migrated brings the schema of s, just opened (unless err says it could
// not be), up to date, and closes s if that fails: a backend's
// OpenAndMigrate.
func Migrated[S interface {
	Migrate(context.Context) error
	Close() error
}](ctx context.Context, s S, err error) (S, error) {
	if err != nil {
		return s, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		var none S
		return none, err
	}
	return s, nil
}
