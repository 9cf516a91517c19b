package token

import (
	"testing"
)

// TestWithClaims: a front end's claims add to an ID token and never
// replace a claim Latchkey sets, even one its own token leaves out.
func TestWithClaims(t *testing.T) {
	t.Parallel()
	idc := IDClaims{Issuer: "https://as.example", Subject: "ext-1", Audience: "tv", AuthorizedBy: "tv", Expiry: 20, IssuedAt: 10}
	got, err := withClaims(idc, `{"name":"Ann","iss":"https://evil.example","sub":"root","exp":99999,"nonce":"n","groups":["a"]}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": "https://as.example", "sub": "ext-1", "aud": "tv", "azp": "tv", "exp": float64(20), "iat": float64(10),
		"name": "Ann", "groups": []any{"a"}}
	if len(got) != len(want) {
		t.Errorf("claims %v; want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !equalJSON(g, v) {
			t.Errorf("%s = %v; want %v", k, got[k], v)
		}
	}
	for _, bad := range []string{`[1]`, `null`, `{`, `"x"`} {
		if _, err := withClaims(idc, bad); err == nil {
			t.Errorf("withClaims(%s): no error", bad)
		}
	}
}

func equalJSON(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok || bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}
