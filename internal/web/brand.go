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
// file: the built-in files, or the operator's file of the same name. Each
// is parsed once, when its page is first rendered, so that the templates
// of pages nobody opens are not part of the live heap that every garbage
// collection marks (BENCHMARKS.md). An override is read and checked at
// start-up by NewTheme: a template that does not parse, or that
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
	brand     brandView
	funcs     template.FuncMap      // brand
	pages     map[string]*themePage // by page name, each parsed on its first render
	overrides map[string]string     // the operator's templates, by file name
	dir       string                // where they came from (pages.templates_dir)
	style     *asset
	js        *asset
	logo      *asset // nil without a logo file
	csp       string
}

// NewTheme reads b's overrides and checks every page they take part in,
// and builds the style sheet. Its error names the file and line at fault.
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

	th.overrides, err = loadOverrides(b.TemplatesDir)
	if err != nil {
		return nil, err
	}
	th.dir = b.TemplatesDir
	bv := th.brand
	th.funcs = template.FuncMap{"brand": func() brandView { return bv }}
	th.pages = make(map[string]*themePage, len(templates))
	for name := range templates {
		th.pages[name] = &themePage{}
	}
	if err := th.checkPages(); err != nil {
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

// themePage is one page's set in a Theme, parsed on its first render.
type themePage struct {
	once sync.Once
	t    *template.Template
	err  error
}

// loadOverrides reads the operator's templates from dir, by file name, and
// refuses a file that replaces no built-in one. Their text is kept, not the
// files: a page parsed later is parsed from what was checked at start-up.
func loadOverrides(dir string) (map[string]string, error) {
	if dir == "" {
		return nil, nil
	}
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
	overrides := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		if !slices.Contains(known, e.Name()) {
			return nil, fmt.Errorf("pages.templates_dir: %s: no built-in template has that name (they are %s)",
				filepath.Join(dir, e.Name()), strings.Join(known, ", "))
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("pages.templates_dir: %w", err)
		}
		overrides[e.Name()] = string(b)
	}
	return overrides, nil
}

// checkPages parses, ahead of any render, every page an override takes
// part in, and drops the sets again: one that does not parse, cannot be
// escaped or names a field its page has not stops the start, not a
// person's page. A theme without overrides has nothing to check; the
// built-in templates are tested (TestEveryPageParses).
func (th *Theme) checkPages() error {
	if len(th.overrides) == 0 {
		return nil
	}
	samples := samplePages()
	for name := range templates {
		var ours []string
		for _, file := range append(slices.Clone(sharedFiles), name+".html") {
			if _, ok := th.overrides[file]; ok {
				ours = append(ours, filepath.Join(th.dir, file))
			}
		}
		if len(ours) == 0 {
			continue
		}
		t, err := th.parse(name)
		if err != nil {
			if escape := (*template.Error)(nil); errors.As(err, &escape) {
				return fmt.Errorf("pages.templates_dir: page %s, with %s: %w", name, strings.Join(ours, ", "), err)
			}
			return err
		}
		// An override runs on sample data of its page too: a field the
		// page does not have (a template written for an older release)
		// fails here, with its file and line, not on a person's page.
		if sample, ok := samples[name]; ok {
			if err := t.ExecuteTemplate(io.Discard, "layout", localized(sample, i18n.English())); err != nil {
				return fmt.Errorf("pages.templates_dir: page %s, with %s: %w (README: \"Branding\" lists the fields a page's template may use)",
					name, strings.Join(ours, ", "), err)
			}
		}
	}
	return nil
}

// page is the parsed set of the page name, parsed on its first call; nil
// for no such page.
func (th *Theme) page(name string) (*template.Template, error) {
	p := th.pages[name]
	if p == nil {
		return nil, nil
	}
	p.once.Do(func() {
		p.t, p.err = th.parse(name)
		if escape := (*template.Error)(nil); errors.As(p.err, &escape) {
			p.err = fmt.Errorf("web: page %s: %w", name, p.err)
		}
	})
	return p.t, p.err
}

// parse builds the set of the page name: the built-in layout and the
// page's files, branding.html, and the operator's overrides, in that
// order, so that an override replaces what its file defines and keeps
// what it does not. The set is escaped before it is returned, so that
// renders of it share it read-only.
func (th *Theme) parse(name string) (*template.Template, error) {
	pf := templates[name]
	t := template.New("")
	for _, f := range pf.funcs {
		t.Funcs(f)
	}
	_, err := t.Funcs(th.funcs).ParseFS(templateFiles, "templates/layout.html")
	if err == nil {
		_, err = t.ParseFS(pf.fsys, pf.files...)
	}
	if err != nil {
		return nil, fmt.Errorf("web: template %s: %w", name, err)
	}
	for _, file := range append(slices.Clone(sharedFiles), name+".html") {
		if src, ok := th.overrides[file]; ok {
			if _, err := t.New(file).Parse(src); err != nil {
				return nil, fmt.Errorf("pages.templates_dir: %s: %w", filepath.Join(th.dir, file), err)
			}
		} else if file == "branding.html" {
			if _, err := t.ParseFS(templateFiles, path.Join("templates", file)); err != nil {
				return nil, fmt.Errorf("web: %s: %w", file, err)
			}
		}
	}
	// html/template escapes a set when it first runs: run it now, on no
	// data. Errors of executing on no data are expected and ignored.
	err = t.ExecuteTemplate(io.Discard, "layout", nil)
	if escape := (*template.Error)(nil); errors.As(err, &escape) {
		return nil, err
	}
	return t, nil
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
