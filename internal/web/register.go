package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth"
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
	For         string // what the account is for: "connect Living-room TV" (purpose)
	Domains     string // the domains that may register, in words; "" when any may
}

var (
	msgEmailTaken = "There is already an account for this email address. Sign in instead, or use another address."
	errTooManyNew = &pageError{Status: http.StatusTooManyRequests, Heading: "Too many new accounts",
		Text: "Too many accounts were created from your network. Try again later."}
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
	page := p.registerPage(base{Title: "Create an account", CSRF: p.csrfFor(w, r, s), User: u},
		"", loginHint(hint), returnTo)
	if page.For = p.purpose(r, returnTo); page.For != "" {
		page.Title = "Create an account to " + page.For
	}
	return p.render(w, http.StatusOK, "register", page)
}

// registerPage is the registration form; its link to sign in instead
// returns to the same place, with the email carried over as the hint.
func (p *Pages) registerPage(b base, name, email, returnTo string) registerPage {
	page := registerPage{base: b, Name: name, Email: email, ReturnTo: returnTo, SignIn: signInURL("/login", returnTo, email),
		MinPassword: account.MinPasswordLength}
	if p.Registration.Restricted() {
		page.Domains = p.Registration.DomainList()
	}
	return page
}

// registrationClosed is the registration page's answer when registration
// is off (accounts.registration): a page that says so, with the way to
// sign in, returning where the registration would have. 403: the request
// was understood and is refused, for everyone alike.
func (p *Pages) registrationClosed(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, returnTo, hint string) error {
	return p.render(w, http.StatusForbidden, "message", messagePage{
		base:    base{Title: "Accounts are not open", CSRF: p.csrfFor(w, r, s), User: u},
		Heading: "Accounts are not open",
		Text: "Accounts here are created by an administrator, not on this page. " +
			"If you already have one, sign in; if not, ask your administrator for an account.",
		Link: signInURL("/login", returnTo, hint), LinkText: "Sign in",
		Mark: markBad,
	})
}

// Register serves POST /register. Attempts are limited per client IP,
// counted in the store so every instance sees them. A taken email is said
// to be taken, and nothing more about its account; the answer costs the same
// password hashing either way.
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
	again := func(status int, notice string) error {
		b := base{Title: "Create an account", CSRF: p.csrfFor(w, r, s), Notice: notice}
		return p.render(w, status, "register", p.registerPage(b, f.Get("name"), f.Get("email"), returnTo))
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
		return again(http.StatusBadRequest, fmt.Sprintf("Enter your name, at most %d characters.", maxUserName))
	case !account.ValidEmail(email):
		return again(http.StatusBadRequest, "Enter an email address such as name@example.com.")
	case !p.Registration.Allows(email):
		// Said of the domain alone, before any account is looked up: the
		// same for an address with an account (an administrator may
		// create one at any domain) and one without.
		return again(http.StatusBadRequest, "Accounts here are only for email addresses at "+
			p.Registration.DomainList()+". Use your address there, or ask your administrator for an account.")
	}
	if err := account.ValidatePassword(password); err != nil {
		return again(http.StatusBadRequest, capitalize(err.Error())+".")
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
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	id, err := p.newUserID()
	if err != nil {
		return err
	}
	u := &store.User{ID: id, Email: email, Name: name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = p.Store.CreateUser(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		return again(http.StatusConflict, msgEmailTaken)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	p.log().InfoContext(ctx, "account registered", "user_id", u.ID)
	if p.Links != nil {
		if err := p.Links.SendVerification(ctx, u, u.Email, returnTo); err != nil {
			return err
		}
	}
	if _, err := p.Sessions.Start(w, r, u); err != nil {
		return err
	}
	if returnTo == "" {
		returnTo = defaultReturn
	}
	return seeOther(w, returnTo)
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
