package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkEndpoints measures whole requests in process, server and client
// sharing the CPUs, for profiling (`-cpuprofile`); cmd/latchkey-bench gives
// the figures against a baseline.
func BenchmarkEndpoints(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			s := newBenchServer(b, bk)
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
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if code := post(url.Values{"grant_type": {store.GrantClientCredentials}}, "machine", machineSecret); code != 200 {
							b.Errorf("status %d", code)
							return
						}
					}
				})
			})
		})
	}
}

const machineSecret = "lk_cs_machine-secret-for-benchmarks-0123456789"

func newBenchServer(b *testing.B, bk backend) *testServer {
	b.Helper()
	st := bk.open(b)
	cfg := config.Default()
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
