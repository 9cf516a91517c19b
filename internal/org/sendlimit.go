package org

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/throttle"
)

// SendLimits bound the invitation emails admins have Latchkey send, device
// and member invitations alike, sent and resent, in any hour
// (docs/security.md INV-14): an organization's admin, or a stolen admin
// session, cannot have it mail an address, or many, without end. Both are
// counted in the store, so they hold across instances. Zero: no limit.
type SendLimits struct {
	PerOrg    int // emails of one organization's invitations
	PerSender int // emails one sender asks for (a user, or the admin token), whatever the organization
}

// SendWindow is the sliding window SendLimits count in.
const SendWindow = time.Hour

// spendSend counts one invitation email of organization orgID that by
// (a user's id, or InvitedByAdmin) asks for, against SendLimits, and
// refuses it with 429 and Retry-After when a budget is spent; a refused
// email is not counted. refund takes a counted one back, for a send that
// then fails.
func (s *Service) spendSend(ctx context.Context, orgID, by string) (refund func(), err error) {
	w := throttle.Window{Length: SendWindow}
	now := s.now()
	var spent []throttle.Attempt
	refund = func() {
		for _, a := range spent {
			// Even when the request is gone: an email not sent must not count.
			if err := throttle.Refund(context.WithoutCancel(ctx), s.Store, a); err != nil {
				s.log().WarnContext(ctx, "invitation mail limit: refund failed", "err", err)
			}
		}
	}
	for _, b := range []struct {
		key, reason, what string
		limit             int
	}{
		{"invitation-mail:org:" + orgID, "invitation mails per organization", "from this organization", s.SendLimits.PerOrg},
		{"invitation-mail:sender:" + by, "invitation mails per sender", "asked for by you", s.SendLimits.PerSender},
	} {
		if b.limit <= 0 {
			continue
		}
		n, a, err := w.Hit(ctx, s.Store, b.key, now)
		if err != nil {
			refund()
			return nil, fmt.Errorf("invitation mail limit: %w", err)
		}
		spent = append(spent, a)
		if n > b.limit {
			refund()
			e := secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: b.reason}
			if by != InvitedByAdmin {
				e.UserID = by
			}
			secevent.Log(ctx, s.Log, e)
			return nil, &oauth.Error{Code: codeTooMany, Status: http.StatusTooManyRequests, Err: secevent.ErrLogged,
				RetryAfter:  int(w.RetryAfter(now) / time.Second),
				Description: fmt.Sprintf("too many invitation emails %s: at most %d in an hour; try again later", b.what, b.limit)}
		}
	}
	return refund, nil
}
