package device

import (
	"bytes"
	"crypto/rand"
	"math"
	mathrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNormalizeUserCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{"as displayed", "WDJB-MJHT", "WDJBMJHT", true},
		{"lower case, no dash", "wdjbmjht", "WDJBMJHT", true},
		{"spaces", " wdjb mjht ", "WDJBMJHT", true},
		{"digits", "123-456-789", "123456789", true},
		{"a digit is kept, to be rejected by the lookup", "WDJB-MJH0", "WDJBMJH0", true},
		{"fullwidth letters", "ＷＤＪＢ-ＭＪＨＴ", "", false},
		{"punctuation", "WDJB.MJHT", "", false},
		{"NUL", "WDJB\x00MJHT", "", false},
		{"script", "<script>alert(1)</script>", "", false},
		{"empty", "", "", false},
		{"only dashes", "- -", "", false},
		{"too long", strings.Repeat("B", MaxUserCodeLength+1), "", false},
		{"huge", strings.Repeat("B", 1<<20), "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeUserCode(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestGenerateFormat(t *testing.T) {
	t.Parallel()
	p := CodePolicy{Alphabet: Base20, Length: 8, Group: 4}
	re := regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)
	seen := map[string]bool{}
	for range 10000 {
		norm, display, err := p.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(display) {
			t.Fatalf("display %q does not match XXXX-XXXX over BASE20", display)
		}
		if got, ok := NormalizeUserCode(display); !ok || got != norm {
			t.Fatalf("NormalizeUserCode(%q) = %q, %v; want %q", display, got, ok, norm)
		}
		seen[norm] = true
	}
	// 10,000 draws from 2.56e10 codes: a collision has odds of about 0.2%,
	// more than a handful means the generator is broken.
	if len(seen) < 9990 {
		t.Errorf("%d distinct codes in 10000 draws", len(seen))
	}
}

// TestGenerateUnbiased checks each position's symbol counts with a
// chi-squared test (docs/security.md DF-05). With 19 degrees of freedom
// the 0.001 critical value is 43.82; a modulo-biased draw over 20 symbols
// (256 % 20 = 16 favoured symbols) exceeds it by far at this sample size.
// The bytes come from a seeded ChaCha8 stream, not crypto/rand: what is
// tested is how Generate maps uniform bytes to symbols, and with fresh
// randomness eight positions at p < 0.001 made the test fail about once in
// 125 runs with nothing wrong (it did, in CI).
func TestGenerateUnbiased(t *testing.T) {
	t.Parallel()
	p := CodePolicy{Alphabet: Base20, Length: 8}
	const n = 40000
	counts := make([][20]int, p.Length)
	src := mathrand.NewChaCha8([32]byte{'l', 'a', 't', 'c', 'h', 'k', 'e', 'y'})
	for range n {
		norm, _, err := p.Generate(src)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(norm); i++ {
			counts[i][strings.IndexByte(Base20, norm[i])]++
		}
	}
	expected := float64(n) / 20
	for pos, c := range counts {
		var chi2 float64
		for _, k := range c {
			d := float64(k) - expected
			chi2 += d * d / expected
		}
		if chi2 > 43.82 {
			t.Errorf("position %d: chi2 = %.1f > 43.82 (p < 0.001): counts %v", pos, chi2, c)
		}
	}
}

func TestGenerateRejectsBiasedBytes(t *testing.T) {
	t.Parallel()
	// Bytes 240..255 would favour the first 16 symbols; they must be skipped.
	p := CodePolicy{Alphabet: Base20, Length: 2}
	src := bytes.NewReader(append(bytes.Repeat([]byte{255}, 32), bytes.Repeat([]byte{21}, 32)...))
	got, _, err := p.Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := "CC"; got != want { // 21 % 20 = 1 -> 'C'
		t.Errorf("Generate = %q; want %q", got, want)
	}
	if _, _, err := p.Generate(iotest.ErrReader(bytes.ErrTooLarge)); err == nil {
		t.Error("Generate with a failing reader succeeded")
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    CodePolicy
		in   string
		want string
	}{
		{CodePolicy{Group: 4}, "WDJBMJHT", "WDJB-MJHT"},
		{CodePolicy{Group: 3}, "123456789", "123-456-789"},
		{CodePolicy{Group: 0}, "WDJBMJHT", "WDJBMJHT"},
		{CodePolicy{Group: 8}, "WDJBMJHT", "WDJBMJHT"},
	} {
		if got := tt.p.Format(tt.in); got != tt.want {
			t.Errorf("Format(%q, group %d) = %q; want %q", tt.in, tt.p.Group, got, tt.want)
		}
	}
}

func TestResolveAlphabet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"base20", Base20, false},
		{"BASE20", Base20, false},
		{"", Base20, false},
		{"digits", Digits, false},
		{"ABCDEF0123", "ABCDEF0123", false},
		{"abc", "", true},
		{"AAB", "", true},
		{"A", "", true},
		{"AB-", "", true},
	} {
		got, err := ResolveAlphabet(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ResolveAlphabet(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestBits(t *testing.T) {
	t.Parallel()
	got := CodePolicy{Alphabet: Base20, Length: 8}.Bits()
	if math.Abs(got-34.57) > 0.01 {
		t.Errorf("Bits = %.2f; want 34.57 (RFC 8628 §5.1: roughly 34.5 bits)", got)
	}
}

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"WDJB-MJHT", "wdjb mjht", "ＷＤＪＢ", "\x00", "123-456-789", "a-b-c-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := NormalizeUserCode(in)
		if !ok {
			return
		}
		if len(got) == 0 || len(got) > MaxUserCodeLength {
			t.Fatalf("NormalizeUserCode(%q) = %q: bad length", in, got)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("NormalizeUserCode(%q) = %q: character %q", in, got, c)
			}
		}
		if again, ok := NormalizeUserCode(got); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
	})
}
