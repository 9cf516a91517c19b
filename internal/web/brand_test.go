package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/session"
)

// TestThemeOverride: a template from pages.templates_dir replaces the
// built-in one of its name and sees the brand; the others stay built in.
func TestThemeOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "login.html", `{{define "content"}}<h1>Welcome to {{brand.Name}}</h1><p id="custom">Our own sign-in.</p>{{end}}`)
	th, err := NewTheme(Brand{Name: "Acme Home", Color: "#7a1fa2", TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "Living-room TV")
	e.pages.Theme = th
	w := e.browser(t).get("/login")
	body := w.Body.String()
	for _, want := range []string{"<title>Sign in · Acme Home</title>", "<h1>Welcome to Acme Home</h1>", `id="custom"`, `<span class="name">Acme Home</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q:\n%s", want, body)
		}
	}
	if w := e.browser(t).get("/register"); !strings.Contains(w.Body.String(), "Create an account") {
		t.Errorf("a page without an override is not the built-in one:\n%s", w.Body)
	}
}

// TestThemeBroken: a template that does not parse or cannot be escaped,
// that names a field its page has not, or a file that replaces nothing,
// is an error naming the file and line.
func TestThemeBroken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, file, text string
		want             []string
	}{
		{"does not parse", "login.html", "{{define \"content\"}}\n<h1>{{.Heading</h1>{{end}}", []string{"login.html", "login.html:2"}},
		{"unknown function", "device_entry.html", "{{define \"content\"}}{{nosuch .X}}{{end}}", []string{"device_entry.html:1", "nosuch"}},
		{"layout cannot be escaped", "layout.html", "{{define \"layout\"}}<a href=\"{{.Title}}{{end}}", []string{"layout.html"}},
		{"no such template", "logn.html", "{{define \"content\"}}{{end}}", []string{"logn.html", "no built-in template"}},
		// The sign-in page's .For became .Heading and .ForName: an
		// override written for it stops the start, naming the field.
		{"a field the page no longer has", "login.html", "{{define \"content\"}}\n<h1>Sign in to {{.For}}</h1>{{end}}", []string{"login.html:2", "For", "page login"}},
		{"a field in the layout", "layout.html", "{{define \"layout\"}}<p>{{.Lang}} {{.Sidebar}}</p>{{end}}", []string{"layout.html:1", "Sidebar"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tt.file, tt.text)
			_, err := NewTheme(Brand{TemplatesDir: dir})
			if err == nil {
				t.Fatal("NewTheme accepted a broken template")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

// TestAssets: the sheet carries the brand's colour, and the sheet, the
// script and a logo file are served with Cache-Control and an ETag that a
// browser's revalidation matches (304).
func TestAssets(t *testing.T) {
	t.Parallel()
	logo := []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>`)
	th, err := NewTheme(Brand{Name: "Acme", Color: "#7a1fa2", Logo: "logo.svg", LogoBytes: logo, LogoType: "image/svg+xml"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "TV")
	e.pages.Theme = th
	for _, tt := range []struct {
		path, ctype, contains string
		serve                 http.HandlerFunc
	}{
		{StylePath, "text/css; charset=utf-8", "--primary:#7a1fa2", e.pages.Style},
		{ScriptPath, "text/javascript; charset=utf-8", "Show", e.pages.Script},
		{LogoPath, "image/svg+xml", "<svg", e.pages.Logo},
	} {
		w := httptest.NewRecorder()
		tt.serve(w, httptest.NewRequest("GET", tt.path, nil))
		etag := w.Header().Get("ETag")
		if w.Code != 200 || w.Header().Get("Content-Type") != tt.ctype || !strings.Contains(w.Body.String(), tt.contains) ||
			w.Header().Get("Cache-Control") != "public, max-age=86400" || len(etag) < 10 || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d %v\n%.200s", tt.path, w.Code, w.Header(), w.Body)
		}
		r := httptest.NewRequest("GET", tt.path, nil)
		r.Header.Set("If-None-Match", etag)
		w = httptest.NewRecorder()
		tt.serve(w, r)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag: %d, %d bytes; want 304", tt.path, w.Code, w.Body.Len())
		}
	}
	// The page names the logo and the sheet by their digests.
	body := e.browser(t).get("/login").Body.String()
	for _, want := range []string{`<img src="/branding/logo?v=`, `<link rel="stylesheet" href="/assets/style.css?v=`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Without a logo file, the logo's path is not found.
	e2 := newEnv(t, "TV")
	w := httptest.NewRecorder()
	e2.pages.Logo(w, httptest.NewRequest("GET", LogoPath, nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("logo without one: %d", w.Code)
	}
}

// TestLogoURL: an https logo is loaded from its origin, which the CSP
// allows for images and nothing else.
func TestLogoURL(t *testing.T) {
	t.Parallel()
	th, err := NewTheme(Brand{Logo: "https://cdn.acme.example/logo.png"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "TV")
	e.pages.Theme = th
	w := e.browser(t).get("/login")
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' https://cdn.acme.example;") || strings.Count(csp, "cdn.acme.example") != 1 {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(w.Body.String(), `<img src="https://cdn.acme.example/logo.png"`) {
		t.Errorf("no logo on the page")
	}
	if _, err := NewTheme(Brand{Logo: "https://x.example/a.png; script-src *"}); err == nil {
		t.Error("a logo URL that would extend the CSP was accepted")
	}
	if _, err := NewTheme(Brand{Color: "red;}body{"}); err == nil {
		t.Error("a colour that is not #rrggbb was accepted")
	}
}

// TestEveryPageParses: every built-in page's set parses and is escaped
// (the start-up no longer does this for a theme without overrides).
func TestEveryPageParses(t *testing.T) {
	t.Parallel()
	th, err := NewTheme(Brand{})
	if err != nil {
		t.Fatal(err)
	}
	if len(th.pages) != len(templates) || len(templates) < 15 {
		t.Fatalf("the theme has %d of %d pages", len(th.pages), len(templates))
	}
	for name := range templates {
		if tm, err := th.page(name); err != nil || tm == nil || tm.Lookup("content") == nil {
			t.Errorf("page %s: %v", name, err)
		}
	}
	if tm, err := th.page("nosuch"); tm != nil || err != nil {
		t.Errorf("no such page: %v, %v", tm, err)
	}
}

// TestPagesParsedOnFirstRender: a theme holds no page's templates until
// the page is first rendered, and renders of a page not yet parsed, at
// the same moment, share one set and write the same page (run with -race).
func TestPagesParsedOnFirstRender(t *testing.T) {
	t.Parallel()
	th, err := NewTheme(Brand{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range th.pages {
		if p.t != nil || p.err != nil {
			t.Fatalf("page %s was parsed before its first render", name)
		}
	}
	p := &Pages{CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Sessions: &session.Manager{}, Theme: th}
	data := samplePages()["login"]
	bodies := make([]string, 8)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			w := httptest.NewRecorder()
			if err := p.render(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, "login", data); err != nil {
				t.Error(err)
			}
			bodies[i] = w.Body.String()
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] || !strings.Contains(b, "Acme") {
			t.Fatalf("renders differ or lack the brand:\n%s\n%s", b, bodies[0])
		}
	}
	for name, pg := range th.pages {
		if parsed := pg.t != nil; parsed != (name == "login") {
			t.Errorf("page %s parsed: %v", name, parsed)
		}
	}
}

// TestOverrideReadAtStart: a page is parsed from the override NewTheme
// checked, not from whatever the file holds when the page is first shown.
func TestOverrideReadAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "login.html", `{{define "content"}}<p id="checked">{{.Heading}}</p>{{end}}`)
	th, err := NewTheme(Brand{TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "login.html", `{{define "content"}}<p>{{.For}</p>{{end}}`)
	p := &Pages{CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Sessions: &session.Manager{}, Theme: th}
	w := httptest.NewRecorder()
	if err := p.render(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, "login", samplePages()["login"]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Body.String(), `<p id="checked">`) {
		t.Errorf("not the override read at start:\n%s", w.Body)
	}
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
