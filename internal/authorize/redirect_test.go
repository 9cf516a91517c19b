package authorize

import (
	"testing"
)

func TestMatchRedirectURI(t *testing.T) {
	t.Parallel()
	registered := []string{
		"https://a.example/cb",
		"https://q.example/cb?tenant=1",
		"http://127.0.0.1/native",
		"http://[::1]/native6",
		"http://127.0.0.1:8085/callback",
		"com.example.app:/oauth",
		// Never answered at, even if someone registered them.
		"https://a.example/frag#x",
		"javascript:alert(1)//",
		"data:text/html,hi",
		"JavaScript:alert(2)//",
	}
	for _, tt := range []struct {
		name   string
		asked  string
		wantOK bool
	}{
		{"exact", "https://a.example/cb", true},
		{"exact, with the query it registered", "https://q.example/cb?tenant=1", true},
		{"private-use scheme", "com.example.app:/oauth", true},
		{"registered port, exact", "http://127.0.0.1:8085/callback", true},
		{"upper-case path", "https://a.example/CB", false},
		{"upper-case host", "https://A.EXAMPLE/cb", false},
		{"upper-case scheme", "HTTPS://a.example/cb", false},
		{"trailing slash", "https://a.example/cb/", false},
		{"extra query", "https://a.example/cb?x=1", false},
		{"other query", "https://q.example/cb?tenant=2", false},
		{"query dropped", "https://q.example/cb", false},
		{"empty query", "https://a.example/cb?", false},
		{"fragment", "https://a.example/cb#f", false},
		{"empty fragment", "https://a.example/cb#", false},
		{"dot segments", "https://a.example/cb/../cb", false},
		{"encoded slash", "https://a.example/cb%2f", false},
		{"encoded letter", "https://a.example/%63b", false},
		{"other host, same prefix", "https://a.example.evil.com/cb", false},
		{"userinfo", "https://a.example@evil.com/cb", false},
		{"userinfo on the real host", "https://user@a.example/cb", false},
		{"default port spelled out", "https://a.example:443/cb", false},
		{"other port", "https://a.example:8443/cb", false},
		{"http instead of https", "http://a.example/cb", false},
		{"scheme-relative", "//a.example/cb", false},
		{"relative", "/cb", false},
		{"javascript", "javascript:alert(1)//", false},
		{"javascript, mixed case", "JavaScript:alert(2)//", false},
		{"data", "data:text/html,hi", false},
		{"registered with a fragment", "https://a.example/frag#x", false},
		{"NUL", "https://a.example/cb\x00", false},
		{"NUL inside", "https://a.example/c\x00b", false},
		{"tab", "https://a.example/\tcb", false},
		{"backslash", "https://a.example\\cb", false},
		{"space", "https://a.example/cb ", false},
		{"empty", "", false},
		{"invalid UTF-8", "https://a.example/cb\xff", false},
		{"loopback, any port", "http://127.0.0.1:51234/native", true},
		{"loopback, lowest port", "http://127.0.0.1:1/native", true},
		{"loopback, highest port", "http://127.0.0.1:65535/native", true},
		{"loopback IPv6, any port", "http://[::1]:8080/native6", true},
		{"loopback, no port", "http://127.0.0.1/native", true},
		{"loopback, port 0", "http://127.0.0.1:0/native", false},
		{"loopback, port too big", "http://127.0.0.1:65536/native", false},
		{"loopback, leading zero", "http://127.0.0.1:051234/native", false},
		{"loopback, sign", "http://127.0.0.1:+80/native", false},
		{"loopback, empty port", "http://127.0.0.1:/native", false},
		{"loopback, other path", "http://127.0.0.1:51234/native/", false},
		{"loopback, extra query", "http://127.0.0.1:51234/native?x", false},
		{"loopback, userinfo trick", "http://127.0.0.1:80@evil.com/native", false},
		{"loopback by name", "http://localhost:51234/native", false},
		{"loopback over https", "https://127.0.0.1:51234/native", false},
		{"other loopback address", "http://127.0.0.2:51234/native", false},
		{"registered port only exact", "http://127.0.0.1:9999/callback", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MatchRedirectURI(registered, tt.asked)
			if ok != tt.wantOK || (ok && got != tt.asked) || (!ok && got != "") {
				t.Errorf("MatchRedirectURI(%q) = %q, %v; want %v", tt.asked, got, ok, tt.wantOK)
			}
		})
	}
}

func TestResponseURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		redirect string
		params   []param
		want     string
	}{
		{"https://a.example/cb", []param{{"code", "lk_ac_x"}, {"state", "s 1&2"}, {"iss", "https://id.example"}},
			"https://a.example/cb?code=lk_ac_x&state=s+1%262&iss=https%3A%2F%2Fid.example"},
		{"https://a.example/cb?tenant=1", []param{{"code", "c"}, {"state", ""}, {"iss", "i"}},
			"https://a.example/cb?tenant=1&code=c&iss=i"},
		{"https://a.example/cb?", []param{{"code", "c"}}, "https://a.example/cb?code=c"},
		{"com.example.app:/oauth", []param{{"error", "access_denied"}}, "com.example.app:/oauth?error=access_denied"},
	} {
		if got := responseURL(tt.redirect, tt.params...); got != tt.want {
			t.Errorf("responseURL(%q) = %q; want %q", tt.redirect, got, tt.want)
		}
	}
}
