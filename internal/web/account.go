package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// The account page (/account): the person's profile, the devices and apps
// connected to the account (every active grant, each revocable at once),
// the apps they allowed (remembered consent, each forgettable), and forms
// to change the password and the email address. Every form is a `form`
// route (CSRF, cross-origin refusal), acts only on the signed-in person's
// own records, and a change of password or address asks for the current
// password, counted against a budget per account in the store.

func init() {
	builtinPage("account", whenFuncs)
}

// whenFuncs are the account page's functions, which the consoles' pages
// have too (RegisterPage).
var whenFuncs = template.FuncMap{"when": when}

// when shows a time on the account page.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}

type accountPage struct {
	base
	Account     *store.User
	Grants      []grantView
	Consents    []consentView
	Done        string
	MinPassword int
	Passkeys    *accountPasskeys // nil when passkeys are off
	TOTP        *accountTOTP     // nil when second factors are off
	Console     bool             // a system administrator or an organization's admin: a link to /console
	// Continue is the step a gate stopped the person at (pendingStep),
	// once nothing stops them any more; "" otherwise.
	Continue string
}

// grantView is a connected device or app, with the User-Agent it asked
// from in words.
type grantView struct {
	*store.GrantInfo
	// Agent names the browser or system of OriginUserAgent as the confirm
	// page does ("Chrome on Windows"); "" when the parser names neither,
	// and the page shows the address alone: a program's own User-Agent is
	// not shown as it came.
	Agent string
}

// grantViews puts the grants' User-Agents in words.
func grantViews(loc *i18n.Locale, grants []*store.GrantInfo) []grantView {
	out := make([]grantView, len(grants))
	for i, g := range grants {
		out[i] = grantView{GrantInfo: g}
		if g.OriginUserAgent == "" {
			continue
		}
		if browser, os := parseAgent(g.OriginUserAgent); browser != "" || os != "" {
			out[i].Agent = agentWords(loc, g.OriginUserAgent)
		}
	}
	return out
}

type consentView struct {
	*store.Consent
	Name string
}

// accountDone are the confirmations a change redirects to (?done=).
var accountDone = map[string]string{
	"password":          "account.done.password",
	"email":             "account.done.email",
	"revoked":           "account.done.revoked",
	"forgot":            "account.done.forgot",
	"passkey-added":     "account.done.passkey_added",
	"passkey-renamed":   "account.done.passkey_renamed",
	"passkey-removed":   "account.done.passkey_removed",
	"second-factor-off": "account.done.second_factor_off",
}

func (ap *accountPage) localize(l *i18n.Locale) {
	ap.base.localize(l)
	ap.Done = l.T(ap.Done)
}

var errNotYours = &pageError{Status: http.StatusNotFound, Heading: "err.not_yours.heading",
	Text: "err.not_yours.text"}

// Account serves GET /account.
func (p *Pages) Account(w http.ResponseWriter, r *http.Request) error {
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if u == nil {
		return seeOther(w, loginURL("/account"))
	}
	done, _ := query(r, "done")
	return p.renderAccount(w, r, http.StatusOK, s, u, "", accountDone[done])
}

func (p *Pages) renderAccount(w http.ResponseWriter, r *http.Request, status int, s *store.Session, u *store.User, notice, done string) error {
	ctx := r.Context()
	grants, err := p.Accounts.ListUserGrants(ctx, u.ID, p.Now())
	if err != nil {
		return err
	}
	consents, err := p.Accounts.ListConsents(ctx, u.ID)
	if err != nil {
		return err
	}
	views := make([]consentView, 0, len(consents))
	for _, c := range consents {
		name := c.ClientID
		if cl, err := p.Store.GetClient(ctx, c.ClientID); err == nil {
			name = cl.Name
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		views = append(views, consentView{Consent: c, Name: name})
	}
	passkeys, err := p.accountPasskeys(w, r, s, u)
	if err != nil {
		return err
	}
	second, err := p.accountTOTP(ctx, u)
	if err != nil {
		return err
	}
	console := u.Sysadmin
	if !console {
		ms, err := p.Accounts.ListUserMemberships(ctx, u.ID)
		if err != nil {
			return err
		}
		console = slices.ContainsFunc(ms, func(m *store.OrgMember) bool { return m.Role == store.RoleAdmin })
	}
	if done == "" && notice == "" && second != nil && second.Required && !second.On {
		notice = "account.totp_required"
	}
	cont := p.pendingStep(r)
	if cont != "" {
		if must, err := p.mustEnrol(r, u); err != nil {
			return err
		} else if must || p.mustConfirm(u) {
			cont = ""
		}
	}
	return p.render(w, r, status, "account", accountPage{
		base:    base{Title: "account.heading", CSRF: p.csrfFor(w, r, s), User: u, Notice: notice, Wide: true},
		Account: u, Grants: grantViews(p.locale(r), grants), Consents: views, Done: done, MinPassword: account.MinPasswordLength,
		Passkeys: passkeys, TOTP: second, Console: console, Continue: cont,
	})
}

// accountForm reads a form of the account page: signed in, CSRF checked.
func (p *Pages) accountForm(w http.ResponseWriter, r *http.Request) (map[string]string, *store.Session, *store.User, error) {
	f, err := parseForm(w, r)
	if err != nil {
		return nil, nil, nil, err
	}
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return nil, nil, nil, err
	}
	if u == nil {
		// The CSRF token was bound to a browser without a session: a form
		// from before the session ended.
		return nil, nil, nil, seeOther(w, loginURL("/account"))
	}
	return f, s, u, nil
}

