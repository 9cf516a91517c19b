package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/session"
)

// templateKey finds the message keys templates ask for: {{$.T "key" …}},
// {{.T "key"}}, {{$.TB "key" …}}.
var templateKey = regexp.MustCompile(`\.TB? "([^"]+)"`)

// goKey is a string literal shaped like a message key.
var goKey = regexp.MustCompile(`^[a-z]+(\.[a-z0-9_]+)+$`)

// TestMessageKeys: every key a built-in template or the Go code of the
// pages, the consoles (package console) and the mails uses is a message
// of English's catalog (and so, by i18n's TestCatalogsComplete, of every
// catalog). A template or handler naming a key no catalog has fails here
// rather than showing the key; a console message no template or handler
// uses any more fails too, so that the catalogs do not keep dead words.
func TestMessageKeys(t *testing.T) {
	t.Parallel()
	en := map[string]bool{}
	for _, k := range i18n.Builtin().Catalogs()[0].Keys() {
		en[k] = true
	}
	prefixes := map[string]bool{}
	for k := range en {
		prefixes[strings.SplitN(k, ".", 2)[0]] = true
	}
	used := map[string]string{} // key → where
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(templateFiles, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	if len(used) < 120 {
		t.Fatalf("the templates use %d keys; the pattern misses them", len(used))
	}
	// The consoles' templates, read from their package's directory.
	consoleFiles, err := filepath.Glob("../console/templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	pagesOnly := len(used)
	for _, f := range consoleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range templateKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	if len(consoleFiles) < 20 || len(used)-pagesOnly < 150 {
		t.Fatalf("the console's %d templates use %d more keys; the pattern misses them", len(consoleFiles), len(used)-pagesOnly)
	}
	fromTemplates := len(used)
	// Go: string literals shaped like keys, whose first part is a
	// catalog's (so "layout.html" and "text/html" are not keys).
	for _, dir := range []string{".", "../account", "../org", "../authorize", "../console"} {
		goFiles, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range goFiles {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !goKey.MatchString(s) || !prefixes[strings.SplitN(s, ".", 2)[0]] ||
					strings.HasSuffix(s, ".html") || strings.HasSuffix(s, ".js") || strings.HasSuffix(s, ".css") {
					return true
				}
				used[s] = f
				return true
			})
		}
	}
	if len(used)-fromTemplates < 150 {
		t.Fatalf("the Go code uses %d more keys; the scan misses them", len(used)-fromTemplates)
	}
	// The keys Go puts together: mail.<kind>.subject and .text (Notify),
	// time.month.N, scope words.
	for _, kind := range []string{"password_changed", "address_taken", "email_changed", "password_reset", "passkey_added", "totp_on", "account_exists"} {
		used["mail."+kind+".subject"], used["mail."+kind+".text"] = "Notify", "Notify"
	}
	for key, where := range used {
		if !en[key] {
			t.Errorf("%s uses the message %q, which no catalog has", where, key)
		}
	}
	for key := range en {
		if strings.HasPrefix(key, "console.") && used[key] == "" {
			t.Errorf("the console message %q is used by no template or handler", key)
		}
	}
}

