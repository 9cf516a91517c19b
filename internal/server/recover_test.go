package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRecoverPanicsLogsRoute: a handler that panics is logged by the route
// it matched, never by its path, which can hold a secret (an invitation's
// landing page has its token in the path); the client gets a plain 500.
func TestRecoverPanicsLogsRoute(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /invitations/{token}", func(http.ResponseWriter, *http.Request) { panic("boom") })
	const secret = "lk_inv_secret-token-0123456789"
	w := httptest.NewRecorder()
	s.recoverPanics(mux).ServeHTTP(w, httptest.NewRequest("GET", "/invitations/"+secret, nil))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", w.Code)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the token from the path:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "GET /invitations/{token}") {
		t.Errorf("the log does not name the route:\n%s", logs.String())
	}
}
