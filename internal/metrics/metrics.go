// Package metrics owns Latchkey's Prometheus registry and every collector
// in it: HTTP requests by route pattern, tokens issued, device flow
// outcomes, throttle hits, and whatever the composition root (server)
// registers about the store, the outbox and the signing keys. It serves
// them (Handler) for a listener of their own, never on the public mux.
//
// It imports no other Latchkey package: endpoint packages hold a *Metrics
// (nil when metrics are off, and every method is then a no-op) and call it
// where something happens; server builds it and wires it.
//
// No label carries a secret, a user, a client id or a raw path: routes are
// the route table's patterns, methods a fixed set, clients their type.
package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of Latchkey's own.
const Namespace = "latchkey"

// Metrics is the registry and the collectors the endpoints update. A nil
// *Metrics is valid: metrics are off, and every method does nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method
	tokens   *prometheus.CounterVec   // grant_type, client_type
	device   *prometheus.CounterVec   // outcome
	throttle *prometheus.CounterVec   // limit
	mailSent prometheus.Counter
	mailFail prometheus.Counter

	// Children resolved once and kept, so a request costs a map read and
	// atomic adds rather than hashing label values (WithLabelValues).
	tokenKids   sync.Map // tokenKey → prometheus.Counter
	deviceKids  [len(deviceOutcomes)]prometheus.Counter
	throttleKid sync.Map // string → prometheus.Counter
}

// Device flow outcomes (RFC 8628), the values of
// latchkey_device_flow_total's outcome label.
const (
	DeviceAuthorized   = "authorization" // a device authorization request answered with codes
	DevicePending      = "pending"       // a poll answered authorization_pending
	DeviceSlowDown     = "slow_down"     // a poll answered slow_down
	DeviceApproved     = "approved"      // a person (or a service API front end) approved a code
	DeviceDenied       = "denied"        // a person (or a service API front end) denied one
	DeviceAccessDenied = "access_denied" // a poll answered access_denied
	DeviceExpired      = "expired"       // a poll answered expired_token
	DeviceRedeemed     = "redeemed"      // a poll was answered with tokens
	DeviceReused       = "reused"        // a poll of a code already redeemed
)

var deviceOutcomes = [...]string{
	DeviceAuthorized, DevicePending, DeviceSlowDown, DeviceApproved, DeviceDenied, DeviceAccessDenied, DeviceExpired, DeviceRedeemed, DeviceReused,
}

// Throttle names, the values of latchkey_throttle_hits_total's limit label.
const (
	ThrottleUserCode = "user_code" // wrong user-code budgets (verification page, service API)
	ThrottleLogin    = "login"     // sign-in attempt budgets
	ThrottleRequest  = "request"   // any JSON endpoint's 429 (per-client, per-address, secret guessing)
)

// DurationBuckets are the request latency histogram's buckets, in seconds:
// from a cached-client token (about 100 µs) to a slow RSA page.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// New returns metrics with their own registry, holding Latchkey's
// collectors and Go's runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern (the route table's, never the path), method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: DurationBuckets,
		}, []string{"route", "method"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "tokens_issued_total",
			Help: "Token responses issued by the token endpoint and the service API, by grant type and client type (public or confidential).",
		}, []string{"grant_type", "client_type"}),
		device: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "device_flow_total",
			Help: "Device authorization grant events (RFC 8628): authorizations, poll answers, decisions and redemptions.",
		}, []string{"outcome"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "throttle_hits_total",
			Help: "Requests refused by a limit, by which limit: user_code, login, or request (a JSON endpoint's 429).",
		}, []string{"limit"}),
		mailSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "mail_sent_total",
			Help: "Mails from the outbox the mail server took.",
		}),
		mailFail: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "mail_failures_total",
			Help: "Attempts to send a mail from the outbox that failed; the mail stays in the outbox for a later attempt.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.tokens, m.device, m.throttle, m.mailSent, m.mailFail,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i, o := range deviceOutcomes {
		m.deviceKids[i] = m.device.WithLabelValues(o)
	}
	for _, l := range []string{ThrottleUserCode, ThrottleLogin, ThrottleRequest} {
		m.throttleKid.Store(l, m.throttle.WithLabelValues(l))
	}
	return m
}

// Register adds collectors of the composition root's (store, outbox,
// keys) to the registry. It panics on a duplicate, a programming error.
func (m *Metrics) Register(cs ...prometheus.Collector) {
	if m == nil {
		return
	}
	m.reg.MustRegister(cs...)
}

// Registry is the registry, for tests and the dashboard's check.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

type tokenKey struct {
	grantType    string
	confidential bool
}

// TokenIssued counts a token response for grantType to a client that
// authenticated with a secret (confidential) or none (public). grantType is
// one the token endpoint answers, so its values are few.
func (m *Metrics) TokenIssued(grantType string, confidential bool) {
	if m == nil {
		return
	}
	k := tokenKey{grantType, confidential}
	if c, ok := m.tokenKids.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	ct := "public"
	if confidential {
		ct = "confidential"
	}
	c, _ := m.tokenKids.LoadOrStore(k, m.tokens.WithLabelValues(grantType, ct))
	c.(prometheus.Counter).Inc()
}

// Device counts a device flow event, one of the Device… outcomes; another
// value is ignored rather than grow a label.
func (m *Metrics) Device(outcome string) {
	if m == nil {
		return
	}
	for i, o := range deviceOutcomes {
		if o == outcome {
			m.deviceKids[i].Inc()
			return
		}
	}
}

// Throttled counts a request a limit refused: one of the Throttle… names.
func (m *Metrics) Throttled(limit string) {
	if m == nil {
		return
	}
	if c, ok := m.throttleKid.Load(limit); ok {
		c.(prometheus.Counter).Inc()
	}
}

// MailSent counts a mail the mail server took.
func (m *Metrics) MailSent() {
	if m != nil {
		m.mailSent.Inc()
	}
}

// MailFailed counts a failed attempt to send a mail.
func (m *Metrics) MailFailed() {
	if m != nil {
		m.mailFail.Inc()
	}
}

// Handler serves the registry in Prometheus's text (or negotiated) format
// at /metrics, and nothing else. With a token, a scrape must carry it as
// a bearer token (Prometheus's authorization.credentials), compared in
// constant time; a missing or wrong one gets 401.
func (m *Metrics) Handler(token string) http.Handler {
	metricsHandler := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	want := sha256.Sum256([]byte(token))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if token != "" {
			// Hashing both sides makes the comparison's time independent of
			// the lengths as well as the contents.
			got := sha256.Sum256([]byte(bearer(r)))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				http.Error(w, "a bearer token is required", http.StatusUnauthorized)
				return
			}
		}
		metricsHandler.ServeHTTP(w, r)
	})
	return mux
}

// bearer is the request's bearer token, or "".
func bearer(r *http.Request) string {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return ""
	}
	const prefix = "Bearer "
	if len(h[0]) <= len(prefix) || !strings.EqualFold(h[0][:len(prefix)], prefix) {
		return ""
	}
	return h[0][len(prefix):]
}

// codeText is the status codes' label values, made once.
var codeText = func() map[int]string {
	t := make(map[int]string, 500)
	for c := 100; c < 600; c++ {
		t[c] = strconv.Itoa(c)
	}
	return t
}()
