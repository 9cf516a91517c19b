package oauth

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[a-z2-7]{20}$`)
	seen := map[string]bool{}
	for range 100 {
		id, err := NewID(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(id) || len(id) != IDLength {
			t.Fatalf("NewID = %q; want %d characters of lower-case base32", id, IDLength)
		}
		if seen[id] {
			t.Fatalf("NewID drew %q twice", id)
		}
		seen[id] = true
	}
	if id, err := NewID(bytes.NewReader(make([]byte, 13))); err != nil || id != strings.Repeat("a", 20) {
		t.Errorf("NewID of zeros = %q, %v", id, err)
	}
	if _, err := NewID(bytes.NewReader(make([]byte, 12))); err == nil {
		t.Error("NewID with too little randomness succeeded")
	}
}
