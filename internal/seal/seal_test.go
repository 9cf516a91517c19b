package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func newKeys(t *testing.T, n int) []string {
	t.Helper()
	var ks []string
	for range n {
		k, err := NewKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

func mustParse(t *testing.T, ks ...string) *Ring {
	t.Helper()
	r, err := Parse(ks)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	ks := newKeys(t, 2)
	a, ba := mustParse(t, ks[0]), mustParse(t, ks[1], ks[0])
	plain := []byte("-----private key bytes-----")
	sealed, err := a.Seal(plain, "signing_keys/k1")
	if err != nil {
		t.Fatal(err)
	}
	if !Sealed(sealed) || bytes.Contains(sealed, plain) || !strings.HasPrefix(string(sealed), "lks1."+a.KeyIDs()[0]+".") {
		t.Fatalf("sealed = %q", sealed)
	}
	again, _ := a.Seal(plain, "signing_keys/k1")
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	for _, r := range []*Ring{a, ba} {
		got, err := r.Open(sealed, "signing_keys/k1")
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	if !a.Current(sealed) || ba.Current(sealed) {
		t.Errorf("Current: under a %v, under b,a %v; want true, false", a.Current(sealed), ba.Current(sealed))
	}

	// Another row, another key, a damaged value: none opens.
	if _, err := a.Open(sealed, "signing_keys/k2"); !errors.Is(err, ErrOpen) {
		t.Errorf("Open in another row: %v; want ErrOpen", err)
	}
	if _, err := mustParse(t, ks[1]).Open(sealed, "signing_keys/k1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open without its key: %v; want ErrUnknownKey", err)
	}
	for i := len("lks1.") + 9; i < len(sealed); i += 7 {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if got, err := a.Open(bad, "signing_keys/k1"); err == nil && bytes.Equal(got, plain) {
			t.Errorf("a value changed at %d opens", i)
		}
	}
	// The key id is authenticated too: a value relabelled as another key's does not open.
	relabelled := bytes.Replace(sealed, []byte(a.KeyIDs()[0]), []byte(mustParse(t, ks[1]).KeyIDs()[0]), 1)
	if _, err := ba.Open(relabelled, "signing_keys/k1"); !errors.Is(err, ErrOpen) {
		t.Errorf("relabelled: %v; want ErrOpen", err)
	}

	// Plaintext from before sealing, and empty values, read as they are.
	der := []byte{0x30, 0x81, 0x87, 0x02, 0x01}
	if got, err := a.Open(der, "x"); err != nil || !bytes.Equal(got, der) || Sealed(der) {
		t.Errorf("Open(plaintext) = %x, %v", got, err)
	}
	if s, err := a.Seal(nil, "x"); err != nil || len(s) != 0 {
		t.Errorf("Seal(empty) = %q, %v; want empty", s, err)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{7}, 32)
	same := []string{
		KeyPrefix + base64.RawURLEncoding.EncodeToString(raw),
		base64.StdEncoding.EncodeToString(raw), // openssl rand -base64 32
		" " + base64.RawStdEncoding.EncodeToString(raw) + "\n",
	}
	var ids []string
	for _, k := range same {
		r, err := Parse([]string{k})
		if err != nil {
			t.Fatalf("Parse(%q): %v", k, err)
		}
		ids = append(ids, r.KeyIDs()[0])
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("one key in three spellings has ids %v", ids)
	}
	for _, tt := range []struct {
		name string
		keys []string
		want string
	}{
		{"none", nil, "no secrets key"},
		{"short", []string{base64.StdEncoding.EncodeToString(raw[:16])}, "key 1 of 1: want 32 bytes"},
		{"not base64", []string{"correct horse battery staple!"}, "key 1 of 1: not base64"},
		{"twice", []string{same[0], same[1]}, "key 2 of 2 is given twice"},
	} {
		_, err := Parse(tt.keys)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want %q", tt.name, err, tt.want)
		}
		if err != nil && len(tt.keys) > 0 && strings.Contains(err.Error(), tt.keys[0]) {
			t.Errorf("%s: the error shows the key: %v", tt.name, err)
		}
	}
}
