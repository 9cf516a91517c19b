package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
)

// Languages: every page is rendered in the language chosen for its
// request (package i18n holds the catalogs). The choice, made once in
// Page: ui_locales of the request (OpenID Connect Core §3.1.2.1: the
// authorization endpoint and the device page), else the language a
// ui_locales chose earlier in the same flow, kept for an hour in a cookie
// so that the sign-in, second factor, registration and consent steps of
// that request stay in it; else Accept-Language; else
// pages.default_language. A new authorization request without ui_locales
// forgets the earlier one.
//
// Handlers put message keys (and their arguments) in base.Title,
// base.Notice and a message page's Heading, Text and LinkText; render
// translates them before the template runs, so that an operator's
// template that prints {{.Notice}} prints words. Text that is not a key
// passes through. Templates call {{$.T "key" "name" value ...}} for their
// own words, {{$.TB ...}} for a sentence whose values are set in bold,
// {{$.When t}} for a date, and read {{.Lang}} and {{.Dir}}.

const (
	langCookieName = "latchkey_lang" // see Pages.cookieName
	langCookieAge  = time.Hour
)

type localeKey struct{}

func (p *Pages) languages() *i18n.Set {
	if p.Languages != nil {
		return p.Languages
	}
	return i18n.Builtin()
}

// chooseLocale decides r's language and keeps or forgets a ui_locales
// choice in the cookie; Page puts the result in the request's context.
func (p *Pages) chooseLocale(w http.ResponseWriter, r *http.Request) *i18n.Locale {
	set := p.languages()
	ui, asked := r.URL.Query()["ui_locales"]
	if asked {
		lang := set.MatchUILocales(strings.Join(ui, " "))
		if lang != "" {
			http.SetCookie(w, &http.Cookie{Name: p.cookieName(langCookieName), Value: lang, Path: "/", MaxAge: int(langCookieAge / time.Second),
				Secure: p.Sessions != nil && p.Sessions.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			return set.Locale(lang)
		}
	}
	kept := ""
	if c, err := r.Cookie(p.cookieName(langCookieName)); err == nil {
		kept = set.Supported(c.Value)
	}
	if kept != "" && !asked && (r.URL.Path == "/oauth2/authorize" || r.URL.Path == "/user/oauth20/authz") {
		// A new authorization request, without a language of its own.
		http.SetCookie(w, &http.Cookie{Name: p.cookieName(langCookieName), Value: "", Path: "/", MaxAge: -1,
			Secure: p.Sessions != nil && p.Sessions.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		kept = ""
	}
	if kept != "" {
		return set.Locale(kept)
	}
	return set.Choose("", r.Header.Get("Accept-Language"))
}

// locale is the language of r's page (chosen by Page; without it, from
// r's own headers); nil r: the default language.
func (p *Pages) locale(r *http.Request) *i18n.Locale {
	if r == nil {
		return p.languages().Choose("", "")
	}
	if l, ok := r.Context().Value(localeKey{}).(*i18n.Locale); ok {
		return l
	}
	return p.languages().Choose(r.URL.Query().Get("ui_locales"), r.Header.Get("Accept-Language"))
}

func withLocale(r *http.Request, l *i18n.Locale) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), localeKey{}, l))
}

// localizer is page data that translates its keys before rendering.
type localizer interface{ localize(*i18n.Locale) }

// localized is data, translated to l: a pointer to a copy of a struct
// that embeds base, or data as it is.
func localized(data any, l *i18n.Locale) any {
	if lz, ok := data.(localizer); ok {
		lz.localize(l)
		return data
	}
	v := reflect.ValueOf(data)
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return data
	}
	ptr := reflect.New(v.Type())
	ptr.Elem().Set(v)
	if lz, ok := ptr.Interface().(localizer); ok {
		lz.localize(l)
		return ptr.Interface()
	}
	return data
}

func (b *base) localize(l *i18n.Locale) {
	b.loc = l
	b.Title = l.T(b.Title, b.TitleArgs...)
	b.Notice = l.T(b.Notice, b.NoticeArgs...)
}

func (b base) locale() *i18n.Locale {
	if b.loc == nil {
		return i18n.English()
	}
	return b.loc
}

// T is the message key in the page's language (i18n.Locale.T); a list of
// strings as a value is written as a list.
func (b base) T(key string, args ...any) string {
	return b.locale().T(key, listArgs(args)...)
}

// TB is T with each value set in bold.
func (b base) TB(key string, args ...any) template.HTML {
	args = listArgs(args)
	bold := make([]any, len(args))
	for i, a := range args {
		if i%2 == 0 {
			bold[i] = a
			continue
		}
		bold[i] = "\uE000" + template.HTMLEscapeString(toString(a)) + "\uE001"
	}
	s := template.HTMLEscapeString(b.locale().T(key, bold...))
	// The markers survive escaping; they become the tags.
	s = strings.NewReplacer("\uE000", "<strong>", "\uE001", "</strong>").Replace(s)
	return template.HTML(s)
}

// Lang is the page's language, for <html lang>.
func (b base) Lang() string { return b.locale().Lang() }

// Dir is the page's writing direction, for <html dir>.
func (b base) Dir() string { return b.locale().Dir() }

// When is t as the page's language writes a date, "—" for none.
func (b base) When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return b.locale().ShortDate(t)
}

func listArgs(args []any) []any {
	for i, a := range args {
		if l, ok := a.([]string); ok {
			args[i] = strings.Join(l, ", ")
		}
	}
	return args
}

func toString(a any) string { return fmt.Sprint(a) }

// passwordNotice says what is wrong with a new password (err, from
// account.ValidatePassword) as a sentence in loc's language.
func passwordNotice(loc *i18n.Locale, err error) string {
	var pe *account.PasswordError
	if errors.As(err, &pe) {
		return capitalize(pe.In(loc)) + "."
	}
	return capitalize(err.Error()) + "."
}
