package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keyRow is a row of `keys list`: kid, algorithm and state.
var keyRow = regexp.MustCompile(`(?m)^(\S+)\s+(ES256|RS256)\s+\S+\s+\S+\s+\S+\s+(.+?)\s*$`)

// TestKeysCommands: a database has a key of each algorithm; `keys rotate`
// rotates both, or the one --alg names, and refuses an algorithm it does
// not sign with before touching the database.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "keys.db")
	if code, _, stderr := runCLI(t, "", "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, stderr)
	}
	list := func() map[string][]string { // algorithm -> states
		t.Helper()
		code, stdout, stderr := runCLI(t, "", "keys", "list", "--db", db)
		if code != 0 {
			t.Fatalf("keys list: exit %d\n%s", code, stderr)
		}
		got := map[string][]string{}
		for _, m := range keyRow.FindAllStringSubmatch(stdout, -1) {
			got[m[2]] = append(got[m[2]], m[3])
		}
		return got
	}
	if got := list(); len(got["ES256"]) != 1 || len(got["RS256"]) != 1 || got["ES256"][0] != "signing" || got["RS256"][0] != "signing" {
		t.Fatalf("keys of a new database: %v; want one of each algorithm, signing", got)
	}

	code, stdout, stderr := runCLI(t, "", "keys", "rotate", "--db", db, "--alg", "RS256", "--yes")
	if code != 0 || !strings.Contains(stdout, "new RS256 key ") || strings.Contains(stdout, "new ES256 key") {
		t.Fatalf("keys rotate --alg RS256: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := list(); len(got["ES256"]) != 1 || len(got["RS256"]) != 2 || !strings.Contains(strings.Join(got["RS256"], ","), "published, not yet signing") {
		t.Errorf("after rotating RS256: %v; want a second RS256 key published, not yet signing, and one ES256 key", got)
	}

	code, stdout, stderr = runCLI(t, "", "keys", "rotate", "--db", db, "--yes")
	if code != 0 || !strings.Contains(stdout, "new ES256 key ") || !strings.Contains(stdout, "new RS256 key ") {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := list(); len(got["ES256"]) != 2 || len(got["RS256"]) != 3 {
		t.Errorf("after rotating both: %v; want 2 ES256 and 3 RS256 keys", got)
	}

	for _, alg := range []string{"HS256", "rs256", "none", ""} {
		code, _, stderr := runCLI(t, "", "keys", "rotate", "--db", db, "--alg", alg, "--yes")
		if code != 2 || !strings.Contains(stderr, "want ES256 or RS256") {
			t.Errorf("keys rotate --alg %q: exit %d\n%s; want 2 and the usage", alg, code, stderr)
		}
	}
	if got := list(); len(got["ES256"]) != 2 || len(got["RS256"]) != 3 {
		t.Errorf("a refused rotation changed the keys: %v", got)
	}
}
