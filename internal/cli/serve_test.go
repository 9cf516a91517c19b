package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeNeedsIssuerOffLoopback: serve on an address other machines
// reach, without an issuer, is refused before anything is created.
func TestServeNeedsIssuerOffLoopback(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "latchkey.db")
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		code, _, stderr := runCLI(t, "", "serve", "--listen", listen, "--db", "sqlite:"+db)
		if code != 1 || !strings.Contains(stderr, "so the issuer cannot default to http://"+listen) ||
			!strings.Contains(stderr, "--issuer https://auth.example.com") {
			t.Errorf("serve --listen %s: exit %d\n%s", listen, code, stderr)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s: %v", db, err)
	}
}
