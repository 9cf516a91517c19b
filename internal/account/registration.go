package account

import (
	"slices"
	"strings"
)

// Who may create an account on the registration page (accounts.registration).
// Administrators create accounts whatever it says: the CLI, the admin API
// and the console do not ask it.
const (
	RegistrationOpen    = "open"    // anyone
	RegistrationDomains = "domains" // addresses at one of Registration.Domains
	RegistrationOff     = "off"     // nobody: the page says so
)

// Registration is who may register. The zero value is open.
type Registration struct {
	Mode string // RegistrationOpen ("" too), RegistrationDomains or RegistrationOff
	// Domains are the email domains RegistrationDomains lets in, in lower
	// case. A domain is matched exactly: a subdomain is another domain,
	// often run by someone else, and must be listed itself.
	Domains []string
}

// Closed reports whether nobody may register.
func (r Registration) Closed() bool { return r.Mode == RegistrationOff }

// Restricted reports whether only some domains may register.
func (r Registration) Restricted() bool { return r.Mode == RegistrationDomains }

// Allows reports whether email, a ValidEmail, may register: any address
// when open, one whose domain (after the last @, in any case) is listed
// exactly when domains, none when off.
func (r Registration) Allows(email string) bool {
	switch r.Mode {
	case RegistrationOff:
		return false
	case RegistrationDomains:
		at := strings.LastIndexByte(email, '@')
		return at >= 0 && slices.Contains(r.Domains, strings.ToLower(email[at+1:]))
	}
	return true
}

// DomainList is the domains in words for a page: "a.example",
// "a.example or b.example", "a.example, b.example or c.example".
func (r Registration) DomainList() string {
	switch n := len(r.Domains); n {
	case 0:
		return ""
	case 1:
		return r.Domains[0]
	default:
		return strings.Join(r.Domains[:n-1], ", ") + " or " + r.Domains[n-1]
	}
}
