package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// DefaultRegisterPerIP is how many accounts one client IP may try to create
// in each LoginWindow when Pages.RegisterPerIP is zero.
const DefaultRegisterPerIP = 10

// maxUserName bounds a person's name, as the admin API does.
const maxUserName = 200

type registerPage struct {
	base
	Name, Email string
	ReturnTo    string
	SignIn      string // the sign-in page, returning to the same place
	MinPassword int
	Heading     string // a key: what the account is for (purpose)
	ForName     string // the device or application it is for
	Domains     string // the domains that may register, in words; "" when any may
}

func (rp *registerPage) localize(l *i18n.Locale) {
	rp.Title, rp.TitleArgs = rp.Heading, []any{"client", rp.ForName}
	rp.base.localize(l)
	rp.Heading = l.T(rp.Heading, "client", rp.ForName)
}

var (
	errTooManyNew = &pageError{Status: http.StatusTooManyRequests, Heading: "err.too_many_new.heading",
		Text: "err.too_many_new.text"}
)

// RegisterForm serves GET /register: the form to create an account, from
// the authorization endpoint's flow=register or a link, returning to
// return_to (an authorization request or the device page) when done.
func (p *Pages) RegisterForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	// As on the sign-in page, a bad return_to or login_hint is dropped.
	returnTo, _ := query(r, "return_to")
	returnTo, _ = safeReturnTo(returnTo)
	hint, _ := query(r, "login_hint")
	if p.Registration.Closed() {
		return p.registrationClosed(w, r, s, u, returnTo, loginHint(hint))
	}
	page := p.registerPage(r, base{CSRF: p.csrfFor(w, r, s), User: u}, "", loginHint(hint), returnTo)
	if invited, err := p.invited(r.Context(), returnTo); err != nil {
		return err
	} else if invited != "" && strings.EqualFold(invited, hint) {
		page.Domains = "" // the invited address may register, whatever its domain
	}
	why := p.purpose(r, returnTo)
	page.Heading, page.ForName = why.heading("register.heading"), why.Name
	return p.render(w, r, http.StatusOK, "register", page)
}

// registerPage is the registration form; its link to sign in instead
// returns to the same place, with the email carried over as the hint.
func (p *Pages) registerPage(r *http.Request, b base, name, email, returnTo string) registerPage {
	page := registerPage{base: b, Name: name, Email: email, ReturnTo: returnTo, SignIn: signInURL("/login", returnTo, email),
		MinPassword: account.MinPasswordLength, Heading: "register.heading"}
	if p.Registration.Restricted() {
		page.Domains = domainList(p.locale(r), p.Registration.Domains)
	}
	return page
}

// domainList is domains in words of loc's language: "a.example, b.example
// or c.example".
func domainList(loc *i18n.Locale, domains []string) string {
	switch n := len(domains); n {
	case 0:
		return ""
	case 1:
		return domains[0]
	default:
		return loc.T("list.or", "first", strings.Join(domains[:n-1], ", "), "last", domains[n-1])
	}
}

