package store

import (
	"context"
	"fmt"
	"time"
)

// Organizations own device clients (Client.OrgID) and the device client
// groups those clients join; their members are users with a role. An
// organization's admins invite devices into its groups (docs/architecture.md,
// "Organizations"); what an invited device may do is what its groups grant.

// Organization member roles.
const (
	RoleAdmin  = "admin"  // may invite devices and manage the organization's invitations
	RoleMember = "member" // belongs to the organization, and nothing more yet
)

// Organization is a customer that owns devices.
type Organization struct {
	ID   string
	Name string
	// AppLink is where the device app takes invitations, such as
	// "myapp://invitation": the invitation page links to it with
	// ?token=… added. Empty: the page shows the token to type in.
	AppLink   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OrgMember is a user's membership of an organization.
type OrgMember struct {
	OrgID     string
	UserID    string
	Role      string // RoleAdmin or RoleMember
	CreatedAt time.Time
}

// ClientGroup is a device client group: the scopes it grants to the device
// clients in it, all owned by its organization.
type ClientGroup struct {
	ID          string
	OrgID       string
	Name        string // unique in its organization
	Description string
	Scopes      []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Invitation states. An invitation past ExpiresAt is expired whatever its
// state says: only a pending, unexpired one can be accepted or declined.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationDeclined = "declined"
	InvitationRevoked  = "revoked"
	// InvitationExpired is never stored: it is what people are told of a
	// pending invitation past ExpiresAt, and what InvitationQuery.State may
	// ask for.
	InvitationExpired = "expired"
)

// Invitation invites a device into device client groups of one
// organization. Its token is single use and stored only as a hash.
type Invitation struct {
	ID        string
	TokenHash string // hex SHA-256 of the lk_inv_ token; unique
	OrgID     string
	GroupIDs  []string // groups of OrgID the accepting client joins
	Email     string   // where the invitation was sent
	Message   string   // the inviter's note, shown in the email

	// DeviceName names a new device client; AllowRename lets the device
	// choose its own name when it accepts.
	DeviceName  string
	AllowRename bool
	// ExistingOnly: only a device that is a client already may accept.
	ExistingOnly bool
	// RestrictClientID, when set, is the only client that may accept.
	RestrictClientID string
	// AppLink overrides the organization's AppLink for this invitation.
	AppLink string

	InvitedBy string // the inviting user's id, or "admin" for the admin token
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedAt time.Time // accepted, declined or revoked at
	ClientID  string    // the client that accepted it
}

// Pending reports whether the invitation can still be accepted or declined at now.
func (i *Invitation) Pending(now time.Time) bool {
	return i.Status == InvitationPending && now.Before(i.ExpiresAt)
}

// Acceptance is what accepting an invitation does besides using it up:
// either NewClient is created, owned by the invitation's organization, or
// the existing client ClientID joins, taken into the organization if it
// belonged to none, and renamed to Rename when that is set.
type Acceptance struct {
	NewClient *Client
	ClientID  string
	Rename    string
}

// Mail states.
const (
	MailPending   = "pending"   // to be sent (again) from NextAttemptAt on
	MailSent      = "sent"      // the mail server took it; Body and Link are erased
	MailCancelled = "cancelled" // its invitation was used, declined, revoked or expired; erased
)

// Mail is an email in the outbox: an invitation's, or an account's (a
// verification or password reset link, or a notice). Its Body holds the
// link (and so the token) until it is sent or no longer needed, then it is
// erased: the outbox is where mail waits while the mail server is down, so
// none is lost, and the only place a live token is kept in the clear.
type Mail struct {
	ID           string
	InvitationID string // the invitation it carries; "" for an account's mail
	// ExpiresAt, for mail of no invitation, is when it stops being worth
	// sending (its link expires); zero: never. Invitation mail lives as
	// long as its invitation is pending.
	ExpiresAt     time.Time
	Recipient     string
	Subject       string
	Body          string // text/plain, UTF-8
	Link          string // the invitation page's URL, for `latchkey invitations show`
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
}

// OrgStore keeps organizations, their members and device client groups,
// invitations of devices and of people, and the outbox of their emails.
type OrgStore interface {
	OrganizationStore
	ClientGroupStore
	InvitationStore
	MemberInvitationStore
	OutboxStore
}

// OrganizationStore keeps organizations and their members.
type OrganizationStore interface {
	// CreateOrganization stores o; ErrConflict if its id is taken.
	CreateOrganization(ctx context.Context, o *Organization) error
	GetOrganization(ctx context.Context, id string) (*Organization, error)
	ListOrganizations(ctx context.Context) ([]*Organization, error) // ordered by id
	// UpdateOrganization replaces the name and app link; ErrNotFound if missing.
	UpdateOrganization(ctx context.Context, o *Organization) error
	// DeleteOrganization deletes the organization with its members, groups
	// and invitations; ErrNotFound if missing, ErrConflict while it owns
	// clients (delete those first: they are devices someone runs).
	DeleteOrganization(ctx context.Context, id string) error

	// PutOrgMember adds a member or changes its role; ErrNotFound if the
	// organization or user does not exist.
	PutOrgMember(ctx context.Context, m *OrgMember) error
	GetOrgMember(ctx context.Context, orgID, userID string) (*OrgMember, error)
	ListOrgMembers(ctx context.Context, orgID string) ([]*OrgMember, error) // ordered by user id
	// ListUserMemberships returns the organizations userID is a member of,
	// as memberships, ordered by organization id.
	ListUserMemberships(ctx context.Context, userID string) ([]*OrgMember, error)
	DeleteOrgMember(ctx context.Context, orgID, userID string) error // ErrNotFound if not a member

	// PutOrgMemberKeepAdmin is PutOrgMember for someone bound by the
	// last-admin rule: ErrLastAdmin, and nothing changed, when m would take
	// the admin role from the organization's only admin. The count and the
	// change are one transaction that first locks the organization's row,
	// so two admins demoting each other at once cannot both succeed.
	PutOrgMemberKeepAdmin(ctx context.Context, m *OrgMember) error
	// DeleteOrgMemberKeepAdmin is DeleteOrgMember under the same rule:
	// ErrLastAdmin when userID is the organization's only admin.
	DeleteOrgMemberKeepAdmin(ctx context.Context, orgID, userID string) error
}

// ErrLastAdmin is the answer to a change that would leave an organization
// without an admin (OrganizationStore's …KeepAdmin methods). It is an
// ErrConflict.
var ErrLastAdmin = fmt.Errorf("the organization's last admin: %w", ErrConflict)

// ClientGroupStore keeps device client groups and which clients are in them.
type ClientGroupStore interface {
	// CreateClientGroup stores g; ErrConflict if its id, or its name in its
	// organization, is taken; ErrNotFound if the organization does not exist.
	CreateClientGroup(ctx context.Context, g *ClientGroup) error
	GetClientGroup(ctx context.Context, id string) (*ClientGroup, error)
	ListClientGroups(ctx context.Context, orgID string) ([]*ClientGroup, error) // ordered by name
	// UpdateClientGroup replaces the name, description and scopes;
	// ErrNotFound if missing, ErrConflict if the name is taken.
	UpdateClientGroup(ctx context.Context, g *ClientGroup) error
	// DeleteClientGroup deletes the group and its memberships, and revokes
	// at now every pending invitation into it, in one transaction
	// (docs/security.md INV-09). ErrNotFound if missing.
	DeleteClientGroup(ctx context.Context, id string, now time.Time) error
	// ListClientGroupsOf returns the groups clientID is in, ordered by name.
	ListClientGroupsOf(ctx context.Context, clientID string) ([]*ClientGroup, error)
	// ListGroupClients returns the ids of the clients in a group, ordered.
	ListGroupClients(ctx context.Context, groupID string) ([]string, error)
	// AddGroupClient puts a client into a group, a member since at; a
	// member already stays as it was. ErrNotFound if either is missing;
	// ErrConflict if the client is not owned by the group's organization (a
	// group's clients are all its organization's).
	AddGroupClient(ctx context.Context, groupID, clientID string, at time.Time) error
	// RemoveGroupClient takes a client out of a group; ErrNotFound if it is not in it.
	RemoveGroupClient(ctx context.Context, groupID, clientID string) error
}

// InvitationStore keeps invitations of devices into client groups.
type InvitationStore interface {
	// CreateInvitation stores inv and its email (nil for none) in one
	// transaction, so an invitation never exists without its mail. ErrConflict
	// if an id or the token hash is taken; ErrNotFound if the organization
	// does not exist.
	CreateInvitation(ctx context.Context, inv *Invitation, mail *Mail) error
	GetInvitation(ctx context.Context, id string) (*Invitation, error)
	// GetInvitationByToken returns the invitation whose token hashes to
	// tokenHash, in whatever state it is.
	GetInvitationByToken(ctx context.Context, tokenHash string) (*Invitation, error)
	ListInvitations(ctx context.Context, orgID string) ([]*Invitation, error) // newest first
	// QueryInvitations returns the page of invitations q selects. ErrInvalid
	// for a State it does not know or a Limit below 1.
	QueryInvitations(ctx context.Context, q InvitationQuery) ([]*Invitation, error)
	// ResendInvitation gives a pending, unexpired invitation the token that
	// hashes to tokenHash in place of its own, cancels and erases its unsent
	// mail and queues mail (the email with the new link), in one transaction
	// that begins with the conditional update: the old token stops working
	// at once, and of a resend and an acceptance with the old token racing,
	// exactly one succeeds. ErrNotFound if missing; ErrConflict if it is not
	// pending, has expired or the token hash is taken; ErrInvalid for a mail
	// that is nil, not the invitation's, or holds a string that is not text.
	ResendInvitation(ctx context.Context, id, tokenHash string, mail *Mail, now time.Time) (*Invitation, error)
	// RevokeInvitation moves a pending invitation (expired or not) to
	// revoked and cancels its unsent mail. ErrNotFound if missing,
	// ErrConflict if it is not pending.
	RevokeInvitation(ctx context.Context, id string, now time.Time) (*Invitation, error)
	// DeclineInvitation moves a pending, unexpired invitation to declined
	// and cancels its unsent mail. ErrNotFound for an unknown token,
	// ErrConflict if it is no longer pending or has expired.
	DeclineInvitation(ctx context.Context, tokenHash string, now time.Time) (*Invitation, error)
	// AcceptInvitation uses up a pending, unexpired invitation for acc in
	// one transaction: a conditional update of the invitation, then the new
	// client (or the existing one taken into the organization and renamed),
	// its memberships of the invitation's groups, and the cancelling of
	// unsent mail. Either all of it happened or none. Of concurrent
	// acceptances exactly one succeeds. ErrNotFound for an unknown token (or
	// an existing client or group that is missing); ErrConflict if the
	// invitation is no longer pending or has expired, or the existing client
	// belongs to another organization; ErrInvalid for a new client holding
	// a string that is not text.
	AcceptInvitation(ctx context.Context, tokenHash string, acc *Acceptance, now time.Time) (*Invitation, error)
}

// InvitationQuery selects a page of one organization's invitations, in
// the order ListInvitations gives them: newest first, then by id.
type InvitationQuery struct {
	OrgID string
	// State, when not empty, keeps only the invitations in that state at
	// Now: InvitationPending (and unexpired), InvitationExpired (pending,
	// past ExpiresAt), InvitationAccepted, InvitationDeclined or
	// InvitationRevoked.
	State string
	Now   time.Time
	// AfterCreated and AfterID, when AfterID is set, are the CreatedAt and
	// ID of the last invitation of the previous page: this page begins
	// after it. They need not name an invitation that still exists.
	AfterCreated time.Time
	AfterID      string
	Limit        int // at most this many, from 1
}

// OutboxStore keeps the emails waiting to be sent.
type OutboxStore interface {
	// ClaimMail returns up to limit pending mails due at now whose
	// invitations are still pending and unexpired (mail of no invitation:
	// that has not expired), and moves each one's
	// NextAttemptAt to now+lease, atomically: instances sending at once never
	// claim the same mail, and a sender that dies lets the lease run out.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Mail, error)
	// MarkMailSent records that the mail server took the mail, and erases
	// its body and link. ErrNotFound if missing.
	MarkMailSent(ctx context.Context, id string, now time.Time) error
	// MarkMailFailed counts a failed attempt, keeps reason, and leaves the
	// mail pending until next. ErrNotFound if missing.
	MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error
	// CancelStaleMail cancels and erases pending mail whose invitation is
	// no longer pending or has expired at now, or which has itself expired,
	// and returns how many.
	CancelStaleMail(ctx context.Context, now time.Time) (int64, error)
	// ListMail returns an invitation's mails, oldest first.
	ListMail(ctx context.Context, invitationID string) ([]*Mail, error)
	// PendingMail counts the mail still to be sent, due or not: the
	// outbox's depth, for the metrics.
	PendingMail(ctx context.Context) (int64, error)
}

// MemberInvitation invites a person, by email, to become a member of an
// organization with Role. Its token is single use and stored only as a
// hash; its state is one of the Invitation states but declined (an
// invitation past ExpiresAt is expired whatever Status says).
type MemberInvitation struct {
	ID        string
	OrgID     string
	Email     string // lower case; the accepting account's address must be it
	Role      string // RoleAdmin or RoleMember
	TokenHash string // hex SHA-256 of the lk_minv_ token; unique
	InvitedBy string // the inviting user's id, or "admin" for the admin token
	Status    string // InvitationPending, InvitationAccepted or InvitationRevoked
	// MailID is the outbox mail that carries the current link: mail of no
	// device invitation (Mail.InvitationID empty) that expires with this
	// invitation, cancelled when it is resent, revoked or accepted.
	MailID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedAt time.Time // accepted or revoked at
	UserID    string    // the user who accepted it
}

// Pending reports whether the invitation can still be accepted at now.
func (i *MemberInvitation) Pending(now time.Time) bool {
	return i.Status == InvitationPending && now.Before(i.ExpiresAt)
}

// MemberInvitationStore keeps invitations of people into organizations.
type MemberInvitationStore interface {
	// CreateMemberInvitation stores inv and its mail (inv.MailID, with
	// ExpiresAt inv's) in one transaction. ErrConflict if its id or token
	// hash is taken; ErrNotFound if the organization does not exist;
	// ErrInvalid for a mail that is nil or not inv.MailID, or a string that
	// is not text.
	CreateMemberInvitation(ctx context.Context, inv *MemberInvitation, mail *Mail) error
	GetMemberInvitation(ctx context.Context, id string) (*MemberInvitation, error)
	// GetMemberInvitationByToken returns the invitation whose token hashes
	// to tokenHash, in whatever state it is.
	GetMemberInvitationByToken(ctx context.Context, tokenHash string) (*MemberInvitation, error)
	// ListMemberInvitations returns orgID's invitations of people, newest
	// first.
	ListMemberInvitations(ctx context.Context, orgID string) ([]*MemberInvitation, error)
	// ResendMemberInvitation gives a pending, unexpired invitation the
	// token that hashes to tokenHash, cancels and erases its unsent mail and
	// queues mail in its place, in one transaction that begins with the
	// conditional update: the old token stops working at once, and of a
	// resend and an acceptance with the old token racing, exactly one
	// succeeds. ErrNotFound if missing; ErrConflict if it is not pending,
	// has expired or the token hash is taken; ErrInvalid as Create.
	ResendMemberInvitation(ctx context.Context, id, tokenHash string, mail *Mail, now time.Time) (*MemberInvitation, error)
	// RevokeMemberInvitation moves a pending invitation (expired or not) to
	// revoked and cancels its unsent mail. ErrNotFound if missing,
	// ErrConflict if it is not pending.
	RevokeMemberInvitation(ctx context.Context, id string, now time.Time) (*MemberInvitation, error)
	// AcceptMemberInvitation uses up a pending, unexpired invitation for
	// userID in one transaction: the conditional update, then userID's
	// membership of the organization with the invitation's role (a member
	// already keeps the admin role if they have it), then the cancelling
	// of unsent mail. Of concurrent acceptances exactly one succeeds.
	// ErrNotFound for an unknown token or user; ErrConflict if the
	// invitation is no longer pending or has expired.
	AcceptMemberInvitation(ctx context.Context, tokenHash, userID string, now time.Time) (*MemberInvitation, error)
}
