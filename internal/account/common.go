package account

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswords is the list of common passwords shipped in the binary, so
// the check needs no network (docs/security.md UI-10).
//
//go:embed common-passwords.txt
var commonPasswords string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 16384)
	for _, line := range strings.Split(commonPasswords, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = struct{}{}
		}
	}
	return m
})

// Common reports whether p, in any case, is on the list of common passwords.
func Common(p string) bool {
	_, ok := common()[strings.ToLower(p)]
	return ok
}
