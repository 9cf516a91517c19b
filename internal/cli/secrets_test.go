package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/seal"
)

// runWithKeys runs latchkey args with LATCHKEY_SECRETS_KEY set to keys
// ("" for none).
func runWithKeys(t *testing.T, keys string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "LATCHKEY_SECRETS_KEY" {
			return keys
		}
		return ""
	}
	code = Main(t.Context(), Env{Getenv: getenv, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestSecretsCommands: a database written without a key is sealed the
// first time a command opens it with one, and is then unreadable without
// it; secrets rotate moves everything to a new first key, after which the
// old key alone opens nothing and the new one alone opens everything.
func TestSecretsCommands(t *testing.T) {
	t.Parallel()
	code, a, stderr := runCLI(t, "", "secrets", "new-key")
	a = strings.TrimSpace(a)
	if code != 0 || !strings.HasPrefix(a, seal.KeyPrefix) {
		t.Fatalf("secrets new-key: exit %d, %q\n%s", code, a, stderr)
	}
	_, b, _ := runCLI(t, "", "secrets", "new-key")
	b = strings.TrimSpace(b)
	if b == a {
		t.Fatal("secrets new-key printed the same key twice")
	}
	ringB, err := seal.Parse([]string{b})
	if err != nil {
		t.Fatalf("the key new-key printed does not parse: %v", err)
	}

	db := "sqlite:" + t.TempDir() + "/latchkey.db"
	keysList := func(keys string) (int, string) {
		code, stdout, stderr := runWithKeys(t, keys, "keys", "list", "--db", db)
		return code, stdout + stderr
	}
	if code, _, stderr := runCLI(t, "", "migrate", "--db", db); code != 0 {
		t.Fatalf("migrate: %d\n%s", code, stderr)
	}
	if code, out := keysList(""); code != 0 || !strings.Contains(out, "ES256") {
		t.Fatalf("keys list, no key: exit %d\n%s", code, out)
	}
	if code, out := keysList(a); code != 0 || !strings.Contains(out, "ES256") {
		t.Fatalf("keys list with a, sealing what was plaintext: exit %d\n%s", code, out)
	}
	if code, out := keysList(""); code != 1 || !strings.Contains(out, "no secrets key is configured") {
		t.Errorf("keys list without a key after sealing: exit %d\n%s", code, out)
	}
	code, stdout, stderr := runWithKeys(t, b+", "+a, "secrets", "rotate", "--db", db)
	if code != 0 || !strings.HasPrefix(stdout, "re-sealed ") || !strings.Contains(stdout, "under key "+ringB.KeyIDs()[0]) ||
		!strings.Contains(stdout, "remove it from secrets_keys") {
		t.Errorf("secrets rotate: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.HasPrefix(stdout, "re-sealed 0 ") {
		t.Errorf("secrets rotate re-sealed nothing: %s", stdout)
	}
	if code, out := keysList(a); code != 1 || !strings.Contains(out, "sealed under a secrets key that is not configured") {
		t.Errorf("keys list with the old key alone: exit %d\n%s", code, out)
	}
	if code, out := keysList(b); code != 0 || !strings.Contains(out, "RS256") {
		t.Errorf("keys list with the new key alone: exit %d\n%s", code, out)
	}
	if code, _, stderr := runWithKeys(t, "", "secrets", "rotate", "--db", db); code != 1 || !strings.Contains(stderr, "no secrets key") {
		t.Errorf("secrets rotate without a key: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runWithKeys(t, "short", "secrets", "rotate", "--db", db); code != 1 || !strings.Contains(stderr, "secrets key 1 of 1") {
		t.Errorf("secrets rotate with a bad key: exit %d\n%s", code, stderr)
	}
}
