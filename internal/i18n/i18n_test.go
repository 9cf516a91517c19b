package i18n

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/text/language"
)

var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// formsOf is key's text in c by plural form ("other" alone for a plain
// message), nil when c has no such message.
func formsOf(c *Catalog, key string) map[string]string {
	m, ok := c.msgs[key]
	if !ok {
		return nil
	}
	if m.plural == nil {
		return map[string]string{"other": m.other}
	}
	out := map[string]string{}
	for i, f := range pluralForms {
		if m.plural.has&(1<<i) != 0 {
			out[f] = m.plural.text[i]
		}
	}
	return out
}

// placeholders are the {names} of every form of key in c.
func placeholders(c *Catalog, key string) []string {
	var out []string
	for _, text := range formsOf(c, key) {
		for _, p := range placeholder.FindAllString(text, -1) {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestCatalogsComplete: every catalog has every message English has, and
// no other; each with the plural forms its language tells apart and the
// placeholders English puts in. The languages are the ones README names.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	set := Builtin()
	if got, want := set.Languages(), []string{"en", "de", "es", "fi", "fr"}; !slices.Equal(got, want) {
		t.Errorf("languages = %v; want %v", got, want)
	}
	en := set.Catalogs()[0]
	if len(en.Keys()) < 250 {
		t.Fatalf("English has %d messages; the pages and emails have more", len(en.Keys()))
	}
	for _, c := range set.Catalogs()[1:] {
		forms := PluralFormsOf(c.Tag)
		for _, key := range en.Keys() {
			if formsOf(c, key) == nil {
				t.Errorf("%s: no message %q (English: %q)", c.Tag, key, formsOf(en, key)["other"])
				continue
			}
			got, want := placeholders(c, key), placeholders(en, key)
			if key == "time.date" || key == "time.short_date" {
				// A date pattern takes any of Date's values.
				for _, p := range got {
					if !slices.Contains([]string{"{day}", "{month}", "{mm}", "{year}", "{hh}", "{min}"}, p) {
						t.Errorf("%s: %s has the placeholder %s, which Date does not fill", c.Tag, key, p)
					}
				}
			} else if !slices.Equal(got, want) {
				t.Errorf("%s: %s has placeholders %v; English has %v", c.Tag, key, got, want)
			}
			if len(formsOf(en, key)) > 1 {
				for _, f := range forms {
					if _, ok := formsOf(c, key)[f]; !ok {
						t.Errorf("%s: %s lacks the plural form %q (%s uses %v)", c.Tag, key, f, c.Tag, forms)
					}
				}
			}
		}
		for _, key := range c.Keys() {
			if formsOf(en, key) == nil {
				t.Errorf("%s: %q is no message of English's", c.Tag, key)
			}
		}
	}
}

// TestMissingMessageFails: the check above is not vacuous — a catalog
// without a message English has is found.
func TestMissingMessageFails(t *testing.T) {
	t.Parallel()
	set, err := Load(fstest.MapFS{
		"c/en.json": {Data: []byte(`{"a": "A", "b": {"one": "{n} b", "other": "{n} bs"}}`)},
		"c/de.json": {Data: []byte(`{"a": "A"}`)},
	}, "c")
	if err != nil {
		t.Fatal(err)
	}
	de := set.Catalogs()[1]
	if formsOf(de, "b") != nil {
		t.Fatal("de has b")
	}
	// And the missing message falls back to English rather than a key.
	if got := set.Locale("de").T("b", "n", 2); got != "2 bs" {
		t.Errorf("missing de message = %q; want English's %q", got, "2 bs")
	}
	for _, bad := range []string{`{"a": 1}`, `{"a": {"one": "x"}}`, `{"a": {"dual": "x", "other": "y"}}`, `not json`} {
		if _, err := Load(fstest.MapFS{"c/en.json": {Data: []byte(bad)}}, "c"); err == nil {
			t.Errorf("catalog %s loaded; want an error", bad)
		}
	}
	if _, err := Load(fstest.MapFS{"c/de.json": {Data: []byte(`{}`)}}, "c"); err == nil {
		t.Error("a set without en.json loaded")
	}
}

func TestChoose(t *testing.T) {
	t.Parallel()
	set := Builtin()
	fiDefault, err := set.WithDefault("fi")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		set        *Set
		ui, accept string
		want       string
		why        string
	}{
		{set, "fi", "", "fi", "ui_locales"},
		{set, "", "de", "de", "Accept-Language"},
		{set, "fi", "de", "fi", "ui_locales beats Accept-Language"},
		{set, "fi-FI de", "en", "fi", "a region of a language there is"},
		{set, "ja fr-CA", "de", "fr", "the first of ui_locales there is"},
		{set, "ja", "es-MX,es;q=0.9,en;q=0.5", "es", "an unsupported ui_locales falls to Accept-Language"},
		{set, "", "de-AT,de;q=0.9", "de", "Austrian German"},
		{set, "", "ja,zh;q=0.8", "en", "nothing there is: the default"},
		{fiDefault, "xx-unknown", "ja", "fi", "nothing there is: the configured default"},
		{fiDefault, "", "", "fi", "nothing asked: the configured default"},
		{fiDefault, "%%%", "!!!", "fi", "junk: the configured default"},
		{fiDefault, "", "en-GB", "en", "British English"},
	} {
		if got := tt.set.Choose(tt.ui, tt.accept).Lang(); got != tt.want {
			t.Errorf("%s: Choose(%q, %q) = %s; want %s", tt.why, tt.ui, tt.accept, got, tt.want)
		}
	}
	if _, err := set.WithDefault("ja"); err == nil || !strings.Contains(err.Error(), "en, de, es, fi, fr") {
		t.Errorf("WithDefault(ja) = %v; want an error naming the languages", err)
	}
}

func TestPlurals(t *testing.T) {
	t.Parallel()
	set := Builtin()
	for _, tt := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 30 * time.Second, "less than a minute ago"},
		{"en", time.Minute, "1 minute ago"},
		{"en", 2*time.Minute + 59*time.Second, "2 minutes ago"},
		{"en", 5 * time.Hour, "5 hours ago"},
		{"en", 72 * time.Hour, "3 days ago"},
		{"de", time.Minute, "vor 1 Minute"},
		{"de", 5 * time.Minute, "vor 5 Minuten"},
		{"de", 25 * time.Hour, "vor 25 Stunden"},
		{"fi", time.Minute, "1 minuutti sitten"},
		{"fi", 5 * time.Minute, "5 minuuttia sitten"},
		{"fi", time.Hour, "1 tunti sitten"},
		{"fi", 3 * time.Hour, "3 tuntia sitten"},
		{"fr", time.Minute, "il y a 1 minute"},
		{"fr", 5 * time.Minute, "il y a 5 minutes"},
		{"es", time.Minute, "hace 1 minuto"},
		{"es", 5 * time.Minute, "hace 5 minutos"},
	} {
		if got := set.Locale(tt.lang).Ago(tt.d); got != tt.want {
			t.Errorf("%s: Ago(%v) = %q; want %q", tt.lang, tt.d, got, tt.want)
		}
	}
	// French counts 0 as singular (CLDR: i = 0,1 is one); English does not.
	if got := set.Locale("fr").Duration(0); got != "0 minute" {
		t.Errorf("fr: Duration(0) = %q; want %q", got, "0 minute")
	}
	if got := set.Locale("en").Duration(0); got != "0 minutes" {
		t.Errorf("en: Duration(0) = %q; want %q", got, "0 minutes")
	}
	for _, tt := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 30 * time.Minute, "30 minutes"}, {"en", time.Hour, "1 hour"}, {"en", 90 * time.Minute, "90 minutes"},
		{"en", 7 * 24 * time.Hour, "7 days"}, {"fi", 24 * time.Hour, "24 tuntia"}, {"fi", time.Hour, "1 tunti"},
		{"de", 72 * time.Hour, "3 Tage"}, {"fr", 2 * time.Hour, "2 heures"}, {"es", 24 * time.Hour, "24 horas"},
	} {
		if got := set.Locale(tt.lang).Duration(tt.d); got != tt.want {
			t.Errorf("%s: Duration(%v) = %q; want %q", tt.lang, tt.d, got, tt.want)
		}
	}
}

