package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

const testMetricsToken = "lk_metrics_test_token_0123456789abcdefgh"

// scrapeResult is one scrape of /metrics: the parsed families and the
// text as served.
type scrapeResult struct {
	fams map[string]*dto.MetricFamily
	raw  string
}

// scrape reads url (a /metrics) with the bearer token and parses it with
// Prometheus's own text parser.
func scrape(t *testing.T, u, token string) scrapeResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	mustDo(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	mustDo(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	mustDo(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %s", resp.StatusCode, raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("parse the scrape: %v\n%s", err, raw)
	}
	return scrapeResult{fams: fams, raw: string(raw)}
}

// value is the sum over the series of family name whose labels include
// want: a counter's or gauge's value, a histogram's count.
func (s scrapeResult) value(name string, want map[string]string) float64 {
	f := s.fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if have[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// labelValues are every label value of every series in the scrape.
func (s scrapeResult) labelValues() []string {
	var vs []string
	for _, f := range s.fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				vs = append(vs, l.GetValue())
			}
		}
	}
	return vs
}

// svcSecret is the secret of metricsServer's confidential client
// "metrics-svc".
const svcSecret = "lk_cs_metrics-svc-secret-0123456789abcdef"

// metricsServer is a test server on b with metrics on, configured further
// by configure, with its metrics handler served at the returned server and
// a confidential client "metrics-svc" (secret svcSecret) allowed
// client_credentials.
func metricsServer(t *testing.T, b backend, configure func(*config.Config)) (*testServer, *httptest.Server) {
	t.Helper()
	s := newTestServerOn(t, b, true, func(c *config.Config) {
		c.Metrics.Listen = "127.0.0.1:0"
		configure(c)
	})
	ms := httptest.NewServer(s.Srv.MetricsHandler())
	t.Cleanup(ms.Close)
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateClient(t.Context(), &store.Client{ID: "metrics-svc", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(svcSecret), GrantTypes: []string{store.GrantClientCredentials},
		Scopes: []string{"read"}, CreatedAt: now, UpdatedAt: now}))
	return s, ms
}

