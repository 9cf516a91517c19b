package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// acmeBrand is the custom brand the brand tests configure: a logo file
// in dir, a colour, and every link.
func acmeBrand(t *testing.T, dir string) config.Pages {
	t.Helper()
	logo := filepath.Join(dir, "acme-logo.svg")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><rect width="64" height="64" rx="14" fill="#7a1fa2"/><path d="M16 46L32 14l16 32z" fill="#fff"/></svg>`
	mustDo(t, os.WriteFile(logo, []byte(svg), 0o644))
	return config.Pages{ServiceName: "Acme Home", Logo: logo, PrimaryColor: "#7a1fa2",
		SupportURL: "https://help.acme.example/", TermsURL: "https://acme.example/terms", PrivacyURL: "https://acme.example/privacy"}
}

// TestUnmatched: a path nothing serves is a page for a browser and JSON
// for a program, and always JSON under an API's path; a path served with
// other methods is 405 with Allow, the same two ways.
func TestUnmatched(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, func(c *config.Config) { c.Pages = acmeBrand(t, t.TempDir()) })
	for _, tt := range []struct {
		name, method, path, accept string
		status                     int
		page                       bool
		allow, contains            string
	}{
		{"page not found", "GET", "/nothing-here", "text/html,application/xhtml+xml,*/*;q=0.8", 404, true, "", "Page not found"},
		{"page not found, HEAD", "HEAD", "/nothing-here", "text/html", 404, true, "", ""},
		{"program not found", "GET", "/nothing-here", "", 404, false, "", `"error":"not_found"`},
		{"API path in a browser", "GET", "/oauth2/nothing", "text/html", 404, false, "", `"error":"not_found"`},
		{"method of a page", "DELETE", "/login", "text/html", 405, true, "GET, HEAD, POST", "Not allowed"},
		{"method of an operations path", "POST", "/healthz", "text/html", 405, true, "GET, HEAD", "Not allowed"},
		{"method of an operations path, program", "POST", "/healthz", "application/json", 405, false, "GET, HEAD", `"error":"method_not_allowed"`},
		{"method of the style sheet", "POST", "/assets/style.css", "", 405, true, "GET, HEAD", "Not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			s.Srv.ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code != tt.status || w.Header().Get("Allow") != tt.allow || !strings.Contains(body, tt.contains) {
				t.Errorf("%d, Allow %q:\n%s", w.Code, w.Header().Get("Allow"), body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			ct := w.Header().Get("Content-Type")
			switch {
			case tt.page && !strings.HasPrefix(ct, "text/html"):
				t.Errorf("Content-Type %q; want a page", ct)
			case tt.page && tt.method != "HEAD":
				for _, want := range []string{"· Acme Home</title>", `data-back`, `href="/assets/style.css?v=`} {
					if !strings.Contains(body, want) {
						t.Errorf("the page lacks %q", want)
					}
				}
			case !tt.page:
				var e struct{ Error, ErrorDescription string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || !strings.HasPrefix(ct, "application/json") {
					t.Errorf("not a JSON error (%s): %s", ct, body)
				}
			}
		})
	}
}

// TestBrokenTemplateStopsServe: an override that does not parse stops the
// server from being built, naming the file and line; a good one is served.
func TestBrokenTemplateStopsServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustDo(t, os.WriteFile(filepath.Join(dir, "device_entry.html"), []byte("{{define \"content\"}}\n<h1>Connect</h1>\n{{if .UserCode}}\n{{end}}{{end}}"), 0o644))
	mustDo(t, os.WriteFile(filepath.Join(dir, "login.html"), []byte("{{define \"content\"}}\n<h1>Sign in to {{brand.Name}}</h1>\n{{range .Nope}\n{{end}}"), 0o644))
	cfg := config.Default()
	cfg.Issuer, cfg.AdminToken = "http://127.0.0.1:1", testAdminToken
	cfg.Pages.TemplatesDir = dir
	if err := Validate(cfg); err != nil {
		t.Fatal(err)
	}
	_, err := New(t.Context(), cfg, backends[0].open(t), slog.New(slog.DiscardHandler), Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "login.html")) || !strings.Contains(err.Error(), "login.html:3") {
		t.Fatalf("New with a broken template: %v", err)
	}

	mustDo(t, os.Remove(filepath.Join(dir, "login.html")))
	s := newTestServer(t, true, func(c *config.Config) { c.Pages.TemplatesDir = dir })
	br := newWebBrowser(t, s)
	br.signIn()
	if r := br.get("/device"); r.Status != 200 || !strings.Contains(r.Raw, "<h1>Connect</h1>") || strings.Contains(r.Raw, "Enter the code") {
		t.Errorf("the override is not served: %d %s", r.Status, r.Raw)
	}
}

// TestBrandInMail: account mail and invitation mail name the service and
// its support link.
func TestBrandInMail(t *testing.T) {
	t.Parallel()
	brand := acmeBrand(t, t.TempDir())
	s, mta := accountServer(t, backends[0], func(c *config.Config) { c.Pages = brand })
	br := newWebBrowser(t, s)
	br.post("/forgot-password", url.Values{"email": {personEmail}, "csrf_token": {csrfOf(t, br.get("/forgot-password"))}})
	_, text := mta.mailTo(t, personEmail, 1)
	for _, want := range []string{"your account at Acme Home (", "— Acme Home, ", "Help: https://help.acme.example/"} {
		if !strings.Contains(text, want) {
			t.Errorf("reset mail lacks %q:\n%s", want, text)
		}
	}

	imta := startSMTP(t, "127.0.0.1:0")
	is := newInvServer(t, backends[0], func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: imta.port(), TLS: "none", From: "Acme <noreply@acme.test>"}
		c.Pages = brand
	})
	is.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "ops@acme.example"})
	eventually(t, "delivery to the mail server", func() bool { return len(imta.received()) == 1 })
	_, text = readInvitationMail(t, imta.received()[0])
	for _, want := range []string{"to Acme Sensors (Acme Home, ", "— Acme Home, ", "Help: https://help.acme.example/"} {
		if !strings.Contains(text, want) {
			t.Errorf("invitation mail lacks %q:\n%s", want, text)
		}
	}
	// And the invitation page wears the brand.
	link := invitationLink.FindString(text)
	u, err := url.Parse(link)
	mustDo(t, err)
	r := do(t, mustRequest(t, "GET", is.URL+u.Path))
	if r.Status != http.StatusOK || !strings.Contains(r.Raw, "<title>Connect a device · Acme Home</title>") ||
		!strings.Contains(r.Raw, `<img src="/branding/logo?v=`) {
		t.Errorf("invitation page: %d %s", r.Status, r.Raw)
	}
}