// TestLanguageChoice: ui_locales=fi and Accept-Language: de choose those
// catalogs; ui_locales beats Accept-Language; a language with no catalog
// falls back to the configured default; the ui_locales choice carries
// through the sign-in page of the same flow (a cookie).
func TestLanguageChoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living-room TV")
	fiDefault, err := i18n.Builtin().WithDefault("fr")
	if err != nil {
		t.Fatal(err)
	}
	e.pages.Languages = fiDefault
	for _, tt := range []struct {
		path, accept string
		lang, words  string
	}{
		{"/login?ui_locales=fi", "", "fi", "Kirjaudu sisään"},
		{"/login", "de-DE,de;q=0.9,en;q=0.5", "de", "Anmelden"},
		{"/login?ui_locales=fi", "de", "fi", "Kirjaudu sisään"},
		{"/login?ui_locales=es+de", "fi", "es", "Iniciar sesión"},
		{"/login?ui_locales=xx", "ja", "fr", "Se connecter"},
		{"/login", "", "fr", "Se connecter"},
		{"/login", "en-US", "en", "Sign in"},
	} {
		b := e.browser(t)
		b.header.Set("Accept-Language", tt.accept)
		w := b.get(tt.path)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, `<html lang="`+tt.lang+`" dir="ltr">`) ||
			!strings.Contains(body, tt.words) || w.Header().Get("Content-Language") != tt.lang {
			t.Errorf("GET %s, Accept-Language %q: %d, Content-Language %q; want %s with %q\n%.600s",
				tt.path, tt.accept, w.Code, w.Header().Get("Content-Language"), tt.lang, tt.words, body)
		}
	}

	// Carried: the device page asked for Finnish; its sign-in step, in a
	// German browser, stays Finnish, as do its errors.
	b := e.browser(t)
	b.header.Set("Accept-Language", "de")
	b.get("/device?ui_locales=fi&user_code=" + testCode)
	w := b.get("/login?return_to=" + testCodeReturn())
	if !strings.Contains(w.Body.String(), `lang="fi"`) || !strings.Contains(w.Body.String(), "Kirjaudu sisään") {
		t.Errorf("sign-in after ui_locales=fi: not Finnish\n%.800s", w.Body)
	}
	w = b.post("/login", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `lang="fi"`) {
		t.Errorf("an expired form after ui_locales=fi: %d, not Finnish\n%.800s", w.Code, w.Body)
	}
	// A ui_locales with no catalog leaves the choice as it was.
	w = b.get("/login?ui_locales=ja")
	if !strings.Contains(w.Body.String(), `lang="fi"`) {
		t.Errorf("ui_locales=ja after fi: not Finnish\n%.400s", w.Body)
	}
	// Another browser of the same person, without the cookie: German.
	b2 := e.browser(t)
	b2.header.Set("Accept-Language", "de")
	if w := b2.get("/login"); !strings.Contains(w.Body.String(), `lang="de"`) {
		t.Errorf("a new browser: not German\n%.400s", w.Body)
	}
}

func testCodeReturn() string { return "%2Fdevice%3Fuser_code%3D" + testCode }

// TestPagesInLanguages: the device flow's pages say their words and the
// time in each language; the confirm page's plural ("vor 2 Minuten").
func TestPagesInLanguages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living-room TV")
	for lang, words := range map[string][]string{
		"en": {"Connect Living-room TV?", "2 minutes ago", "an app that calls itself “SmartTV”", "Allow"},
		"de": {"Living-room TV verbinden?", "vor 2 Minuten", "eine App, die sich „SmartTV“ nennt", "Erlauben"},
		"fi": {"Yhdistetäänkö Living-room TV?", "2 minuuttia sitten", "sovellus, joka kutsuu itseään nimellä ”SmartTV”", "Salli"},
		"fr": {"Connecter Living-room TV\u00a0?", "il y a 2 minutes", "Autoriser"},
		"es": {"¿Conectar Living-room TV?", "hace 2 minutos", "Permitir"},
	} {
		b := e.browser(t)
		b.header.Set("Accept-Language", lang)
		b.login(testEmail)
		w := b.get("/device?user_code=" + testCode)
		for _, want := range words {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s: the confirm page lacks %q\n%s", lang, want, w.Body)
			}
		}
	}
}

// TestOverrideWithoutTranslations: an operator's template written before
// the catalogs, with its own English words and {{.Notice}}, still renders,
// with the handler's notice in the person's language; one that asks for
// the catalog's words gets them.
func TestOverrideWithoutTranslations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("device_entry.html", `{{define "content"}}<h1>Our own words</h1>{{with .Notice}}<p class="notice">{{.}}</p>{{end}}
<form method="post" action="/device"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><label for="c">Code</label><input id="c" name="user_code"></form>{{end}}`)
	write("message.html", `{{define "content"}}<h1>{{.Heading}}</h1><p>{{.Text}}</p><p>{{$.T "message.go_back"}}</p>{{end}}`)
	th, err := NewTheme(Brand{TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "Living-room TV")
	e.pages.Theme = th
	b := e.browser(t)
	b.header.Set("Accept-Language", "de")
	b.login(testEmail)
	w := b.post("/device", map[string][]string{"csrf_token": {b.csrf("/device")}, "user_code": {"ZZZZZZZZ"}})
	if body := w.Body.String(); !strings.Contains(body, "Our own words") || !strings.Contains(body, "Dieser Code ist ungültig") {
		t.Errorf("override: %d\n%s", w.Code, body)
	}
	w = b.get("/device?user_code=" + expiredCode)
	if body := w.Body.String(); !strings.Contains(body, "Code abgelaufen") || !strings.Contains(body, "<p>Zurück</p>") {
		t.Errorf("override of message: %d\n%s", w.Code, body)
	}
}