// TestMetricsScrape runs a device flow and a client credentials grant with
// golang.org/x/oauth2 against a real server on each backend, scrapes the
// metrics listener with Prometheus's text parser, and checks that each
// counter moved by what the flows did: requests by route pattern, method
// and code with their latency, tokens by grant and client type, the device
// flow's outcomes. No label value holds a secret, a client id or a path.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s, ms := metricsServer(t, b, func(c *config.Config) { c.Metrics.Token = testMetricsToken })
		ctx := t.Context()

		br := newWebBrowser(t, s)
		br.signIn()
		before := scrape(t, ms.URL+"/metrics", testMetricsToken)

		conf := &oauth2.Config{ClientID: tvClient, Scopes: strings.Fields(scopesAll), Endpoint: oauth2.Endpoint{
			DeviceAuthURL: s.URL + "/oauth2/device_authorization", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
		da, err := conf.DeviceAuth(ctx)
		mustDo(t, err)
		// Two polls at once: pending, then slow_down (the clock stands still).
		wantOAuthError(t, s.poll(t, tvClient, da.DeviceCode), http.StatusBadRequest, oauth.AuthorizationPending)
		wantOAuthError(t, s.poll(t, tvClient, da.DeviceCode), http.StatusBadRequest, oauth.SlowDown)
		br.approve(da.UserCode)
		s.Clock.Advance(time.Minute)
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tok, err := conf.DeviceAccessToken(tctx, da)
		if err != nil {
			t.Fatalf("DeviceAccessToken: %v", err)
		}
		cc, err := (&clientcredentials.Config{ClientID: "metrics-svc", ClientSecret: svcSecret,
			TokenURL: s.URL + "/oauth2/token", Scopes: []string{"read"}}).Token(ctx)
		mustDo(t, err)
		// A path of its own: it must not become a label.
		randomPath := "/no-such-page-" + rand.Text()
		if r := do(t, mustRequest(t, http.MethodGet, s.URL+randomPath)); r.Status != http.StatusNotFound {
			t.Fatalf("GET %s: %d", randomPath, r.Status)
		}
		// An unknown method is "other", not a label of the caller's making.
		if r := do(t, mustRequest(t, "BREW", s.URL+"/oauth2/token")); r.Status < 400 {
			t.Fatalf("BREW /oauth2/token: %d", r.Status)
		}

		after := scrape(t, ms.URL+"/metrics", testMetricsToken)
		for _, tt := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"latchkey_device_flow_total", map[string]string{"outcome": "authorization"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "pending"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "slow_down"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "approved"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "denied"}, 0},
			{"latchkey_device_flow_total", map[string]string{"outcome": "redeemed"}, 1},
			{"latchkey_tokens_issued_total", map[string]string{"grant_type": store.GrantDeviceCode, "client_type": "public"}, 1},
			{"latchkey_tokens_issued_total", map[string]string{"grant_type": store.GrantClientCredentials, "client_type": "confidential"}, 1},
			{"latchkey_tokens_issued_total", nil, 2},
			{"latchkey_http_requests_total", map[string]string{"route": "/oauth2/device_authorization", "method": "POST", "code": "200"}, 1},
			{"latchkey_http_requests_total", map[string]string{"route": "/oauth2/token", "method": "POST", "code": "200"}, 2},
			{"latchkey_http_requests_total", map[string]string{"route": "/oauth2/token", "method": "POST", "code": "400"}, 2},
			{"latchkey_http_requests_total", map[string]string{"route": "/oauth2/token", "method": "other"}, 1},
			{"latchkey_http_requests_total", map[string]string{"route": "GET /device", "method": "GET", "code": "200"}, 1},
			{"latchkey_http_requests_total", map[string]string{"route": "POST /device", "method": "POST", "code": "200"}, 1},
			{"latchkey_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
			{"latchkey_http_request_duration_seconds", map[string]string{"route": "/oauth2/token", "method": "POST"}, 4},
		} {
			if got := after.value(tt.name, tt.labels) - before.value(tt.name, tt.labels); got != tt.want {
				t.Errorf("%s%v moved by %v; want %v", tt.name, tt.labels, got, tt.want)
			}
		}

		// Nothing secret, personal or of the caller's making in a label,
		// nor anywhere in the page.
		for _, secret := range []string{da.DeviceCode, da.UserCode, tok.AccessToken, tok.RefreshToken, cc.AccessToken,
			svcSecret, testMetricsToken, testAdminToken, randomPath, "BREW", tvClient, "metrics-svc", s.User.ID, personEmail} {
			if secret != "" && strings.Contains(after.raw, secret) {
				t.Errorf("the scrape contains %q", secret)
			}
		}
		for _, v := range after.labelValues() {
			if strings.HasPrefix(v, "/") && strings.Contains(v, "no-such") {
				t.Errorf("label value %q is a raw path", v)
			}
		}
		checkDashboard(t, after)
	})
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	mustDo(t, err)
	return req
}

