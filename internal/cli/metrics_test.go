package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var metricsAt = regexp.MustCompile(`msg="metrics listening" url=(\S+)`)

// TestServeMetrics: with metrics.listen set, serve says where the metrics
// are and serves them there behind metrics.token, and not on the public
// listener.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const token = "lk_metrics_cli_test_token_0123456789abcdef"
	cfg := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(cfg, []byte("metrics:\n  listen: 127.0.0.1:0\n  token: "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, log := startServe(t, noEnv, "--config", cfg, "--db", "sqlite:"+filepath.Join(dir, "latchkey.db"))
	m := metricsAt.FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("serve does not say where the metrics are:\n%s", log)
	}
	get := func(url, bearer string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("http://"+addr+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get(m[1], token); code != http.StatusOK || !strings.Contains(body, `latchkey_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`) {
		t.Errorf("scrape with the token: %d\n%s", code, body)
	}
	if code, _ := get(m[1], ""); code != http.StatusUnauthorized {
		t.Errorf("scrape without the token: %d; want 401", code)
	}
	if code, _ := get("http://"+addr+"/metrics", token); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d; want 404", code)
	}
	if strings.Contains(log.String(), token) {
		t.Errorf("the log holds the metrics token:\n%s", log)
	}
}
