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
func (l *Links) SendVerification(ctx context.Context, u *store.User, email, returnTo string) error {
	v := url.Values{}
	if returnTo != "" {
		v.Set("return_to", returnTo)
	}
	subject := "Confirm your email address"
	intro := "Open this link to confirm that " + email + " is your address for your account at " + l.where() + ":"
	if !strings.EqualFold(email, u.Email) {
		subject = "Confirm your new email address"
		intro = "Open this link to make " + email + " the address of your account at " + l.where() + " (it is " + u.Email + " now):"
	}
	return l.send(ctx, u, email, store.PurposeVerifyEmail, oauth.PrefixVerifyEmail, "/verify-email", v, l.lifetime(l.VerifyLifetime, DefaultVerifyLifetime),
		subject, intro, "If you did not ask for this, ignore this email: nothing changes without the link.")
}

// ResetLinkLifetime is how long a reset link works.
func (l *Links) ResetLinkLifetime() time.Duration {
	return l.lifetime(l.ResetLifetime, DefaultResetLifetime)
}

// SendReset mails u a link to set a new password once.
func (l *Links) SendReset(ctx context.Context, u *store.User) error {
	return l.send(ctx, u, u.Email, store.PurposeResetPassword, oauth.PrefixResetPassword, "/reset-password", nil,
		l.lifetime(l.ResetLifetime, DefaultResetLifetime),
		"Reset your password", "Someone, probably you, asked to reset the password of your account at "+l.where()+". Open this link to choose a new one:",
		"If you did not ask for this, ignore this email: your password stays as it is. Setting a new password signs you out everywhere.")
}

// NotifyTaken mails u that someone tried to register with u's address,
// which already has an account: the registration page answers the same
// either way (so it does not tell who has an account), and this mail is
// the rest of the answer, to the only person who should have it. It holds
// no token: only the sign-in and "forgot password" pages, with the address
// filled in.
func (l *Links) NotifyTaken(ctx context.Context, u *store.User) error {
	hint := url.Values{"login_hint": {u.Email}}.Encode()
	return l.Notify(ctx, u.Email, "Someone tried to create an account with your address",
		"Hello "+u.Name+",\n\nSomeone, probably you, tried to create an account at "+l.where()+" with this email address. "+
			"It already has an account, so nothing was created or changed.\n\n"+
			"To sign in to your account:\n"+l.Issuer+"/login?"+hint+"\n\n"+
			"If you forgot your password, choose a new one:\n"+l.Issuer+"/forgot-password?"+hint+"\n\n"+
			"If it was not you, ignore this email: your account stays as it is.")
}

// Notify mails to a notice that carries no link.
func (l *Links) Notify(ctx context.Context, to, subject, text string) error {
	id, err := oauth.NewID(l.rand())
	if err != nil {
		return err
	}
	now := l.Now()
	m := &store.Mail{ID: id, Recipient: to, Subject: subject, Body: text + "\n\n" + l.signature(),
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
func (l *Links) signature() string {
	return Signature(l.Service, l.host(), l.Support)
}

// Signature is the end of a mail from the service name at host, with its
// support link when there is one.
func Signature(name, host, support string) string {
	s := "— "
	if name != "" {
		s += name + ", "
	}
	s += host + "\n"
	if support != "" {
		s += "Help: " + support + "\n"
	}
	return s
}

// Host is the server's host name, as mail names it.
func (l *Links) host() string {
	if u, err := url.Parse(l.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return l.Issuer
}

func (l *Links) send(ctx context.Context, u *store.User, to, purpose, prefix, path string, v url.Values, life time.Duration,
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
	body := fmt.Sprintf("Hello %s,\n\n%s\n\n%s\n\nThe link works once, until %s.\n%s\n\n%s",
		u.Name, intro, link, t.ExpiresAt.UTC().Format("Monday 2 January 2006, 15:04 MST"), outro, l.signature())
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