// registrationClosed is the registration page's answer when registration
// is off (accounts.registration): a page that says so, with the way to
// sign in, returning where the registration would have. 403: the request
// was understood and is refused, for everyone alike.
func (p *Pages) registrationClosed(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, returnTo, hint string) error {
	return p.render(w, r, http.StatusForbidden, "message", messagePage{
		base:    base{Title: "register.closed.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Heading: "register.closed.heading",
		Text:    "register.closed.text",
		Link:    signInURL("/login", returnTo, hint), LinkText: "login.submit",
		Mark: markBad,
	})
}

// Register serves POST /register. Attempts are limited per client IP,
// counted in the store so every instance sees them. A sensible form is
// answered "check your email" whether or not the address has an account;
// createAccount does the rest after the answer.
func (p *Pages) Register(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	s, _, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	if p.Registration.Closed() {
		return p.registrationClosed(w, r, s, nil, returnTo, "")
	}
	name := strings.TrimSpace(f.Get("name"))
	email := strings.ToLower(strings.TrimSpace(f.Get("email")))
	password := f.Get("password")
	again := func(status int, notice string, args ...any) error {
		b := base{CSRF: p.csrfFor(w, r, s), Notice: notice, NoticeArgs: args}
		return p.render(w, r, status, "register", p.registerPage(r, b, f.Get("name"), f.Get("email"), returnTo))
	}

	ctx := r.Context()
	now := p.Now()
	if p.LoginWindow <= 0 {
		return errors.New("web: Pages.LoginWindow must be positive")
	}
	limit := p.RegisterPerIP
	if limit <= 0 {
		limit = DefaultRegisterPerIP
	}
	window := now.Truncate(p.LoginWindow)
	key := "register:ip:" + p.throttleIP(r)
	n, err := p.Store.Count(ctx, key, window)
	if err != nil {
		return fmt.Errorf("count registrations: %w", err)
	}
	if n >= limit {
		retryAfter(w, windowEnd(now, p.LoginWindow))
		return errTooManyNew
	}

	// The form parser let through only text without control characters.
	switch {
	case name == "" || utf8.RuneCountInString(name) > maxUserName:
		return again(http.StatusBadRequest, "register.name_invalid", "n", maxUserName)
	case !account.ValidEmail(email):
		return again(http.StatusBadRequest, "notice.email_invalid")
	case !p.Registration.Allows(email) && !p.invitedAddress(ctx, returnTo, email):
		// Said of the domain alone, before any account is looked up: the
		// same for an address with an account (an administrator may
		// create one at any domain) and one without.
		return again(http.StatusBadRequest, "register.domain_refused", "domains", domainList(p.locale(r), p.Registration.Domains))
	}
	if err := account.ValidatePassword(password); err != nil {
		return again(http.StatusBadRequest, passwordNotice(p.locale(r), err))
	}
	// Counted once the form is sensible: typos cost nothing, and what is
	// limited is accounts, or guesses at which emails have one.
	// The count Hit returns decides, not the one read above: concurrent
	// registrations each get a distinct count, so a burst cannot overshoot.
	if n, err := p.Store.Hit(ctx, key, window, window.Add(p.LoginWindow)); err != nil {
		return fmt.Errorf("count registration: %w", err)
	} else if n > limit {
		retryAfter(w, windowEnd(now, p.LoginWindow))
		return errTooManyNew
	}
	// The answer is the same, and as fast, whether or not the address has
	// an account (docs/security.md ACC-13): the rest goes by mail, composed
	// after the answer. A new address gets its account and the usual
	// verification link; one with an account is told that someone tried,
	// and how to sign in or reset the password. Nobody is signed in here:
	// for a new account that would differ from a taken address, so the
	// person signs in once the link has confirmed the address.
	loc := p.locale(r) // the mail's language: this page's
	p.later(ctx, func(ctx context.Context) error {
		return p.createAccount(ctx, loc, name, email, password, returnTo)
	})
	return p.render(w, r, http.StatusOK, "message", messagePage{base: base{Title: "links.check_email", CSRF: p.csrfFor(w, r, s)},
		Heading: "links.check_email",
		Text:    "register.check_email",
		Link:    signInURL("/login", returnTo, ""), LinkText: "login.submit"})
}

// createAccount creates the account Register was asked for and mails its
// verification link, or, when the address has an account, mails it a
// notice instead. It runs after the answer (later), so its time and its
// outcome do not show in it.
func (p *Pages) createAccount(ctx context.Context, loc *i18n.Locale, name, email, password, returnTo string) error {
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	id, err := p.newUserID()
	if err != nil {
		return err
	}
	now := p.Now()
	u := &store.User{ID: id, Email: email, Name: name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = p.Store.CreateUser(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		owner, err := p.Store.GetUserByEmail(ctx, email)
		if err != nil || owner.Disabled || p.Links == nil {
			return err
		}
		p.log().InfoContext(ctx, "registration for an address with an account", "user_id", owner.ID)
		return p.Links.NotifyTaken(ctx, loc, owner)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	p.log().InfoContext(ctx, "account registered", "user_id", u.ID)
	if p.Links == nil {
		return nil
	}
	return p.Links.SendVerification(ctx, loc, u, u.Email, returnTo)
}

// invited returns the address the member invitation whose page returnTo
// is invites, "" when returnTo is no such page or the invitation cannot
// be used.
func (p *Pages) invited(ctx context.Context, returnTo string) (string, error) {
	token, ok := strings.CutPrefix(returnTo, org.MemberInvitationPath)
	if !ok || p.InvitedEmail == nil || token == "" || strings.ContainsAny(token, "/?#") {
		return "", nil
	}
	return p.InvitedEmail(ctx, token)
}

// invitedAddress reports whether email is the address a pending member
// invitation, whose page returnTo is, invites: an organization's admin
// invited it, so it may register where accounts.registration's domains
// would not (docs/security.md ACC-15). Its account is verified by mail
// as any other; a failure to look the invitation up lets nobody in.
func (p *Pages) invitedAddress(ctx context.Context, returnTo, email string) bool {
	invited, err := p.invited(ctx, returnTo)
	if err != nil {
		p.log().WarnContext(ctx, "registration: the member invitation could not be read", "err", err)
		return false
	}
	return invited != "" && strings.EqualFold(invited, email)
}

// newUserID draws a user id as the admin API does (oauth.NewID).
func (p *Pages) newUserID() (string, error) {
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	return oauth.NewID(rnd)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// RegisterURL is the link from the sign-in page to the registration page,
// which returns where sign-in would have, with the email carried over.
func (l loginPage) RegisterURL() string {
	return signInURL("/register", l.ReturnTo, l.Username)
}
