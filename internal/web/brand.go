package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/i18n"
)

// Branding: the operator's name, logo, colour and links on every page
// (config pages:), the style sheet and script every page loads, and the
// templates an operator may replace (pages.templates_dir).
//
// Every page's template set is the layout, branding.html and the page's own
// file, parsed once at start-up by NewTheme: the built-in files, or the
// operator's file of the same name. A template that does not parse, or that
// html/template cannot escape, stops the server from starting, so a broken
// override fails `serve` with its file and line, not a person's sign-in.
// The brand reaches the templates as the function brand (branding.html), so
// that page handlers need not carry it.

//go:embed assets/style.css assets/page.js
var assetFiles embed.FS

// Paths of what the pages load. Each answers with its own Cache-Control
// and an ETag; the pages name the style sheet and script with ?v= and a
// digest of their content, so a changed brand reaches every browser at once.
const (
	StylePath  = "/assets/style.css"
	ScriptPath = "/assets/page.js"
	LogoPath   = "/branding/logo"
)

// Brand is how the pages present the operator (config.Pages).
type Brand struct {
	Name       string // the service's name; "Latchkey" when empty
	Logo       string // a file served at LogoPath, or an https URL; "" for none
	LogoBytes  []byte // the file's content (read by the caller, which checked its size)
	LogoType   string // the file's Content-Type
	Color      string // #rrggbb of buttons and links; #1f5fbf when empty
	LinkOnDark string // links in the dark scheme, readable on its card
	SupportURL string
	TermsURL   string
	PrivacyURL string
	// TemplatesDir holds templates that replace built-in ones by file name.
	TemplatesDir string
}

// brandView is what templates see as {{brand}}.
type brandView struct {
	Name, LogoURL, StyleURL, ScriptURL string
	SupportURL, TermsURL, PrivacyURL   string
}

// asset is a file the pages load, with its validator.
type asset struct {
	body  []byte
	ctype string
	etag  string
	cache string // Cache-Control
}

func newAsset(body []byte, ctype, cache string) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, ctype: ctype, cache: cache, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// version is the ?v= of a URL naming a.
func (a *asset) version() string { return strings.Trim(a.etag, `"`) }

// Theme is the parsed templates and the assets of one brand.
type Theme struct {
	brand brandView
	pages map[string]*template.Template
	style *asset
	js    *asset
	logo  *asset // nil without a logo file
	csp   string
}

// NewTheme parses every page's templates for b, with b's overrides, and
// builds the style sheet. Its error names the file and line at fault.
func NewTheme(b Brand) (*Theme, error) {
	if b.Name == "" {
		b.Name = "Latchkey"
	}
	if b.Color == "" {
		b.Color = "#1f5fbf"
	}
	if b.LinkOnDark == "" {
		b.LinkOnDark = "#8ab4f8"
	}
	th := &Theme{}
	css, err := assetFiles.ReadFile("assets/style.css")
	if err != nil {
		return nil, err
	}
	// The brand's colours go first, as custom properties the sheet uses;
	// they were checked as #rrggbb (config.Pages), and are checked again
	// here, as this is CSS.
	for _, c := range []string{b.Color, b.LinkOnDark} {
		if !hexColor(c) {
			return nil, fmt.Errorf("web: colour %q is not #rrggbb", c)
		}
	}
	vars := fmt.Sprintf(":root{--primary:%s;--link:%s;--link-dark:%s}\n", b.Color, b.Color, b.LinkOnDark)
	th.style = newAsset(append([]byte(vars), css...), "text/css; charset=utf-8", "public, max-age=86400")
	js, err := assetFiles.ReadFile("assets/page.js")
	if err != nil {
		return nil, err
	}
	th.js = newAsset(js, "text/javascript; charset=utf-8", "public, max-age=86400")

	imgSrc := "'self'"
	th.brand = brandView{
		Name:       b.Name,
		StyleURL:   StylePath + "?v=" + th.style.version(),
		ScriptURL:  ScriptPath + "?v=" + th.js.version(),
		SupportURL: b.SupportURL, TermsURL: b.TermsURL, PrivacyURL: b.PrivacyURL,
	}
	switch {
	case strings.HasPrefix(b.Logo, "https://"):
		u, err := url.Parse(b.Logo)
		if err != nil || u.Host == "" || strings.ContainsAny(b.Logo, " ;,'\"") {
			return nil, fmt.Errorf("web: logo %q is not a usable https URL", b.Logo)
		}
		th.brand.LogoURL = b.Logo
		// Only that origin, and only for images.
		imgSrc += " https://" + u.Host
	case b.Logo != "":
		if len(b.LogoBytes) == 0 || b.LogoType == "" {
			return nil, fmt.Errorf("web: logo %q: empty, or of no known type", b.Logo)
		}
		th.logo = newAsset(b.LogoBytes, b.LogoType, "public, max-age=86400")
		th.brand.LogoURL = LogoPath + "?v=" + th.logo.version()
	}
	// No inline script or style, nothing from elsewhere but a logo's
	// origin (RFC 9700 §4.2.4, §4.16).
	th.csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src " + imgSrc +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

	th.pages, err = parsePages(b.TemplatesDir, th.brand)
	if err != nil {
		return nil, err
	}
	return th, nil
}

func hexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// sharedFiles are the templates every page's set holds besides its own.
var sharedFiles = []string{"layout.html", "branding.html"}

// parsePages builds every page's set: the built-in set registered in
// templates, branding.html, and the overrides from dir.
func parsePages(dir string, bv brandView) (map[string]*template.Template, error) {
	overrides := map[string]bool{}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("pages.templates_dir: %w", err)
		}
		var known []string
		for name := range templates {
			known = append(known, name+".html")
		}
		known = append(known, sharedFiles...)
		slices.Sort(known)
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".html") {
				continue
			}
			if !slices.Contains(known, e.Name()) {
				return nil, fmt.Errorf("pages.templates_dir: %s: no built-in template has that name (they are %s)",
					filepath.Join(dir, e.Name()), strings.Join(known, ", "))
			}
			overrides[e.Name()] = true
		}
	}
	var fsys = os.DirFS(dir)
	funcs := template.FuncMap{"brand": func() brandView { return bv }}
	samples := samplePages()
	overridden := func(name string) bool {
		return overrides[name+".html"] || overrides["layout.html"] || overrides["branding.html"]
	}
	pages := map[string]*template.Template{}
	for name, builtin := range templates {
		t, err := builtin.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		t.Funcs(funcs)
		for _, file := range append(slices.Clone(sharedFiles), name+".html") {
			if overrides[file] {
				if _, err := t.ParseFS(fsys, file); err != nil {
					return nil, fmt.Errorf("pages.templates_dir: %s: %w", filepath.Join(dir, file), err)
				}
			} else if file == "branding.html" {
				if _, err := t.ParseFS(templateFiles, path.Join("templates", file)); err != nil {
					return nil, fmt.Errorf("web: %s: %w", file, err)
				}
			}
		}
		// html/template escapes a set when it first runs: run it now, on no
		// data, so that what it cannot escape stops the start rather than a
		// page. Errors of executing on no data are expected and ignored.
		err = t.ExecuteTemplate(io.Discard, "layout", nil)
		var escape *template.Error
		if errors.As(err, &escape) {
			var ours []string
			for _, file := range append(slices.Clone(sharedFiles), name+".html") {
				if overrides[file] {
					ours = append(ours, filepath.Join(dir, file))
				}
			}
			if len(ours) == 0 {
				return nil, fmt.Errorf("web: page %s: %w", name, err)
			}
			return nil, fmt.Errorf("pages.templates_dir: page %s, with %s: %w", name, strings.Join(ours, ", "), err)
		}
		// An override runs on sample data of its page too: a field the
		// page does not have (a template written for an older release)
		// fails here, with its file and line, not on a person's page.
		if sample, ok := samples[name]; ok && overridden(name) {
			if err := t.ExecuteTemplate(io.Discard, "layout", localized(sample, i18n.English())); err != nil {
				var ours []string
				for _, file := range append(slices.Clone(sharedFiles), name+".html") {
					if overrides[file] {
						ours = append(ours, filepath.Join(dir, file))
					}
				}
				return nil, fmt.Errorf("pages.templates_dir: page %s, with %s: %w (README: \"Branding\" lists the fields a page's template may use)",
					name, strings.Join(ours, ", "), err)
			}
		}
		pages[name] = t
	}
	return pages, nil
}

var (
	defaultThemeOnce sync.Once
	defaultTheme     *Theme
)

// theme is the Pages' theme, or the built-in one.
func (p *Pages) theme() *Theme {
	if p.Theme != nil {
		return p.Theme
	}
	defaultThemeOnce.Do(func() {
		th, err := NewTheme(Brand{})
		if err != nil {
			panic(err) // the built-in templates are tested
		}
		defaultTheme = th
	})
	return defaultTheme
}

// Style serves the style sheet (StylePath).
func (p *Pages) Style(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, p.theme().style) }

// Script serves the pages' script (ScriptPath).
func (p *Pages) Script(w http.ResponseWriter, r *http.Request) { serveAsset(w, r, p.theme().js) }

// Logo serves the logo file (LogoPath); 404 without one.
func (p *Pages) Logo(w http.ResponseWriter, r *http.Request) {
	a := p.theme().logo
	if a == nil {
		p.NotFound().ServeHTTP(w, r)
		return
	}
	serveAsset(w, r, a)
}

// serveAsset answers a with its validator: 304 to a matching
// If-None-Match, HEAD and ranges as http.ServeContent does.
func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", a.cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// An SVG logo opened on its own runs nothing and loads nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