// TestRightToLeft: a language written right to left (a pseudo-Arabic
// catalog, English's words marked) renders with dir="rtl", and the style
// sheet lays nothing out by left and right.
func TestRightToLeft(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../i18n/catalogs/en.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]any
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	for k, v := range msgs {
		if s, ok := v.(string); ok {
			msgs[k] = "\u200f" + s // RIGHT-TO-LEFT MARK
		}
	}
	pseudo, _ := json.Marshal(msgs)
	set, err := i18n.Load(fstest.MapFS{"c/en.json": {Data: raw}, "c/ar.json": {Data: pseudo}}, "c")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "Living-room TV")
	e.pages.Languages = set
	b := e.browser(t)
	b.header.Set("Accept-Language", "ar")
	w := b.get("/login")
	if body := w.Body.String(); !strings.Contains(body, `<html lang="ar" dir="rtl">`) || !strings.Contains(body, "\u200fSign in") {
		t.Errorf("pseudo-Arabic page:\n%.500s", body)
	}
	css, err := assetFiles.ReadFile("assets/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?:margin|padding|border)-(?:left|right)|[;{](?:left|right):|float:\s*(?:left|right)|text-align:\s*(?:left|right)`).FindString(string(css)); m != "" {
		t.Errorf("style.css lays out by %q; use the logical property (inline-start, inline-end)", m)
	}
}

// TestAuthorizeErrorInLanguage: an authorization request that cannot be
// used is explained in the person's language (authorize.PageError's Key),
// and a new request without ui_locales forgets an earlier one's.
func TestAuthorizeErrorInLanguage(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	b := e.browser(t)
	b.header.Set("Accept-Language", "de")
	w := b.get("/oauth2/authorize?response_type=code&client_id=nope&ui_locales=fi")
	if body := w.Body.String(); w.Code != http.StatusBadRequest || !strings.Contains(body, `lang="fi"`) ||
		!strings.Contains(body, "Pyytävää sovellusta (client_id &#34;nope&#34;) ei ole rekisteröity tänne.") {
		t.Errorf("unknown client, ui_locales=fi: %d\n%s", w.Code, body)
	}
	w = b.get("/oauth2/authorize?response_type=code&client_id=nope")
	if body := w.Body.String(); !strings.Contains(body, `lang="de"`) || !strings.Contains(body, "ist hier nicht registriert") {
		t.Errorf("unknown client, a new request in a German browser: %d\n%s", w.Code, body)
	}
}

// TestEveryPageEveryLanguage renders every built-in page, with its
// optional parts shown, in every language: each says <html lang>, and no
// message key shows through as a key (a template asking for a key by a
// wrong name, or a handler's key that render did not translate).
func TestEveryPageEveryLanguage(t *testing.T) {
	t.Parallel()
	p := &Pages{CSRFKey: []byte("0123456789abcdef0123456789abcdef"), Sessions: &session.Manager{}}
	pages := samplePages()
	for name := range templates {
		if _, ok := pages[name]; !ok && !strings.Contains(name, "console") && !strings.HasPrefix(name, "org") {
			t.Errorf("page %s has no data in this test", name)
		}
	}
	keys := i18n.Builtin().Catalogs()[0].Keys()
	for _, lang := range i18n.Builtin().Languages() {
		for name, data := range pages {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Language", lang)
			w := httptest.NewRecorder()
			if err := p.render(w, r, http.StatusOK, name, data); err != nil {
				t.Errorf("%s, %s: %v", lang, name, err)
				continue
			}
			body := w.Body.String()
			if !strings.Contains(body, `<html lang="`+lang+`" dir="ltr">`) {
				t.Errorf("%s, %s: no <html lang=%s>", lang, name, lang)
			}
			for _, k := range keys {
				if strings.Contains(body, k) {
					t.Errorf("%s, %s: the key %q shows through", lang, name, k)
				}
			}
		}
	}
}
