package authorize

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/oauth"
)

// maxRedirectURILength bounds a redirect_uri; the admin API registers none
// longer than 2000 characters.
const maxRedirectURILength = 2000

// MatchRedirectURI returns the redirect URI to answer at when a request
// names asked, and whether one of the client's registered URIs allows it.
//
// The comparison is simple string comparison (RFC 3986 §6.2.1), as RFC 9700
// §2.1 and §4.1.3 require: no normalisation of case, trailing slashes,
// percent-encoding, dot segments or default ports, so
// "https://a.example/cb/" does not match "https://a.example/cb"
// (docs/security.md AC-01). The one exception is RFC 8252 §7.3: a
// registered loopback IP redirect without a port, such as
// "http://127.0.0.1/cb", allows any port, because a native app listens on
// whatever port the system gives it at that moment.
//
// Whatever is registered, a URI with a fragment (RFC 6749 §3.1.2), one that
// is not absolute, or one with a scheme that runs code in the browser is
// never answered at.
func MatchRedirectURI(registered []string, asked string) (string, bool) {
	if !safeRedirectURI(asked) {
		return "", false
	}
	if slices.Contains(registered, asked) {
		return asked, true
	}
	if portless, ok := withoutLoopbackPort(asked); ok && slices.Contains(registered, portless) {
		return asked, true
	}
	return "", false
}

// safeRedirectURI refuses what no browser should be sent to.
func safeRedirectURI(s string) bool {
	if s == "" || len(s) > maxRedirectURILength || !oauth.CleanText(s) || strings.ContainsAny(s, " #\\") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.User != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file", "blob", "about":
		return false
	}
	return true
}

// loopbackPrefixes are the loopback IP literals RFC 8252 §7.3 describes.
// "localhost" is not among them: RFC 8252 §8.3 recommends against it, since
// a name may resolve elsewhere.
var loopbackPrefixes = []string{"http://127.0.0.1:", "http://[::1]:"}

// withoutLoopbackPort returns s without its port when s is an http URI on a
// loopback IP literal with a port from 1 to 65535, written without leading
// zeros, followed by a path.
func withoutLoopbackPort(s string) (string, bool) {
	for _, prefix := range loopbackPrefixes {
		rest, ok := strings.CutPrefix(s, prefix)
		if !ok {
			continue
		}
		end := strings.IndexByte(rest, '/')
		if end < 1 || end > 5 {
			return "", false
		}
		port := rest[:end]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || strconv.Itoa(n) != port {
			return "", false
		}
		return strings.TrimSuffix(prefix, ":") + rest[end:], true
	}
	return "", false
}

// param is one query parameter of a response, in the order it is written.
type param struct{ name, value string }

// responseURL adds params to redirect's query, keeping the query it has
// (RFC 6749 §3.1.2: the redirection endpoint URI "MAY include" a query
// component, "which MUST be retained when adding additional query
// parameters"). Empty values are left out, so a request without state gets
// none back (RFC 6749 §4.1.2).
func responseURL(redirect string, params ...param) string {
	var b strings.Builder
	b.WriteString(redirect)
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
		if strings.HasSuffix(redirect, "?") || strings.HasSuffix(redirect, "&") {
			sep = ""
		}
	}
	for _, p := range params {
		if p.value == "" {
			continue
		}
		b.WriteString(sep)
		b.WriteString(url.QueryEscape(p.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
		sep = "&"
	}
	return b.String()
}
