package config

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// SMTP is the mail server invitation emails go through. Without a Host no
// mail is sent: invitations wait in the outbox, where `latchkey invitations
// show` finds their links (and `serve --dev` logs them).
type SMTP struct {
	Host string `yaml:"host"`
	// Port defaults by TLS mode: 587 for starttls, 465 for tls, 25 for none.
	Port int `yaml:"port"`
	// TLS is starttls (the default), tls (implicit, RFC 8314) or none,
	// which is for a relay on this machine only.
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	// Password; LATCHKEY_SMTP_PASSWORD overrides it, to keep it out of files.
	Password string `yaml:"password"`
	From     string `yaml:"from"` // "Latchkey <noreply@example.com>"
}

// Invitations sets device client invitations.
type Invitations struct {
	// Lifetime is how long an invitation stays valid unless its sender
	// says otherwise; "7d" or "168h".
	Lifetime Duration `yaml:"lifetime"`
	// RequestsPerIPPerMinute bounds the public invitation endpoints and
	// page per client address (docs/security.md INV-07).
	RequestsPerIPPerMinute int `yaml:"requests_per_ip_per_minute"`
	// RetryInterval is how often the outbox looks for mail to send.
	RetryInterval Duration `yaml:"retry_interval"`
	// MailsPerOrgPerHour and MailsPerSenderPerHour bound the invitation
	// emails (device and member invitations, sent and resent) of one
	// organization, and those one sender asks for (a user; the admin token
	// counts as one sender), in any hour (docs/security.md INV-14); 0: no
	// limit.
	MailsPerOrgPerHour    int `yaml:"mails_per_organization_per_hour"`
	MailsPerSenderPerHour int `yaml:"mails_per_sender_per_hour"`
	// Retention is how long an invitation, device or member, is kept once
	// it ended (accepted, declined, revoked, or expired pending); the
	// sweeper deletes older ones, a device invitation's mail with it.
	Retention Duration `yaml:"retention"`
}

func defaultInvitations() Invitations {
	return Invitations{Lifetime: Duration(7 * 24 * time.Hour), RequestsPerIPPerMinute: 30, RetryInterval: Duration(10 * time.Second),
		MailsPerOrgPerHour: 100, MailsPerSenderPerHour: 50, Retention: Duration(365 * 24 * time.Hour)}
}

// Enabled reports whether a mail server is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Mode is the TLS mode, starttls when unset.
func (s SMTP) Mode() string {
	if s.TLS == "" {
		return "starttls"
	}
	return s.TLS
}

// PortOrDefault is the port, or the usual one for the TLS mode.
func (s SMTP) PortOrDefault() int {
	if s.Port != 0 {
		return s.Port
	}
	switch s.Mode() {
	case "tls":
		return 465
	case "none":
		return 25
	}
	return 587
}

// checkMail reports the problems of the smtp and invitations blocks.
func (c *Config) checkMail() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Invitations.Lifetime < Duration(time.Minute) || c.Invitations.Lifetime > Duration(90*24*time.Hour) {
		bad("invitations.lifetime %s: want 1m to 90d", c.Invitations.Lifetime)
	}
	if c.Invitations.RequestsPerIPPerMinute < 0 {
		bad("invitations.requests_per_ip_per_minute: must not be negative (0: no limit)")
	}
	if c.Invitations.MailsPerOrgPerHour < 0 {
		bad("invitations.mails_per_organization_per_hour: must not be negative (0: no limit)")
	}
	if c.Invitations.MailsPerSenderPerHour < 0 {
		bad("invitations.mails_per_sender_per_hour: must not be negative (0: no limit)")
	}
	if c.Invitations.Retention < Duration(time.Minute) {
		bad("invitations.retention %s: want at least 1m", c.Invitations.Retention)
	}
	if c.Invitations.RetryInterval <= 0 {
		bad("invitations.retry_interval: must be positive")
	}
	s := c.SMTP
	if !s.Enabled() {
		if s.Username != "" || s.From != "" || s.Port != 0 {
			bad("smtp: host is empty, so the other smtp settings do nothing; set smtp.host")
		}
		return errs
	}
	if strings.ContainsAny(s.Host, " /:@\r\n") {
		bad("smtp.host %q: want a host name or address, without a port (that is smtp.port)", s.Host)
	}
	if s.Port < 0 || s.Port > 65535 {
		bad("smtp.port %d: want 1 to 65535", s.Port)
	}
	switch s.Mode() {
	case "starttls", "tls":
	case "none":
		// An invitation email carries its link, which is a credential
		// (docs/security.md G-14), and a username brings a password: in
		// the clear they may go no further than this machine.
		if !isLoopback(s.Host) {
			bad("smtp.tls none sends invitation links (and any password) unencrypted: it is for a relay on this machine (localhost); for %q use starttls or tls", s.Host)
		}
	default:
		bad("smtp.tls %q: want starttls, tls or none", s.TLS)
	}
	if s.Username != "" && s.Password == "" {
		bad("smtp.password: required with smtp.username (or LATCHKEY_SMTP_PASSWORD)")
	}
	if a, err := mail.ParseAddress(s.From); s.From == "" || err != nil || strings.ContainsAny(s.From, "\r\n") {
		bad("smtp.from %q: want the sender address, such as \"Latchkey <noreply@example.com>\"", s.From)
	} else if !strings.Contains(a.Address, "@") {
		bad("smtp.from %q: the address needs a domain", s.From)
	}
	return errs
}

// parseDays is time.ParseDuration that also takes whole days, "7d".
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}
