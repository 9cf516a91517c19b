package oauth

import (
	"slices"
	"strings"
)

// MaxScopes bounds how many scope tokens one request may carry.
const MaxScopes = 64

// ParseScope splits a scope parameter (RFC 6749 §3.3: scope-token
// *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E )).
// Duplicates are dropped; the order of first appearance is kept. An empty
// string is no scopes. Anything else off the grammar is invalid_scope.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, " ")
	if len(parts) > MaxScopes {
		return nil, &Error{Code: InvalidScope, Description: "too many scopes"}
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if !validScopeToken(p) {
			return nil, &Error{Code: InvalidScope, Description: "scope is not a space-separated list of scope tokens"}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func validScopeToken(p string) bool {
	if p == "" || len(p) > 256 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// JoinScope is the inverse of ParseScope.
func JoinScope(scopes []string) string { return strings.Join(scopes, " ") }

// ScopeSubset returns the first of asked that allowed lacks, if any.
func ScopeSubset(asked, allowed []string) (missing string, ok bool) {
	for _, s := range asked {
		if !slices.Contains(allowed, s) {
			return s, false
		}
	}
	return "", true
}
