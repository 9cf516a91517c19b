// Package org owns organizations' device clients: the invitations an
// organization admin sends to enrol a device into device client groups
// (10Duke Enterprise's "invite device clients"), accepting and declining
// them, the access tokens that prove who is asking, the invitation email
// and the outbox it waits in until a mail server takes it. Organizations,
// members and groups themselves are records (package store) managed through
// the admin API; the token a device then gets comes from package grant.
package org

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// Store is what the invitation logic reads and writes. Organizations,
// members and groups are managed by the admin API; here they are only read.
type Store interface {
	token.Lookup // verifying the access tokens of organization admins and devices
	GetOrganization(ctx context.Context, id string) (*store.Organization, error)
	GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error)
	GetClientGroup(ctx context.Context, id string) (*store.ClientGroup, error)

	CreateInvitation(ctx context.Context, inv *store.Invitation, mail *store.Mail) error
	GetInvitation(ctx context.Context, id string) (*store.Invitation, error)
	GetInvitationByToken(ctx context.Context, tokenHash string) (*store.Invitation, error)
	AcceptInvitation(ctx context.Context, tokenHash string, acc *store.Acceptance, now time.Time) (*store.Invitation, error)
	DeclineInvitation(ctx context.Context, tokenHash string, now time.Time) (*store.Invitation, error)
	RevokeInvitation(ctx context.Context, id string, now time.Time) (*store.Invitation, error)
	ResendInvitation(ctx context.Context, id, tokenHash string, mail *store.Mail, now time.Time) (*store.Invitation, error)
	QueryInvitations(ctx context.Context, q store.InvitationQuery) ([]*store.Invitation, error) // the organization admins' list
	ListMail(ctx context.Context, invitationID string) ([]*store.Mail, error)                   // an invitation's link, while unsent

	Hit(ctx context.Context, key string, window, until time.Time) (int, error) // the per-address limit, SendLimits
	Sum(ctx context.Context, key string, from, to time.Time) (int, error)      // SendLimits' sliding window
	Refund(ctx context.Context, key string, window time.Time) error            // an email SendLimits counted and did not send

	// Invitations of people (member.go).
	GetUserByEmail(ctx context.Context, email string) (*store.User, error)
	CreateMemberInvitation(ctx context.Context, inv *store.MemberInvitation, mail *store.Mail) error
	GetMemberInvitation(ctx context.Context, id string) (*store.MemberInvitation, error)
	GetMemberInvitationByToken(ctx context.Context, tokenHash string) (*store.MemberInvitation, error)
	ListMemberInvitations(ctx context.Context, orgID string) ([]*store.MemberInvitation, error)
	ResendMemberInvitation(ctx context.Context, id, tokenHash string, mail *store.Mail, now time.Time) (*store.MemberInvitation, error)
	RevokeMemberInvitation(ctx context.Context, id string, now time.Time) (*store.MemberInvitation, error)
	AcceptMemberInvitation(ctx context.Context, tokenHash, userID string, now time.Time) (*store.MemberInvitation, error)
}

