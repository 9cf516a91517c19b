package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Sign-out (OpenID Connect RP-Initiated Logout 1.0). A relying party sends
// the browser to GET /logout, or POSTs the same parameters there, with
// id_token_hint (an ID token we issued to it), post_logout_redirect_uri and
// state. The rules, all aimed at "never sign anyone out, or send anyone
// anywhere, on a stranger's say-so" (docs/security.md UI-01, UI-04):
//
//   - A GET signs out at once only with a valid id_token_hint issued in
//     this very browser session (its sid, OpenID Connect Front-Channel
//     Logout 1.0 §3, is this session's) to the user signed in here, or when
//     no one is: the RP proves it knew the session it asks to end. A hint
//     from an earlier session, or another browser's, does not end this
//     one. Anything else shows a confirmation form, whose POST carries a
//     CSRF token bound to the session, so a link or image cannot sign
//     people out (logout CSRF; docs/security.md UI-01, ID-09).
//   - The browser is sent back only to a post_logout_redirect_uri
//     registered for the client the valid hint was issued to, exact match
//     (§3.1), with state added (§3). Otherwise it gets our own "signed out"
//     page: never an unregistered or unproven redirect (§4: on any failed
//     check the OP must not redirect).
//   - Signing out revokes the grants of attached clients approved in the
//     session (session.Manager.End).

// logoutParams are the request parameters of RP-Initiated Logout §2 that
// we act on; logout_hint and ui_locales are accepted and ignored.
var logoutParams = []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"}

// logoutRequest is a checked RP-initiated logout request.
type logoutRequest struct {
	params url.Values // as sent, to carry through the confirmation form

	hint     *token.IDClaims // nil unless id_token_hint is an ID token we issued, to a client that exists
	client   *store.Client   // hint's client
	redirect string          // the registered post_logout_redirect_uri with state; "" for our page
}

// rpInitiated reports whether the request came from a relying party
// rather than from our own sign-out button.
func (l *logoutRequest) rpInitiated() bool { return len(l.params) > 0 }

// logoutPage is the confirmation form.
type logoutPage struct {
	base
	Email      string
	ClientName string // of a valid hint's client, "" otherwise
	Params     map[string]string
}

// logoutCOP tells same-origin POSTs (our own forms) from cross-origin ones
// (a relying party's form), as the Pages' other POSTs are checked.
var logoutCOP = http.NewCrossOriginProtection()