// TestMetricsListener: /metrics is not on the public mux, whether metrics
// are on or off; the metrics listener refuses a scrape without the token or
// with a wrong one (401, with a Bearer challenge), takes only GET, and
// serves nothing else.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	off := newTestServer(t, true, nil)
	if off.Srv.MetricsHandler() != nil {
		t.Error("metrics are served with metrics.listen empty")
	}
	on := newTestServer(t, true, func(c *config.Config) {
		c.Metrics.Listen = "127.0.0.1:0"
		c.Metrics.Token = testMetricsToken
	})
	for _, s := range []*testServer{off, on} {
		if r := do(t, mustRequest(t, http.MethodGet, s.URL+"/metrics")); r.Status != http.StatusNotFound {
			t.Errorf("public GET /metrics: %d; want 404", r.Status)
		}
	}
	ms := httptest.NewServer(on.Srv.MetricsHandler())
	t.Cleanup(ms.Close)
	for _, tt := range []struct {
		name   string
		method string
		path   string
		auth   []string
		want   int
	}{
		{"no token", http.MethodGet, "/metrics", nil, http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/metrics", []string{"Bearer " + testMetricsToken + "x"}, http.StatusUnauthorized},
		{"a prefix of the token", http.MethodGet, "/metrics", []string{"Bearer " + testMetricsToken[:20]}, http.StatusUnauthorized},
		{"the admin token", http.MethodGet, "/metrics", []string{"Bearer " + testAdminToken}, http.StatusUnauthorized},
		{"basic, not bearer", http.MethodGet, "/metrics", []string{"Basic " + testMetricsToken}, http.StatusUnauthorized},
		{"two headers", http.MethodGet, "/metrics", []string{"Bearer " + testMetricsToken, "Bearer " + testMetricsToken}, http.StatusUnauthorized},
		{"right token", http.MethodGet, "/metrics", []string{"Bearer " + testMetricsToken}, http.StatusOK},
		{"lower-case scheme", http.MethodGet, "/metrics", []string{"bearer " + testMetricsToken}, http.StatusOK},
		{"POST", http.MethodPost, "/metrics", []string{"Bearer " + testMetricsToken}, http.StatusMethodNotAllowed},
		{"another path", http.MethodGet, "/debug/pprof/", []string{"Bearer " + testMetricsToken}, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := mustRequest(t, tt.method, ms.URL+tt.path)
			for _, a := range tt.auth {
				req.Header.Add("Authorization", a)
			}
			r := do(t, req)
			if r.Status != tt.want {
				t.Fatalf("got %d %s; want %d", r.Status, r.Raw, tt.want)
			}
			if r.Status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
			if r.Status == http.StatusOK && !strings.Contains(r.Raw, "latchkey_http_requests_total") {
				t.Errorf("the scrape lacks latchkey_http_requests_total:\n%s", r.Raw)
			}
		})
	}
	// Without a token the listener's address is the only guard.
	open := newTestServer(t, true, func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" })
	oms := httptest.NewServer(open.Srv.MetricsHandler())
	t.Cleanup(oms.Close)
	scrape(t, oms.URL+"/metrics", "")
}

