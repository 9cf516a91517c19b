// Package web serves the pages people see: sign-in and the device
// verification page of RFC 8628 §3.3 with its QR code. Pages are rendered on
// the server with html/template in the operator's brand (brand.go), work
// without JavaScript but for passkeys (passkey.go; a first-party script
// otherwise only adds conveniences) and load nothing from elsewhere but a
// configured logo. Passwords are checked by package account, sessions kept
// by package session, and user codes decided by package device.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

//go:embed templates/*.html
var templateFiles embed.FS

// templates are the pages, by name: what each page's set is parsed from
// besides the layout and branding.html (brand.go). A Theme parses a page's
// set when the page is first rendered, not at start-up: a server that
// serves only tokens holds no template, and none holds a page twice.
var templates = map[string]pageFiles{}

// pageFiles are the files of one page's set after templates/layout.html:
// files of fsys, parsed with funcs.
type pageFiles struct {
	fsys  fs.FS
	files []string
	funcs []template.FuncMap
}

// builtinPage registers the built-in page name (templates/name.html).
func builtinPage(name string, funcs ...template.FuncMap) {
	templates[name] = pageFiles{fsys: templateFiles, files: []string{"templates/" + name + ".html"}, funcs: funcs}
}

func init() {
	for _, name := range []string{"login", "device_entry", "device_confirm", "message", "logout", "invitation", "member_invitation"} {
		builtinPage(name)
	}
}

// Store is what the pages read and write themselves; sessions, user codes
// and authorization requests go through their own packages.
type Store interface {
	GetUserByEmail(ctx context.Context, email string) (*store.User, error) // sign-in
	CreateUser(ctx context.Context, u *store.User) error                   // registration
	GetClient(ctx context.Context, id string) (*store.Client, error)       // the client an id_token_hint names (logout.go)
	store.ThrottleStore                                                    // sign-in and registration limits
}

// Pages serves the HTML pages.
type Pages struct {
	Issuer   string // e.g. https://id.example.com, no trailing slash
	Store    Store
	Sessions *session.Manager
	Verifier *device.Verifier
	Tokens   *token.Verifier  // checks id_token_hint at sign-out (logout.go)
	Now      func() time.Time // time.Now in production, a fixed clock in tests
	Log      *slog.Logger
	// CSRFKey signs the csrf_token of every form; at least 32 random bytes,
	// the same on every instance.
	CSRFKey []byte
	// Failed sign-ins allowed in each window per account and network (or
	// per known browser of the account, knownbrowser.go) and per client
	// IP; LoginAccountCeiling per account over every network (0:
	// DefaultLoginAccountCeiling).
	LoginPerAccount, LoginPerIP int
	LoginAccountCeiling         int
	LoginWindow                 time.Duration
	// TrustProxy: the server sits behind one reverse proxy that appends the
	// client address to X-Forwarded-For.
	TrustProxy bool
	// Authorizer runs the authorization endpoint and the consent page
	// (authorize.go); nil serves neither.
	Authorizer *authorize.Authorizer
	// New accounts allowed per client IP in each LoginWindow (register.go);
	// 0 means DefaultRegisterPerIP.
	RegisterPerIP int
	// Rand draws new users' ids; crypto/rand.Reader when nil.
	Rand io.Reader
	// Theme is the operator's brand and templates (NewTheme); nil: the
	// built-in ones, named Latchkey.
	Theme *Theme
	// Languages are the pages' catalogs and default language
	// (language.go); nil: the built-in ones, defaulting to English.
	Languages *i18n.Set
	// CodePlaceholder shows the user code's shape in the entry field
	// ("XXXX-XXXX", device.CodePolicy.Placeholder); none when empty.
	CodePlaceholder string

	// Accounts and Links serve the links mailed to people (links.go) and
	// the account page; nil Links serves none of them.
	Accounts AccountStore
	Links    *account.Links
	// Links asked for (password resets, verification) per address and per
	// client IP in each LinkWindow; zero: the defaults (links.go).
	LinksPerAddress, LinksPerIP int
	LinkWindow                  time.Duration
	// Metrics counts sign-ins refused by the limits (nil: off).
	Metrics *metrics.Metrics

	// Passkeys keeps people's passkeys (passkey.go); nil serves none.
	Passkeys PasskeyStore
	// Failed passkey sign-ins allowed per client IP in each LoginWindow;
	// 0 means DefaultPasskeyFailuresPerIP.
	PasskeyFailuresPerIP int

	// TOTP keeps second factors (totp.go); nil serves none. SecondFactor
	// is who must have one: SecondFactorOff, SecondFactorAdmins or
	// SecondFactorAll.
	TOTP         TOTPStore
	SecondFactor string

	// RequireVerifiedEmail: a person must have confirmed their email
	// address before approving a device or consenting (confirmfirst.go).
	RequireVerifiedEmail bool

	// Registration is who may create an account on the registration
	// page (register.go); the zero value lets anyone.
	Registration account.Registration
	// InvitedEmail returns the address a pending member invitation's
	// token names, "" for none (org.Service.InvitedEmail): registering
	// from that invitation's page (return_to) lets that address in where
	// Registration's domains would not. Nil: no invitation does.
	InvitedEmail func(ctx context.Context, token string) (string, error)

	rp passkeyRP      // the WebAuthn relying party, built on first use
	bg sync.WaitGroup // mail composed after the answer (later)
}

