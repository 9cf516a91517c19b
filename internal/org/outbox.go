package org

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/store"
)

// Sender delivers the outbox: every Interval, and whenever Kick says new
// mail is waiting, it claims due mail (store.OutboxStore.ClaimMail, so
// instances never send one mail twice at once) and hands each to Mailer. A
// mail the server did not take stays in the outbox and is tried again after
// a growing pause, for as long as its invitation is pending: a mail server
// that is down delays an invitation, and never loses one. Without a Mailer
// it sends nothing (the development outbox) and only cancels the mail of
// invitations that ended.
type Sender struct {
	Store interface {
		ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Mail, error)
		MarkMailSent(ctx context.Context, id string, now time.Time) error
		MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error
		CancelStaleMail(ctx context.Context, now time.Time) (int64, error)
	}
	Mailer   Mailer // nil: keep mail in the outbox
	Now      func() time.Time
	Log      *slog.Logger
	Interval time.Duration // how often to look for due mail; 10s when zero
	Lease    time.Duration // how long a claimed mail is this sender's; 2m when zero
	// Backoff is the pause after the nth failed attempt; Retry when nil.
	Backoff func(attempts int) time.Duration
	// Metrics counts mail sent and failed attempts (nil: off).
	Metrics *metrics.Metrics

	once sync.Once
	kick chan struct{}
}

// Retry is the default backoff: 30s after the first failure, doubling up
// to an hour.
func Retry(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// batch is how many mails one claim takes.
const batch = 10

func (s *Sender) init() { s.once.Do(func() { s.kick = make(chan struct{}, 1) }) }

// Kick asks Run to look for due mail now rather than at its next tick.
func (s *Sender) Kick() {
	s.init()
	select {
	case s.kick <- struct{}{}:
	default: // a look is due already
	}
}

// Run sends until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	interval := s.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log().Warn("outbox: cannot reach the store; will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// RunOnce cancels the mail of ended invitations and sends what is due, and
// returns how many mails the server took.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.now()
	if n, err := s.Store.CancelStaleMail(ctx, now); err != nil {
		return 0, err
	} else if n > 0 {
		s.log().Debug("outbox: cancelled the mail of invitations that ended", "mails", n)
	}
	if s.Mailer == nil {
		return 0, nil
	}
	lease := s.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	sent := 0
	for ctx.Err() == nil {
		ms, err := s.Store.ClaimMail(ctx, s.now(), lease, batch)
		if err != nil {
			return sent, err
		}
		for _, m := range ms {
			if s.deliver(ctx, m) {
				sent++
			}
		}
		if len(ms) < batch {
			break
		}
	}
	return sent, nil
}

// deliver sends one claimed mail and records what happened.
func (s *Sender) deliver(ctx context.Context, m *store.Mail) bool {
	err := s.Mailer.Send(ctx, m)
	now := s.now()
	if err == nil {
		s.Metrics.MailSent()
		if err := s.Store.MarkMailSent(ctx, m.ID, now); err != nil {
			// Sent, but not recorded: the lease runs out and it may go
			// twice, which is better than never.
			s.log().Warn("outbox: email sent, but not recorded", "mail_id", m.ID, "err", err)
		}
		s.log().Info("outbox: email sent", "invitation_id", m.InvitationID, "attempts", m.Attempts+1)
		return true
	}
	if ctx.Err() != nil {
		return false // stopping: the lease runs out and another sender takes it
	}
	backoff := s.Backoff
	if backoff == nil {
		backoff = Retry
	}
	s.Metrics.MailFailed()
	next := now.Add(backoff(m.Attempts + 1))
	// What the server said, as text the store keeps (store.ValidText).
	reason := strings.ReplaceAll(strings.ToValidUTF8(err.Error(), "?"), "\x00", "")
	if len(reason) > 500 {
		reason = strings.ToValidUTF8(reason[:500], "")
	}
	if err := s.Store.MarkMailFailed(ctx, m.ID, reason, next); err != nil {
		s.log().Warn("outbox: email not sent, and the failure not recorded", "mail_id", m.ID, "err", err)
	}
	s.log().Warn("outbox: email not sent; it stays in the outbox", "invitation_id", m.InvitationID,
		"attempts", m.Attempts+1, "next_attempt", next, "err", err)
	return false
}

func (s *Sender) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Sender) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