// Service is the invitation logic, shared by the public endpoints, the
// admin API and the invitation page.
type Service struct {
	Store Store
	// Clients reads the clients an acceptance just changed past the
	// server's client cache (GetClientFresh), so this instance's token
	// endpoint sees the change at once.
	Clients clientauth.Clients
	Keys    *keys.Manager // verifies the access tokens of org admins and devices
	// Issuer is the iss of our access tokens, and the base of the links
	// in invitation emails.
	Issuer   string
	Audience string // the aud of our access tokens; Issuer when empty
	// AdminToken, when set, may send invitations into any organization.
	AdminToken string
	Now        func() time.Time // time.Now in production, a fixed clock in tests
	Rand       io.Reader        // crypto/rand.Reader in production: tokens, secrets, ids
	Log        *slog.Logger
	// Lifetime is how long an invitation stays valid unless its sender
	// says otherwise.
	Lifetime time.Duration
	// PerIPPerMinute bounds requests to the public invitation endpoints
	// and page from one address (0: no bound): a guessed token is never
	// right, but every guess costs a lookup (docs/security.md INV-07).
	PerIPPerMinute int
	TrustProxy     bool
	// SendLimits bound the invitation emails sent and resent per
	// organization and per sender in an hour (sendlimit.go).
	SendLimits SendLimits
	// LogLinks logs each new invitation's link at info. Only for
	// `serve --dev` without a mail server: there the log is the developer's
	// only way to the link, on a loopback server with throwaway data. In
	// production the link is a credential and goes only into the email (and
	// the outbox until sent), never into logs that many people read.
	LogLinks bool
	// ServiceName (pages.service_name) and Support (pages.support_url)
	// sign the invitation email; "" leaves them out.
	ServiceName, Support string
	// Languages write the invitation email in the language of the request
	// that sends it (its Accept-Language; the default language for a
	// request without one, or from another package); nil: the built-in
	// catalogs, defaulting to English.
	Languages *i18n.Set
	// Outbox, when set, is woken when new mail is waiting.
	Outbox *Sender
	// Audit records every invitation sent, resent, revoked, accepted or
	// declined, by the actor the request's context carries; nil records
	// nothing.
	Audit *audit.Log
}

// Limits on what an invitation may say.
const (
	MaxGroups          = 20
	MaxMessageLength   = 2000 // characters
	MaxNameLength      = 200  // characters, as a client's name
	MaxEmailLength     = 254  // RFC 5321 §4.5.3.1.3, less the brackets
	MinLifetime        = time.Minute
	MaxLifetime        = 90 * 24 * time.Hour
	maxTokenLength     = 128
	maxAppLinkLength   = 1000
	maxBearerTokenSize = 16 << 10
)

// InvitedByAdmin is Invitation.InvitedBy when the admin token sent it.
const InvitedByAdmin = "admin"

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// idEncoding spells generated ids: lower-case base32, easy to read aloud
// and safe in URLs, headers and Basic credentials (as the admin API's).
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID draws a random id of 20 characters (100 bits) from r.
func NewID(r io.Reader) (string, error) {
	var b [13]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return idEncoding.EncodeToString(b[:])[:20], nil
}

// Error codes beyond RFC 6749's.
const (
	// CodeInvalidInvitation is the one answer for a token that is unknown,
	// used, declined, revoked or expired (docs/security.md INV-07).
	CodeInvalidInvitation = "invalid_invitation"
	codeNotFound          = "not_found"
	codeConflict          = "conflict"
	codeTooMany           = "too_many_requests"
)

// invalidInvitation is the uniform answer for a dead or unknown token: the
// same status and body whatever the reason, so a guesser learns nothing
// and a device is told plainly that this invitation is over.
func invalidInvitation(cause error) *oauth.Error {
	return &oauth.Error{
		Code:        CodeInvalidInvitation,
		Description: "this invitation cannot be used: it is unknown, or it was used, declined, revoked or has expired",
		Status:      http.StatusGone,
		Err:         cause,
	}
}

// IsInvalidInvitation reports whether err is the uniform invalid-invitation answer.
func IsInvalidInvitation(err error) bool {
	oe, ok := errors.AsType[*oauth.Error](err)
	return ok && oe.Code == CodeInvalidInvitation
}

func badRequest(format string, args ...any) *oauth.Error { return oauth.BadRequestf(format, args...) }

func forbidden(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.AccessDenied, Description: description, Status: http.StatusForbidden}
}

func notFound(description string) *oauth.Error {
	return &oauth.Error{Code: codeNotFound, Description: describe(description), Status: http.StatusNotFound}
}

func describe(s string) string { return oauth.Describe(s) }

func shorten(s string) string { return oauth.Shorten(s) }

// CheckName accepts a client or device name: 1 to MaxNameLength
// characters of text without control characters.
func CheckName(what, name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxNameLength || !oauth.CleanText(name) {
		return badRequest("%s must be 1 to %d characters of text without control characters", what, MaxNameLength)
	}
	return nil
}

