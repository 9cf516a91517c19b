package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestNilIsOff: a nil *Metrics (metrics off) takes every call and changes
// nothing; its middleware is the handler itself.
func TestNilIsOff(t *testing.T) {
	var m *Metrics
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := m.HTTP(h); got == nil {
		t.Fatal("HTTP(nil metrics) = nil")
	}
	m.Route("/x", h)
	m.TokenIssued("client_credentials", true)
	m.Device(DeviceRedeemed)
	m.Throttled(ThrottleLogin)
	m.MailSent()
	m.MailFailed()
	m.StoreOps([]string{"GetClient"}).Done(0, time.Now(), true)
	m.ObserveState(nil)
	m.Register()
}

// TestHTTPLabels: a request is counted under its route's pattern, an
// unknown method as "other", a path no route takes as "unmatched", and a
// handler that writes nothing as 200.
func TestHTTPLabels(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.Handle("/oauth2/token", m.Route("/oauth2/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})))
	h := m.HTTP(mux)
	for _, r := range []struct{ method, path string }{
		{"POST", "/oauth2/token"}, {"POST", "/oauth2/token"}, {"BREW", "/oauth2/token"}, {"GET", "/secret-path-123"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"/oauth2/token", "POST", "200"}, 2},
		{[]string{"/oauth2/token", "other", "405"}, 1},
		{[]string{Unmatched, "GET", "404"}, 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.labels...)); got != tt.want {
			t.Errorf("requests%v = %v; want %v", tt.labels, got, tt.want)
		}
	}
	out := textOf(t, m.requests)
	if !strings.Contains(out, `route="/oauth2/token"`) {
		t.Fatalf("the requests' text lacks their route:\n%s", out)
	}
	if strings.Contains(string(out), "secret-path") || strings.Contains(string(out), "BREW") {
		t.Errorf("a label holds what the caller sent:\n%s", out)
	}
}

// textOf is c's metrics in Prometheus's text format.
func textOf(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestHTTPSeriesOnUse: a route's latency histogram appears for the methods
// it answered, not for every route and method registered.
func TestHTTPSeriesOnUse(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, p := range []string{"/a", "/b", "/c"} {
		mux.Handle(p, m.Route(p, ok))
	}
	h := m.HTTP(mux)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/b", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/b", nil))
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("%d latency histograms after requests to one route by one method; want 1", n)
	}
	if got := testutil.CollectAndCount(m.duration, Namespace+"_http_request_duration_seconds"); got != 1 {
		t.Errorf("histograms named: %d", got)
	}
	out := textOf(t, m.duration)
	if !strings.Contains(string(out), `route="/b"`) || !strings.Contains(string(out), `_count{method="POST",route="/b"} 2`) {
		t.Errorf("the histogram of POST /b is not there with 2 requests (%d bytes):\n%q", len(out), out)
	}
}

// BenchmarkRequest is what metrics add to one request: the middleware's
// recorder, the route's children, the counter and the histogram, and a
// token counted. Compare with metrics off (nil), which is the handler alone.
func BenchmarkRequest(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		var m *Metrics
		if on {
			name, m = "on", New()
		}
		b.Run(name, func(b *testing.B) {
			h := m.HTTP(m.Route("/oauth2/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				m.TokenIssued("client_credentials", true)
				w.WriteHeader(http.StatusOK)
			})))
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			w := discard{}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.ServeHTTP(w, r)
				}
			})
		})
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// BenchmarkStoreOp is what timing one store operation costs.
func BenchmarkStoreOp(b *testing.B) {
	o := New().StoreOps([]string{"GetClient"})
	b.ReportAllocs()
	for b.Loop() {
		o.Done(0, time.Now(), false)
	}
}