// RevokeGrant serves POST /account/grants/revoke: the grant (one of the
// person's own) is revoked with its refresh tokens, so the device's next
// refresh fails and its access tokens turn inactive at introspection.
func (p *Pages) RevokeGrant(w http.ResponseWriter, r *http.Request) error {
	f, _, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	g, err := p.Accounts.GetGrant(ctx, f["grant_id"])
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.UserID != u.ID) {
		return errNotYours
	}
	if err != nil {
		return fmt.Errorf("get grant: %w", err)
	}
	if err := p.Accounts.RevokeGrant(ctx, g.ID, p.Now()); err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	p.log().InfoContext(ctx, "grant revoked by its user", "user_id", u.ID, "grant_id", g.ID, "client_id", g.ClientID)
	return seeOther(w, "/account?done=revoked")
}

// ForgetConsent serves POST /account/consents/forget: what the person
// allowed the client is forgotten, so it asks again.
func (p *Pages) ForgetConsent(w http.ResponseWriter, r *http.Request) error {
	f, _, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	err = p.Accounts.DeleteConsent(r.Context(), u.ID, f["client_id"])
	if errors.Is(err, store.ErrNotFound) {
		return errNotYours
	}
	if err != nil {
		return fmt.Errorf("delete consent: %w", err)
	}
	return seeOther(w, "/account?done=forgot")
}

// ChangePassword serves POST /account/password: with the current
// password, a new one; the person's other sessions end (with their
// attached grants) and a notice is mailed.
func (p *Pages) ChangePassword(w http.ResponseWriter, r *http.Request) error {
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	if ok, err := p.checkCurrentPassword(ctx, w, u, f["current_password"]); err != nil {
		return err
	} else if !ok {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.wrong_password", "")
	}
	password := f["new_password"]
	if err := account.ValidatePassword(password); err != nil {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, passwordNotice(p.locale(r), err), "")
	}
	hash, err := account.HashPassword(password)
	if err != nil {
		return err
	}
	n, err := p.Accounts.SetPassword(ctx, u.ID, hash, s.Hash, p.Now())
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	p.log().InfoContext(ctx, "password changed by its user", "user_id", u.ID, "sessions_ended", n)
	if err := p.Links.Notify(ctx, p.locale(r), u.Email, u.Name, "password_changed"); err != nil {
		return err
	}
	return seeOther(w, "/account?done=password")
}

// ChangeEmail serves POST /account/email: with the current password, a
// link to the new address, which replaces the old once it is used. The
// answer is the same whether or not another account has that address; if
// one has, that address is told instead, and nothing can change.
func (p *Pages) ChangeEmail(w http.ResponseWriter, r *http.Request) error {
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	email := strings.ToLower(strings.TrimSpace(f["email"]))
	if !account.ValidEmail(email) {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "notice.email_invalid", "")
	}
	if email == u.Email {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.same_email", "")
	}
	if ok, err := p.checkCurrentPassword(ctx, w, u, f["current_password"]); err != nil {
		return err
	} else if !ok {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.wrong_password", "")
	}
	ok, err := p.spend(ctx, w, p.linkWindow(),
		budget{"link:verify:addr:" + email, orDefault(p.LinksPerAddress, DefaultLinksPerAddress)},
		budget{"link:verify:ip:" + p.throttleIP(r), orDefault(p.LinksPerIP, DefaultLinksPerIP)})
	if err != nil {
		return err
	}
	if !ok {
		return errTooManyLinks
	}
	_, err = p.Store.GetUserByEmail(ctx, email)
	switch {
	case err == nil:
		err = p.Links.Notify(ctx, p.locale(r), email, "", "address_taken")
	case errors.Is(err, store.ErrNotFound):
		err = p.Links.SendVerification(ctx, p.locale(r), u, email, "/account")
	}
	if err != nil {
		return err
	}
	return seeOther(w, "/account?done=email")
}

// checkCurrentPassword checks the signed-in person's password, counting
// the attempt against the account's sign-in budget first (UI-05), so a
// stolen session cannot guess the password faster than sign-in can.
func (p *Pages) checkCurrentPassword(ctx context.Context, w http.ResponseWriter, u *store.User, password string) (bool, error) {
	if p.LoginWindow <= 0 {
		return false, errors.New("web: Pages.LoginWindow must be positive")
	}
	ok, err := p.spend(ctx, w, p.LoginWindow, budget{"account:password:" + u.ID, p.LoginPerAccount})
	if err != nil {
		return false, err
	}
	if !ok {
		return false, errTooMany
	}
	if password == "" || len(password) > account.MaxPasswordLength {
		return false, nil
	}
	good, err := account.CheckPassword(u.PasswordHash, password)
	if err != nil {
		p.log().ErrorContext(ctx, "unreadable password hash", "user_id", u.ID, "err", err)
		return false, nil
	}
	return good, nil
}
