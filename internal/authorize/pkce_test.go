package authorize

import (
	"strings"
	"testing"
)

// The example of RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestVerifyS256(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		verifier  string
		challenge string
		want      bool
	}{
		{"RFC 7636 Appendix B", rfcVerifier, rfcChallenge, true},
		{"wrong verifier", rfcVerifier[:42] + "Y", rfcChallenge, false},
		{"verifier as challenge (plain)", rfcChallenge, rfcChallenge, false},
		{"verifier too short", rfcVerifier[:42], rfcChallenge, false},
		{"verifier too long", strings.Repeat("a", 129), rfcChallenge, false},
		{"verifier with a character outside the set", rfcVerifier[:42] + "+", rfcChallenge, false},
		{"empty verifier", "", rfcChallenge, false},
		{"empty challenge", rfcVerifier, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyS256(tt.verifier, tt.challenge); got != tt.want {
				t.Errorf("VerifyS256(%q, %q) = %v; want %v", tt.verifier, tt.challenge, got, tt.want)
			}
		})
	}
}

func TestValidVerifier(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 128), true},
		{"-._~" + strings.Repeat("Z9", 20), true},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + "/", false},
		{strings.Repeat("a", 42) + "\x00", false},
		{strings.Repeat("a", 42) + "é", false},
	} {
		if got := ValidVerifier(tt.v); got != tt.want {
			t.Errorf("ValidVerifier(%q) = %v; want %v", tt.v, got, tt.want)
		}
	}
}

func TestValidChallenge(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    string
		want bool
	}{
		{rfcChallenge, true},
		{rfcChallenge[:42], false},
		{rfcChallenge + "A", false},
		{rfcChallenge + "=", false},
		{rfcChallenge[:42] + "+", false},
		{rfcChallenge[:42] + "/", false},
		{rfcChallenge[:42] + "N", false}, // non-zero padding bits: not what an encoder writes
		{"", false},
	} {
		if got := ValidChallenge(tt.c); got != tt.want {
			t.Errorf("ValidChallenge(%q) = %v; want %v", tt.c, got, tt.want)
		}
	}
}
