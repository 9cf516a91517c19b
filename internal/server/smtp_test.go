package server

import (
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

// smtpServer is a tiny SMTP server on loopback (RFC 5321, just enough for
// net/smtp): it takes every message and keeps it.
type smtpServer struct {
	ln       net.Listener
	mu       sync.Mutex
	messages []smtpMessage
}

type smtpMessage struct {
	From, To string
	Data     []byte
}

// startSMTP listens on addr ("127.0.0.1:0" for any port) until the test ends.
func startSMTP(t *testing.T, addr string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(conn)
	reply := func(format string, args ...any) bool { return tp.PrintfLine(format, args...) == nil }
	if !reply("220 mail.test ESMTP ready") {
		return
	}
	var msg smtpMessage
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-mail.test")
			reply("250 8BITMIME")
		case "HELO", "NOOP", "RSET":
			reply("250 OK")
		case "MAIL":
			msg = smtpMessage{From: arg}
			reply("250 OK")
		case "RCPT":
			msg.To = arg
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			msg.Data = data
			s.mu.Lock()
			s.messages = append(s.messages, msg)
			s.mu.Unlock()
			reply("250 OK queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func (s *smtpServer) received() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.messages...)
}

// readInvitationMail parses a message as a mail client would and returns
// its decoded subject and text.
func readInvitationMail(t *testing.T, m smtpMessage) (subject, text string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, m.Data)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	mustDo(t, err)
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	mustDo(t, err)
	return subject, string(body)
}

var invitationLink = regexp.MustCompile(`http://[^\s]+/invitations/(lk_inv_[A-Za-z0-9_-]+)`)

// TestInvitationEmailOverSMTP: the invitation goes through a real SMTP
// conversation to a server on loopback; the device uses the link in it.
func TestInvitationEmailOverSMTP(t *testing.T) {
	t.Parallel()
	mta := startSMTP(t, "127.0.0.1:0")
	s := newInvServer(t, backends[0], func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: mta.port(), TLS: "none", From: "Latchkey <noreply@latchkey.test>"}
	})
	// send, not invite: the token is read from the mail, since the outbox
	// forgets it once the mail is out.
	id := s.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "ops@acme.example",
		"message": "Für den Heizraum.\nThanks!"})
	eventually(t, "delivery to the mail server", func() bool { return len(mta.received()) == 1 })
	m := mta.received()[0]
	if m.From != "FROM:<noreply@latchkey.test>" && !strings.HasPrefix(m.From, "FROM:<noreply@latchkey.test>") {
		t.Errorf("MAIL %s", m.From)
	}
	if m.To != "TO:<ops@acme.example>" {
		t.Errorf("RCPT %s", m.To)
	}
	subject, text := readInvitationMail(t, m)
	if subject != "Connect a device to Acme Sensors" || !strings.Contains(text, "Für den Heizraum.") || !strings.Contains(text, "Readers") {
		t.Errorf("mail %q:\n%s", subject, text)
	}
	link := invitationLink.FindStringSubmatch(text)
	if link == nil {
		t.Fatalf("no invitation link in the mail:\n%s", text)
	}
	// Sent: the outbox no longer holds the token.
	eventually(t, "the outbox to record the delivery", func() bool {
		ms, _ := s.Store.ListMail(t.Context(), id)
		return len(ms) == 1 && ms[0].Status == store.MailSent
	})
	ms, _ := s.Store.ListMail(t.Context(), id)
	if ms[0].Body != "" || ms[0].Link != "" || ms[0].Attempts != 1 {
		t.Errorf("sent mail in the outbox: %+v", ms[0])
	}
	r := s.accept(t, link[1], "", nil)
	if r.Status != 201 {
		t.Fatalf("accept with the emailed token: %d %s", r.Status, r.Raw)
	}
	if _, claims := s.deviceToken(t, r.str("clientId"), r.str("clientSecret")); claims.OrgID != acmeOrg {
		t.Errorf("claims: %+v", claims)
	}
}

// TestInvitationEmailWhileMailServerDown: the mail server is down when the
// invitation is sent; the invitation waits in the outbox, is retried with
// backoff, and goes out once the server is back. Nothing is lost.
func TestInvitationEmailWhileMailServerDown(t *testing.T) {
	t.Parallel()
	// A port with nothing listening: connections are refused.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	mustDo(t, err)
	addr := probe.Addr().String()
	probe.Close()
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	s := newInvServer(t, backends[0], func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: port, TLS: "none", From: "noreply@latchkey.test"}
	})
	id, _ := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
	mail := func() *store.Mail {
		ms, err := s.Store.ListMail(t.Context(), id)
		mustDo(t, err)
		return ms[0]
	}
	eventually(t, "a failed attempt", func() bool { return mail().Attempts >= 1 })
	m := mail()
	if m.Status != store.MailPending || m.LastError == "" || m.Link == "" || !m.NextAttemptAt.After(s.Clock.Now()) {
		t.Fatalf("mail after a failed attempt: %+v", m)
	}
	// Not retried before its time (the clock stands still).
	time.Sleep(200 * time.Millisecond)
	if got := mail().Attempts; got != 1 {
		t.Errorf("attempts before the backoff ended: %d", got)
	}

	mta := startSMTP(t, addr)
	s.Clock.Advance(31 * time.Second) // past the first backoff
	eventually(t, "delivery once the mail server is back", func() bool { return len(mta.received()) == 1 })
	eventually(t, "the outbox to record it", func() bool { return mail().Status == store.MailSent })
	if got := mail().Attempts; got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
	_, text := readInvitationMail(t, mta.received()[0])
	link := invitationLink.FindStringSubmatch(text)
	if link == nil {
		t.Fatalf("no link in:\n%s", text)
	}
	if r := s.accept(t, link[1], "", nil); r.Status != 201 {
		t.Errorf("accept: %d %s", r.Status, r.Raw)
	}
}

// TestResendOverSMTP: a resend goes through the outbox and the mail server
// like the first email; the link in the first one no longer works, the
// one in the second does.
func TestResendOverSMTP(t *testing.T) {
	t.Parallel()
	mta := startSMTP(t, "127.0.0.1:0")
	s := newInvServer(t, backends[0], func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: mta.port(), TLS: "none", From: "noreply@latchkey.test"}
	})
	id := s.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "ops@acme.example"})
	eventually(t, "the first email", func() bool { return len(mta.received()) == 1 })
	if r := s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id, "resend"), s.adminAT, nil); r.Status != 200 {
		t.Fatalf("resend: %d %s", r.Status, r.Raw)
	}
	eventually(t, "the second email", func() bool { return len(mta.received()) == 2 })
	var tokens []string
	for _, m := range mta.received() {
		subject, text := readInvitationMail(t, m)
		link := invitationLink.FindStringSubmatch(text)
		if link == nil || subject != "Connect a device to Acme Sensors" || m.To != "TO:<ops@acme.example>" {
			t.Fatalf("mail to %s %q:\n%s", m.To, subject, text)
		}
		tokens = append(tokens, link[1])
	}
	if tokens[0] == tokens[1] {
		t.Fatal("the resent email carries the first token")
	}
	eventually(t, "the outbox to record the delivery", func() bool {
		ms, _ := s.Store.ListMail(t.Context(), id)
		return len(ms) == 2 && ms[1].Status == store.MailSent
	})
	wantOAuthError(t, s.accept(t, tokens[0], "", nil), 410, "invalid_invitation")
	if r := s.accept(t, tokens[1], "", nil); r.Status != 201 {
		t.Fatalf("accept with the resent token: %d %s", r.Status, r.Raw)
	}
}
