package workload

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Mailbox is a small SMTP server on loopback (RFC 5321, as much as net/smtp
// speaks) that takes every invitation email Latchkey sends and keeps the
// invitation token of its link by recipient. It outlives the server it
// listens for, so mail that a restarted server sends from its outbox still
// arrives.
type Mailbox struct {
	ln     net.Listener
	mu     sync.Mutex
	tokens map[string]string // recipient address → invitation token
	wake   chan struct{}     // closed and replaced whenever mail arrives
	count  int
}

// ListenMailbox starts a Mailbox on 127.0.0.1 at a free port.
func ListenMailbox() (*Mailbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Mailbox{ln: ln, tokens: map[string]string{}, wake: make(chan struct{})}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go m.serve(conn)
		}
	}()
	return m, nil
}

// Port is the port Latchkey's smtp.port must name (smtp.host 127.0.0.1,
// smtp.tls none).
func (m *Mailbox) Port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening.
func (m *Mailbox) Close() error { return m.ln.Close() }

// Received is how many messages arrived.
func (m *Mailbox) Received() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// Token waits until mail to recipient has arrived and returns the
// invitation token its link carries.
func (m *Mailbox) Token(ctx context.Context, recipient string) (string, error) {
	for {
		m.mu.Lock()
		tok, ok := m.tokens[strings.ToLower(recipient)]
		wake := m.wake
		m.mu.Unlock()
		if ok {
			return tok, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

var invitationToken = regexp.MustCompile(`/invitations/(lk_inv_[A-Za-z0-9_-]+)`)

func (m *Mailbox) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(conn)
	reply := func(line string) bool { return tp.PrintfLine("%s", line) == nil }
	if !reply("220 mailbox.test ESMTP") {
		return
	}
	var rcpt string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-mailbox.test")
			reply("250 8BITMIME")
		case "HELO", "NOOP", "RSET", "MAIL":
			reply("250 OK")
		case "RCPT":
			_, addr, _ := strings.Cut(arg, ":") // "TO:<ops@example.test>"
			rcpt = strings.ToLower(strings.Trim(addr, "<> "))
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.deliver(rcpt, data)
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// deliver files a message by its recipient, with the token of its link.
func (m *Mailbox) deliver(rcpt string, data []byte) {
	var tok string
	if msg, err := mail.ReadMessage(strings.NewReader(string(data))); err == nil {
		var body []byte
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body, _ = io.ReadAll(quotedprintable.NewReader(msg.Body))
		} else {
			body, _ = io.ReadAll(msg.Body)
		}
		if s := invitationToken.FindStringSubmatch(string(body)); s != nil {
			tok = s[1]
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count++
	if tok != "" {
		m.tokens[rcpt] = tok // a resent invitation's newer token replaces the old
	}
	close(m.wake)
	m.wake = make(chan struct{})
}
