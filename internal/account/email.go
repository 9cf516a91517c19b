package account

import (
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
)

// MaxEmailLength bounds an address: RFC 5321 §4.5.3.1.3's 256, less the
// angle brackets.
const MaxEmailLength = 254

// ValidEmail reports whether e has the basic shape of an e-mail address a
// person signs in with: one @, a local part of at most 64 characters and a
// dotted domain, nothing that needs quoting, no control characters. Whether
// it receives mail is not ours to know. The registration page, the admin
// API and `latchkey init` all ask it.
func ValidEmail(e string) bool {
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && len(local) <= 64 && len(e) <= MaxEmailLength && oauth.CleanText(e) &&
		!strings.ContainsAny(e, " \"\\(),:;<>[]") && !strings.Contains(domain, "@") &&
		strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.Contains(domain, "..") && !strings.HasPrefix(local, ".") && !strings.HasSuffix(local, ".") &&
		!strings.Contains(local, "..")
}
