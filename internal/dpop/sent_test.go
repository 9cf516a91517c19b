package dpop

import (
	"net/http/httptest"
	"testing"
)

func TestSent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		header string // the name the client wrote; "" for none
		want   bool
	}{
		{"as RFC 9449 spells it", "DPoP", true},
		{"lower case", "dpop", true},
		{"canonical", "Dpop", true},
		{"none", "", false},
		{"another header", "DPoP-Nonce", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, "x.y.z")
			}
			if got := Sent(r); got != tt.want {
				t.Errorf("Sent with header %q = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}
