package grant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Refresh is the refresh token grant (RFC 6749 §6) with rotation: every use
// returns a new refresh token, and presenting a used one revokes the whole
// grant, since either the client or an attacker holds a stolen copy
// (RFC 9700 §4.14.2).
type Refresh struct {
	*Deps
	Store interface {
		RotateRefreshToken(ctx context.Context, oldHash, nextHash string, idleUntil, now time.Time, check func(*store.RefreshFamily) error) (*store.RefreshFamily, error)
		RevokeGrant(ctx context.Context, id string, now time.Time) error
	}
	// SessionIdleTimeout is the browser sessions' idle timeout (0: none): an
	// attached client's grant ends with its session, however that ends.
	SessionIdleTimeout time.Duration
}

// GrantType is refresh_token.
func (Refresh) GrantType() string { return store.GrantRefreshToken }

// Exchange rotates a refresh token.
func (g Refresh) Exchange(ctx context.Context, req *Request) (*token.Response, error) {
	rt := req.Form.Get("refresh_token")
	if rt == "" {
		return nil, oauth.BadRequest("refresh_token is required")
	}
	c, err := g.Authenticate(ctx, req.Creds, store.GrantRefreshToken)
	if err != nil {
		return nil, err
	}
	jkt, err := g.Bind(c, req)
	if err != nil {
		return nil, err
	}
	invalid := &oauth.Error{Code: oauth.InvalidGrant, Description: "the refresh token is invalid, expired or revoked"}
	// The scopes asked for, checked against the token's below; none asked:
	// the token's own.
	var scopes []string
	if s := req.Form.Get("scope"); s != "" {
		if scopes, err = oauth.ParseScope(s); err != nil {
			return nil, err
		}
	}
	next, err := oauth.NewSecret(g.Rand, oauth.PrefixRefreshToken)
	if err != nil {
		return nil, err
	}
	now := g.Now()
	// The tokens are signed as soon as the checks have passed, in a
	// goroutine of their own, so that the signing (two ECDSA signatures,
	// the larger part of a rotation's own work) overlaps the shared commit
	// the rotation waits for instead of following it. Tokens signed for a
	// rotation that then does not commit are dropped unsent.
	var minted chan mintResult
	endedGrant := "" // the grant whose attached session has ended
	// One transaction marks the old token used and stores the next, so a
	// database lost halfway leaves the old one working, never neither; the
	// checks run inside it, before anything commits, so a token that may
	// not be used is never rotated.
	fam, err := g.Store.RotateRefreshToken(ctx, oauth.HashSecret(rt), oauth.HashSecret(next), g.idleUntil(c, now), now,
		func(f *store.RefreshFamily) error {
			if f.Token.ClientID != c.ID {
				// Bound to the client it was issued to (RFC 6749 §6); another
				// client presenting it learns nothing and changes nothing.
				return invalid
			}
			if !f.Grant.Active(now) || !now.Before(f.Token.ExpiresAt) {
				return invalid
			}
			if f.Grant.DPoPJKT != "" && f.Grant.DPoPJKT != jkt {
				// RFC 9449 §5: a public client's refresh token is bound to
				// its DPoP key; without a proof of that key it is refused,
				// and the holder's copy stays good (nothing rotated).
				return &oauth.Error{Code: oauth.InvalidGrant, Description: "the refresh token is bound to a DPoP key: send a proof signed with it"}
			}
			if f.Grant.UserID != "" && (f.User == nil || f.User.Disabled) {
				// docs/security.md DF-17: the user's status is checked at
				// every use, not only at approval.
				return userGone()
			}
			if c.Attached() && f.Grant.SessionHash != "" &&
				!sessionLive(f.Session, g.SessionIdleTimeout, now) {
				// An attached client's grant lives as long as the browser
				// session it was approved in (10Duke's meaning of
				// attached), however that session ended: signed out (which
				// revoked the grant already), timed out, idle, replaced by
				// another sign-in, or swept (docs/security.md G-9).
				endedGrant = f.Grant.ID
				return invalid
			}
			if scopes == nil {
				scopes = f.Token.Scopes
			} else if missing, ok := oauth.ScopeSubset(scopes, f.Token.Scopes); !ok {
				return &oauth.Error{Code: oauth.InvalidScope, Description: "scope " + missing + " was not granted"}
			}
			minted = g.mintAsync(ctx, token.Issue{Client: c, Grant: f.Grant, User: f.User, Scopes: scopes, Refresh: next, JKT: jkt})
			return nil
		})
	switch {
	case errors.Is(err, store.ErrConflict):
		// Used already: either the client or an attacker holds a stolen
		// copy. Only the client it was issued to, with a token that has not
		// expired, sets off the revocation.
		if fam.Token.ClientID != c.ID || !now.Before(fam.Token.ExpiresAt) {
			return nil, invalid
		}
		if concurrentRefresh(fam, now) {
			// A loser of concurrent refreshes of one token (a client that
			// sent the same refresh twice at once): it gets nothing, and the
			// winner's new token stays good (docs/security.md RT-04).
			secevent.Log(ctx, g.Log, secevent.Event{Name: secevent.RefreshReuse, Outcome: secevent.Kept, ClientID: c.ID, GrantID: fam.Token.GrantID,
				Reason: "concurrent refresh"})
			return nil, &oauth.Error{Code: oauth.InvalidGrant,
				Description: "the refresh token was used by a concurrent request; use the refresh token that request got"}
		}
		if err := g.Store.RevokeGrant(ctx, fam.Token.GrantID, now); err != nil {
			return nil, fmt.Errorf("revoke grant on refresh token reuse: %w", err)
		}
		g.Log.WarnContext(ctx, "refresh token reused; its grant was revoked", "client_id", c.ID, "grant_id", fam.Token.GrantID)
		secevent.Log(ctx, g.Log, secevent.Event{Name: secevent.RefreshReuse, Outcome: secevent.Revoked, ClientID: c.ID, GrantID: fam.Token.GrantID,
			UserID: familyUser(fam), Reason: "refresh token reused"})
		return nil, invalid
	case errors.Is(err, store.ErrNotFound):
		return nil, invalid
	case err != nil && endedGrant != "":
		if err := g.Store.RevokeGrant(ctx, endedGrant, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("revoke grant of an ended session: %w", err)
		}
		secevent.Log(ctx, g.Log, secevent.Event{Name: secevent.TokenRevoked, Outcome: secevent.Revoked, ClientID: c.ID, GrantID: endedGrant,
			Reason: "attached session ended"})
		return nil, invalid
	case err != nil:
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return nil, err // refused by the checks
		}
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	if minted == nil {
		// A store that succeeded without calling check would be a bug;
		// refuse rather than issue unchecked tokens.
		return nil, errors.New("rotate refresh token: the store did not check the token")
	}
	m := <-minted
	return m.resp, m.err
}

