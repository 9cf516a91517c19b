// Package clientip says where a request came from: the client's address,
// for throttling and for showing a person where a device request was made
// (RFC 8628 §5.4), and the part of it that per-address limits count. It is
// shared by the device flow, the pages and the invitation endpoints, and
// knows nothing of any of them.
package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// From is the address r came from. Behind a trusted proxy it is the last
// address in X-Forwarded-For, the one our proxy appended: earlier entries
// come from the client and prove nothing. Without one, or when that entry
// is not an address, it is the connection's peer.
func From(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ThrottleKey is the part of a client address (from From) that
// per-address limits count: an IPv4 address whole, an IPv6 address by its
// /64. A home line, a phone or a server is usually given a whole /64 (RFC
// 6177, RFC 7934 §6), so counting single IPv6 addresses would hand whoever
// has one 2^64 separate budgets. Anything else is counted as it is.
func ThrottleKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// SameNetwork says whether a and b are in one network as far as a person
// can tell: the same IPv4 /24 or IPv6 /64, as a home or office line is
// usually given (RFC 6177). Addresses that do not parse are never the same.
func SameNetwork(a, b string) bool {
	na, nb := NetworkKey(a), NetworkKey(b)
	return na != "" && na == nb
}

// NetworkKey is the network of ip as SameNetwork sees it, as a throttle
// key: "198.51.100.0/24", "2001:db8:1:2::/64"; "" for an address that
// does not parse. The sign-in limit per account counts per network, so
// that a guesser elsewhere cannot spend the owner's budget.
func NetworkKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

type addrKey struct{}

// WithAddr returns ctx carrying addr, the request's address as From found
// it, for code that sees the request's context but not the request
// (client authentication's throttle, the security event log).
func WithAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addrKey{}, addr)
}

// Addr is the address WithAddr put in ctx; "" for none.
func Addr(ctx context.Context) string {
	a, _ := ctx.Value(addrKey{}).(string)
	return a
}