// LogoutForm serves GET /logout.
func (p *Pages) LogoutForm(w http.ResponseWriter, r *http.Request) error {
	get := func(name string) (string, error) { return query(r, name) }
	req, err := p.logoutRequest(r.Context(), get)
	if err != nil {
		return err
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	// HEAD never changes state; a GET only with a hint for this session.
	if r.Method == http.MethodGet && req.hint != nil && (s == nil || hintIsSession(req.hint, s, u)) {
		if err := p.Sessions.End(w, r); err != nil {
			return err
		}
		return p.signedOut(w, r, req, false)
	}
	if s == nil {
		// Nobody to sign out, and nothing proves a relying party asked.
		req.redirect = ""
		return p.signedOut(w, r, req, false)
	}
	page := logoutPage{
		base:   base{Title: "layout.sign_out", CSRF: p.csrfFor(w, r, s)},
		Email:  u.Email,
		Params: map[string]string{},
	}
	if req.client != nil {
		page.ClientName = req.client.Name
		if page.ClientName == "" {
			page.ClientName = req.client.ID
		}
	}
	for k := range req.params {
		page.Params[k] = req.params.Get(k)
	}
	if req.redirect != "" {
		// Confirmed, the form's answer is a redirect to the relying party.
		allowFormAction(w, req.redirect)
	}
	return p.render(w, r, http.StatusOK, "logout", page)
}

// Logout serves POST /logout: the sign-out button on every page, the
// confirmation form above, and relying parties that POST their request.
func (p *Pages) Logout(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	if logoutCOP.Check(r) != nil {
		// A relying party's form on another site (§2 allows POST). The
		// session cookie is SameSite=Lax, so a cross-site POST arrives
		// without it: answer with the same request as a GET, which a
		// top-level navigation sends with the cookie, and decide there.
		// Nothing changes here.
		q := url.Values{}
		for _, k := range logoutParams {
			if f.Has(k) {
				q.Set(k, f.Get(k))
			}
		}
		return seeOther(w, "/logout?"+q.Encode())
	}
	s, _, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if s != nil {
		// CSRF matters only when there is a session to end: forced
		// sign-out is the attack.
		if err := p.checkCSRF(r, s, f); err != nil {
			return err
		}
	}
	req, err := p.logoutRequest(r.Context(), func(name string) (string, error) { return f.Get(name), nil })
	if err != nil {
		return err
	}
	if err := p.Sessions.End(w, r); err != nil {
		return err
	}
	if !req.rpInitiated() {
		return seeOther(w, "/login")
	}
	return p.signedOut(w, r, req, true)
}

// hintIsSession reports whether an ID token hint was issued in session s
// to its user u: its sid is s's (oauth.SessionID), and its sub is u. A
// hint without a sid, minted before ID tokens carried one, proves no
// session.
func hintIsSession(hint *token.IDClaims, s *store.Session, u *store.User) bool {
	return hint.SessionID != "" && hint.SessionID == oauth.SessionID(s.Hash) && u != nil && hint.Subject == u.ID
}

// logoutRequest reads and checks the RP-Initiated Logout parameters.
func (p *Pages) logoutRequest(ctx context.Context, get func(string) (string, error)) (*logoutRequest, error) {
	req := &logoutRequest{params: url.Values{}}
	for _, k := range logoutParams {
		v, err := get(k)
		if err != nil {
			return nil, err
		}
		if v != "" {
			req.params.Set(k, v)
		}
	}
	raw := req.params.Get("id_token_hint")
	if raw == "" || p.Tokens == nil {
		return req, nil
	}
	hint, err := p.Tokens.IDTokenHint(ctx, raw)
	if errors.Is(err, token.ErrInvalid) {
		return req, nil // as if there were none: no redirect, confirm first
	}
	if err != nil {
		return nil, fmt.Errorf("verify id_token_hint: %w", err)
	}
	// §2: with both, client_id must be the client the ID token was issued to.
	if id := req.params.Get("client_id"); id != "" && id != hint.Audience {
		return req, nil
	}
	c, err := p.Store.GetClient(ctx, hint.Audience)
	if errors.Is(err, store.ErrNotFound) {
		return req, nil // the client is gone; so is any redirect it registered
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	req.hint, req.client = hint, c
	if uri := req.params.Get("post_logout_redirect_uri"); uri != "" && slices.Contains(c.PostLogoutRedirectURIs, uri) {
		req.redirect = withState(uri, req.params.Get("state"))
	}
	return req, nil
}

// signedOut ends a sign-out: back to the relying party's registered URI,
// or our own page. afterForm is set when the browser follows the answer to
// our confirmation form, whose CSP form-action lets it reach the URI only
// where CSP can name it (allowFormAction); elsewhere a page refreshes to it.
func (p *Pages) signedOut(w http.ResponseWriter, r *http.Request, req *logoutRequest, afterForm bool) error {
	if req.redirect != "" && afterForm && formActionSource(&authorize.Step{Location: req.redirect}) == "" {
		return p.refreshTo(w, r, nil, nil, req.redirect)
	}
	if req.redirect != "" {
		// Not seeOther's path on this server: a URI the client registered
		// and logoutRequest matched exactly (RP-Initiated Logout §3).
		w.Header().Set("Location", req.redirect)
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	return p.render(w, r, http.StatusOK, "message", messagePage{
		base:    base{Title: "logout.done.heading"},
		Heading: "logout.done.heading",
		Text:    "logout.done.text",
		Link:    "/login", LinkText: "logout.again",
	})
}

// withState adds state to a registered URI, which keeps its own query
// (RP-Initiated Logout §3: the OP passes state back as a query parameter).
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + url.Values{"state": {state}}.Encode()
}
