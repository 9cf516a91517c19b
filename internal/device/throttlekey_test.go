package device

import "testing"

func TestThrottleKey(t *testing.T) {
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
