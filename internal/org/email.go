package org

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// composeInvitation writes the invitation email: plain text, saying who
// invites the device into what, with the link to the invitation page.
// It is in loc's language.
func composeInvitation(loc *i18n.Locale, o *store.Organization, groups []*store.ClientGroup, inv *store.Invitation, link, issuer, service, support string) (subject, body string) {
	subject = loc.T("mail.invitation.subject", "org", o.Name)
	var b strings.Builder
	host := issuer
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		host = u.Host
	}
	at := host
	if service != "" {
		at = service + ", " + host
	}
	b.WriteString(loc.T("mail.invitation.intro", "org", o.Name, "at", at) + "\n\n")
	if inv.Message != "" {
		b.WriteString(loc.T("mail.invitation.message") + "\n")
		for _, line := range strings.Split(inv.Message, "\n") {
			b.WriteString("> " + line + "\n")
		}
		b.WriteString("\n")
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	b.WriteString(loc.T("mail.invitation.groups", "groups", strings.Join(names, ", ")) + "\n\n")
	b.WriteString(loc.T("mail.invitation.open") + "\n\n")
	b.WriteString(link + "\n\n")
	b.WriteString(loc.T("mail.invitation.until", "date", loc.Date(inv.ExpiresAt)) + "\n")
	// Signed as account mail is: the service, its host, its help.
	b.WriteString("\n" + account.Signature(loc, service, host, support))
	return subject, b.String()
}

// Mailer sends one email from the outbox.
type Mailer interface {
	Send(ctx context.Context, m *store.Mail) error
}

// TLS modes of an SMTP connection.
const (
	TLSNone     = "none"     // plain text: loopback relays only
	TLSStartTLS = "starttls" // upgrade with STARTTLS, required (RFC 3207)
	TLSImplicit = "tls"      // TLS from the first byte (RFC 8314 §3.3), usually port 465
)

// SMTP sends mail through a mail server with net/smtp: the standard
// library speaks SMTP, STARTTLS and AUTH PLAIN, which is all a relay needs,
// and refuses to send a password over an unencrypted connection to any
// host but localhost.
type SMTP struct {
	Host     string
	Port     int
	TLS      string // TLSNone, TLSStartTLS or TLSImplicit
	Username string // "" for no authentication
	Password string
	From     string        // the sender address, as "Name <addr>" or addr
	Timeout  time.Duration // for the whole conversation; 30s when zero
	// TLSConfig, when set, is used for TLS (tests give their own roots).
	TLSConfig *tls.Config
	// Hostname is what we say in HELO; "localhost" when empty.
	Hostname string
}

// Send delivers m, or fails: the caller keeps it in the outbox and retries.
func (c *SMTP) Send(ctx context.Context, m *store.Mail) error {
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return fmt.Errorf("smtp: from address %q: %w", c.From, err)
	}
	to, err := mail.ParseAddress(m.Recipient)
	if err != nil {
		return fmt.Errorf("smtp: recipient: %w", err)
	}
	msg, err := Message(from, to, m, time.Now())
	if err != nil {
		return err
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // cancellation ends the conversation
	defer stop()
	if c.TLS == TLSImplicit {
		tc := tls.Client(conn, c.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("smtp: tls: %w", err)
		}
		conn = tc
	}
	sc, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer sc.Close()
	hostname := c.Hostname
	if hostname == "" {
		hostname = "localhost"
	}
	if err := sc.Hello(hostname); err != nil {
		return fmt.Errorf("smtp: hello: %w", err)
	}
	if c.TLS == TLSStartTLS {
		if ok, _ := sc.Extension("STARTTLS"); !ok {
			return errors.New("smtp: the server does not offer STARTTLS, which the configuration requires")
		}
		if err := sc.StartTLS(c.tlsConfig()); err != nil {
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	if c.Username != "" {
		// PlainAuth itself refuses a connection that is neither TLS nor to localhost.
		if err := sc.Auth(smtp.PlainAuth("", c.Username, c.Password, c.Host)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	if err := sc.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp: mail from: %w", err)
	}
	if err := sc.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp: rcpt to: %w", err)
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("smtp: data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: data: %w", err)
	}
	if err := sc.Quit(); err != nil {
		// The server accepted the message at the end of DATA; a failed QUIT
		// does not unsend it.
		return nil
	}
	return nil
}

func (c *SMTP) tlsConfig() *tls.Config {
	if c.TLSConfig != nil {
		cfg := c.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = c.Host
		}
		return cfg
	}
	return &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
}

// Message renders m as an RFC 5322 message: UTF-8 text, quoted-printable,
// CRLF line endings. Every header value is either an address net/mail
// formats or Q-encoded text, so nothing in m can inject a header.
func Message(from, to *mail.Address, m *store.Mail, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name + ": " + value + "\r\n")
	}
	domain := "latchkey.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := io.WriteString(qp, body); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	if strings.ContainsAny(from.String()+to.String(), "\r\n") {
		return nil, errors.New("smtp: an address holds a line break")
	}
	return b.Bytes(), nil
}
