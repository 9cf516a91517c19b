// Package i18n holds the message catalogs of what people read — the pages
// and the emails — and chooses among them: OpenID Connect's ui_locales
// (Core §3.1.2.1), then Accept-Language (RFC 9110 §12.5.4), then the
// configured default. A catalog is one JSON file per language, embedded in
// the binary (catalogs/*.json); a message is a string, or an object of
// CLDR plural forms ("one", "few", "other", ...) chosen by the count n.
// Placeholders are {name}. Which page shows which message is package web's
// business, which mail package account's and package org's.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed catalogs/*.json
var builtin embed.FS

// Base is the language every other catalog is checked against, and the
// one a message missing elsewhere falls back to.
const Base = "en"

// Catalog is one language's messages. It is held flat, because every
// garbage collection marks it: one map of messages whose keys and texts
// are slices of a single string, and a small array only for a message
// with plural forms (BENCHMARKS.md, "a smaller live heap").
type Catalog struct {
	Tag  language.Tag
	msgs map[string]message
}

// message is one message's text: its "other" form (a plain message's
// only one), and for a message with other plural forms too, all of them.
type message struct {
	other  string
	plural *pluralText // nil when "other" is the only form
}

// pluralText are a message's plural forms, by their index in pluralForms.
type pluralText struct {
	has  uint8 // bit i: the form pluralForms[i] is given
	text [len(pluralForms)]string
}

// Keys are the catalog's message keys, sorted.
func (c *Catalog) Keys() []string {
	var ks []string
	for k := range c.msgs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Forms are the plural forms key has in c ("other" alone for a plain message).
func (c *Catalog) Forms(key string) []string {
	m, ok := c.msgs[key]
	if !ok {
		return nil
	}
	if m.plural == nil {
		return []string{"other"}
	}
	var fs []string
	for i, f := range pluralForms {
		if m.plural.has&(1<<i) != 0 {
			fs = append(fs, f)
		}
	}
	slices.Sort(fs)
	return fs
}

// Set is the catalogs a server offers, and how it chooses among them.
type Set struct {
	cats    []*Catalog // Base first
	matcher language.Matcher
	def     *Catalog
}

var defaultSet = func() *Set {
	s, err := Load(builtin, "catalogs")
	if err != nil {
		panic(err) // the built-in catalogs are tested
	}
	return s
}()

// Builtin is the catalogs embedded in the binary, defaulting to English.
func Builtin() *Set { return defaultSet }

// Load reads every dir/*.json of fsys as a catalog named by its file (de.json:
// German). There must be a Base catalog.
func Load(fsys fs.FS, dir string) (*Set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	s := &Set{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		tag, err := language.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", e.Name(), err)
		}
		raw, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: %w", e.Name(), err)
		}
		msgs := make(map[string]map[string]string, len(m))
		for k, v := range m {
			var plain string
			if json.Unmarshal(v, &plain) == nil {
				msgs[k] = map[string]string{"other": plain}
				continue
			}
			var forms map[string]string
			if err := json.Unmarshal(v, &forms); err != nil || forms["other"] == "" {
				return nil, fmt.Errorf("i18n: catalog %s: %s: a message is a string or an object of plural forms with \"other\"", e.Name(), k)
			}
			for f := range forms {
				if !slices.Contains(pluralForms[:], f) {
					return nil, fmt.Errorf("i18n: catalog %s: %s: %q is not a plural form (%s)", e.Name(), k, f, strings.Join(pluralForms[:], ", "))
				}
			}
			msgs[k] = forms
		}
		c := &Catalog{Tag: tag, msgs: flatten(msgs)}
		if name == Base {
			s.cats = slices.Insert(s.cats, 0, c)
		} else {
			s.cats = append(s.cats, c)
		}
	}
	if len(s.cats) == 0 || s.cats[0].Tag != language.Make(Base) {
		return nil, fmt.Errorf("i18n: no %s.json in %s", Base, dir)
	}
	tags := make([]language.Tag, len(s.cats))
	for i, c := range s.cats {
		tags[i] = c.Tag
	}
	s.matcher = language.NewMatcher(tags)
	s.def = s.cats[0]
	return s, nil
}