// TestMetricsStore: the scrape reports the store's operations (timed
// through the generated wrapper, none left out), the backend's pools and
// batchers, the signing keys' ages, and the outbox: a mail whose server
// refuses the connection is a failure and stays pending.
func TestMetricsStore(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		mustDo(t, err)
		closed := ln.Addr().(*net.TCPAddr).Port
		ln.Close() // nothing listens there now: every attempt fails
		s := newTestServerOn(t, b, true, func(c *config.Config) {
			c.Metrics.Listen = "127.0.0.1:0"
			c.SMTP = config.SMTP{Host: "127.0.0.1", Port: closed, TLS: "none", From: "Latchkey <noreply@example.com>"}
		})
		ms := httptest.NewServer(s.Srv.MetricsHandler())
		t.Cleanup(ms.Close)
		before := scrape(t, ms.URL+"/metrics", "")

		d := s.startDevice(t, tvClient, scopesAll)
		wantOAuthError(t, s.poll(t, tvClient, d.str("device_code")), http.StatusBadRequest, oauth.AuthorizationPending)
		br := newWebBrowser(t, s)
		if r := br.post("/forgot-password", url.Values{"email": {personEmail}, "csrf_token": {csrfOf(t, br.get("/forgot-password"))}}); r.Status >= 400 {
			t.Fatalf("forgot password: %d %s", r.Status, r.Raw)
		}
		s.Srv.Wait()
		var after scrapeResult
		for deadline := time.Now().Add(20 * time.Second); ; {
			after = scrape(t, ms.URL+"/metrics", "")
			if after.value("latchkey_mail_failures_total", nil) > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}

		for _, tt := range []struct {
			name   string
			labels map[string]string
			min    float64
		}{
			{"latchkey_store_operation_duration_seconds", map[string]string{"op": "CreateDeviceAuth"}, 1},
			{"latchkey_store_operation_duration_seconds", map[string]string{"op": "PollDeviceAuth"}, 1},
			{"latchkey_store_operation_duration_seconds", map[string]string{"op": "CreateAccountToken"}, 1},
			{"latchkey_store_batch_writes_total", nil, 1},
			{"latchkey_store_batches_total", nil, 1},
			{"latchkey_mail_failures_total", nil, 1},
		} {
			if got := after.value(tt.name, tt.labels) - before.value(tt.name, tt.labels); got < tt.min {
				t.Errorf("%s%v moved by %v; want at least %v", tt.name, tt.labels, got, tt.min)
			}
		}
		if got := after.value("latchkey_store_operation_errors_total", nil); got != 0 {
			t.Errorf("store errors %v; want none", got)
		}
		if got := after.value("latchkey_mail_sent_total", nil); got != 0 {
			t.Errorf("mail sent %v; want none, the server is away", got)
		}
		if got := after.value("latchkey_outbox_pending", nil); got != 1 {
			t.Errorf("outbox_pending %v; want the reset mail, still waiting", got)
		}
		for _, alg := range []string{"ES256", "RS256"} {
			f := after.fams["latchkey_signing_key_age_seconds"]
			found := false
			for _, m := range f.GetMetric() {
				if m.GetLabel()[0].GetValue() == alg {
					found = true
					if age := m.GetGauge().GetValue(); age < 0 || age > 3600 {
						t.Errorf("%s key age %v s", alg, age)
					}
				}
			}
			if !found {
				t.Errorf("no signing_key_age_seconds for %s", alg)
			}
		}
		pools := map[string]bool{}
		for _, m := range after.fams["latchkey_db_connections_max"].GetMetric() {
			pools[m.GetLabel()[0].GetValue()] = true
		}
		// SQLite's own memory is reported on SQLite in a build that counts
		// it (the memory.counters tag), and nowhere else.
		counted := b.name == "sqlite" && sqlite.EngineMemoryCounted()
		if got := after.value("latchkey_sqlite_memory_bytes", nil); counted && got < 1<<10 {
			t.Errorf("sqlite_memory_bytes %v; want what the open connections hold", got)
		} else if !counted && after.fams["latchkey_sqlite_memory_bytes"] != nil {
			t.Errorf("sqlite_memory_bytes scraped on %s without counting", b.name)
		}
		want := map[string][]string{"sqlite": {"reader", "writer"}, "postgres": {"pool"}}[b.name]
		for _, p := range want {
			if !pools[p] {
				t.Errorf("no db_connections_max for pool %q: %v", p, pools)
			}
		}
	})
}

// TestMeteredStoreCovers: every store operation that can fail is timed by
// the generated wrapper, so a store method added without `go generate
// ./internal/server` fails here rather than go unmeasured.
func TestMeteredStoreCovers(t *testing.T) {
	t.Parallel()
	have := map[string]bool{}
	for _, op := range storeOps {
		have[op] = true
	}
	st := reflect.TypeFor[store.Store]()
	errType := reflect.TypeFor[error]()
	for i := range st.NumMethod() {
		m := st.Method(i)
		if m.Name == "Close" || m.Type.NumOut() == 0 || m.Type.Out(m.Type.NumOut()-1) != errType {
			continue
		}
		if !have[m.Name] {
			t.Errorf("store.Store.%s is not metered: run go generate ./internal/server", m.Name)
		}
	}
	if len(have) != len(storeOps) {
		t.Errorf("storeOps repeats an operation")
	}
}

