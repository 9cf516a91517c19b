package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// The member invitation page (GET /invitations/members/{token}), the page
// an invitation of a person into an organization links to: it names the
// organization and the role. Signed in with the invited address, it offers
// to join (POST, CSRF-checked); signed in with another, it says so;
// signed out, it links to sign-in and to registration (unless
// accounts.registration is off), both with the address filled in and
// returning here. The token is in the path: no log line carries it (the
// pages log the route's pattern), and the pages' headers keep it from
// Referer and caches, as the device invitation page does.

type memberInvitationPage struct {
	base
	*org.MemberLanding
	Action       string // this page: the join form posts back to it
	Expires      string
	ExpiresExact string
	SignIn       string // signed out: the sign-in page, returning here
	Register     string // signed out: the registration page, returning here; "" when closed
	Wrong        bool   // signed in with another address
}

// errMemberInvitation is the page for a token that cannot be used: one
// page for unknown, used, revoked and expired alike.
var errMemberInvitation = &pageError{Status: http.StatusGone, Heading: "err.invitation.heading", Text: "err.member_invitation.text"}

// memberPageError is the page for err from the invitation service.
func memberPageError(w http.ResponseWriter, err error) error {
	if org.IsInvalidInvitation(err) {
		return errMemberInvitation
	}
	if oe, ok := errors.AsType[*oauth.Error](err); ok && oe.StatusCode() == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
		return &pageError{Status: http.StatusTooManyRequests, Heading: "err.too_many_requests.heading", Text: "err.too_many_invitations.text"}
	}
	return err
}

// ShowMember serves GET /invitations/members/{token}. Opening it changes
// nothing.
func (ip *InvitationPage) ShowMember(w http.ResponseWriter, r *http.Request) error {
	p := ip.Pages
	if err := ip.Invitations.Throttle(r.Context(), r); err != nil {
		return memberPageError(w, err)
	}
	token := r.PathValue("token")
	l, err := ip.Invitations.MemberLanding(r.Context(), token)
	if err != nil {
		return memberPageError(w, err)
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	return ip.renderMember(w, r, http.StatusOK, s, u, token, l)
}

func (ip *InvitationPage) renderMember(w http.ResponseWriter, r *http.Request, status int, s *store.Session, u *store.User, token string, l *org.MemberLanding) error {
	p := ip.Pages
	here := org.MemberInvitationPath + token
	page := memberInvitationPage{
		base:          base{Title: "member_invitation.heading", TitleArgs: []any{"org", l.OrgName}, CSRF: p.csrfFor(w, r, s), User: u},
		MemberLanding: l, Action: here,
		Expires: p.locale(r).Date(l.ExpiresAt), ExpiresExact: l.ExpiresAt.UTC().Format(time.RFC3339),
	}
	switch {
	case u == nil:
		page.SignIn = signInURL("/login", here, l.Email)
		if !p.Registration.Closed() {
			page.Register = signInURL("/register", here, l.Email)
		}
	case !strings.EqualFold(u.Email, l.Email):
		page.Wrong = true
	}
	return p.render(w, r, status, "member_invitation", page)
}

// JoinMember serves POST /invitations/members/{token}: the signed-in
// person, whose address must be the invited one, joins the organization
// with the invitation's role, and the invitation is used up (one store
// transaction). Recorded in the audit log with the person as the actor.
func (ip *InvitationPage) JoinMember(w http.ResponseWriter, r *http.Request) error {
	p := ip.Pages
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	token := r.PathValue("token")
	if u == nil { // signed out meanwhile: sign in, and back to the page
		return seeOther(w, loginURL(org.MemberInvitationPath+token))
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	if err := ip.Invitations.Throttle(r.Context(), r); err != nil {
		return memberPageError(w, err)
	}
	ctx := audit.WithActor(r.Context(), audit.Actor{Kind: store.ActorUser, ID: u.ID, Address: p.clientIP(r)})
	inv, err := ip.Invitations.AcceptMember(ctx, token, u)
	if oe, ok := errors.AsType[*oauth.Error](err); ok && oe.Code == org.CodeWrongAccount {
		l, err := ip.Invitations.MemberLanding(r.Context(), token)
		if err != nil {
			return memberPageError(w, err)
		}
		return ip.renderMember(w, r, http.StatusForbidden, s, u, token, l)
	}
	if err != nil {
		return memberPageError(w, err)
	}
	name := inv.OrgID
	if o, err := ip.Invitations.Store.GetOrganization(r.Context(), inv.OrgID); err == nil {
		name = o.Name
	}
	page := messagePage{base: base{Title: "member_invitation.joined.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Heading: "member_invitation.joined.heading", Text: "member_invitation.joined.member", Args: []any{"org", name},
		Link: "/account", LinkText: "member_invitation.to_account", Mark: markOK}
	if inv.Role == store.RoleAdmin {
		page.Text, page.Link, page.LinkText = "member_invitation.joined.admin", "/console/orgs/"+inv.OrgID, "member_invitation.open_console"
	}
	return p.render(w, r, http.StatusOK, "message", page)
}