// flatten is msgs (key → plural form → text) as a Catalog holds them: every
// key and text a slice of one string, a plural array only where a message
// has forms besides "other".
func flatten(msgs map[string]map[string]string) map[string]message {
	// The text first, each piece once, remembering where it went.
	type span struct{ from, to int }
	var b strings.Builder
	n := 0
	for k, forms := range msgs {
		n += len(k)
		for _, t := range forms {
			n += len(t)
		}
	}
	b.Grow(n)
	put := func(s string) span {
		from := b.Len()
		b.WriteString(s)
		return span{from, b.Len()}
	}
	type entry struct {
		key   span
		forms [len(pluralForms)]span
		has   uint8
	}
	entries := make([]entry, 0, len(msgs))
	for k, forms := range msgs {
		e := entry{key: put(k)}
		for i, f := range pluralForms {
			if t, ok := forms[f]; ok {
				e.forms[i], e.has = put(t), e.has|1<<i
			}
		}
		entries = append(entries, e)
	}
	text := b.String()
	at := func(s span) string { return text[s.from:s.to] }
	out := make(map[string]message, len(entries))
	for _, e := range entries {
		m := message{other: at(e.forms[otherForm])}
		if e.has != 1<<otherForm {
			m.plural = &pluralText{has: e.has}
			for i := range pluralForms {
				m.plural.text[i] = at(e.forms[i])
			}
		}
		out[at(e.key)] = m
	}
	return out
}

// Catalogs are the set's catalogs, Base first.
func (s *Set) Catalogs() []*Catalog { return s.cats }

// Languages are the tags of the set's catalogs, Base first.
func (s *Set) Languages() []string {
	var out []string
	for _, c := range s.cats {
		out = append(out, c.Tag.String())
	}
	return out
}

// WithDefault is s with def as the language when nothing the person asks
// for is offered (pages.default_language); an error names what is offered.
func (s *Set) WithDefault(def string) (*Set, error) {
	if def == "" {
		return s, nil
	}
	c := s.exact(def)
	if c == nil {
		return nil, fmt.Errorf("language %q has no catalog (there are %s)", def, strings.Join(s.Languages(), ", "))
	}
	cp := *s
	cp.def = c
	return &cp, nil
}

