package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey/internal/portable"
)

const exportHelp = `
Writes what the installation needs to go on in another database as JSON
lines, for latchkey import, for example to move from SQLite to PostgreSQL:
clients (with their secret hashes), users (with their password hashes),
signing keys, organizations with their members and client groups, service
API keys and registration tokens (by hash), passkeys, TOTP second factors
(the secret sealed as the database holds it, recovery codes by hash), the
registration access tokens of dynamically registered clients (by hash) and
revoked access tokens not yet expired.

The file holds private signing keys and password hashes: keep it as secret
as the database, and delete it after the import. --out FILE is written with
mode 0600 (and replaced whole, only when the export is complete); without
it the export goes to standard output. Run it with the installation's
secrets_keys: TOTP secrets leave the database only sealed, and the import
needs a key that opens them.

Not moved: grants, refresh tokens, sessions, device authorizations, mailed
links, remembered consents and the audit log, so after the move every
device and browser signs in again. Stop the server first, so nothing
changes while the export runs.`

const importHelp = `
Reads what latchkey export wrote and creates its records in the database
(migrating its schema first). The whole file is checked, and then every id
and reference against the database, before anything is written: a
malformed line, a record whose id exists (unless --skip-existing), or a
TOTP secret no configured secrets key opens, leaves the database as it was.

Signing keys are added beside any the database has: every key is published,
and the one whose "signs from" time is latest signs (see latchkey keys list).
TOTP secrets are re-sealed under the first of secrets_keys, so give import
the secrets_keys of the installation that exported them (a new key first is
fine).

Not moved: grants, refresh tokens, sessions, device authorizations, mailed
links, remembered consents and the audit log, so after the move every
device and browser signs in again.`

func runExport(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("export", "export [--db DATABASE] [--config FILE] [--out FILE]", exportHelp)
	var df dbFlags
	df.register(fs)
	out := fs.String("out", "", "write to `FILE`, mode 0600 (default: standard output)")
	st, cfg, err := e.open(ctx, fs, &df, args, true)
	if err != nil {
		return err
	}
	defer st.Close()
	db := redactDSN(cfg.Database)

	fmt.Fprintf(e.Stderr, "exporting from %s\n", db)
	var n portable.Counts
	export := func(w io.Writer) error {
		n, err = portable.Export(ctx, st, w)
		return err
	}
	dest := "standard output"
	if *out == "" {
		err = export(e.Stdout)
	} else {
		dest = *out
		err = writePrivateFile(*out, export)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(e.Stderr, "exported %s to %s\n", n, dest)
	fmt.Fprintln(e.Stderr, "the export holds private signing keys and password hashes: keep it secret, and delete it after the import")
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

func runImport(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("import", "import [--db DATABASE] [--config FILE] [--in FILE] [--skip-existing]", importHelp)
	var df dbFlags
	df.register(fs)
	in := fs.String("in", "", "read from `FILE` (default: standard input)")
	skip := fs.Bool("skip-existing", false, "leave records whose id the database holds already, and count them as skipped")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(df, false, nil)
	if err != nil {
		return err
	}
	r := e.Stdin
	src := "standard input"
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r, src = f, *in
	}
	st, err := openDatabase(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	db := redactDSN(cfg.Database)

	fmt.Fprintf(e.Stderr, "importing %s into %s\n", src, db)
	n, err := portable.Import(ctx, st, r, portable.Options{SkipExisting: *skip})
	var exists *portable.ExistsError
	if errors.As(err, &exists) {
		return fmt.Errorf("import %s: %w; nothing was imported (--skip-existing keeps the records the database has and imports the rest)", src, err)
	}
	if err != nil {
		return fmt.Errorf("import %s: %w", src, err)
	}
	fmt.Fprintf(e.Stderr, "imported %s from %s into %s", n, src, db)
	if n.Skipped > 0 {
		fmt.Fprintf(e.Stderr, "; skipped %d that existed already", n.Skipped)
	}
	fmt.Fprintln(e.Stderr)
	return nil
}
