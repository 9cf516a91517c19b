package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkEndpoints measures whole requests in process, server and client
// sharing the CPUs, for profiling (`-cpuprofile`); cmd/latchkey-bench gives
// the figures against a baseline. Each backend runs with metrics off and
// on (metrics.listen set: every request counted and timed, every store
// operation timed), one after the other, so that -count interleaves them.
func BenchmarkEndpoints(b *testing.B) {
	for _, bk := range backends {
		for _, metricsOn := range []bool{false, true} {
			name := bk.name + "/metrics_off"
			if metricsOn {
				name = bk.name + "/metrics_on"
			}
			b.Run(name, func(b *testing.B) { benchmarkEndpoints(b, bk, metricsOn) })
		}
	}
}

func benchmarkEndpoints(b *testing.B, bk backend, metricsOn bool) {
	s := newBenchServer(b, bk, metricsOn)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(form url.Values, user, pass string) int {
		req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	b.Run("client_credentials", func(b *testing.B) {
		b.SetParallelism(16)
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if code := post(url.Values{"grant_type": {store.GrantClientCredentials}}, "machine", machineSecret); code != 200 {
					b.Errorf("status %d", code)
					return
				}
			}
		})
	})
}

// reportCPU reports the process's CPU time (user and system, server and
// client together) per operation as cpu-µs/op, which a machine busy with
// other work inflates far less than ns/op: call it before the loop and
// defer what it returns.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

const machineSecret = "lk_cs_machine-secret-for-benchmarks-0123456789"

func newBenchServer(b *testing.B, bk backend, metricsOn bool) *testServer {
	b.Helper()
	st := bk.open(b)
	cfg := config.Default()
	if metricsOn {
		cfg.Metrics.Listen = "127.0.0.1:0"
	}
	srv, err := New(b.Context(), cfg, st, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateClient(b.Context(), &store.Client{ID: "machine", Name: "Machine", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(machineSecret), GrantTypes: []string{store.GrantClientCredentials},
		Scopes: []string{"read"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	return &testServer{URL: ts.URL, Store: st}
}