func (s *Set) exact(name string) *Catalog {
	tag, err := language.Parse(name)
	if err != nil {
		return nil
	}
	for _, c := range s.cats {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// Supported is the offered language name chooses, or "" (a cookie's value is
// checked with it).
func (s *Set) Supported(name string) string {
	if c := s.exact(name); c != nil {
		return c.Tag.String()
	}
	return ""
}

// Choose picks the language for a request: the first of uiLocales (a
// space-separated list of BCP 47 tags, most preferred first) that a catalog
// serves, else the best of acceptLanguage, else the default. Unreadable
// values count as absent.
func (s *Set) Choose(uiLocales, acceptLanguage string) *Locale {
	if c := s.matchUILocales(uiLocales); c != nil {
		return s.locale(c)
	}
	if tags, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil && len(tags) > 0 {
		if c := s.match(tags...); c != nil {
			return s.locale(c)
		}
	}
	return s.locale(s.def)
}

// MatchUILocales is the language of a ui_locales value a catalog serves,
// or "".
func (s *Set) MatchUILocales(uiLocales string) string {
	if c := s.matchUILocales(uiLocales); c != nil {
		return c.Tag.String()
	}
	return ""
}

func (s *Set) matchUILocales(v string) *Catalog {
	var tags []language.Tag
	for _, f := range strings.Fields(v) {
		if len(tags) == 16 {
			break
		}
		if t, err := language.Parse(f); err == nil {
			tags = append(tags, t)
		}
	}
	return s.match(tags...)
}

// match is the best catalog for tags, nil when none is close enough.
func (s *Set) match(tags ...language.Tag) *Catalog {
	if len(tags) == 0 {
		return nil
	}
	_, i, conf := s.matcher.Match(tags...)
	if conf == language.No {
		return nil
	}
	return s.cats[i]
}

// Locale is the language chosen for one page or mail.
func (s *Set) Locale(name string) *Locale {
	if c := s.exact(name); c != nil {
		return s.locale(c)
	}
	return s.locale(s.def)
}

func (s *Set) locale(c *Catalog) *Locale { return &Locale{cat: c, base: s.cats[0]} }

type ctxKey struct{}

// NewContext is ctx carrying l: the language of what a request causes
// further down (an invitation email, say).
func NewContext(ctx context.Context, l *Locale) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext is the language ctx carries, nil for none.
func FromContext(ctx context.Context) *Locale {
	l, _ := ctx.Value(ctxKey{}).(*Locale)
	return l
}

// Locale translates for one language.
type Locale struct {
	cat, base *Catalog
}

// English is the Base language of the built-in catalogs.
func English() *Locale { return defaultSet.Locale(Base) }

// Lang is the BCP 47 tag, for <html lang> and Content-Language.
func (l *Locale) Lang() string { return l.cat.Tag.String() }

// rtlScripts are the scripts written right to left.
var rtlScripts = []string{"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Rohg", "Mand", "Samr"}

// Dir is "rtl" for a language written right to left, else "ltr".
func (l *Locale) Dir() string {
	script, _ := l.cat.Tag.Script()
	if slices.Contains(rtlScripts, script.String()) {
		return "rtl"
	}
	return "ltr"
}

// Has reports whether key is a message of the locale's catalog or Base.
func (l *Locale) Has(key string) bool {
	if _, ok := l.cat.msgs[key]; ok {
		return true
	}
	_, ok := l.base.msgs[key]
	return ok
}

// T is the message key with args (pairs of a placeholder's name and its
// value) put in. A plural message takes its form from the argument n. A key
// no catalog has is returned as it is, so that text which is not a key
// (an override's own words, an error's reason) passes through.
func (l *Locale) T(key string, args ...any) string {
	m, ok := l.cat.msgs[key]
	tag := l.cat.Tag
	if !ok {
		m, ok = l.base.msgs[key]
		tag = l.base.Tag
	}
	if !ok {
		return key
	}
	text := m.other
	if m.plural != nil {
		for i := 0; i+1 < len(args); i += 2 {
			if args[i] == "n" {
				if n, ok := count(args[i+1]); ok {
					if f := formIndex(plural.Cardinal.MatchPlural(tag, n%10000000, 0, 0, 0, 0)); m.plural.has&(1<<f) != 0 {
						text = m.plural.text[f]
					}
				}
			}
		}
	}
	if len(args) < 2 || !strings.Contains(text, "{") {
		return text
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		pairs = append(pairs, "{"+name+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

func count(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return max(n, -n), true
	case int64:
		return int(max(n, -n)), true
	case string:
		i, err := strconv.Atoi(n)
		return max(i, -i), err == nil
	}
	return 0, false
}

var pluralForms = [...]string{"zero", "one", "two", "few", "many", "other"}

// otherForm is the index of "other" in pluralForms.
const otherForm = 5

// formIndex is f's index in pluralForms.
func formIndex(f plural.Form) int {
	switch f {
	case plural.Zero:
		return 0
	case plural.One:
		return 1
	case plural.Two:
		return 2
	case plural.Few:
		return 3
	case plural.Many:
		return 4
	}
	return otherForm
}

func formName(f plural.Form) string { return pluralForms[formIndex(f)] }

// PluralFormsOf are the forms language tag distinguishes among whole
// numbers up to 1000 (for checking that a catalog has them all).
func PluralFormsOf(tag language.Tag) []string {
	var out []string
	for n := 0; n <= 1000; n++ {
		f := formName(plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0))
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// Ago says how long ago d was, in words ("5 minutes ago").
func (l *Locale) Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return l.T("time.just_now")
	case d < time.Hour:
		return l.T("time.minutes_ago", "n", int(d/time.Minute))
	case d < 48*time.Hour:
		return l.T("time.hours_ago", "n", int(d/time.Hour))
	default:
		return l.T("time.days_ago", "n", int(d/(24*time.Hour)))
	}
}

// Duration says how long d is, in words, rounded to the largest whole
// unit ("15 minutes", "2 hours", "3 days").
func (l *Locale) Duration(d time.Duration) string {
	switch {
	case d < time.Hour || d%time.Hour != 0 && d < 3*time.Hour:
		return l.T("time.minutes", "n", int((d+time.Minute-1)/time.Minute))
	case d < 48*time.Hour:
		return l.T("time.hours", "n", int(d/time.Hour))
	default:
		return l.T("time.days", "n", int(d/(24*time.Hour)))
	}
}

// Date is t in UTC as the language writes a date and time
// ("3 December 2026, 14:05 UTC"; "3.12.2026 klo 14.05 UTC").
func (l *Locale) Date(t time.Time) string {
	t = t.UTC()
	return l.T("time.date",
		"day", t.Day(),
		"month", l.T("time.month."+strconv.Itoa(int(t.Month()))),
		"mm", int(t.Month()),
		"year", t.Year(),
		"hh", fmt.Sprintf("%02d", t.Hour()),
		"min", fmt.Sprintf("%02d", t.Minute()))
}

// ShortDate is t in UTC with a short month ("3 Dec 2026, 14:05 UTC").
func (l *Locale) ShortDate(t time.Time) string {
	t = t.UTC()
	return l.T("time.short_date",
		"day", t.Day(),
		"month", l.T("time.mon."+strconv.Itoa(int(t.Month()))),
		"mm", int(t.Month()),
		"year", t.Year(),
		"hh", fmt.Sprintf("%02d", t.Hour()),
		"min", fmt.Sprintf("%02d", t.Minute()))
}
