package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/grant"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Grant is the device_code grant at the token endpoint: the device access
// token request (RFC 8628 §3.4) and its answers while the person decides
// (§3.5). It shares the token endpoint's phases (grant.Deps) and keeps
// RFC 8628's polling rules here, with the authorization it polls.
type Grant struct {
	*grant.Deps
	Store interface {
		PollDeviceAuth(ctx context.Context, deviceCodeHash, clientID string, publicOnly bool, now time.Time) (*store.PollResult, error)
		RedeemDeviceAuth(ctx context.Context, deviceCodeHash string, g *store.Grant, refresh *store.RefreshToken, now time.Time) error
		RevokeGrant(ctx context.Context, id string, now time.Time) error
		GetGrant(ctx context.Context, id string) (*store.Grant, error)
		// GetClient reads the client of a public poll, which presented no
		// secret to authenticate with, once it is to get tokens.
		GetClient(ctx context.Context, id string) (*store.Client, error)
	}
}

// GrantType is urn:ietf:params:oauth:grant-type:device_code.
func (Grant) GrantType() string { return store.GrantDeviceCode }

// Exchange polls the device authorization. A pending poll from a public
// client costs one indexed statement: the store decides the outcome
// (expired, slow_down, pending, denied, used, or issue for an approved code)
// atomically, bound to the client that asked for it (store.DeviceStore
// PollDeviceAuth). Issue
// leads to redeem, where one transaction decides which poll gets the tokens.
func (g Grant) Exchange(ctx context.Context, req *grant.Request) (*token.Response, error) {
	code := req.Form.Get("device_code")
	if code == "" {
		return nil, oauth.BadRequest("device_code is required")
	}
	var c *store.Client
	if req.Creds.Secret != "" {
		var err error
		if c, err = g.Authenticate(ctx, req.Creds, store.GrantDeviceCode); err != nil {
			return nil, err
		}
	}
	now := g.Now()
	res, err := g.Store.PollDeviceAuth(ctx, oauth.HashSecret(code), req.Creds.ID, c == nil, now)
	if errors.Is(err, store.ErrNotFound) {
		if c == nil {
			// No public authorization matched: tell an unknown or
			// confidential client that it failed to authenticate, and a
			// client without the grant that it is not allowed, before
			// saying the code is unknown.
			if _, err := g.Authenticate(ctx, req.Creds, store.GrantDeviceCode); err != nil {
				return nil, err
			}
		}
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "unknown device_code"}
	}
	if err != nil {
		return nil, fmt.Errorf("poll device authorization: %w", err)
	}
	g.Metrics.Device(pollOutcomes[res.Outcome])
	switch res.Outcome {
	case store.PollPending:
		return nil, &oauth.Error{Code: oauth.AuthorizationPending, Description: "the user has not yet approved the request"}
	case store.PollSlowDown:
		// RFC 8628 §3.5: the client must add 5 seconds to its interval; the
		// store already did the same to the interval it expects.
		return nil, &oauth.Error{Code: oauth.SlowDown, Description: "polling too fast; add 5 seconds to the interval"}
	case store.PollDenied:
		if a := res.Auth; a.ErrorCode != "" || a.ErrorDescription != "" {
			// Decided through the service API: the error and description
			// its front end chose (Authlete's /device/complete).
			return nil, &oauth.Error{Code: cmp.Or(a.ErrorCode, oauth.AccessDenied),
				Description: cmp.Or(a.ErrorDescription, "the user denied the request")}
		}
		return nil, &oauth.Error{Code: oauth.AccessDenied, Description: "the user denied the request"}
	case store.PollExpired:
		return nil, &oauth.Error{Code: oauth.ExpiredToken, Description: "the device_code has expired"}
	case store.PollUsed:
		if err := g.reused(ctx, res.Auth, now); err != nil {
			return nil, err
		}
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the device_code was already used"}
	case store.PollIssue:
		resp, err := g.redeem(ctx, c, res.Auth, req, now)
		if err == nil {
			g.Metrics.Device(metrics.DeviceRedeemed)
		}
		return resp, err
	}
	return nil, fmt.Errorf("unknown poll outcome %q", res.Outcome)
}

// pollOutcomes are the device flow metric's outcomes of the store's poll
// answers; an issue is counted as redeemed only once redeem succeeds.
var pollOutcomes = map[string]string{
	store.PollPending:  metrics.DevicePending,
	store.PollSlowDown: metrics.DeviceSlowDown,
	store.PollDenied:   metrics.DeviceAccessDenied,
	store.PollExpired:  metrics.DeviceExpired,
	store.PollUsed:     metrics.DeviceReused,
}

