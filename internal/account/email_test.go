package account

import (
	"strings"
	"testing"
)

func TestValidEmail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"ada@example.com", true},
		{"ada.lovelace+tv@mail.example.co.uk", true},
		{"ada@example", false},
		{"ada.example.com", false},
		{"@example.com", false},
		{"ada@@example.com", false},
		{"ada@example..com", false},
		{"ada@.example.com", false},
		{"ada@example.com.", false},
		{".ada@example.com", false},
		{"ada.@example.com", false},
		{"a..da@example.com", false},
		{"ada lovelace@example.com", false},
		{`"ada"@example.com`, false},
		{"Ada <ada@example.com>", false},
		{"ada@example.com\n", false},
		{strings.Repeat("a", 64) + "@example.com", true},
		{strings.Repeat("a", 65) + "@example.com", false},
		{"a@" + strings.Repeat("b", 248) + ".com", true}, // 254 characters, the most
		{"a@" + strings.Repeat("b", 249) + ".com", false},
	} {
		if got := ValidEmail(tt.in); got != tt.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
