package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// table returns the server's route table and a mux built from it, as New
// builds the one it serves.
func table(t *testing.T, ts *testServer) ([]route, *http.ServeMux) {
	t.Helper()
	e, err := ts.Srv.endpoints(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	routes := ts.Srv.routes(e, mux)
	for _, rt := range routes {
		mux.Handle(rt.pattern, rt.handler)
	}
	return routes, mux
}

// wildcard is a {name} segment of a pattern.
var wildcard = regexp.MustCompile(`\{[A-Za-z_]+\}`)

// probe is a request the route with pattern, and no other, should take:
// wildcards filled in, and for a pattern without a method one that no
// route names (every such pattern takes all the methods others do not).
func probe(pattern string) *http.Request {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "PATCH", pattern
	}
	return httptest.NewRequest(method, wildcard.ReplaceAllString(path, "x"), nil)
}

// fromMux reports whether the answer is the ServeMux's own, for a path or
// method no route takes, rather than a handler's.
func fromMux(w *httptest.ResponseRecorder) bool {
	body := w.Body.String()
	return body == "404 page not found\n" || body == "Method Not Allowed\n"
}

// TestRoutes holds the route table to the mux it builds, to what the
// server answers, and to README.md's endpoint table, both ways.
func TestRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	routes, mux := table(t, ts)

	t.Run("every route answers under its own pattern", func(t *testing.T) {
		for _, rt := range routes {
			r := probe(rt.pattern)
			if _, got := mux.Handler(r); got != rt.pattern {
				t.Errorf("%s %s is taken by %q; want %q", r.Method, r.URL.Path, got, rt.pattern)
			}
			w := httptest.NewRecorder()
			ts.Srv.ServeHTTP(w, probe(rt.pattern))
			if fromMux(w) {
				t.Errorf("%s: the server's mux answered %d %q itself", rt.pattern, w.Code, w.Body)
			}
		}
	})

	// Subtree patterns ("/admin/v1/", "/invitations/") catch what no other
	// route takes, to answer it in the API's or the pages' own way; they
	// are not endpoints, and the README does not list them.
	var served []string
	for _, rt := range routes {
		_, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			path = rt.pattern
		}
		if !strings.HasSuffix(path, "/") && !slices.Contains(served, path) {
			served = append(served, path)
		}
	}
	documented := readmeEndpoints(t)
	var paths []string
	for _, ep := range documented {
		if !slices.Contains(paths, ep.path) {
			paths = append(paths, ep.path)
		}
	}
	slices.Sort(served)
	slices.Sort(paths)
	if diff := cmp.Diff(served, paths); diff != "" {
		t.Errorf("paths (-routes.go +README.md):\n%s", diff)
	}

	t.Run("the README's methods are served", func(t *testing.T) {
		for _, ep := range documented {
			for _, m := range ep.methods {
				w := httptest.NewRecorder()
				ts.Srv.ServeHTTP(w, httptest.NewRequest(m, wildcard.ReplaceAllString(ep.path, "x"), nil))
				if fromMux(w) || w.Code == http.StatusMethodNotAllowed {
					t.Errorf("%s %s (README.md): %d %s", m, ep.path, w.Code, w.Body)
				}
			}
		}
	})
}

// endpoint is a path README.md's endpoint table lists, with the methods it
// names for it (none: it names none).
type endpoint struct {
	methods []string
	path    string
}

// readmeEndpoints returns every path in README.md's "## Endpoints" table:
// each code span that is a path, with or without methods before it
// ("GET /x", "GET/POST /y", "/z"), its query left out.
func readmeEndpoints(t *testing.T) []endpoint {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Endpoints\n")
	if !ok {
		t.Fatal("README.md has no ## Endpoints section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	span := regexp.MustCompile("`([^`]*)`")
	pathSpan := regexp.MustCompile(`^(?:([A-Z]+(?:/[A-Z]+)*) )?(/[^ ?]*)(?:\?.*)?$`)
	var eps []endpoint
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range span.FindAllStringSubmatch(line, -1) {
			p := pathSpan.FindStringSubmatch(m[1])
			if p == nil {
				continue
			}
			ep := endpoint{path: p[2]}
			if p[1] != "" {
				ep.methods = strings.Split(p[1], "/")
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		t.Fatal("README.md's endpoint table lists no paths")
	}
	return eps
}

// TestAdminRoutes: the admin API's routes in the table are the operations
// its OpenAPI document describes, as the server serves it, and none
// answers without the admin token.
func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	routes, _ := table(t, ts)

	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/admin/v1/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/v1/openapi.json: %d, %v", resp.StatusCode, err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if method != "parameters" && method != "summary" && method != "description" {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}

	var operations []string
	for _, rt := range routes {
		if !strings.Contains(rt.pattern, "/admin/v1/") {
			continue
		}
		if strings.Contains(rt.pattern, " ") {
			operations = append(operations, rt.pattern)
		}
		w := httptest.NewRecorder()
		rt.handler.ServeHTTP(w, probe(rt.pattern))
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s without the admin token: %d %s; want 401", rt.pattern, w.Code, w.Body)
		}
	}
	slices.Sort(documented)
	slices.Sort(operations)
	if diff := cmp.Diff(operations, documented); diff != "" {
		t.Errorf("admin operations (-routes.go +openapi.json):\n%s", diff)
	}
}
