// Package audit records who changed what (issue 15): every change made
// through the admin API (and so the CLI), the 10Duke invitation API and
// the consoles becomes one store.AuditEntry — when, who (a user, the admin
// token, a service key, a device, an invitation's holder), from which
// address, what (a kind, the record, its organization), and the record's
// settings before and after. No secret is ever in an entry: Redact blanks
// every member that names one and every value that looks like one of our
// tokens. Storing entries and querying them is package store's; who the
// actor is, the code that authenticated the request says (WithActor).
package audit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Kinds of change. A kind is "record.verb"; the console and the API
// filter on it exactly.
const (
	ClientCreate       = "client.create"
	ClientUpdate       = "client.update"
	ClientDelete       = "client.delete"
	ClientRotateSecret = "client.rotate-secret"
	ClientRevokeTokens = "client.revoke-tokens"
	UserCreate         = "user.create"
	UserUpdate         = "user.update"
	UserDelete         = "user.delete"
	UserPasswordReset  = "user.password-reset"
	GrantRevoke        = "grant.revoke"
	OrgCreate          = "organization.create"
	OrgUpdate          = "organization.update"
	OrgDelete          = "organization.delete"
	MemberPut          = "member.put"
	MemberDelete       = "member.delete"
	GroupCreate        = "group.create"
	GroupUpdate        = "group.update"
	GroupDelete        = "group.delete"
	GroupAddClient     = "group.add-client"
	GroupRemoveClient  = "group.remove-client"
	InvitationSend     = "invitation.send"
	InvitationResend   = "invitation.resend"
	InvitationRevoke   = "invitation.revoke"
	InvitationAccept   = "invitation.accept"
	InvitationDecline  = "invitation.decline"
	// Invitations of people into an organization (org/member.go).
	MemberInvitationCreate = "member-invitation.create"
	MemberInvitationResend = "member-invitation.resend"
	MemberInvitationRevoke = "member-invitation.revoke"
	MemberInvitationAccept = "member-invitation.accept"

	RegistrationTokenCreate = "registration-token.create"
	RegistrationTokenDelete = "registration-token.delete"
	SigningKeyRotate        = "signing-key.rotate"
	ServiceKeyCreate        = "service-key.create"
	ServiceKeyRotate        = "service-key.rotate-secret"
	ServiceKeyRevoke        = "service-key.revoke"
	// DeviceComplete is a front end's decision on a device's user code
	// through the service API (device/complete), made with a service key
	// for a subject of its own: the change that gives that subject a grant.
	// A person's decision on our own verification page is a security event
	// (package secevent), not a change made through an API.
	DeviceComplete = "device.complete"
)

// Kinds is every kind, for the filters people choose from.
var Kinds = []string{
	ClientCreate, ClientUpdate, ClientDelete, ClientRotateSecret, ClientRevokeTokens,
	UserCreate, UserUpdate, UserDelete, UserPasswordReset, GrantRevoke,
	OrgCreate, OrgUpdate, OrgDelete, MemberPut, MemberDelete,
	GroupCreate, GroupUpdate, GroupDelete, GroupAddClient, GroupRemoveClient,
	InvitationSend, InvitationResend, InvitationRevoke, InvitationAccept, InvitationDecline,
	MemberInvitationCreate, MemberInvitationResend, MemberInvitationRevoke, MemberInvitationAccept,
	RegistrationTokenCreate, RegistrationTokenDelete, SigningKeyRotate,
	ServiceKeyCreate, ServiceKeyRotate, ServiceKeyRevoke, DeviceComplete,
}

// Actor is who makes a change, and from where.
type Actor struct {
	Kind    string // store.ActorUser, store.ActorAdminToken, …
	ID      string // the user's, key's, client's or invitation's id; "admin-token" for the admin token
	Address string // the client address (clientip.From)
}

// AdminToken is the actor of a request with the admin token, from address.
func AdminToken(address string) Actor {
	return Actor{Kind: store.ActorAdminToken, ID: store.ActorAdminToken, Address: address}
}