// familyUser is the id of the user fam's grant acts for; "" for none.
func familyUser(fam *store.RefreshFamily) string {
	if fam == nil || fam.Grant == nil {
		return ""
	}
	return fam.Grant.UserID
}

// sessionLive reports whether the browser session s is still signed in at
// now: it exists, its absolute lifetime has not run out, and it has been
// used within idle (0: no idle limit), as session.Manager judges it. The
// session's last use is recorded to within a minute, so an idle timeout
// holds to within a minute here too.
func sessionLive(s *store.Session, idle time.Duration, now time.Time) bool {
	if s == nil || !now.Before(s.ExpiresAt) {
		return false
	}
	seen := s.LastSeenAt
	if seen.IsZero() {
		seen = s.CreatedAt
	}
	return idle <= 0 || now.Before(seen.Add(idle))
}

// ConcurrentRefreshWindow is how soon after a refresh token's use a second
// use counts as a concurrent request rather than a reuse.
const ConcurrentRefreshWindow = time.Second

// concurrentRefresh reports whether a second use of fam's token, at now,
// is a loser of concurrent refreshes rather than a reuse: the token was used
// less than ConcurrentRefreshWindow before now, and the token it was rotated
// into has not been used since. Anything later, or behind the latest token
// of the chain, is reuse and revokes the grant (RFC 9700 §4.14.2). The loser
// gets no tokens either way, so the window spares only the revocation: an
// attacker who uses a stolen token within a second before its holder does
// keeps the successor, where the holder's use would otherwise have revoked
// it; that is the price of not logging out a client that sent one refresh
// twice.
//
// The window is measured both ways: the loser's clock may have been read
// before the winner's, or on an instance whose clock is behind.
func concurrentRefresh(fam *store.RefreshFamily, now time.Time) bool {
	if fam.Successor == nil || !fam.Successor.UsedAt.IsZero() || fam.Token.UsedAt.IsZero() {
		return false
	}
	d := now.Sub(fam.Token.UsedAt)
	return d > -ConcurrentRefreshWindow && d < ConcurrentRefreshWindow
}

type mintResult struct {
	resp *token.Response
	err  error
}

// mintAsync signs in's tokens in a goroutine and hands the result over on
// the returned channel, which never blocks the signer.
func (g Refresh) mintAsync(ctx context.Context, in token.Issue) chan mintResult {
	ch := make(chan mintResult, 1)
	go func() {
		resp, err := g.Minter.Mint(ctx, in)
		ch <- mintResult{resp, err}
	}()
	return ch
}
