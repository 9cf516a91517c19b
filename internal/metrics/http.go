package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// methods are the method label's values; any other method is "other", so
// a client cannot add series by inventing methods.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}

func methodIndex(m string) int {
	for i, name := range methods[:len(methods)-1] {
		if m == name {
			return i
		}
	}
	return len(methods) - 1
}

// Unmatched is the route label of a request no route matched (the mux's
// 404 or 405): its path is never a label.
const Unmatched = "unmatched"

// route is one route pattern's children: per method a histogram and a
// counter per status code, each made on its first use. Made up front, the
// histograms of every route and method (some 2,200) were most of a
// scrape — 3.9 MB, 30,000 bucket series of zeros — and 6 MiB of the heap.
type route struct {
	m       *Metrics
	pattern string
	obs     [len(methods)]lazyObserver
	codes   [len(methods)]sync.Map // int → prometheus.Counter
}

type lazyObserver struct {
	once sync.Once
	obs  prometheus.Observer
}

func (m *Metrics) newRoute(pattern string) *route {
	return &route{m: m, pattern: pattern}
}

func (rt *route) observe(method int, code int, d time.Duration) {
	o := &rt.obs[method]
	o.once.Do(func() { o.obs = rt.m.duration.WithLabelValues(rt.pattern, methods[method]) })
	o.obs.Observe(d.Seconds())
	if c, ok := rt.codes[method].Load(code); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	text, ok := codeText[code]
	if !ok {
		text = "other"
	}
	c, _ := rt.codes[method].LoadOrStore(code, rt.m.requests.WithLabelValues(rt.pattern, methods[method], text))
	c.(prometheus.Counter).Inc()
}

// Route wraps the handler of the route table's pattern, so that HTTP
// counts its requests under that pattern. The handler is unchanged when
// metrics are off.
func (m *Metrics) Route(pattern string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	rt := m.newRoute(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.route = rt
		}
		h.ServeHTTP(w, r)
	})
}

// HTTP counts and times every request next answers, under the pattern of
// the route (Route) that took it, or Unmatched. It goes outermost, so
// that what the middleware inside answers (a recovered panic's 500) is
// counted too. next is unchanged when metrics are off.
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	unmatched := m.newRoute(Unmatched)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, route: unmatched}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		rec.route.observe(methodIndex(r.Method), status, time.Since(start))
	})
}

// recorder is the ResponseWriter the handlers see: it keeps the status
// written and the route that took the request.
type recorder struct {
	http.ResponseWriter
	status int
	route  *route
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