// ConcurrentPollWindow is how soon after a device code's redemption another
// poll with it counts as one of the same client's overlapping requests (a
// retry of a poll whose answer it has not yet read) rather than a second
// redemption. Well-behaved clients poll no faster than every few seconds
// (RFC 8628 §3.5), so one second separates the two as refresh's
// grant.ConcurrentRefreshWindow does.
const ConcurrentPollWindow = time.Second

// reused answers a poll of an already redeemed code a. A second redemption
// means the code leaked or the client is confused, so it revokes what the
// first one got (docs/security.md DF-13, by analogy with RFC 6749 §4.1.2 for
// authorization codes) — unless it comes within ConcurrentPollWindow of the
// redemption, both ways for instances whose clocks differ: then it is one of
// a client's overlapping polls, and revoking would take from the client the
// tokens its winning poll has just been given (DF-15). The poll gets
// invalid_grant either way, never tokens.
func (g Grant) reused(ctx context.Context, a *store.DeviceAuth, now time.Time) error {
	if a.GrantID == "" {
		return nil
	}
	gr, err := g.Store.GetGrant(ctx, a.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // revoked and swept, or its user or client deleted
	}
	if err != nil {
		return fmt.Errorf("read grant of a reused device code: %w", err)
	}
	if d := now.Sub(gr.CreatedAt); d > -ConcurrentPollWindow && d < ConcurrentPollWindow {
		g.Log.InfoContext(ctx, "device code polled again just after its redemption; its grant is kept", "client_id", a.ClientID, "grant_id", a.GrantID)
		return nil
	}
	if err := g.Store.RevokeGrant(ctx, a.GrantID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke grant of a reused device code: %w", err)
	}
	g.Log.WarnContext(ctx, "device code redeemed twice; its grant was revoked", "client_id", a.ClientID, "grant_id", a.GrantID)
	secevent.Log(ctx, g.Log, secevent.Event{Name: secevent.TokenRevoked, Outcome: secevent.Revoked, ClientID: a.ClientID, UserID: a.UserID,
		GrantID: a.GrantID, Reason: "device code redeemed twice"})
	return nil
}

// redeem issues tokens for an approved authorization a. The code is
// consumed and the grant and refresh token stored in one transaction
// (store.DeviceStore.RedeemDeviceAuth), so a database lost halfway leaves the
// code approved for the next poll rather than consumed with nothing to show
// for it. The tokens are minted only once that has committed: signing writes
// nothing, and uses the keys in memory when the database is away.
func (g Grant) redeem(ctx context.Context, c *store.Client, a *store.DeviceAuth, req *grant.Request, now time.Time) (*token.Response, error) {
	if c == nil {
		var err error
		c, err = g.Store.GetClient(ctx, a.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, oauth.ClientAuthFailed()
		}
		if err != nil {
			return nil, fmt.Errorf("load client: %w", err)
		}
		if !c.HasGrant(store.GrantDeviceCode) {
			return nil, &oauth.Error{Code: oauth.UnauthorizedClient, Description: "the client is not registered for the device_code grant"}
		}
	}
	// A client that must use DPoP and polled without a proof gets no
	// tokens, and the code stays approved for a poll with one.
	jkt, err := g.Bind(c, req)
	if err != nil {
		return nil, err
	}
	var u *store.User
	var is *grant.Issuance
	if a.Subject != "" {
		// Approved through the service API for a person of the front end's,
		// who has no user row: the grant carries the subject and claims.
		is, err = g.NewExternalIssuance(c, a.Subject, a.Claims, a.Scopes, cmp.Or(a.AuthTime, a.DecidedAt), now, jkt)
	} else {
		if u, err = g.ActiveUser(ctx, a.UserID); err != nil {
			return nil, err
		}
		is, err = g.NewIssuance(c, u, a.Scopes, a.DecidedAt, now, jkt)
	}
	if err != nil {
		return nil, err
	}
	// The grant belongs to the browser session that approved it, so an
	// attached client's grant ends when that session signs out.
	is.Grant.SessionHash = a.SessionHash
	err = g.Store.RedeemDeviceAuth(ctx, a.DeviceCodeHash, is.Grant, is.RefreshToken, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Another poll redeemed it since ours answered issue (or it expired
		// in between).
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the device_code was already used"}
	case errors.Is(err, store.ErrNotFound):
		// The authorization, its client or its user went in between.
		return nil, &oauth.Error{Code: oauth.InvalidGrant, Description: "the device_code is no longer valid"}
	case err != nil:
		return nil, fmt.Errorf("redeem device authorization: %w", err)
	}
	return g.Mint(ctx, c, is, u, "")
}
