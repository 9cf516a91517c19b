// Package testenv finds the real components tests run against (Chromium,
// PostgreSQL) and decides what happens when one is missing: a skip on a
// developer's machine, a failure in CI (LATCHKEY_TEST_REQUIRE=1), so a test
// can never pass silently by not running.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Require reports whether a missing component must fail the test.
func Require() bool { return os.Getenv("LATCHKEY_TEST_REQUIRE") == "1" }

// Missing skips t, or fails it when components are required.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Require() {
		t.Fatalf("%s is required (LATCHKEY_TEST_REQUIRE=1) but missing", what)
	}
	t.Skipf("%s missing; skipping (set LATCHKEY_TEST_REQUIRE=1 to fail instead)", what)
}

// Chromium returns the path of the Chromium binary for page tests.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("LATCHKEY_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "Chromium (Debian package chromium, or LATCHKEY_TEST_CHROMIUM)")
	return ""
}

// PostgresDSN returns the URL of the PostgreSQL server for tests.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv("LATCHKEY_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	Missing(t, "PostgreSQL (LATCHKEY_TEST_POSTGRES)")
	return ""
}
