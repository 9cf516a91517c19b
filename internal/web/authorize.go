package web

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/store"
)

// The authorization code flow's pages: the authorization endpoint
// (RFC 6749 §4.1.1), the consent page and account registration. What a
// request may ask and what happens next is package authorize's business;
// these handlers show it.

func init() {
	for _, name := range []string{"consent", "register"} {
		builtinPage(name)
	}
}

var errBadAuthorizeLink = &pageError{Status: http.StatusBadRequest, Heading: "err.bad_authorize.heading",
	Text: "err.bad_authorize.text"}

// Authorize serves GET /oauth2/authorize: the authorization request
// (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1).
func (p *Pages) Authorize(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead {
		return nil // a HEAD starts nothing (docs/security.md BI-10)
	}
	// url.ParseQuery, not r.URL.Query(): the latter drops what it cannot
	// decode, and a request we cannot read entirely is not answered at all
	// (docs/security.md BI-09).
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errBadAuthorizeLink
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if s != nil {
		// Someone who must set up a second factor or confirm their
		// address first gets no code, nor a consent page. The request is
		// kept as for a signed-out browser (Start without the session), to
		// be continued afterwards. With prompt=none it goes on as if
		// signed out: login_required, and no page.
		enrol, err := p.mustEnrol(r, u)
		if err != nil {
			return err
		}
		switch {
		case (enrol || p.mustConfirm(u)) && promptNone(q):
			s, u = nil, nil
		case enrol || p.mustConfirm(u):
			step, err := p.Authorizer.Start(r.Context(), q, nil)
			if err != nil || (step.Next != authorize.Login && step.Next != authorize.Register) {
				return p.follow(w, r, s, u, step, err, false)
			}
			if stop, err := p.gates(w, r, u, continueURL(step.RequestID)); err != nil || stop {
				return err
			}
			// Set up or confirmed just now: the stored request goes on.
			step, err = p.Authorizer.Continue(r.Context(), step.RequestID, s)
			return p.follow(w, r, s, u, step, err, false)
		}
	}
	step, err := p.Authorizer.Start(r.Context(), q, s)
	return p.follow(w, r, s, u, step, err, false)
}

// AuthorizePost serves POST /oauth2/authorize (OpenID Connect Core
// §3.1.2.1) by turning it into the GET. Browsers do not send the SameSite=Lax
// session cookie with a POST from another site, so the GET it becomes is
// what finds the person's session.
func (p *Pages) AuthorizePost(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return errBadAuthorizeLink
	}
	q := url.Values{}
	for k, v := range f {
		q.Set(k, v)
	}
	return seeOther(w, "/oauth2/authorize?"+q.Encode())
}