func TestStoreFailed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{store.ErrNotFound, false},
		{fmt.Errorf("get client: %w", store.ErrNotFound), false},
		{store.ErrConflict, false},
		{store.ErrInvalid, false},
		{context.Canceled, false},
		{store.ErrUnavailable, true},
		{context.DeadlineExceeded, true},
		{errors.New("disk I/O error"), true},
	} {
		if got := storeFailed(tt.err); got != tt.want {
			t.Errorf("storeFailed(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

// metricName finds the metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:latchkey|go|process)_[a-z_]+\b`)

// checkDashboard holds deploy/grafana/latchkey.json to the metrics: it is
// valid JSON, every panel has a query, and every metric a query names is
// one the scrape has (a histogram's _bucket, _sum and _count by its name).
func checkDashboard(t *testing.T, sc scrapeResult) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "latchkey.json"))
	mustDo(t, err)
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/latchkey.json: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard %q has uid %q and %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	seen := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				seen++
				base := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && sc.fams[b].GetType() == dto.MetricType_HISTOGRAM {
						base = b
					}
				}
				if sc.fams[base] == nil {
					t.Errorf("panel %q names %s, which the scrape lacks", p.Title, n)
				}
			}
		}
	}
	if seen < 20 {
		t.Errorf("the dashboard queries only %d metrics", seen)
	}
}

// TestMetricsThrottles: each limit's refusals are counted under its name:
// sign-in attempts, wrong user codes, and a JSON endpoint's 429 (the token
// endpoint's per-client limit); a denied device and an expired code count
// as the device flow's outcomes.
func TestMetricsThrottles(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s, ms := metricsServer(t, b, func(c *config.Config) {
			c.Login.AttemptsPerAccount = 1
			c.Device.AttemptsPerAccount = 1
			c.Limits.TokenPerClientPerMinute = 1
		})
		br := newWebBrowser(t, s)
		br.signIn()
		before := scrape(t, ms.URL+"/metrics", "")

		// Sign-in: one wrong password is judged, the next refused.
		other := newWebBrowser(t, s)
		for range 2 {
			other.post("/login", url.Values{"username": {personEmail}, "password": {"wrong password"}, "csrf_token": {csrfOf(t, other.get("/login"))}})
		}
		// User codes: one wrong code is judged, the next refused.
		for range 2 {
			br.get("/device?user_code=BCDF-GHJK")
		}
		// The token endpoint: one token a minute for the client.
		cc := url.Values{"grant_type": {store.GrantClientCredentials}}
		if r := s.post(t, "/oauth2/token", cc, "metrics-svc", svcSecret); r.Status != http.StatusOK {
			t.Fatalf("first token: %d %s", r.Status, r.Raw)
		}
		if r := s.post(t, "/oauth2/token", cc, "metrics-svc", svcSecret); r.Status != http.StatusTooManyRequests {
			t.Fatalf("second token: %d %s; want 429", r.Status, r.Raw)
		}
		// A device the person denies, and a code that expires.
		denied := s.startDevice(t, tvClient, scopesAll)
		s.decide(t, denied.str("user_code"), false)
		wantOAuthError(t, s.poll(t, tvClient, denied.str("device_code")), http.StatusBadRequest, oauth.AccessDenied)
		late := s.startDevice(t, tvClient, scopesAll)
		s.Clock.Advance(time.Hour)
		wantOAuthError(t, s.poll(t, tvClient, late.str("device_code")), http.StatusBadRequest, oauth.ExpiredToken)

		after := scrape(t, ms.URL+"/metrics", "")
		for _, tt := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"latchkey_throttle_hits_total", map[string]string{"limit": "login"}, 1},
			{"latchkey_throttle_hits_total", map[string]string{"limit": "user_code"}, 1},
			{"latchkey_throttle_hits_total", map[string]string{"limit": "request"}, 1},
			{"latchkey_http_requests_total", map[string]string{"route": "/oauth2/token", "code": "429"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "authorization"}, 2},
			{"latchkey_device_flow_total", map[string]string{"outcome": "access_denied"}, 1},
			{"latchkey_device_flow_total", map[string]string{"outcome": "expired"}, 1},
			{"latchkey_tokens_issued_total", map[string]string{"grant_type": store.GrantClientCredentials}, 1},
		} {
			if got := after.value(tt.name, tt.labels) - before.value(tt.name, tt.labels); got != tt.want {
				t.Errorf("%s%v moved by %v; want %v", tt.name, tt.labels, got, tt.want)
			}
		}
	})
}