type actorKey struct{}

// WithActor returns ctx carrying a: the code that authenticated a request
// says who it is, and the code that changes something records it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, and whether it carries one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Change is what was done to one record.
type Change struct {
	Kind     string
	TargetID string
	OrgID    string
	// Before and After are the record's settings as the API shows them (a
	// struct or map that marshals to a JSON object), nil for none. They are
	// redacted before they are stored.
	Before, After any
}

// Store keeps the entries.
type Store interface {
	AddAuditEntry(ctx context.Context, e *store.AuditEntry) error
}

// Log records changes. A nil *Log records nothing, for the tests and
// tools that build an API without one.
type Log struct {
	Store Store
	Now   func() time.Time // time.Now in production
	Rand  io.Reader        // crypto/rand.Reader in production: entry ids
	Log   *slog.Logger
}

// Record stores c as done by the actor ctx carries (WithActor), now. It is
// called after the change succeeded: an entry is never written for a
// change that did not happen. A change made without an actor in ctx is a
// programming error; it is still recorded, as actor kind "unknown", so
// that nothing goes unrecorded. A failure to store the entry is logged
// at error level and returned; the change itself stands.
func (l *Log) Record(ctx context.Context, c Change) error {
	if l == nil {
		return nil
	}
	a, ok := ActorFrom(ctx)
	if !ok {
		a = Actor{Kind: "unknown"}
	}
	err := l.record(ctx, a, c)
	if err != nil {
		l.log().ErrorContext(ctx, "audit: entry not stored", "kind", c.Kind, "target_id", c.TargetID, "err", err)
	}
	return err
}

func (l *Log) record(ctx context.Context, a Actor, c Change) error {
	id, err := oauth.NewID(l.rand())
	if err != nil {
		return err
	}
	before, err := Redact(c.Before)
	if err != nil {
		return fmt.Errorf("before: %w", err)
	}
	after, err := Redact(c.After)
	if err != nil {
		return fmt.Errorf("after: %w", err)
	}
	return l.Store.AddAuditEntry(ctx, &store.AuditEntry{
		ID: id, At: l.now(), ActorKind: a.Kind, ActorID: a.ID, Address: a.Address,
		Kind: c.Kind, TargetID: c.TargetID, OrgID: c.OrgID, Before: before, After: after,
	})
}

func (l *Log) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func (l *Log) rand() io.Reader {
	if l.Rand == nil {
		return rand.Reader
	}
	return l.Rand
}

func (l *Log) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// Redacted is what a secret is replaced with.
const Redacted = "[redacted]"

// secretPrefixes begin every secret Latchkey hands out (oauth's Prefix…
// constants, and the admin token's), so a secret that reached a settings
// value under an innocent name, or inside a link, is still blanked.
var secretPrefixes = []string{
	oauth.PrefixClientSecret, oauth.PrefixDeviceCode, oauth.PrefixRefreshToken, oauth.PrefixAuthCode,
	oauth.PrefixSession, oauth.PrefixInvitation, oauth.PrefixMemberInvitation, "lk_admin_",
}

// Redact returns v as a JSON object with every secret blanked, "" for nil:
// a member whose name ends in secret, password, hash or token (whatever
// its case, and whatever its value's type), and any string value that
// holds one of our secrets' prefixes (a link with a token in it, say). Names such as
// token_endpoint_auth_method or refresh_token_policy are settings, not
// secrets, and stay.
func Redact(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return "", err
	}
	if tree == nil {
		return "", nil
	}
	out, err := json.Marshal(redact(tree))
	if err != nil {
		return "", err
	}
	return string(out), nil
}

func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if SecretName(k) {
				v[k] = Redacted
			} else {
				v[k] = redact(x)
			}
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = redact(x)
		}
		return v
	case string:
		for _, p := range secretPrefixes {
			if strings.Contains(v, p) {
				return Redacted
			}
		}
	}
	return v
}

// SecretName reports whether a member called name holds a secret.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "hash", "token"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}
