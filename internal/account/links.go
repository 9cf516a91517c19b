package account

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Default lifetimes of the links Links mails.
const (
	DefaultVerifyLifetime = 24 * time.Hour
	DefaultResetLifetime  = time.Hour
)

// Links mails people the single-use links of their account (a verification
// link, a password reset link) and notices about it, through the outbox
// that also carries invitations: each link's token and its mail are stored
// in one transaction (store.AccountStore.CreateAccountToken), the token
// only as a hash, and the outbox's sender delivers the mail (and erases
// it) as it does invitations'.
type Links struct {
	Store interface {
		CreateAccountToken(ctx context.Context, t *store.AccountToken, mail *store.Mail) error
		QueueMail(ctx context.Context, m *store.Mail) error
	}
	Issuer string // the links' base, e.g. https://id.example.com
	Now    func() time.Time
	Rand   io.Reader // crypto/rand.Reader when nil
	Log    *slog.Logger
	// Kick tells the outbox's sender that mail is waiting; nil leaves it to
	// the sender's next round.
	Kick func()
	// VerifyLifetime and ResetLifetime are how long links work; zero: the defaults.
	VerifyLifetime, ResetLifetime time.Duration
	// LogLinks logs each link (development without a mail server), so the
	// developer can open it.
	LogLinks bool
	// Service is the service's name (pages.service_name) and Support its
	// support link, which every mail names; "" leaves them out.
	Service, Support string
}

// SendVerification mails email a link that, used, makes it u's address,
// verified: a verification of u's address, or a change to a new one.
// returnTo, a path on this server or "", is where the link's page sends the
// person on.
//
// Every mail is in loc's language: that of the request that caused it
// (the page's, package web); nil: English.
func (l *Links) SendVerification(ctx context.Context, loc *i18n.Locale, u *store.User, email, returnTo string) error {
	loc = orEnglish(loc)
	v := url.Values{}
	if returnTo != "" {
		v.Set("return_to", returnTo)
	}
	subject := loc.T("mail.verify.subject")
	intro := loc.T("mail.verify.intro", "email", email, "where", l.where())
	if !strings.EqualFold(email, u.Email) {
		subject = loc.T("mail.verify_new.subject")
		intro = loc.T("mail.verify_new.intro", "email", email, "where", l.where(), "old", u.Email)
	}
	return l.send(ctx, loc, u, email, store.PurposeVerifyEmail, oauth.PrefixVerifyEmail, "/verify-email", v, l.lifetime(l.VerifyLifetime, DefaultVerifyLifetime),
		subject, intro, loc.T("mail.verify.outro"))
}

// ResetLinkLifetime is how long a reset link works.
func (l *Links) ResetLinkLifetime() time.Duration {
	return l.lifetime(l.ResetLifetime, DefaultResetLifetime)
}

// SendReset mails u a link to set a new password once, in loc's language.
func (l *Links) SendReset(ctx context.Context, loc *i18n.Locale, u *store.User) error {
	loc = orEnglish(loc)
	return l.send(ctx, loc, u, u.Email, store.PurposeResetPassword, oauth.PrefixResetPassword, "/reset-password", nil,
		l.lifetime(l.ResetLifetime, DefaultResetLifetime),
		loc.T("mail.reset.subject"), loc.T("mail.reset.intro", "where", l.where()), loc.T("mail.reset.outro"))
}

// NotifyTaken mails u that someone tried to register with u's address,
// which already has an account: the registration page answers the same
// either way (so it does not tell who has an account), and this mail is
// the rest of the answer, to the only person who should have it. It holds
// no token: only the sign-in and "forgot password" pages, with the address
// filled in. It is in loc's language (the registration page's).
func (l *Links) NotifyTaken(ctx context.Context, loc *i18n.Locale, u *store.User) error {
	hint := url.Values{"login_hint": {u.Email}}.Encode()
	return l.Notify(ctx, loc, u.Email, u.Name, "account_exists", "where", l.where(),
		"login", l.Issuer+"/login?"+hint, "forgot", l.Issuer+"/forgot-password?"+hint)
}

