package clientip

import (
	"net/http/httptest"
	"testing"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		trustProxy bool
		remote     string
		xff        []string
		want       string
	}{
		{"direct", false, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"forwarded header ignored without a proxy", false, "203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"},
		{"behind the proxy", true, "10.0.0.2:1234", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-supplied entries ignored", true, "10.0.0.2:1234", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"last header wins", true, "10.0.0.2:1234", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"junk falls back", true, "10.0.0.2:1234", []string{"not an ip"}, "10.0.0.2"},
		{"IPv6", false, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"no port", false, "203.0.113.5", nil, "203.0.113.5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/device", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := From(r, tt.trustProxy); got != tt.want {
				t.Errorf("From = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestThrottleKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ip, want string }{
		{"203.0.113.5", "203.0.113.5"},
		{"::ffff:203.0.113.5", "203.0.113.5"}, // IPv4-mapped: the IPv4 address
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"}, // the same /64
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},    // the next /64
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"", ""},
	} {
		if got := ThrottleKey(tt.ip); got != tt.want {
			t.Errorf("ThrottleKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

func TestSameNetwork(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"198.51.100.9", "198.51.100.200", true},
		{"198.51.100.9", "198.51.101.9", false},
		{"::ffff:198.51.100.9", "198.51.100.1", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"198.51.100.9", "2001:db8::1", false},
		{"", "", false},
		{"junk", "junk", false},
	} {
		if got := SameNetwork(tt.a, tt.b); got != tt.want {
			t.Errorf("SameNetwork(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNetworkKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.9":         "198.51.100.0/24",
		"::ffff:198.51.100.9":  "198.51.100.0/24",
		"2001:db8:1:2:ffff::9": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"junk":                 "",
		"":                     "",
	} {
		if got := NetworkKey(in); got != want {
			t.Errorf("NetworkKey(%q) = %q; want %q", in, got, want)
		}
	}
}