// ConsentForm serves GET /consent?request=…: where the browser comes back
// to a stored request after signing in or creating an account. It shows
// the consent page, or goes on to the client when nothing needs asking.
func (p *Pages) ConsentForm(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead {
		return nil // it may issue a code: not for a HEAD
	}
	id, err := query(r, "request")
	if err != nil || id == "" || len(id) > 128 {
		return errBadAuthorizeLink
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if stop, err := p.gates(w, r, u, continueURL(id)); err != nil || stop {
		return err
	}
	step, err := p.Authorizer.Continue(r.Context(), id, s)
	return p.follow(w, r, s, u, step, err, true)
}

// ConsentPost serves POST /consent: the person's decision.
func (p *Pages) ConsentPost(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	id := f.Get("request")
	if id == "" || len(id) > 128 {
		return errBadForm
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if s == nil {
		// Signed out since the page was shown: sign in again first.
		return seeOther(w, loginURL(continueURL(id)))
	}
	// The token is bound to this session: a consent form from another
	// browser, or from before signing in, decides nothing (UI-01, UI-06).
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	if stop, err := p.gates(w, r, u, continueURL(id)); err != nil || stop {
		return err
	}
	var approve bool
	switch f.Get("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		return errBadForm
	}
	step, err := p.Authorizer.Decide(r.Context(), id, s, approve)
	// The consent page allowed its form to lead to the client (consentCSP),
	// so the answer can be a plain redirect.
	return p.follow(w, r, s, u, step, err, formActionSource(step) == "")
}

// follow shows what step asks for. afterForm is set when the browser may
// be following redirects from a form submitted on one of our pages, whose
// Content-Security-Policy (form-action 'self') would stop a redirect to the
// client: the client is then reached through a page that refreshes to it.
func (p *Pages) follow(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, step *authorize.Step, err error, afterForm bool) error {
	var pe *authorize.PageError
	if errors.As(err, &pe) {
		status := pe.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		text, args := pe.Reason, []any(nil)
		if pe.Key != "" {
			text, args = pe.Key, pe.Args
		}
		return &pageError{Status: status, Heading: "err.authorize_request.heading", Text: text, Args: args}
	}
	if err != nil {
		return err
	}
	switch step.Next {
	case authorize.Redirect:
		if afterForm {
			return p.refreshTo(w, r, s, u, step.Location)
		}
		// 303: after the consent form's POST the client gets a GET
		// (RFC 9700 §4.12), and a GET stays a GET.
		w.Header().Set("Location", step.Location)
		w.WriteHeader(http.StatusSeeOther)
		return nil
	case authorize.Login:
		return seeOther(w, signInURL("/login", continueURL(step.RequestID), step.LoginHint))
	case authorize.Register:
		page := "/register"
		if p.Registration.Closed() { // as on the device page
			page = "/login"
		}
		return seeOther(w, signInURL(page, continueURL(step.RequestID), step.LoginHint))
	case authorize.Consent:
		return p.consentPage(w, r, s, u, step)
	}
	return errors.New("web: unknown authorization step")
}

// refreshTo sends the browser to loc, the client's redirect URI with its
// answer, through a page: a Refresh to loc, and a link for browsers that do
// not follow it.
func (p *Pages) refreshTo(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, loc string) error {
	w.Header().Set("Refresh", "0; url="+loc)
	b := base{Title: "authorize.returning.heading", CSRF: p.csrfFor(w, r, s), User: u}
	return p.render(w, r, http.StatusOK, "message", messagePage{base: b, Heading: "authorize.returning.heading",
		Text: "authorize.returning.text", Link: loc, LinkText: "link.continue"})
}

type consentPage struct {
	base
	RequestID   string
	ClientName  string
	Scopes      []string // in plain words
	Destination string   // where the answer goes: the redirect URI's host
}

// consentPage asks the person whether the client may have what it asked
// for (RFC 6749 §10.2; docs/security.md UI-08): which application, what
// access in plain words, and where the answer goes.
func (p *Pages) consentPage(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, step *authorize.Step) error {
	name := step.Client.Name
	if name == "" {
		name = step.Client.ID
	}
	scopes := scopeText(step.Request.Scopes, false)
	dest := step.Request.RedirectURI
	if ru, err := url.Parse(dest); err == nil {
		dest = ru.Scheme + ":"
		if ru.Host != "" {
			dest = ru.Host
		}
	}
	allowFormAction(w, step.Request.RedirectURI)
	return p.render(w, r, http.StatusOK, "consent", consentPage{
		base:        base{Title: "consent.heading", TitleArgs: []any{"client", name}, CSRF: p.csrfFor(w, r, s), User: u},
		RequestID:   step.RequestID,
		ClientName:  name,
		Scopes:      scopes,
		Destination: dest,
	})
}

// cspHost is what a CSP host-source may hold of a redirect URI's host and
// port (CSP3 §2.3.1; IP literals in brackets are not among them).
var (
	cspHost   = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
	cspScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// formActionSource is the CSP source expression that lets the consent
// page's form end at step's location: its origin for http and https, its
// scheme for a native app's private-use scheme; "" when it cannot be said
// in CSP, and the answer then goes through refreshTo.
func formActionSource(step *authorize.Step) string {
	if step == nil || step.Location == "" {
		return ""
	}
	u, err := url.Parse(step.Location)
	if err != nil || !cspScheme.MatchString(u.Scheme) {
		return ""
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return u.Scheme + ":"
	}
	if !cspHost.MatchString(u.Host) {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// allowFormAction lets the page's forms end, after redirects, at loc (a
// registered redirect or post-logout redirect URI): Chromium holds the
// redirects that follow a form's POST to the page's CSP form-action too.
// Where loc cannot be said in CSP, the answer goes through refreshTo.
func allowFormAction(w http.ResponseWriter, loc string) {
	if src := formActionSource(&authorize.Step{Location: loc}); src != "" {
		h := w.Header()
		h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"),
			"form-action 'self'", "form-action 'self' "+src, 1))
	}
}

// continueURL is where a stored authorization request is picked up again.
func continueURL(id string) string {
	return "/consent?" + url.Values{"request": {id}}.Encode()
}

// promptNone reports whether an authorization request asks for no page
// at all (OpenID Connect Core §3.1.2.1, prompt=none).
func promptNone(q url.Values) bool {
	for _, v := range strings.Fields(q.Get("prompt")) {
		if v == "none" {
			return true
		}
	}
	return false
}