// CheckID accepts an id chosen by a person (an organization's): 1 to 64 of
// A-Z a-z 0-9 . _ -, which need no escaping in a URL path.
func CheckID(what, id string) error {
	if id == "" || len(id) > 64 {
		return badRequest("%s must have 1 to 64 characters", what)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return badRequest("%s may hold only letters, digits, '.', '_' and '-'", what)
		}
	}
	return nil
}

// CheckAppLink accepts where a device app takes invitations: an absolute
// URL in the app's own scheme (myapp://invitation, com.example.app:/join)
// or https (a universal link), without a fragment. Schemes a browser would
// run or read locally are refused, since the invitation page links to it.
func CheckAppLink(link string) error {
	if link == "" {
		return nil
	}
	if len(link) > maxAppLinkLength || !oauth.CleanText(link) || strings.ContainsAny(link, " #<>\"'`") {
		return badRequest("app link must be a URL of at most %d characters without spaces, quotes or a fragment", maxAppLinkLength)
	}
	scheme, rest, ok := strings.Cut(link, ":")
	if !ok || scheme == "" || rest == "" || !validScheme(scheme) {
		return badRequest("app link must be an absolute URL, such as myapp://invitation")
	}
	switch strings.ToLower(scheme) {
	case "javascript", "vbscript", "data", "file", "blob", "about", "filesystem", "http", "ftp", "ws", "wss", "mailto", "tel":
		return badRequest("app link: the %s scheme is not a device app's; use the app's own scheme or https", strings.ToLower(scheme))
	}
	return nil
}

// validScheme: RFC 3986 §3.1, ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// clientIP is where a request came from (see clientip.From).
func (s *Service) clientIP(r *http.Request) string { return clientip.From(r, s.TrustProxy) }

// Throttle counts a request to a public invitation endpoint or page from
// its address, and refuses it (429) past PerIPPerMinute in the minute. The
// counts live in the store, so they hold across instances.
func (s *Service) Throttle(ctx context.Context, r *http.Request) error {
	if s.PerIPPerMinute <= 0 {
		return nil
	}
	now := s.now()
	window := now.Truncate(time.Minute)
	n, err := s.Store.Hit(ctx, "invitation:ip:"+clientip.ThrottleKey(s.clientIP(r)), window, window.Add(2*time.Minute))
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if n > s.PerIPPerMinute {
		return &oauth.Error{Code: codeTooMany, Description: "too many invitation requests from this address; try again in a minute",
			Status: http.StatusTooManyRequests, RetryAfter: int(window.Add(time.Minute).Sub(now)/time.Second) + 1}
	}
	return nil
}

// asActor returns r's context carrying who acts, as AuthorizeAdmin named
// them (InvitedByAdmin or a user's id), for the audit log.
func (s *Service) asActor(r *http.Request, by string) context.Context {
	ip := s.clientIP(r)
	ctx := i18n.NewContext(r.Context(), s.languages().Choose("", r.Header.Get("Accept-Language")))
	if by == InvitedByAdmin {
		return audit.WithActor(ctx, audit.AdminToken(ip))
	}
	return audit.WithActor(ctx, audit.Actor{Kind: store.ActorUser, ID: by, Address: ip})
}

func (s *Service) languages() *i18n.Set {
	if s.Languages != nil {
		return s.Languages
	}
	return i18n.Builtin()
}

// asDevice returns r's context carrying the accepting or declining
// device: the client dev proved it is, or, for a new device (nil), the
// holder of the invitation's token, named by the invitation once it is
// known (holder).
func (s *Service) asDevice(r *http.Request, dev *Device) context.Context {
	a := audit.Actor{Kind: store.ActorInvitation, Address: s.clientIP(r)}
	if dev != nil {
		a.Kind, a.ID = store.ActorDevice, dev.ClientID
	}
	return audit.WithActor(r.Context(), a)
}

// holder names the invitation's holder in ctx's actor, once inv is known.
func holder(ctx context.Context, inv *store.Invitation) context.Context {
	if a, ok := audit.ActorFrom(ctx); ok && a.Kind == store.ActorInvitation && a.ID == "" {
		a.ID = inv.ID
		return audit.WithActor(ctx, a)
	}
	return ctx
}
