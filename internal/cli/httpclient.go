package cli

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// userAgent is what the command line's requests to a Latchkey server say
// they come from (RFC 9110 §10.1.5): "latchkey/1.2.3 (linux/amd64)", the
// version `latchkey version` prints. The server shows it in words where a
// device asked from, and it reads better in a server's logs than Go's
// default.
func (e *Env) userAgent() string {
	b := e.Build
	if b.Version == "" { // an Env made without Main
		b = NewBuild("", "", "")
	}
	return "latchkey/" + b.Version + " (" + b.Platform + ")"
}

// transport is base (http.DefaultTransport when nil) sending e's
// userAgent on every request.
func (e *Env) transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &agentTransport{base: base, agent: e.userAgent()}
}

// agentTransport sets User-Agent on every request it carries.
type agentTransport struct {
	base  http.RoundTripper
	agent string
}

func (t *agentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not change the request it was given: a copy
	// carries the header.
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", t.agent)
	return t.base.RoundTrip(req)
}

// retryAfter is how many seconds a refusal's Retry-After asks a client to
// wait (RFC 9110 §10.2.3: delay-seconds, or an HTTP date, counted from
// now); 0 when it has none, or none that makes sense.
func retryAfter(h http.Header, now time.Time) int {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(n, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(int(math.Ceil(t.Sub(now).Seconds())), 0)
	}
	return 0
}

// tryAgain ends msg, a refusal's description, with how long to wait:
// "…; try again in 90 s", in place of the server's "try again later".
func tryAgain(msg string, seconds int) string {
	if seconds <= 0 {
		return msg
	}
	return strings.TrimSuffix(msg, "; try again later") + fmt.Sprintf("; try again in %d s", seconds)
}
