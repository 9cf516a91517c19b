package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func BenchmarkParseForm(b *testing.B) {
	body := "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=lk_dc_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG&client_id=tv-app"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := ParseForm(httptest.NewRecorder(), r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSecretMatches(b *testing.B) {
	secret := "lk_cs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	hash := HashSecret(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !SecretMatches(secret, hash) {
			b.Fatal("no match")
		}
	}
}