func TestDates(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 3, 14, 5, 0, 0, time.FixedZone("CET", 3600))
	for lang, want := range map[string]string{
		"en": "3 December 2026, 13:05 UTC",
		"de": "3. Dezember 2026, 13:05 UTC",
		"fr": "3 décembre 2026 à 13:05 UTC",
		"es": "3 de diciembre de 2026, 13:05 UTC",
		"fi": "3.12.2026 klo 13.05 UTC",
	} {
		if got := Builtin().Locale(lang).Date(at); got != want {
			t.Errorf("%s: Date = %q; want %q", lang, got, want)
		}
	}
	if got := English().ShortDate(at); got != "3 Dec 2026, 13:05 UTC" {
		t.Errorf("en: ShortDate = %q", got)
	}
}

// TestDirection: a language written right to left is "rtl", by its
// script; the built-in ones are all left to right.
func TestDirection(t *testing.T) {
	t.Parallel()
	set, err := Load(fstest.MapFS{
		"c/en.json": {Data: []byte(`{"a": "A"}`)},
		"c/ar.json": {Data: []byte(`{"a": "أ"}`)},
		"c/he.json": {Data: []byte(`{"a": "א"}`)},
	}, "c")
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"ar": "rtl", "he": "rtl", "en": "ltr"} {
		if got := set.Locale(lang).Dir(); got != want {
			t.Errorf("%s: Dir = %s; want %s", lang, got, want)
		}
	}
	for _, c := range Builtin().Catalogs() {
		if got := Builtin().Locale(c.Tag.String()).Dir(); got != "ltr" {
			t.Errorf("%s: Dir = %s", c.Tag, got)
		}
	}
	if got := set.Choose("", "ar-EG").Lang(); got != "ar" {
		t.Errorf("Accept-Language ar-EG chose %s", got)
	}
	_ = language.Arabic
}

func TestT(t *testing.T) {
	t.Parallel()
	en := English()
	if got := en.T("confirm.heading", "client", "Living-room TV"); got != "Connect Living-room TV?" {
		t.Errorf("T = %q", got)
	}
	// Text that is not a key passes through, placeholders and all.
	if got := en.T("the client has no {redirect_uri}", "redirect_uri", "x"); got != "the client has no {redirect_uri}" {
		t.Errorf("non-key = %q", got)
	}
	// A value is put in once, not read for placeholders again.
	if got := en.T("confirm.heading", "client", "{client}"); got != "Connect {client}?" {
		t.Errorf("T = %q", got)
	}
}
