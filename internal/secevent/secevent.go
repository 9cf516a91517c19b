// Package secevent writes the security event log: one structured line at info
// for each event a security team watches (sign-ins, device approvals,
// consents, tokens issued and revoked, throttles tripped, refresh-token
// reuse), every line with the same fields, so a SIEM can parse them
// (docs/security-events.md). It never takes a secret: its fields are ids,
// addresses and fixed words, and the caller names none of the credentials.
// What counts as an event is the caller's to say; how it is written is
// here.
package secevent

import (
	"context"
	"errors"
	"log/slog"

	"github.com/latchkey/latchkey/internal/clientip"
)

// Message is every event line's message, for filtering the log.
const Message = "security event"

// Events, the values of the event field.
const (
	SignIn         = "signin"          // a password sign-in on the pages
	DeviceDecision = "device.decision" // a person approved or denied a device's user code
	Consent        = "consent"         // a person approved or denied an authorization request
	TokenIssued    = "token.issued"    // the token endpoint answered with tokens
	TokenRevoked   = "token.revoked"   // a grant, or a client's own access token, was revoked
	RefreshReuse   = "refresh.reuse"   // a used refresh token came back
	ClientAuth     = "client.auth"     // a client failed to authenticate
	Throttle       = "throttle"        // a limit refused a request
)

// Outcomes, the values of the outcome field.
const (
	Success  = "success"
	Failure  = "failure"
	Approved = "approved"
	Denied   = "denied"
	Revoked  = "revoked"
	Kept     = "kept" // refresh reuse within the concurrent-request window: nothing revoked
	Tripped  = "tripped"
)

// ErrLogged is the cause (oauth.Error's Err) of a refusal whose event
// the code that refused it has logged, with what it knew there (which
// limit, whose budget): the server writes no second event for it when it
// answers, so each refusal is one event.
var ErrLogged = errors.New("security event logged")

// Event is one security event. Empty fields are written empty, so every
// line has every field.
type Event struct {
	Name      string // one of the event constants
	Outcome   string // one of the outcome constants
	ClientID  string
	UserID    string
	GrantID   string
	GrantType string // token.issued: the grant_type
	// Reason is a short fixed word or phrase saying why (a failure's cause,
	// what revoked a grant, which limit tripped); never input a caller sent.
	Reason string
}

// Log writes e at info on log, with the request's address from ctx
// (clientip.Addr). A nil log, or one that does not write info, writes
// nothing: then the line's fields are not even assembled, since the
// token endpoint logs one per token it issues.
func Log(ctx context.Context, log *slog.Logger, e Event) {
	if log == nil || !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	log.LogAttrs(ctx, slog.LevelInfo, Message,
		slog.String("event", e.Name),
		slog.String("outcome", e.Outcome),
		slog.String("client_id", e.ClientID),
		slog.String("user_id", e.UserID),
		slog.String("grant_id", e.GrantID),
		slog.String("grant_type", e.GrantType),
		slog.String("addr", clientip.Addr(ctx)),
		slog.String("reason", e.Reason),
	)
}
