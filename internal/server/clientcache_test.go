package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestClientCacheAcrossInstances: two instances on one database, each with
// its own client cache. A secret rotated through one works on the other at
// once (a mismatch is checked against a fresh read), and the rotated-out
// secret is refused everywhere once the cache TTL has passed.
func TestClientCacheAcrossInstances(t *testing.T) {
	a := newTestServer(t, true, nil)
	srvB, err := New(t.Context(), a.Srv.cfg, a.Store, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: a.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewServer(srvB)
	t.Cleanup(b.Close)
	bServer := &testServer{URL: b.URL, Store: a.Store, Clock: a.Clock}

	authorize := func(s *testServer, secret string) int {
		return s.post(t, "/oauth2/device_authorization", url.Values{"scope": {"print"}}, printerClient, secret).Status
	}
	if got := authorize(bServer, printerSecret); got != 200 { // b caches the client
		t.Fatalf("before rotation: %d", got)
	}
	req, _ := http.NewRequest("POST", a.URL+"/admin/v1/clients/"+printerClient+"/secret", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	r := do(t, req)
	var rotated struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &rotated); err != nil || rotated.Secret == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	if got := authorize(bServer, rotated.Secret); got != 200 {
		t.Errorf("the new secret on the other instance: %d; want 200 at once", got)
	}
	a.Clock.Advance(clientCacheTTL + time.Second)
	if got := authorize(bServer, printerSecret); got != 401 {
		t.Errorf("the old secret after the cache TTL: %d; want 401", got)
	}
	if got := authorize(a, printerSecret); got != 401 {
		t.Errorf("the old secret on the rotating instance: %d; want 401", got)
	}
}