// Notify mails to a notice that carries no link, in loc's language: the
// catalog's mail.<kind>.subject and mail.<kind>.text with args, greeting
// name (none when "").
func (l *Links) Notify(ctx context.Context, loc *i18n.Locale, to, name, kind string, args ...any) error {
	loc = orEnglish(loc)
	id, err := oauth.NewID(l.rand())
	if err != nil {
		return err
	}
	text := loc.T("mail."+kind+".text", args...)
	if name != "" {
		text = loc.T("mail.hello", "name", name) + "\n\n" + text
	}
	subject := loc.T("mail."+kind+".subject", args...)
	now := l.Now()
	m := &store.Mail{ID: id, Recipient: to, Subject: subject, Body: text + "\n\n" + l.signature(loc),
		Status: store.MailPending, NextAttemptAt: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := l.Store.QueueMail(ctx, m); err != nil {
		return fmt.Errorf("queue notice: %w", err)
	}
	l.kick()
	return nil
}

// where names the service in a sentence: "Acme (id.acme.example)".
func (l *Links) where() string {
	if l.Service == "" {
		return l.host()
	}
	return l.Service + " (" + l.host() + ")"
}

// signature ends every mail: the service, its host and its support link.
func (l *Links) signature(loc *i18n.Locale) string {
	return Signature(loc, l.Service, l.host(), l.Support)
}

// Signature is the end of a mail from the service name at host, with its
// support link when there is one, in loc's language.
func Signature(loc *i18n.Locale, name, host, support string) string {
	s := "— "
	if name != "" {
		s += name + ", "
	}
	s += host + "\n"
	if support != "" {
		s += orEnglish(loc).T("mail.help", "url", support) + "\n"
	}
	return s
}

func orEnglish(loc *i18n.Locale) *i18n.Locale {
	if loc == nil {
		return i18n.English()
	}
	return loc
}

// Host is the server's host name, as mail names it.
func (l *Links) host() string {
	if u, err := url.Parse(l.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return l.Issuer
}

func (l *Links) send(ctx context.Context, loc *i18n.Locale, u *store.User, to, purpose, prefix, path string, v url.Values, life time.Duration,
	subject, intro, outro string) error {
	token, err := oauth.NewSecret(l.rand(), prefix)
	if err != nil {
		return err
	}
	id, err := oauth.NewID(l.rand())
	if err != nil {
		return err
	}
	if v == nil {
		v = url.Values{}
	}
	v.Set("token", token)
	link := strings.TrimRight(l.Issuer, "/") + path + "?" + v.Encode()
	now := l.Now()
	t := &store.AccountToken{Hash: oauth.HashSecret(token), Purpose: purpose, UserID: u.ID, Email: to,
		CreatedAt: now, ExpiresAt: now.Add(life)}
	body := fmt.Sprintf("%s\n\n%s\n\n%s\n\n%s\n%s\n\n%s",
		loc.T("mail.hello", "name", u.Name), intro, link,
		loc.T("mail.link_until", "date", loc.Date(t.ExpiresAt), "duration", loc.Duration(life)), outro, l.signature(loc))
	m := &store.Mail{ID: id, Recipient: to, Subject: subject, Body: body, Link: link, Status: store.MailPending,
		NextAttemptAt: now, CreatedAt: now, ExpiresAt: t.ExpiresAt}
	if err := l.Store.CreateAccountToken(ctx, t, m); err != nil {
		return fmt.Errorf("store %s link: %w", purpose, err)
	}
	if l.LogLinks {
		l.log().Info("account email waits in the outbox (no mail server): open its link", "purpose", purpose,
			"to", to, "link", link)
	}
	l.kick()
	return nil
}

func (l *Links) lifetime(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (l *Links) kick() {
	if l.Kick != nil {
		l.Kick()
	}
}

func (l *Links) rand() io.Reader {
	if l.Rand == nil {
		return rand.Reader
	}
	return l.Rand
}

func (l *Links) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}
