package account

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// TestDummyHashParameters: the hash an unknown user's password is checked
// against has the parameters new hashes get, so it costs what a real
// check costs; raising the parameters without writing a new dummy fails.
func TestDummyHashParameters(t *testing.T) {
	t.Parallel()
	real, err := HashPassword("some password")
	if err != nil {
		t.Fatal(err)
	}
	params := func(h string) string {
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("hash %q: %d parts", h, len(parts))
		}
		return strings.Join(parts[1:4], "$")
	}
	want := fmt.Sprintf("argon2id$v=%d$m=%d,t=%d,p=%d", argon2.Version, argonMemory, argonTime, argonThreads)
	if got := params(real); got != want {
		t.Fatalf("HashPassword's parameters %q; want %q", got, want)
	}
	if got := params(dummyHash); got != want {
		t.Errorf("dummyHash's parameters %q; want %q (write a new dummy with HashPassword)", got, want)
	}
	if ok, err := CheckPassword(dummyHash, "latchkey-dummy-password"); err != nil || !ok {
		t.Errorf("dummyHash does not check: %v %v", ok, err)
	}
}
