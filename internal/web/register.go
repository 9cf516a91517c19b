package web

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
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
	Heading     string // a key: what the account is for (purpose)
	ForName     string // the device or application it is for
}

func (rp *registerPage) localize(l *i18n.Locale) {
	rp.Title, rp.TitleArgs = rp.Heading, []any{"client", rp.ForName}
	rp.base.localize(l)
	rp.Heading = l.T(rp.Heading, "client", rp.ForName)
}

var (
	msgEmailTaken = "register.email_taken"
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
	page := p.registerPage(base{CSRF: p.csrfFor(w, r, s), User: u}, "", loginHint(hint), returnTo)
	why := p.purpose(r, returnTo)
	page.Heading, page.ForName = why.heading("register.heading"), why.Name
	return p.render(w, r, http.StatusOK, "register", page)
}

// registerPage is the registration form; its link to sign in instead
// returns to the same place, with the email carried over as the hint.
func (p *Pages) registerPage(b base, name, email, returnTo string) registerPage {
	return registerPage{base: b, Name: name, Email: email, ReturnTo: returnTo, SignIn: signInURL("/login", returnTo, email),
		MinPassword: account.MinPasswordLength, Heading: "register.heading"}
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
	name := strings.TrimSpace(f.Get("name"))
	email := strings.ToLower(strings.TrimSpace(f.Get("email")))
	password := f.Get("password")
	again := func(status int, notice string, args ...any) error {
		b := base{CSRF: p.csrfFor(w, r, s), Notice: notice, NoticeArgs: args}
		return p.render(w, r, status, "register", p.registerPage(b, f.Get("name"), f.Get("email"), returnTo))
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
		if err := p.Links.SendVerification(ctx, p.locale(r), u, u.Email, returnTo); err != nil {
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
