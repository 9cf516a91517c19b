package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// The gate before a device is approved or an application allowed
// (accounts.require_verified_email): someone signed in whose address is
// not confirmed yet is sent to /verify-email/required instead. That page
// names the address, mails the link again (on the budgets "resend"
// spends) and, once the link was used, continues where the person was:
// the device page with its code, or the stored authorization request
// (return_to, a local path only, as sign-in's). The same path is kept in
// a cookie for a while, so that the verification link, opened in this
// browser, offers to continue there too, whichever mail it came from.
// The account page and the consoles are not gated: from the account page
// the person can correct a mistyped address.

func init() {
	builtinPage("verify_required")
}

// confirmPath is the gate page.
const confirmPath = "/verify-email/required"

// pendingCookieName keeps the step the gate interrupted (see
// Pages.cookieName); pendingLifetime is how long: an authorization
// request's lifetime (authorize.DefaultRequestLifetime), longer than a
// device code's.
const (
	pendingCookieName = "latchkey_pending"
	pendingLifetime   = 30 * time.Minute
)

type gatePage struct {
	base
	Email    string
	ReturnTo string
	Done     string // a message key: the link was sent again
}

func (g *gatePage) localize(l *i18n.Locale) {
	g.base.localize(l)
	g.Done = l.T(g.Done, "email", g.Email)
}

// ConfirmFirst reports whether u, signed in, must confirm their email
// address (accounts.require_verified_email) before approving a device or
// consenting, and has not. When so it has answered: a redirect to the
// gate page, which comes back to returnTo (the page that asked) once the
// address is confirmed. The device and consent pages ask it, after
// EnrolFirst.
func (p *Pages) ConfirmFirst(w http.ResponseWriter, r *http.Request, u *store.User, returnTo string) (bool, error) {
	if !p.mustConfirm(u) {
		return false, nil
	}
	// Not a security event: the person signed in rightly, and is only
	// asked to finish what registration began.
	p.setPending(w, returnTo)
	return true, seeOther(w, confirmURL(returnTo))
}

// gates asks, for a page that approves a device or consents, EnrolFirst's
// question and then ConfirmFirst's, either coming back to returnTo. When
// neither stops the person, a step kept from an earlier stop is done with.
func (p *Pages) gates(w http.ResponseWriter, r *http.Request, u *store.User, returnTo string) (bool, error) {
	if stop, err := p.enrolFirst(w, r, u, returnTo); err != nil || stop {
		return stop, err
	}
	if stop, err := p.ConfirmFirst(w, r, u, returnTo); err != nil || stop {
		return stop, err
	}
	if u != nil && p.pendingStep(r) != "" {
		p.clearPending(w)
	}
	return false, nil
}

// mustConfirm is ConfirmFirst's question without its answer.
func (p *Pages) mustConfirm(u *store.User) bool {
	return p.RequireVerifiedEmail && u != nil && !u.EmailVerified
}

// confirmURL is the gate page, returning to returnTo.
func confirmURL(returnTo string) string {
	if rt, ok := safeReturnTo(returnTo); ok {
		return confirmPath + "?" + url.Values{"return_to": {rt}}.Encode()
	}
	return confirmPath
}

// afterGate is where the gate lets a confirmed person go: returnTo, or
// their account page when there is none.
func afterGate(returnTo string) string {
	if returnTo == "" {
		return "/account"
	}
	return returnTo
}

// VerifyRequired serves GET /verify-email/required, the gate page, for
// the signed-in person (signed out: sign in, then back here). Someone who
// need not confirm (any more) goes on to return_to at once.
func (p *Pages) VerifyRequired(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	returnTo, _ := query(r, "return_to")
	returnTo, _ = safeReturnTo(returnTo)
	if u == nil {
		return seeOther(w, loginURL(confirmURL(returnTo)))
	}
	if !p.mustConfirm(u) {
		p.clearPending(w)
		return seeOther(w, afterGate(returnTo))
	}
	return p.renderGate(w, r, http.StatusOK, s, u, returnTo, "", "")
}

// VerifyRequiredPost serves POST /verify-email/required, the gate page's
// buttons: action=continue checks the address again and goes on to
// return_to once it is confirmed; action=resend mails the link again, on
// the budgets of /verify-email/resend, and answers the same whatever the
// mail's fate.
func (p *Pages) VerifyRequiredPost(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	if u == nil {
		// A form from before the session ended.
		return seeOther(w, loginURL(confirmURL(returnTo)))
	}
	action := f.Get("action")
	if action != "continue" && action != "resend" {
		return errBadForm
	}
	if !p.mustConfirm(u) {
		// Confirmed (in another tab, or on another device): nothing
		// to send, and nothing in the way.
		p.clearPending(w)
		return seeOther(w, afterGate(returnTo))
	}
	if action == "continue" {
		return p.renderGate(w, r, http.StatusConflict, s, u, returnTo, "gate.not_yet", "")
	}
	ok, err := p.spendLinks(r.Context(), w, r, "verify", u.Email)
	if err != nil {
		return err
	}
	if !ok {
		return p.renderGate(w, r, http.StatusTooManyRequests, s, u, returnTo, "err.too_many_links.text", "")
	}
	if p.Links != nil {
		loc, user := p.locale(r), *u
		p.later(r.Context(), func(ctx context.Context) error {
			return p.Links.SendVerification(ctx, loc, &user, user.Email, returnTo)
		})
	}
	return p.renderGate(w, r, http.StatusOK, s, u, returnTo, "", "gate.sent")
}

func (p *Pages) renderGate(w http.ResponseWriter, r *http.Request, status int, s *store.Session, u *store.User, returnTo, notice, done string) error {
	return p.render(w, r, status, "verify_required", gatePage{
		base:  base{Title: "gate.heading", CSRF: p.csrfFor(w, r, s), User: u, Notice: notice},
		Email: u.Email, ReturnTo: returnTo, Done: done,
	})
}

// setPending remembers returnTo in this browser for the verification
// link's page (pendingStep).
func (p *Pages) setPending(w http.ResponseWriter, returnTo string) {
	rt, ok := safeReturnTo(returnTo)
	if !ok {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(pendingCookieName),
		Value:    base64.RawURLEncoding.EncodeToString([]byte(rt)),
		Path:     "/",
		MaxAge:   int(pendingLifetime / time.Second),
		Secure:   p.Sessions.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// pendingStep is the step the gate interrupted in this browser, or "".
// The cookie is read as any return_to is: a local path, or nothing.
func (p *Pages) pendingStep(r *http.Request) string {
	c, err := r.Cookie(p.cookieName(pendingCookieName))
	if err != nil || len(c.Value) > 4096 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return ""
	}
	rt, _ := safeReturnTo(string(b))
	return rt
}

func (p *Pages) clearPending(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(pendingCookieName), Value: "", Path: "/", MaxAge: -1,
		Secure: p.Sessions.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}