// PageFunc is a page handler that returns its error instead of writing it.
// Page, Form and InvitationPage.Page adapt it to http.Handler.
type PageFunc func(w http.ResponseWriter, r *http.Request) error

// Form is Page for the POST of a form that changes something. Browsers
// send Sec-Fetch-Site and Origin; a cross-origin POST is refused before h
// runs, whatever its csrf_token (RFC 9700 §4.7; docs/security.md UI-01).
// The csrf_token covers browsers that send neither.
func (p *Pages) Form(h PageFunc) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(p.Page(func(http.ResponseWriter, *http.Request) error { return errForbidden }))
	return cop.Handler(p.Page(h))
}

// NotAllowed answers a method a page does not take: 405 with allow, the
// methods it does. Without it ServeMux answers with a plain-text 405 that
// lacks the headers every page carries.
func (p *Pages) NotAllowed(allow string) http.Handler {
	return p.Page(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &pageError{Status: http.StatusMethodNotAllowed, Heading: "err.not_allowed.heading", Text: "err.not_allowed.text"}
	})
}

// pageError is an error a person should see, with the status it is sent
// with. Heading and Text are message keys (language.go), Args their values.
type pageError struct {
	Status  int
	Heading string
	Text    string
	Args    []any
}

func (e *pageError) Error() string { return e.Heading + ": " + e.Text }

var (
	errForbidden = &pageError{Status: http.StatusForbidden, Heading: "err.forbidden.heading",
		Text: "err.forbidden.text"}
	errBadForm = &pageError{Status: http.StatusBadRequest, Heading: "err.bad_form.heading",
		Text: "err.bad_form.text"}
)

// Page adapts a page handler: every response gets the security headers,
// and a returned error becomes a page. Anything but a *pageError is logged
// and shown as a bare 500, so no internal detail reaches the browser. It
// panics when CSRFKey is too short to keep forms unforgeable: a
// misconfigured server must not start.
func (p *Pages) Page(h PageFunc) http.Handler {
	if len(p.CSRFKey) < 32 {
		panic("web: Pages.CSRFKey must have at least 32 bytes")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.securityHeaders(w.Header())
		r = withLocale(r, p.chooseLocale(w, r))
		err := h(w, r)
		if err == nil {
			return
		}
		var pe *pageError
		if !errors.As(err, &pe) {
			// Only method and path: the query and body carry user codes
			// and passwords, and the cookie a session secret.
			p.log().ErrorContext(r.Context(), "page failed", "method", r.Method, "route", oauth.Route(r), "err", err)
			pe = &pageError{Status: http.StatusInternalServerError, Heading: "err.internal.heading",
				Text: "err.internal.text"}
			if errors.Is(err, store.ErrUnavailable) {
				// The database is out of reach; nothing was saved. Say so,
				// and when to retry, rather than a bare failure.
				w.Header().Set("Retry-After", "5")
				pe = &pageError{Status: http.StatusServiceUnavailable, Heading: "err.unavailable.heading",
					Text: "err.unavailable.text"}
			}
		}
		p.renderError(w, r, pe)
	})
}

// renderError shows pe, with a way back.
func (p *Pages) renderError(w http.ResponseWriter, r *http.Request, pe *pageError) {
	if err := p.render(w, r, pe.Status, "message", messagePage{Heading: pe.Heading, Text: pe.Text, Args: pe.Args, Back: true,
		Mark: markBad, base: base{Title: pe.Heading}}); err != nil {
		p.log().ErrorContext(r.Context(), "render error page", "err", err)
	}
}

// NotFound is the page for a path nothing serves.
func (p *Pages) NotFound() http.Handler {
	return p.Page(func(http.ResponseWriter, *http.Request) error {
		return &pageError{Status: http.StatusNotFound, Heading: "err.not_found.heading",
			Text: "err.not_found.text"}
	})
}

