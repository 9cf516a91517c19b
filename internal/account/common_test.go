package account

import (
	"strings"
	"testing"
)

func TestCommon(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    string
		want bool
	}{
		{"password", true},
		{"Password1", true},
		{"1234567890", true},
		{"QWERTYUIOP", true},
		{"iloveyou", true},
		{"correct horse battery staple", false},
		{"kq7-Vm2p!zR", false},
		{"", false},
		{"# The most common passwords of 8 characters or more, lower-cased, one a line:", false},
	} {
		if got := Common(tt.p); got != tt.want {
			t.Errorf("Common(%q) = %v; want %v", tt.p, got, tt.want)
		}
	}
	if n := len(common()); n < 10000 {
		t.Errorf("the list has %d passwords; want the shipped ten thousand and more", n)
	}
}

func TestValidatePasswordRefusesCommon(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"1234567890", "Password123", "qwertyuiop"} {
		err := ValidatePassword(p)
		if err == nil || !strings.Contains(err.Error(), "common") {
			t.Errorf("ValidatePassword(%q) = %v; want the common-password refusal", p, err)
		}
	}
	if err := ValidatePassword("a long and unusual phrase"); err != nil {
		t.Errorf("ValidatePassword of an unusual phrase: %v", err)
	}
}
