package cli

// Tests of `latchkey export` and `latchkey import` on two SQLite files.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

// exportTestDB creates a SQLite file at path holding one record of each
// kind, and returns what the store lists.
func exportTestDB(t *testing.T, path string) (cs []*store.Client, us []*store.User, ks []*store.SigningKey) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.OpenAndMigrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		s.CreateClient(ctx, &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthClientSecretBasic,
			SecretHash: oauth.HashSecret("lk_cs_tv"), GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid"},
			UserCode: store.UserCodePolicy{Alphabet: "digits", Length: 9, Group: 3}, CreatedAt: now, UpdatedAt: now}),
		s.CreateUser(ctx, &store.User{ID: "u1", Email: "ada@example.com", Name: "Ada",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", CreatedAt: now, UpdatedAt: now}),
		s.CreateSigningKey(ctx, &store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: der, CreatedAt: now, NotBefore: now}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return exportTestList(t, path)
}

func exportTestList(t *testing.T, path string) (cs []*store.Client, us []*store.User, ks []*store.SigningKey) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlite.OpenAndMigrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cs, err = s.ListClients(ctx); err != nil {
		t.Fatal(err)
	}
	if us, err = s.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if ks, err = s.ListSigningKeys(ctx); err != nil {
		t.Fatal(err)
	}
	return cs, us, ks
}

// runPortable runs export or import with args and returns its output.
func runPortable(t *testing.T, run func(t *testing.T, args []string, stdout, stderr *bytes.Buffer) error, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func exportCmd(t *testing.T, args []string, stdout, stderr *bytes.Buffer) error {
	return runExport(t.Context(), &Env{Getenv: noEnv, Stdout: stdout, Stderr: stderr}, args)
}

func importCmd(t *testing.T, args []string, stdout, stderr *bytes.Buffer) error {
	return runImport(t.Context(), &Env{Getenv: noEnv, Stdout: stdout, Stderr: stderr}, args)
}

func noEnv(string) string { return "" }

func TestExportImportCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	file := filepath.Join(dir, "latchkey.jsonl")
	wantC, wantU, wantK := exportTestDB(t, src)

	// A file that is there already, readable by all, is replaced by one
	// readable by its owner only.
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runPortable(t, exportCmd, "--db", "sqlite:"+src, "--out", file)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	if want := "exported 1 client, 1 user, 1 signing key to " + file + "\n"; !strings.Contains(stderr, want) {
		t.Errorf("export stderr = %q, want it to contain %q", stderr, want)
	}
	if !strings.Contains(stderr, "private signing keys and password hashes") {
		t.Errorf("export stderr does not warn about what the file holds: %q", stderr)
	}
	if stdout != "" {
		t.Errorf("export --out wrote %q to standard output", stdout)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode = %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	_, stderr, err = runPortable(t, importCmd, "--db", "sqlite:"+dst, "--in", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if want := "imported 1 client, 1 user, 1 signing key from " + file + " into sqlite:" + dst + "\n"; !strings.Contains(stderr, want) {
		t.Errorf("import stderr = %q, want it to contain %q", stderr, want)
	}
	gotC, gotU, gotK := exportTestList(t, dst)
	opt := cmpopts.EquateEmpty()
	if d := cmp.Diff(wantC, gotC, opt); d != "" {
		t.Errorf("clients (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantU, gotU, opt); d != "" {
		t.Errorf("users (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantK, gotK, opt); d != "" {
		t.Errorf("signing keys (-want +got):\n%s", d)
	}

	_, _, err = runPortable(t, importCmd, "--db", "sqlite:"+dst, "--in", file)
	if err == nil || !strings.Contains(err.Error(), `line 2: client "tv" exists already`) || !strings.Contains(err.Error(), "--skip-existing") {
		t.Errorf("second import: got error %v, want one naming client tv and --skip-existing", err)
	}
	_, stderr, err = runPortable(t, importCmd, "--db", "sqlite:"+dst, "--in", file, "--skip-existing")
	if err != nil {
		t.Fatalf("import --skip-existing: %v", err)
	}
	if want := "imported 0 clients, 0 users, 0 signing keys from " + file + " into sqlite:" + dst + "; skipped 3 that existed already\n"; !strings.Contains(stderr, want) {
		t.Errorf("import --skip-existing stderr = %q, want it to contain %q", stderr, want)
	}

	// Without --out the export goes to standard output.
	stdout, stderr, err = runPortable(t, exportCmd, "--db", "sqlite:"+dst)
	if err != nil {
		t.Fatalf("export to standard output: %v", err)
	}
	if !strings.HasPrefix(stdout, `{"kind":"latchkey-export","version":4,`) || strings.Count(stdout, "\n") != 4 {
		t.Errorf("export to standard output = %q, want a header and 3 records", stdout)
	}
	if !strings.Contains(stderr, "exported 1 client, 1 user, 1 signing key to standard output") {
		t.Errorf("export stderr = %q", stderr)
	}
}

func TestExportImportCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	bad := filepath.Join(dir, "bad.jsonl")
	src := filepath.Join(dir, "src.db")
	exportTestDB(t, src)
	if err := os.WriteFile(bad, []byte(`{"kind":"latchkey-export","version":1,"exported_at":"2026-03-04T05:06:07.000Z","clients":1,"users":0,"signing_keys":0}`+"\n"+`{"kind":"client","id":"tv",}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, args []string, stdout, stderr *bytes.Buffer) error
		args []string
		want string
	}{
		{"export from a missing file", exportCmd, []string{"--db", "sqlite:" + missing}, "there is no database at " + missing + ": name it with --db sqlite:PATH"},
		{"export into a missing directory", exportCmd, []string{"--db", "sqlite:" + src, "--out", filepath.Join(dir, "no", "x.jsonl")}, "export: open " + filepath.Join(dir, "no")},
		{"import a missing file", importCmd, []string{"--db", "sqlite:" + filepath.Join(dir, "dst.db"), "--in", filepath.Join(dir, "nope.jsonl")}, "import: open " + filepath.Join(dir, "nope.jsonl")},
		{"import a malformed file", importCmd, []string{"--db", "sqlite:" + filepath.Join(dir, "dst.db"), "--in", bad}, "import " + bad + ": line 2: not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runPortable(t, tt.run, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("export created %s: %v", missing, err)
	}

	for _, args := range [][]string{{"stray"}, {"--nope"}} {
		if _, stderr, err := runPortable(t, exportCmd, args...); !errors.Is(err, errUsage) || !strings.Contains(stderr, "Usage: latchkey export") {
			t.Errorf("export %v: got %v, want errUsage and the usage", args, err)
		}
		if _, stderr, err := runPortable(t, importCmd, args...); !errors.Is(err, errUsage) || !strings.Contains(stderr, "Usage: latchkey import") {
			t.Errorf("import %v: got %v, want errUsage and the usage", args, err)
		}
	}
}