// securityHeaders are sent with every response, error pages included.
// Strict-Transport-Security goes with them when the issuer is https (the
// pages are then reached over TLS, at Latchkey or at a proxy before it):
// a browser that has seen it will not be talked down to plain HTTP on
// the sign-in and approval pages.
func (p *Pages) securityHeaders(h http.Header) {
	if strings.HasPrefix(p.Issuer, "https://") {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	// No inline script or style, no frames, nothing loaded from elsewhere
	// but the operator's logo (NewTheme; RFC 9700 §4.2.4, §4.16).
	h.Set("Content-Security-Policy", p.theme().csp)
	h.Set("X-Frame-Options", "DENY") // for browsers without CSP frame-ancestors
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // URLs carry user codes
	h.Set("Cache-Control", "no-store")      // pages carry codes and CSRF tokens
}

// base is what every page's layout needs. Title and Notice are message
// keys, translated by render with their Args (language.go).
type base struct {
	Title      string
	TitleArgs  []any
	CSRF       string      // csrf_token for the forms on the page
	User       *store.User // signed-in user, nil when signed out
	Notice     string      // a problem to show above the form
	NoticeArgs []any
	Wide       bool // a page of lists (the account page), wider on a desktop

	loc *i18n.Locale // the page's language, set by render
}

// messagePage is a page of one outcome. Heading, Text and LinkText are
// message keys; Args are Heading's and Text's values.
type messagePage struct {
	base
	Heading, Text  string
	Args           []any
	Link, LinkText string
	Back           bool   // an error: a "Go back" link
	Mark           string // markOK, markBad or none: the outcome's symbol
}

func (m *messagePage) localize(l *i18n.Locale) {
	if m.TitleArgs == nil {
		m.TitleArgs = m.Args
	}
	m.base.localize(l)
	m.Heading = l.T(m.Heading, m.Args...)
	m.Text = l.T(m.Text, m.Args...)
	m.LinkText = l.T(m.LinkText)
}

// Marks of an outcome: a symbol beside the heading, so that it is not
// told by colour alone.
const (
	markOK  = "ok"
	markBad = "bad"
)

// render executes page into a buffer first, so a template failure becomes a
// clean 500 instead of half a page. The page is in r's language (nil r:
// the default one).
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) error {
	var buf bytes.Buffer
	t, err := p.theme().page(page)
	if err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	if t == nil {
		return fmt.Errorf("render %s: no such page", page)
	}
	loc := p.locale(r)
	if err := t.ExecuteTemplate(&buf, "layout", localized(data, loc)); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Language", loc.Lang())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client went away; nothing to do
	return nil
}

func (p *Pages) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// seeOther redirects after a POST (or to sign-in) with 303, so the browser
// follows with GET. loc is always a path on this server.
func seeOther(w http.ResponseWriter, loc string) error {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// CSRF tokens (RFC 6749 §10.12, RFC 9700 §2.1). A token is an HMAC of
// something only this browser has: its session, once signed in, otherwise a
// random pre-session cookie. Signing in changes the binding, so a token
// taken before sign-in is useless after it, and another browser's token
// never matches.
const csrfCookieName = "latchkey_csrf" // see Pages.cookieName

// cookieName is the name the pages' cookie name goes by: with the __Host-
// prefix when the issuer is https, so the browser refuses the cookie from
// a subdomain or without Secure, as for the session (session.SecureCookieName).
func (p *Pages) cookieName(name string) string {
	if p.Sessions != nil && p.Sessions.Secure {
		return "__Host-" + name
	}
	return name
}

func (p *Pages) csrfToken(binding string) string {
	mac := hmac.New(sha256.New, p.CSRFKey)
	mac.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// csrfFor returns the token for forms shown to this browser, setting the
// pre-session cookie first if a signed-out browser has none.
func (p *Pages) csrfFor(w http.ResponseWriter, r *http.Request, s *store.Session) string {
	if s != nil {
		return p.csrfToken("session:" + s.Hash)
	}
	v, ok := p.browserCookie(r)
	if !ok {
		v = rand.Text()
		http.SetCookie(w, &http.Cookie{
			Name:     p.cookieName(csrfCookieName),
			Value:    v,
			Path:     "/",
			Secure:   p.Sessions.Secure,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
	}
	return p.csrfToken("browser:" + v)
}

// checkCSRF verifies a form's csrf_token against this browser's binding.
func (p *Pages) checkCSRF(r *http.Request, s *store.Session, f oauth.Form) error {
	var binding string
	switch v, ok := p.browserCookie(r); {
	case s != nil:
		binding = "session:" + s.Hash
	case ok:
		binding = "browser:" + v
	default:
		return errForbidden
	}
	want := p.csrfToken(binding)
	if !hmac.Equal([]byte(f.Get("csrf_token")), []byte(want)) {
		return errForbidden
	}
	return nil
}

func (p *Pages) browserCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(p.cookieName(csrfCookieName))
	if err != nil || len(c.Value) < 16 || len(c.Value) > 64 || !oauth.CleanText(c.Value) {
		return "", false
	}
	return c.Value, true
}

// clientIP is where the request came from (see clientip.From).
func (p *Pages) clientIP(r *http.Request) string { return clientip.From(r, p.TrustProxy) }

// throttleIP is what per-address limits count for r (clientip.ThrottleKey).
func (p *Pages) throttleIP(r *http.Request) string { return clientip.ThrottleKey(p.clientIP(r)) }

// parseForm reads a POST body strictly; any problem is a 400 page (a 1 MB
// user_code included: the body limit is oauth.MaxBodyBytes).
func parseForm(w http.ResponseWriter, r *http.Request) (oauth.Form, error) {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return nil, errBadForm
	}
	return f, nil
}

// query returns one query parameter, rejecting repeats and control
// characters (a 400 page).
func query(r *http.Request, name string) (string, error) {
	v, err := oauth.QueryValue(r.URL.Query(), name)
	if err != nil {
		return "", &pageError{Status: http.StatusBadRequest, Heading: "err.bad_link.heading",
			Text: "err.bad_link.text"}
	}
	return v, nil
}
