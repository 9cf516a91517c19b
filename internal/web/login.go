package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// defaultReturn is where a sign-in lands without a usable return_to: the
// device page is the reason most people sign in here.
const defaultReturn = "/device"

// maxEmailLength bounds a login name (RFC 5321 §4.5.3.1 paths are at most 256).
const maxEmailLength = 320

type loginPage struct {
	base
	Username string
	ReturnTo string
	Passkey  *passkeyView // nil when passkeys are off
	Heading  string       // a key: what signing in is for (purpose)
	ForName  string       // the device or application it is for
	// CanRegister: registration is not off, so the page offers to
	// create an account.
	CanRegister bool
	// NoticeInfo: Notice is information, not a mistake (a right password
	// that a passkey must follow): shown as a neutral notice, and the
	// passkey button, when there is one, is the page's first action.
	NoticeInfo bool
}

func (lp *loginPage) localize(l *i18n.Locale) {
	lp.Title, lp.TitleArgs = lp.Heading, []any{"client", lp.ForName}
	lp.base.localize(l)
	lp.Heading = l.T(lp.Heading, "client", lp.ForName)
}

// renderLogin shows the sign-in page, with a passkey sign-in begun for it.
func (p *Pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, s *store.Session, u *store.User, notice, username, returnTo string) error {
	return p.renderLoginPage(w, r, status, s, loginPage{base: base{User: u, Notice: notice}, Username: username, ReturnTo: returnTo})
}

// renderLoginPage shows page, completed with its CSRF token, a passkey
// sign-in begun for it, and what signing in is for.
func (p *Pages) renderLoginPage(w http.ResponseWriter, r *http.Request, status int, s *store.Session, page loginPage) error {
	page.CSRF = p.csrfFor(w, r, s)
	view, err := p.loginPasskey(w, r, s)
	if err != nil {
		return err
	}
	page.Passkey, page.CanRegister = view, !p.Registration.Closed()
	why := p.purpose(r, page.ReturnTo)
	page.Heading, page.ForName = why.heading("login.heading"), why.Name
	return p.render(w, r, status, "login", page)
}

var (
	msgWrongLogin = "login.wrong"
	errTooMany    = &pageError{Status: http.StatusTooManyRequests, Heading: "err.too_many_attempts.heading",
		Text: "err.too_many_attempts.text"}
)

// LoginForm serves GET /login.
func (p *Pages) LoginForm(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	// A bad return_to or login_hint is dropped, not an error: the person
	// can still sign in.
	returnTo, _ := query(r, "return_to")
	returnTo, _ = safeReturnTo(returnTo)
	hint, _ := query(r, "login_hint")
	hint = loginHint(hint)
	return p.renderLogin(w, r, http.StatusOK, s, u, "", hint, returnTo)
}

// Login serves POST /login. Wrong passwords are limited per account and
// network, per client IP and per account over every network, or, from a
// browser known for the account, per that browser alone (loginBudgets),
// counted in the store so every instance sees them; the answer for
// an unknown email is the same, in words and in time, as for a wrong
// password (docs/security.md UI-05).
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) error {
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
	email := strings.ToLower(strings.TrimSpace(f.Get("username")))
	password := f.Get("password")
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	again := func(status int, notice string) error {
		return p.renderLogin(w, r, status, s, nil, notice, f.Get("username"), returnTo)
	}
	if email == "" || password == "" {
		return again(http.StatusBadRequest, "login.enter_both")
	}

	ctx := r.Context()
	now := p.Now()
	if p.LoginWindow <= 0 {
		// Truncate(0) would give every request its own window: no limit at all.
		return errors.New("web: Pages.LoginWindow must be positive")
	}
	window := now.Truncate(p.LoginWindow)
	limits, err := p.loginBudgets(ctx, r, email)
	if err != nil {
		return err
	}
	// Checked before the password, and the same for every email, so a
	// locked-out guesser gets no answer about either.
	for _, l := range limits {
		n, err := p.Store.Count(ctx, l.key, window)
		if err != nil {
			return fmt.Errorf("count failed logins: %w", err)
		}
		if n >= l.limit {
			p.Metrics.Throttled(metrics.ThrottleLogin)
			secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: "sign-in attempts"})
			retryAfter(w, windowEnd(now, p.LoginWindow))
			return errTooMany
		}
	}

	// Then the attempt is counted before the password is checked, and
	// checked only if its count is within every limit: concurrent logins
	// each get a distinct count from Hit, so a burst of parallel guesses
	// gets no more password checks than the limits allow (UI-05: counting
	// is atomic). A login that succeeds gives its count back, and so does
	// one refused here, so that one address's burst does not lock the
	// account for everyone else: only wrong passwords that were checked
	// spend the limits.
	refund := func() error {
		for _, l := range limits {
			if err := p.Store.Refund(ctx, l.key, window); err != nil {
				return fmt.Errorf("refund login attempt: %w", err)
			}
		}
		return nil
	}
	over := false
	for _, l := range limits {
		n, err := p.Store.Hit(ctx, l.key, window, window.Add(p.LoginWindow))
		if err != nil {
			return fmt.Errorf("count login attempt: %w", err)
		}
		over = over || n > l.limit
	}
	if over {
		if err := refund(); err != nil {
			return err
		}
		p.Metrics.Throttled(metrics.ThrottleLogin)
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: "sign-in attempts"})
		retryAfter(w, windowEnd(now, p.LoginWindow))
		return errTooMany
	}
	u, ok, err := p.checkLogin(ctx, email, password)
	if err != nil {
		return err
	}
	if !ok {
		e := secevent.Event{Name: secevent.SignIn, Outcome: secevent.Failure, Reason: "unknown email or wrong password"}
		if u != nil {
			e.UserID = u.ID
		}
		secevent.Log(ctx, p.Log, e)
		return again(http.StatusBadRequest, msgWrongLogin)
	}
	if err := refund(); err != nil {
		return err
	}
	if u.Disabled {
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Failure, UserID: u.ID, Reason: "account disabled"})
		// Said only to someone who knew the password.
		return &pageError{Status: http.StatusForbidden, Heading: "err.disabled.heading",
			Text: "err.disabled.text"}
	}
	return p.afterPassword(w, r, s, u, returnTo)
}

