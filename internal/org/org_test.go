package org

import (
	"context"
	"errors"
	"github.com/latchkey/latchkey/internal/clientauth"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestCheckAppLink(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		link string
		ok   bool
	}{
		{"", true},
		{"myapp://invitation", true},
		{"com.example.sensor:/join", true},
		{"https://app.example/invitation", true},
		{"myapp://invitation?source=email", true},
		{"javascript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"data:text/html,<b>", false},
		{"http://app.example/x", false},
		{"file:///etc/passwd", false},
		{"myapp://x#frag", false},
		{"myapp://x\"onclick=", false},
		{"//no-scheme", false},
		{"1app://x", false},
		{"my app://x", false},
		{"myapp:", false},
	} {
		if err := CheckAppLink(tt.link); (err == nil) != tt.ok {
			t.Errorf("CheckAppLink(%q) = %v; want ok %v", tt.link, err, tt.ok)
		}
	}
}

func TestAppLinkFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ base, want string }{
		{"", ""},
		{"myapp://invitation", "myapp://invitation?token=lk_inv_a-b_c"},
		{"myapp://invitation?from=mail", "myapp://invitation?from=mail&token=lk_inv_a-b_c"},
		{"myapp://invitation?", "myapp://invitation?token=lk_inv_a-b_c"},
	} {
		if got := AppLinkFor(tt.base, "lk_inv_a-b_c"); got != tt.want {
			t.Errorf("AppLinkFor(%q) = %q, want %q", tt.base, got, tt.want)
		}
	}
}

