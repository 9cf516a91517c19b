package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// dbFlags are the flags of every command that opens the database.
type dbFlags struct {
	config, db string
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "the YAML configuration `FILE` (default $LATCHKEY_CONFIG)")
	fs.StringVar(&f.db, "db", "", "the `DATABASE`: sqlite:PATH or postgres://USER@HOST/DB (default $LATCHKEY_DB, else the configuration's, else sqlite:latchkey.db)")
}

// loadConfig reads the configuration (the file, then LATCHKEY_*
// variables), puts --db and then what set says on top, and with validate
// checks the result. The file's problems and the result's are reported
// together, so that one run shows everything to fix.
func (e *Env) loadConfig(f dbFlags, validate bool, set func(*config.Config) error) (config.Config, error) {
	cfg, err := config.Load(cmp.Or(f.config, e.Getenv("LATCHKEY_CONFIG")), e.Getenv)
	var pe *fs.PathError
	if errors.As(err, &pe) { // no file to read: nothing else is worth saying
		return cfg, err
	}
	if f.db != "" {
		cfg.Database = f.db
	}
	if set != nil {
		if serr := set(&cfg); serr != nil {
			return cfg, serr
		}
	}
	if validate {
		err = errors.Join(err, server.Validate(cfg))
	}
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", indent(err))
	}
	return cfg, nil
}

// indent puts each line of err under a bullet.
func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  - " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// open parses args with fs, on which df is registered, and opens the
// database they and the configuration name (see openDatabase).
func (e *Env) open(ctx context.Context, fs *flag.FlagSet, df *dbFlags, args []string, existing bool) (store.Store, config.Config, error) {
	if _, err := e.parse(fs, args); err != nil {
		return nil, config.Config{}, err
	}
	cfg, err := e.loadConfig(*df, false, nil)
	if err != nil {
		return nil, cfg, err
	}
	st, err := openDatabase(ctx, cfg, existing)
	return st, cfg, err
}

// openDatabase opens the database of cfg, creating or upgrading its
// schema. With existing, a SQLite file must be there already: a command
// that reads the database would otherwise create an empty one, and then
// show or export nothing, after a typo in --db or in another directory.
func openDatabase(ctx context.Context, cfg config.Config, existing bool) (store.Store, error) {
	if path, ok := strings.CutPrefix(cfg.Database, "sqlite:"); ok && existing && path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if abs, err := filepath.Abs(path); err == nil && abs != path {
				path += " (" + abs + ")"
			}
			return nil, fmt.Errorf("there is no database at %s: name it with --db sqlite:PATH (or LATCHKEY_DB), "+
				"or create one with `latchkey migrate` or `latchkey serve --dev`", path)
		}
	}
	st, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactDSN(cfg.Database), err)
	}
	return st, nil
}

// redactDSN hides a password in a database URL.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":REDACTED" + dsn[at:]
			}
		}
	}
	return dsn
}

func runMigrate(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("migrate", "migrate [--db DATABASE] [--config FILE]", `
Creates the database, or upgrades its schema to this latchkey's. serve
does the same when it starts; migrate lets a deploy do it first.`)
	var df dbFlags
	df.register(fs)
	st, cfg, err := e.open(ctx, fs, &df, args, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s: schema is current\n", redactDSN(cfg.Database))
	return nil
}
