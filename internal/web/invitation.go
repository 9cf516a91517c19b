package web

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// InvitationPage serves GET /invitations/{token}, the page an invitation
// email links to: it explains how to connect the device, links into the
// device app's own URL scheme with the token, and shows the token for
// typing in. Opening it changes nothing; the device accepts through
// PUT /client-group-invitations/accept (package org).
//
// The token is in the URL, so the page keeps it from going further
// (docs/security.md INV-08): Referrer-Policy no-referrer and
// Cache-Control no-store (securityHeaders), nothing loaded from elsewhere,
// and no log line ever carries the request's path.
type InvitationPage struct {
	Pages       *Pages
	Invitations *org.Service
}

// Unknown serves the rest of /invitations/: a page that says there is
// nothing here, or 405 for a method other than GET on a token's path.
func (ip *InvitationPage) Unknown(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/invitations/" && r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return &pageError{Status: http.StatusMethodNotAllowed, Heading: "err.not_allowed.heading", Text: "err.not_allowed.text"}
	}
	return &pageError{Status: http.StatusNotFound, Heading: "err.not_yours.heading", Text: "err.invitation_page.text"}
}

// invitationPath is what logs say instead of the path, which holds the token.
const invitationPath = "/invitations/{token}"

type invitationPage struct {
	base
	*org.Landing
	AppLink      template.URL // checked by org.CheckAppLink; the token in it is query-escaped
	Expires      string
	ExpiresExact string
}

// errInvitation is the page for a token that cannot be used: one page for
// unknown, used, declined, revoked and expired alike.
var errInvitation = &pageError{Status: http.StatusGone, Heading: "err.invitation.heading",
	Text: "err.invitation.text"}

// Show serves GET /invitations/{token}.
func (ip *InvitationPage) Show(w http.ResponseWriter, r *http.Request) error {
	if err := ip.Invitations.Throttle(r.Context(), r); err != nil {
		return err
	}
	l, err := ip.Invitations.Landing(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	page := invitationPage{
		base:    base{Title: "device.heading"},
		Landing: l,
		// Safe as a URL: CheckAppLink refused every scheme a browser runs or
		// reads locally when the link was registered.
		AppLink:      template.URL(l.AppLink),
		Expires:      ip.Pages.locale(r).Date(l.ExpiresAt),
		ExpiresExact: l.ExpiresAt.UTC().Format(time.RFC3339),
	}
	return ip.render(w, r, page)
}

func (ip *InvitationPage) render(w http.ResponseWriter, r *http.Request, page invitationPage) error {
	buf := new(bytes.Buffer)
	loc := ip.Pages.locale(r)
	t, err := ip.Pages.theme().page("invitation")
	if err != nil {
		return err
	}
	if err := t.ExecuteTemplate(buf, "layout", localized(page, loc)); err != nil {
		return err
	}
	w.Header().Set("Content-Language", loc.Lang())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// Page is Pages.Page for this page's handlers: the same headers, one page
// for every invitation that cannot be used, and no log line carries the
// request's path, which holds the token.
func (ip *InvitationPage) Page(h PageFunc) http.Handler {
	p := ip.Pages
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.securityHeaders(w.Header())
		r = withLocale(r, p.chooseLocale(w, r))
		err := h(w, r)
		if err == nil {
			return
		}
		var pe *pageError
		var oe *oauth.Error
		switch {
		case errors.As(err, &pe):
		case org.IsInvalidInvitation(err):
			pe = errInvitation
		case errors.As(err, &oe) && oe.StatusCode() == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "60")
			pe = &pageError{Status: http.StatusTooManyRequests, Heading: "err.too_many_requests.heading",
				Text: "err.too_many_invitations.text"}
		case errors.Is(err, store.ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			pe = &pageError{Status: http.StatusServiceUnavailable, Heading: "err.unavailable.heading",
				Text: "err.unavailable.text_read"}
		default:
			p.log().ErrorContext(r.Context(), "page failed", "method", r.Method, "path", invitationPath, "err", err)
			pe = &pageError{Status: http.StatusInternalServerError, Heading: "err.internal.heading",
				Text: "err.internal.text"}
		}
		p.renderError(w, r, pe)
	})
}
