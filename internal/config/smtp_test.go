package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadSMTPAndInvitations(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
smtp:
  host: mail.example.com
  tls: tls
  username: latchkey
  from: "Latchkey <noreply@example.com>"
invitations:
  lifetime: 3d
  requests_per_ip_per_minute: 10
`)
	env := map[string]string{"LATCHKEY_SMTP_PASSWORD": "from-the-environment"}
	c, err := Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.SMTP.Enabled() || c.SMTP.Mode() != "tls" || c.SMTP.PortOrDefault() != 465 || c.SMTP.Password != "from-the-environment" {
		t.Errorf("smtp = %+v", c.SMTP)
	}
	if c.Invitations.Lifetime.D() != 72*time.Hour || c.Invitations.RequestsPerIPPerMinute != 10 {
		t.Errorf("invitations = %+v", c.Invitations)
	}
	d := Default()
	if d.SMTP.Enabled() || d.Invitations.Lifetime.D() != 7*24*time.Hour {
		t.Errorf("defaults: smtp %+v, invitations %+v", d.SMTP, d.Invitations)
	}
	if _, err := Load(writeFile(t, "smtp:\n  hostname: x\n"), noEnv); err == nil {
		t.Error("a misspelt smtp key was accepted")
	}
}

func TestValidateSMTP(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		smtp SMTP
		want string // part of the error; "" for valid
	}{
		{"starttls by default", SMTP{Host: "mail.example.com", Username: "u", Password: "p", From: "noreply@example.com"}, ""},
		{"plain to a local relay", SMTP{Host: "127.0.0.1", TLS: "none", Port: 25, From: "noreply@example.com"}, ""},
		{"a password in the clear", SMTP{Host: "mail.example.com", TLS: "none", Username: "u", Password: "p", From: "noreply@example.com"}, "unencrypted"},
		{"links in the clear to another host", SMTP{Host: "relay.internal", TLS: "none", Port: 25, From: "noreply@example.com"}, "unencrypted"},
		{"plain to localhost by name", SMTP{Host: "localhost", TLS: "none", Port: 25, From: "noreply@example.com"}, ""},
		{"unknown mode", SMTP{Host: "mail.example.com", TLS: "ssl", From: "noreply@example.com"}, "smtp.tls"},
		{"no from", SMTP{Host: "mail.example.com"}, "smtp.from"},
		{"from without a domain", SMTP{Host: "mail.example.com", From: "noreply"}, "smtp.from"},
		{"user without password", SMTP{Host: "mail.example.com", Username: "u", From: "noreply@example.com"}, "smtp.password"},
		{"port in the host", SMTP{Host: "mail.example.com:587", From: "noreply@example.com"}, "smtp.host"},
		{"settings without a host", SMTP{From: "noreply@example.com"}, "smtp.host"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.SMTP = tt.smtp
			err := c.Validate()
			if tt.want == "" && err != nil {
				t.Errorf("Validate = %v", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v; want it to mention %q", err, tt.want)
			}
		})
	}
	c := Default()
	c.Invitations.Lifetime = Duration(100 * 24 * time.Hour)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "invitations.lifetime") {
		t.Errorf("a 100-day lifetime: %v", err)
	}
	if d := Default(); d.Invitations.Retention != Duration(365*24*time.Hour) {
		t.Errorf("default invitations.retention %s, want 365d", d.Invitations.Retention)
	}
	c = Default()
	c.Invitations.Retention = Duration(time.Second)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "invitations.retention") {
		t.Errorf("a 1-second retention: %v", err)
	}
	c, err := Load(writeFile(t, "invitations: {retention: 30d}\n"), noEnv)
	if err != nil || c.Validate() != nil || c.Invitations.Retention != Duration(30*24*time.Hour) {
		t.Errorf("retention: 30d loaded as %v (%v)", c.Invitations.Retention, err)
	}
}

// TestValidateInvitationLimits: the invitation mail limits load from
// YAML, default to 100 per organization and 50 per sender, take 0 for no
// limit, and refuse a negative number.
func TestValidateInvitationLimits(t *testing.T) {
	t.Parallel()
	d := Default()
	if d.Invitations.MailsPerOrgPerHour != 100 || d.Invitations.MailsPerSenderPerHour != 50 {
		t.Errorf("defaults: %+v", d.Invitations)
	}
	c, err := Load(writeFile(t, "invitations:\n  mails_per_organization_per_hour: 0\n  mails_per_sender_per_hour: 7\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Invitations.MailsPerOrgPerHour != 0 || c.Invitations.MailsPerSenderPerHour != 7 {
		t.Errorf("loaded %+v, %v", c.Invitations, err)
	}
	for _, tt := range []struct {
		name string
		edit func(*Invitations)
		want string
	}{
		{"per organization", func(i *Invitations) { i.MailsPerOrgPerHour = -1 }, "invitations.mails_per_organization_per_hour: must not be negative"},
		{"per sender", func(i *Invitations) { i.MailsPerSenderPerHour = -5 }, "invitations.mails_per_sender_per_hour: must not be negative"},
	} {
		c := Default()
		tt.edit(&c.Invitations)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v; want %q", tt.name, err, tt.want)
		}
	}
}
