package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The pages of the links mailed to people (account.Links): "forgot
// password", the reset link's page, the verification link's page and
// "send me a new verification link". A link opened with GET only shows a
// form; the POST of that form uses the token, so a mail scanner that
// fetches links cannot spend one (docs/security.md UI-11). Neither "forgot
// password" nor "resend" says whether an address has an account: both
// answer the same, and mail is composed after the answer is decided
// (UI-12).

func init() {
	for _, name := range []string{"forgot", "reset", "verify", "resend"} {
		builtinPage(name)
	}
}

// AccountStore is what the account pages read and change besides Store.
type AccountStore interface {
	GetUser(ctx context.Context, id string) (*store.User, error)
	GetAccountToken(ctx context.Context, hash, purpose string) (*store.AccountToken, error)
	VerifyEmail(ctx context.Context, hash string, now time.Time) (*store.User, error)
	ResetPassword(ctx context.Context, hash, passwordHash string, now time.Time) (*store.User, error)
	SetPassword(ctx context.Context, userID, passwordHash, keepSession string, now time.Time) (int, error)
	// The account page (account.go).
	ListUserGrants(ctx context.Context, userID string, now time.Time) ([]*store.GrantInfo, error)
	ListConsents(ctx context.Context, userID string) ([]*store.Consent, error)
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	RevokeGrant(ctx context.Context, id string, now time.Time) error
	DeleteConsent(ctx context.Context, userID, clientID string) error
	// Whether to link to the console: a system administrator, or an
	// organization's admin (ListUserMemberships).
	ListUserMemberships(ctx context.Context, userID string) ([]*store.OrgMember, error)
}

// Default limits of mailed links, per address and per client IP in each
// LinkWindow; see Pages.LinksPerAddress.
const (
	DefaultLinksPerAddress = 3
	DefaultLinksPerIP      = 20
	DefaultLinkWindow      = time.Hour
)

type emailPage struct {
	base
	Email    string
	ReturnTo string
}

type tokenPage struct {
	base
	Email       string
	Token       string
	ReturnTo    string
	MinPassword int
}

var (
	errTooManyLinks = &pageError{Status: http.StatusTooManyRequests, Heading: "err.too_many_requests.heading",
		Text: "err.too_many_links.text"}
	errLinkUnusable = &pageError{Status: http.StatusBadRequest, Heading: "err.link_unusable.heading",
		Text: "err.link_unusable.text"}
)