// checkLogin reports whether password is email's. An unknown email spends
// the time of a real check, so timing does not reveal which emails exist.
func (p *Pages) checkLogin(ctx context.Context, email, password string) (*store.User, bool, error) {
	if len(email) > maxEmailLength || len(password) > account.MaxPasswordLength {
		// Not a name we could have stored, or more hashing work than a
		// real password may cost: refused unhashed, still a failure.
		return nil, false, nil
	}
	u, err := p.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		account.CheckDummy(password)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get user: %w", err)
	}
	ok, err := account.CheckPassword(u.PasswordHash, password)
	if err != nil {
		// A stored hash we cannot read is our fault, but answering with a
		// 500 would tell that this email exists.
		p.log().ErrorContext(ctx, "unreadable password hash", "user_id", u.ID, "err", err)
		return nil, false, nil
	}
	return u, ok, nil
}

// safeReturnTo accepts only a path on this server, so sign-in cannot be
// used to send people elsewhere (RFC 9700 §4.11; docs/security.md UI-04).
// Browsers treat "//host" and "/\host" as other hosts and drop tabs and
// newlines from URLs ("/\t/host" is "//host"), so a backslash or a control
// character anywhere refuses the value.
func safeReturnTo(s string) (string, bool) {
	if s == "" || len(s) > 2048 || s[0] != '/' {
		return "", false
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", false
	}
	return s, true
}

// loginURL sends a signed-out browser to sign in and back to returnTo.
func loginURL(returnTo string) string {
	return signInURL("/login", returnTo, "")
}

// signInURL is the sign-in or registration page (page), returning to
// returnTo, with hint filled in as the email when it is an address
// (loginHint). Empty values are left out.
func signInURL(page, returnTo, hint string) string {
	v := url.Values{}
	if returnTo != "" {
		v.Set("return_to", returnTo)
	}
	if h := loginHint(hint); h != "" {
		v.Set("login_hint", h)
	}
	if len(v) == 0 {
		return page
	}
	return page + "?" + v.Encode()
}

// loginHint returns hint when it could name an account here (an email
// address of the shape registration takes, so at most 254 bytes), else "".
// A hint only fills in a form field, escaped by html/template; it decides
// nothing, so one that is not an address is dropped rather than refused:
// the person can still type.
func loginHint(hint string) string {
	_, domain, _ := strings.Cut(hint, "@")
	if !account.ValidEmail(strings.ToLower(hint)) || strings.IndexFunc(domain, notHostChar) >= 0 {
		return ""
	}
	return hint
}

// notHostChar reports a character no host name has: anything but letters
// (internationalised names included), digits, '-' and '.'.
func notHostChar(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '.'
}

// signInOptions are what 10Duke's device flow lets a verification link say
// about signing in (docs/architecture.md, "Verification"): flow=register
// opens the registration page instead of sign-in, and login_hint fills in
// the email. The authorization endpoint reads the same two (package
// authorize).
type signInOptions struct {
	Register bool
	Hint     string // an email address (loginHint), or ""
}

// signInOptionsFrom reads flow and login_hint from r's query. Either one
// repeated, or not text, makes the link unreadable (a 400 page, as for any
// parameter); a flow other than register is sign-in, and a hint that is not
// an address is dropped, as at the authorization endpoint.
func signInOptionsFrom(r *http.Request) (signInOptions, error) {
	flow, err := query(r, "flow")
	if err != nil {
		return signInOptions{}, err
	}
	hint, err := query(r, "login_hint")
	if err != nil {
		return signInOptions{}, err
	}
	return signInOptions{Register: flow == "register", Hint: loginHint(hint)}, nil
}

// url is where o sends a signed-out browser: the sign-in page, or the
// registration page, returning to returnTo.
func (o signInOptions) url(returnTo string) string {
	page := "/login"
	if o.Register {
		page = "/register"
	}
	return signInURL(page, returnTo, o.Hint)
}

// retryAfter tells a throttled browser when its window ends (RFC 9110 §10.2.3).
func retryAfter(w http.ResponseWriter, d time.Duration) {
	if secs := int((d + time.Second - 1) / time.Second); secs > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}

// windowEnd is how long until the fixed window holding now ends, for Retry-After.
func windowEnd(now time.Time, window time.Duration) time.Duration {
	if window <= 0 {
		return 0
	}
	return now.Truncate(window).Add(window).Sub(now)
}

// ForgotURL is the link from the sign-in page to "forgot password", with
// the email carried over.
func (l loginPage) ForgotURL() string {
	return signInURL("/forgot-password", "", l.Username)
}