func TestCheckEmailAndMessage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want string // "" for refused
	}{
		{"ops@acme.example", "ops@acme.example"},
		{" ops@acme.example", ""},
		{"Ops <ops@acme.example>", ""},
		{"a@example.com, b@example.com", ""},
		{"a@example.com\r\nBcc: x@example.com", ""},
		{"not an address", ""},
		{"", ""},
	} {
		got, err := checkEmail(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("checkEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := checkMessage("Hello,\r\nplease connect.\n"); err != nil || got != "Hello,\nplease connect." {
		t.Errorf("checkMessage = %q, %v", got, err)
	}
	for _, bad := range []string{"tab\there", "nul\x00", "bell\a", strings.Repeat("x", MaxMessageLength+1), "\xff"} {
		if _, err := checkMessage(bad); err == nil {
			t.Errorf("checkMessage(%q) accepted", bad)
		}
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		attempts int
		want     time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {8, time.Hour}, {50, time.Hour},
	} {
		if got := Retry(tt.attempts); got != tt.want {
			t.Errorf("Retry(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

// TestMessage: the email is RFC 5322 with a Q-encoded subject and a
// quoted-printable body, and nothing in the mail can add a header.
func TestMessage(t *testing.T) {
	t.Parallel()
	from, _ := mail.ParseAddress("Latchkey <noreply@latchkey.test>")
	to, _ := mail.ParseAddress("ops@acme.example")
	m := &store.Mail{ID: "m1", Subject: "Connect a device to Acme\r\nBcc: evil@example.com", Body: "Grüße\nhttps://id.example/invitations/lk_inv_" + strings.Repeat("x", 90) + "\n"}
	raw, err := Message(from, to, m, t0)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, raw)
	}
	if msg.Header.Get("Bcc") != "" || strings.Contains(string(raw), "\r\nBcc:") {
		t.Errorf("a header was injected:\n%s", raw)
	}
	for h, want := range map[string]string{
		"From": `"Latchkey" <noreply@latchkey.test>`, "To": "<ops@acme.example>", "Message-Id": "<m1@latchkey.test>",
		"Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := msg.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(m.Body, "\n", "\r\n"); string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78 characters: %q", line)
		}
	}
}

// plainSMTP is an SMTP server that offers no STARTTLS and records whether
// a message reached it.
func plainSMTP(t *testing.T, host string) (port int, got func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tp := textproto.NewConn(conn)
				tp.PrintfLine("220 plain ESMTP")
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					switch verb, _, _ := strings.Cut(line, " "); strings.ToUpper(verb) {
					case "EHLO":
						tp.PrintfLine("250-plain")
						tp.PrintfLine("250 AUTH PLAIN")
					case "DATA":
						tp.PrintfLine("354 go on")
						if _, err := tp.ReadDotBytes(); err != nil {
							return
						}
						mu.Lock()
						n++
						mu.Unlock()
						tp.PrintfLine("250 ok")
					case "QUIT":
						tp.PrintfLine("221 bye")
						return
					default:
						tp.PrintfLine("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestSMTPRefusesToDowngrade: starttls is required, not hoped for; and a
// password never goes over a plain connection to another host.
func TestSMTPRefusesToDowngrade(t *testing.T) {
	t.Parallel()
	port, delivered := plainSMTP(t, "127.0.0.1")
	m := &store.Mail{ID: "m1", Recipient: "ops@acme.example", Subject: "s", Body: "b"}
	err := (&SMTP{Host: "127.0.0.1", Port: port, TLS: TLSStartTLS, From: "noreply@latchkey.test"}).Send(t.Context(), m)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("starttls against a server without it: %v", err)
	}
	// net/smtp's PlainAuth sends a password in the clear only to
	// localhost; 127.0.0.2 is loopback too, but not by that name.
	port2, delivered2 := plainSMTP(t, "127.0.0.2")
	err = (&SMTP{Host: "127.0.0.2", Port: port2, TLS: TLSNone, Username: "u", Password: "p", From: "noreply@latchkey.test"}).Send(t.Context(), m)
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("AUTH PLAIN without TLS to another host: %v", err)
	}
	if n := delivered() + delivered2(); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
	if err := (&SMTP{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "noreply@latchkey.test"}).Send(t.Context(), m); err != nil {
		t.Errorf("plain, no auth: %v", err)
	}
	if n := delivered(); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
}

type flakyMailer struct {
	mu    sync.Mutex
	fail  bool
	mails []*store.Mail
}

func (f *flakyMailer) Send(_ context.Context, m *store.Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("421 service not available\x00\xff")
	}
	f.mails = append(f.mails, m)
	return nil
}

// TestSenderRetries: a mail the server refuses stays in the outbox and is
// sent once the backoff has passed and the server takes it.
func TestSenderRetries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := sqlitetest.Open(t)
	now := t0
	clock := func() time.Time { return now }
	for _, err := range []error{
		st.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme"}),
		st.CreateClientGroup(ctx, &store.ClientGroup{ID: "g", OrgID: "acme", Name: "G"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	svc := &Service{Store: st, Clients: clientauth.Direct{Store: st}, Issuer: "https://id.example", Now: clock, Lifetime: time.Hour}
	inv, err := svc.CreateInvitation(ctx, "acme", InvitationRequest{GroupIDs: []string{"g"}, Email: "ops@acme.example"}, InvitedByAdmin)
	if err != nil {
		t.Fatal(err)
	}
	mailer := &flakyMailer{fail: true}
	sender := &Sender{Store: st, Mailer: mailer, Now: clock}
	if n, err := sender.RunOnce(ctx); n != 0 || err != nil {
		t.Fatalf("RunOnce while the server refuses = %d, %v", n, err)
	}
	ms, _ := st.ListMail(ctx, inv.ID)
	if ms[0].Status != store.MailPending || ms[0].Attempts != 1 || !ms[0].NextAttemptAt.Equal(t0.Add(30*time.Second)) ||
		!strings.Contains(ms[0].LastError, "421") {
		t.Fatalf("mail after a refusal: %+v", ms[0])
	}
	mailer.fail = false
	if n, _ := sender.RunOnce(ctx); n != 0 {
		t.Errorf("sent %d before the backoff ended", n)
	}
	now = t0.Add(31 * time.Second)
	if n, err := sender.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce after the backoff = %d, %v", n, err)
	}
	if len(mailer.mails) != 1 || !strings.Contains(mailer.mails[0].Body, "https://id.example/invitations/lk_inv_") {
		t.Errorf("mailed: %+v", mailer.mails)
	}
	ms, _ = st.ListMail(ctx, inv.ID)
	if ms[0].Status != store.MailSent || ms[0].Body != "" || ms[0].Link != "" {
		t.Errorf("mail after sending: %+v", ms[0])
	}
	// Without a mail server nothing is sent, but an ended invitation's
	// mail is erased.
	inv2, err := svc.CreateInvitation(ctx, "acme", InvitationRequest{GroupIDs: []string{"g"}, Email: "ops@acme.example", Lifetime: time.Minute}, InvitedByAdmin)
	if err != nil {
		t.Fatal(err)
	}
	idle := &Sender{Store: st, Now: func() time.Time { return now.Add(2 * time.Minute) }}
	if _, err := idle.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if ms, _ := st.ListMail(ctx, inv2.ID); ms[0].Status != store.MailCancelled || ms[0].Body != "" {
		t.Errorf("expired invitation's mail: %+v", ms[0])
	}
}