// ForgotForm serves GET /forgot-password.
func (p *Pages) ForgotForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	hint, _ := query(r, "login_hint")
	return p.render(w, r, http.StatusOK, "forgot", emailPage{base: base{Title: "forgot.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Email: loginHint(hint)})
}

// Forgot serves POST /forgot-password: the same answer, status and body
// whether or not the address has an account. Requests count against the
// address's and the client IP's budgets before anything is looked up, and
// the link is made and mailed after the answer is written, so the time of
// the answer does not tell either.
func (p *Pages) Forgot(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	email, s, err := p.linkRequest(w, r, f, "forgot", "reset")
	if err != nil || email == "" {
		return err
	}
	p.later(r.Context(), func(ctx context.Context) error {
		u, err := p.Store.GetUserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || u.Disabled {
			return err
		}
		return p.Links.SendReset(ctx, p.locale(r), u)
	})
	return p.render(w, r, http.StatusOK, "message", messagePage{base: base{Title: "links.check_email", CSRF: p.csrfFor(w, r, s)},
		Heading: "links.check_email",
		Text:    "links.reset_sent",
		Link:    "/login", LinkText: "links.back_to_sign_in"})
}

// ResendForm serves GET /verify-email/resend.
func (p *Pages) ResendForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	returnTo, _ := query(r, "return_to")
	returnTo, _ = safeReturnTo(returnTo)
	email := ""
	if u != nil {
		email = u.Email
	}
	return p.render(w, r, http.StatusOK, "resend", emailPage{base: base{Title: "verify.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Email: email, ReturnTo: returnTo})
}

// Resend serves POST /verify-email/resend, answering as Forgot does.
func (p *Pages) Resend(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	email, s, err := p.linkRequest(w, r, f, "resend", "verify")
	if err != nil || email == "" {
		return err
	}
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	p.later(r.Context(), func(ctx context.Context) error {
		u, err := p.Store.GetUserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || u.Disabled || u.EmailVerified {
			return err
		}
		return p.Links.SendVerification(ctx, p.locale(r), u, u.Email, returnTo)
	})
	return p.render(w, r, http.StatusOK, "message", messagePage{base: base{Title: "links.check_email", CSRF: p.csrfFor(w, r, s)},
		Heading: "links.check_email",
		Text:    "links.verify_sent",
		Link:    "/login", LinkText: "links.back_to_sign_in"})
}

// linkRequest reads and checks the form of "forgot password" or "resend"
// (page names its template) and spends the budgets of kind. It returns the
// address, or "" when it has answered itself (a form to correct).
func (p *Pages) linkRequest(w http.ResponseWriter, r *http.Request, f oauth.Form, page, kind string) (string, *store.Session, error) {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return "", nil, err
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return "", nil, err
	}
	email := strings.ToLower(strings.TrimSpace(f.Get("email")))
	if !account.ValidEmail(email) {
		returnTo, _ := safeReturnTo(f.Get("return_to"))
		return "", s, p.render(w, r, http.StatusBadRequest, page, emailPage{
			base:  base{Title: templatesTitle[page], CSRF: p.csrfFor(w, r, s), User: u, Notice: "notice.email_invalid"},
			Email: f.Get("email"), ReturnTo: returnTo})
	}
	ok, err := p.spendLinks(r.Context(), w, r, kind, email)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, errTooManyLinks
	}
	return email, s, nil
}

// spendLinks counts a link of kind ("reset", "verify") asked for email
// against the address's and the client address's budgets (spend).
func (p *Pages) spendLinks(ctx context.Context, w http.ResponseWriter, r *http.Request, kind, email string) (bool, error) {
	return p.spend(ctx, w, p.linkWindow(),
		budget{"link:" + kind + ":addr:" + email, orDefault(p.LinksPerAddress, DefaultLinksPerAddress)},
		budget{"link:" + kind + ":ip:" + p.throttleIP(r), orDefault(p.LinksPerIP, DefaultLinksPerIP)})
}

var templatesTitle = map[string]string{"forgot": "forgot.heading", "resend": "verify.heading"}

// VerifyForm serves GET /verify-email?token=: the link in a verification
// email. It shows the address and a button; the POST uses the token.
func (p *Pages) VerifyForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	token, err := query(r, "token")
	if err != nil {
		return errLinkUnusable
	}
	t, err := p.linkToken(r.Context(), token, store.PurposeVerifyEmail)
	if err != nil {
		return err
	}
	returnTo, _ := query(r, "return_to")
	returnTo, _ = safeReturnTo(returnTo)
	return p.render(w, r, http.StatusOK, "verify", tokenPage{base: base{Title: "verify.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Email: t.Email, Token: token, ReturnTo: returnTo})
}

// Verify serves POST /verify-email: the address becomes the account's,
// verified. When it replaced another, the old address is told.
func (p *Pages) Verify(w http.ResponseWriter, r *http.Request) error {
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
	ctx := r.Context()
	token := f.Get("token")
	t, err := p.linkToken(ctx, token, store.PurposeVerifyEmail)
	if err != nil {
		return err
	}
	before, err := p.Accounts.GetUser(ctx, t.UserID)
	if err != nil {
		return fmt.Errorf("get user: %w", err)
	}
	after, err := p.Accounts.VerifyEmail(ctx, oauth.HashSecret(token), p.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errLinkUnusable
	case errors.Is(err, store.ErrConflict):
		if t.Usable(p.Now()) {
			// The token was fine: the address is another account's now.
			return &pageError{Status: http.StatusConflict, Heading: "err.address_taken.heading",
				Text: "err.address_taken.text"}
		}
		return errLinkUnusable
	case err != nil:
		return fmt.Errorf("verify email: %w", err)
	}
	p.log().InfoContext(ctx, "email verified", "user_id", after.ID, "changed", before.Email != after.Email)
	if before.Email != after.Email {
		if err := p.Links.Notify(ctx, p.locale(r), before.Email, after.Name, "email_changed", "email", after.Email); err != nil {
			return err
		}
	}
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	if u != nil && u.ID == after.ID {
		// The step the gate (ConfirmFirst) interrupted in this browser,
		// whichever mail the link came from.
		if pend := p.pendingStep(r); pend != "" {
			returnTo = pend
		}
		p.clearPending(w)
	}
	link, linkText := "/account", "links.go_to_account"
	switch {
	case u == nil:
		link, linkText = signInURL("/login", returnTo, after.Email), "login.submit"
	case returnTo != "":
		link, linkText = returnTo, "link.continue"
	}
	return p.render(w, r, http.StatusOK, "message", messagePage{base: base{Title: "verify.done.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Heading: "verify.done.heading", Text: "verify.done.text", Args: []any{"email", after.Email},
		Link: link, LinkText: linkText})
}

// ResetForm serves GET /reset-password?token=: the link in a reset email.
func (p *Pages) ResetForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	token, err := query(r, "token")
	if err != nil {
		return errLinkUnusable
	}
	t, err := p.linkToken(r.Context(), token, store.PurposeResetPassword)
	if err != nil {
		return err
	}
	return p.render(w, r, http.StatusOK, "reset", tokenPage{base: base{Title: "reset.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Email: t.Email, Token: token, MinPassword: account.MinPasswordLength})
}

// Reset serves POST /reset-password: the new password replaces the old,
// every session of the person ends, with the grants of attached clients
// approved in them, and the person is told by mail.
func (p *Pages) Reset(w http.ResponseWriter, r *http.Request) error {
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
	ctx := r.Context()
	token := f.Get("token")
	t, err := p.linkToken(ctx, token, store.PurposeResetPassword)
	if err != nil {
		return err
	}
	password := f.Get("password")
	if err := account.ValidatePassword(password); err != nil {
		return p.render(w, r, http.StatusBadRequest, "reset", tokenPage{
			base:  base{Title: "reset.heading", CSRF: p.csrfFor(w, r, s), User: u, Notice: passwordNotice(p.locale(r), err)},
			Email: t.Email, Token: token, MinPassword: account.MinPasswordLength})
	}
	// Hashing costs; the budget of the address's client bounds it.
	if ok, err := p.spend(ctx, w, p.linkWindow(), budget{"link:use:ip:" + p.throttleIP(r), orDefault(p.LinksPerIP, DefaultLinksPerIP)}); err != nil {
		return err
	} else if !ok {
		return errTooManyLinks
	}
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	changed, err := p.Accounts.ResetPassword(ctx, oauth.HashSecret(token), hash, p.Now())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		return errLinkUnusable
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	}
	p.log().InfoContext(ctx, "password reset", "user_id", changed.ID)
	if err := p.Links.Notify(ctx, p.locale(r), changed.Email, changed.Name, "password_reset"); err != nil {
		return err
	}
	// This browser's session, if it had one, is gone with the others.
	return p.render(w, r, http.StatusOK, "message", messagePage{base: base{Title: "reset.done.heading"},
		Heading: "reset.done.heading", Text: "reset.done.text",
		Link: signInURL("/login", "", changed.Email), LinkText: "login.submit"})
}

// linkToken finds a usable token of purpose; anything else is errLinkUnusable.
func (p *Pages) linkToken(ctx context.Context, token, purpose string) (*store.AccountToken, error) {
	prefix := oauth.PrefixVerifyEmail
	if purpose == store.PurposeResetPassword {
		prefix = oauth.PrefixResetPassword
	}
	if !strings.HasPrefix(token, prefix) || len(token) > 128 {
		return nil, errLinkUnusable
	}
	t, err := p.Accounts.GetAccountToken(ctx, oauth.HashSecret(token), purpose)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errLinkUnusable
	}
	if err != nil {
		return nil, fmt.Errorf("get account token: %w", err)
	}
	if !t.Usable(p.Now()) {
		return nil, errLinkUnusable
	}
	return t, nil
}

// later runs fn after the answer, on its own goroutine, with a context that
// outlives the request's (but not its values) and a deadline: work whose
// time must not show in the answer. Wait waits for it.
func (p *Pages) later(ctx context.Context, fn func(ctx context.Context) error) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			p.log().ErrorContext(ctx, "account mail failed", "err", err)
		}
	}()
}

// Wait waits for the work later started (tests, and a server shutting down).
func (p *Pages) Wait() { p.bg.Wait() }

func (p *Pages) linkWindow() time.Duration {
	if p.LinkWindow > 0 {
		return p.LinkWindow
	}
	return DefaultLinkWindow
}

// budget is a throttle key and its limit in a window.
type budget struct {
	key   string
	limit int
}

// spend counts one attempt against each budget (store.Hit, so every
// instance sees it) and reports whether all were within their limits;
// when one was not, it has set Retry-After.
func (p *Pages) spend(ctx context.Context, w http.ResponseWriter, window time.Duration, budgets ...budget) (bool, error) {
	now := p.Now()
	start := now.Truncate(window)
	ok := true
	for _, b := range budgets {
		n, err := p.Store.Hit(ctx, b.key, start, start.Add(window))
		if err != nil {
			return false, fmt.Errorf("count %s: %w", b.key, err)
		}
		ok = ok && n <= b.limit
	}
	if !ok {
		retryAfter(w, windowEnd(now, window))
	}
	return ok, nil
}

func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
