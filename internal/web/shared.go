package web

import (
	"context"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// What the consoles (package console) share with the pages: the layout
// and its look, the CSRF tokens, the error pages, and checking a
// signed-in person's password. The consoles' pages are rendered in the
// same layout, carry the same headers and are posted through the same
// Form, so a console form is held to every rule a page's form is.

// Base is what every page's layout needs (the title, the forms' CSRF
// token, the signed-in user, a notice, a wide layout); a console page's
// data embeds it.
type Base = base

// RegisterPage adds a page of another package under name, to be
// rendered with Render: the pages' layout and branding, then files (its
// "content" template and any it uses) from fsys, with funcs. Call it when
// the package initializes, before the server builds its Theme.
func RegisterPage(name string, fsys fs.FS, funcs template.FuncMap, files ...string) {
	templates[name] = pageFiles{fsys: fsys, files: files, funcs: []template.FuncMap{whenFuncs, funcs}}
}

// Render writes the page registered as name with data, as the pages are
// written: all or nothing, HTML, with status, in the language Page chose
// for r (language.go). Base's Title and Notice are message keys, as a
// page's are.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	return p.render(w, r, status, name, data)
}

// Locale is the language Page chose for r: what a console's handler
// translates its own words with.
func (p *Pages) Locale(r *http.Request) *i18n.Locale { return p.locale(r) }

// CSRFToken is the csrf_token for the forms shown to this browser in
// session s (Form's pages check it with CheckCSRF).
func (p *Pages) CSRFToken(w http.ResponseWriter, r *http.Request, s *store.Session) string {
	return p.csrfFor(w, r, s)
}

// CheckCSRF checks the csrf_token of form f, posted in session s: an
// error page (403) when it is missing or not this browser's.
func (p *Pages) CheckCSRF(r *http.Request, s *store.Session, f oauth.Form) error {
	return p.checkCSRF(r, s, f)
}

// CheckPassword reports whether password is u's, counting the attempt
// against the account's password budget first, as the account page does
// (an error page once the budget is spent).
func (p *Pages) CheckPassword(ctx context.Context, w http.ResponseWriter, u *store.User, password string) (bool, error) {
	return p.checkCurrentPassword(ctx, w, u, password)
}

// Error is an error that Page shows as a page with status, heading and
// text, which a person reads: say what happened and what to do. Heading
// and text are message keys, with args (pairs of a placeholder's name and
// its value) for both.
func Error(status int, heading, text string, args ...any) error {
	return &pageError{Status: status, Heading: heading, Text: text, Args: args}
}

// ParseForm reads a POST body strictly (oauth.ParseForm); a 400 page
// for any problem.
func ParseForm(w http.ResponseWriter, r *http.Request) (oauth.Form, error) { return parseForm(w, r) }

// Query returns one query parameter, a 400 page for a repeated one or
// control characters.
func Query(r *http.Request, name string) (string, error) { return query(r, name) }

// LoginURL is the sign-in page, returning to returnTo afterwards.
func LoginURL(returnTo string) string { return loginURL(returnTo) }

// SeeOther redirects with 303 to loc, a path on this server.
func SeeOther(w http.ResponseWriter, loc string) error { return seeOther(w, loc) }

// ClientIP is the address r came from (clientip.From, with TrustProxy).
func (p *Pages) ClientIP(r *http.Request) string { return p.clientIP(r) }
