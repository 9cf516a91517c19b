package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey/internal/portable"
	"github.com/latchkey/latchkey/internal/server"
)

const exportHelp = `Usage: latchkey export [--db sqlite:PATH | postgres://…] [--config FILE] [--out FILE]

Writes the installation's clients (with their secret hashes), users (with
their password hashes) and signing keys as JSON lines, for latchkey import
into another database, for example to move from SQLite to PostgreSQL.

The file holds private signing keys and password hashes: keep it as secret
as the database, and delete it after the import. --out FILE is written with
mode 0600 (and replaced whole, only when the export is complete); without
it the export goes to standard output.

Not moved: grants, refresh tokens, sessions and device authorizations, so
after the move every device and browser signs in again. Stop the server
first, so nothing changes while the export runs.

Flags:
`

const importHelp = `Usage: latchkey import [--db sqlite:PATH | postgres://…] [--config FILE] [--in FILE] [--skip-existing]

Reads what latchkey export wrote and creates its clients, users and signing
keys in the database (migrating its schema first). The whole file is
checked, and then every id against the database, before anything is
written: a malformed line, or a record whose id exists (unless
--skip-existing), leaves the database as it was.

Signing keys are added beside any the database has: every key is published,
and the one whose "signs from" time is latest signs (see latchkey keys list).

Not moved: grants, refresh tokens, sessions and device authorizations, so
after the move every device and browser signs in again.

Flags:
`

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportHelp); fs.PrintDefaults() }
	var sf serverFlags
	sf.register(fs)
	out := fs.String("out", "", "write to `file`, mode 0600 (default: standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sf.load()
	if err != nil {
		return err
	}
	// Opening a SQLite path that does not exist would create an empty
	// database, and a typo would export nothing without a word.
	if path, ok := strings.CutPrefix(cfg.Database, "sqlite:"); ok {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("export: there is no database at %s", path)
		}
	}
	db := redactDSN(cfg.Database)
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database %s: %w", db, err)
	}
	defer st.Close()

	fmt.Fprintf(stderr, "exporting clients, users and signing keys from %s\n", db)
	var n portable.Counts
	export := func(w io.Writer) error {
		n, err = portable.Export(ctx, st, w)
		return err
	}
	dest := "standard output"
	if *out == "" {
		err = export(stdout)
	} else {
		dest = *out
		err = writePrivateFile(*out, export)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stderr, "exported %s to %s\n", n, dest)
	fmt.Fprintln(stderr, "the export holds private signing keys and password hashes: keep it secret, and delete it after the import")
	return nil
}

// writePrivateFile writes path through write, readable by its owner only.
// It writes a temporary file beside path and renames it, so path is never
// half-written, and an existing path with a wider mode is replaced rather
// than kept.
func writePrivateFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func runImport(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("import", "", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, importHelp); fs.PrintDefaults() }
	var sf serverFlags
	sf.register(fs)
	in := fs.String("in", "", "read from `file` (default: standard input)")
	skip := fs.Bool("skip-existing", false, "leave records whose id the database holds already, and count them as skipped")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sf.load()
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	src := "standard input"
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r, src = f, *in
	}
	db := redactDSN(cfg.Database)
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open database %s: %w", db, err)
	}
	defer st.Close()

	fmt.Fprintf(stderr, "importing %s into %s\n", src, db)
	n, err := portable.Import(ctx, st, r, portable.Options{SkipExisting: *skip})
	var exists *portable.ExistsError
	if errors.As(err, &exists) {
		return fmt.Errorf("import %s: %w; nothing was imported (--skip-existing keeps the records the database has and imports the rest)", src, err)
	}
	if err != nil {
		return fmt.Errorf("import %s: %w", src, err)
	}
	fmt.Fprintf(stderr, "imported %s from %s into %s", n, src, db)
	if n.Skipped > 0 {
		fmt.Fprintf(stderr, "; skipped %d that existed already", n.Skipped)
	}
	fmt.Fprintln(stderr)
	return nil
}
