package org

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Invitations of people into an organization (member invitations), as
// opposed to the device invitations of invitation.go: an organization's
// admin invites an email address with a role; the email's link opens
// the member invitation page (package web), where the person signs in,
// or registers, with that address and joins. Sending answers the same
// whether or not the address has an account (docs/security.md INV-13):
// the admin learns which addresses have accounts from nothing but the
// members list.

// MemberInvitationPath is where the member invitation page lives; the
// token follows it.
const MemberInvitationPath = "/invitations/members/"

// CodeWrongAccount is the answer to accepting an invitation with an
// account whose address is not the invited one.
const CodeWrongAccount = "wrong_account"

// MemberLink is the member invitation page for token: what the email carries.
func (s *Service) MemberLink(token string) string {
	return strings.TrimSuffix(s.Issuer, "/") + MemberInvitationPath + token
}

// MemberInvitationJSON is a member invitation as the admin API and the
// audit log show it (never its token or the token's hash).
type MemberInvitationJSON struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	Email          string `json:"email"`
	Role           string `json:"role"`
	State          string `json:"state"` // pending, accepted, revoked or expired
	InvitedBy      string `json:"invited_by"`
	CreatedAt      string `json:"created_at"`
	ExpiresAt      string `json:"expires_at"`
	DecidedAt      string `json:"decided_at,omitempty"`
	UserID         string `json:"user_id,omitempty"` // who accepted
}

// MemberInvitationView is inv as MemberInvitationJSON, in its state at now.
func MemberInvitationView(inv *store.MemberInvitation, now time.Time) MemberInvitationJSON {
	j := MemberInvitationJSON{ID: inv.ID, OrganizationID: inv.OrgID, Email: inv.Email, Role: inv.Role,
		State: MemberState(inv, now), InvitedBy: inv.InvitedBy, UserID: inv.UserID,
		CreatedAt: inv.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339)}
	if !inv.DecidedAt.IsZero() {
		j.DecidedAt = inv.DecidedAt.UTC().Format(time.RFC3339)
	}
	return j
}

// MemberState is what people are told of inv's state at now: its status,
// or expired for a pending one past ExpiresAt.
func MemberState(inv *store.MemberInvitation, now time.Time) string {
	if inv.Status == store.InvitationPending && !now.Before(inv.ExpiresAt) {
		return store.InvitationExpired
	}
	return inv.Status
}

// InviteMember invites email into organization orgID with role, and puts
// the email with its link in the outbox, in one store transaction;
// invitedBy is the inviting user's id, or InvitedByAdmin. The email is in
// the language ctx carries (i18n.NewContext), else the default one.
// Refused: an address that is a member already (its admin sees the
// members anyway), or that has a pending invitation (resend that one).
func (s *Service) InviteMember(ctx context.Context, orgID, email, role, invitedBy string) (*store.MemberInvitation, error) {
	o, err := s.Store.GetOrganization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("there is no organization " + shorten(orgID))
	}
	if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	if role != store.RoleAdmin && role != store.RoleMember {
		return nil, badRequest("role must be %s or %s", store.RoleAdmin, store.RoleMember)
	}
	addr, err := checkEmail(strings.TrimSpace(email))
	if err != nil {
		return nil, badRequest("email must be one address, such as ada@example.com")
	}
	addr = strings.ToLower(addr)
	if u, err := s.Store.GetUserByEmail(ctx, addr); err == nil {
		if _, err := s.Store.GetOrgMember(ctx, o.ID, u.ID); err == nil {
			return nil, &oauth.Error{Code: codeConflict, Status: http.StatusConflict,
				Description: describe(addr + " is a member of " + o.Name + " already")}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("load member: %w", err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("load user: %w", err)
	}
	invs, err := s.Store.ListMemberInvitations(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("list member invitations: %w", err)
	}
	now := s.now()
	for _, inv := range invs {
		if inv.Email == addr && inv.Pending(now) {
			return nil, &oauth.Error{Code: codeConflict, Status: http.StatusConflict,
				Description: describe("an invitation to " + addr + " is pending already: resend it, or revoke it first")}
		}
	}
	id, err := NewID(s.rand())
	if err != nil {
		return nil, err
	}
	inv := &store.MemberInvitation{ID: id, OrgID: o.ID, Email: addr, Role: role, InvitedBy: invitedBy,
		Status: store.InvitationPending, CreatedAt: now, ExpiresAt: now.Add(s.Lifetime)}
	refund, err := s.spendSend(ctx, o.ID, invitedBy)
	if err != nil {
		return nil, err
	}
	hash, m, err := s.newMemberMail(ctx, o, inv, now)
	if err != nil {
		refund()
		return nil, err
	}
	inv.TokenHash, inv.MailID = hash, m.ID
	if err := s.Store.CreateMemberInvitation(ctx, inv, m); err != nil {
		refund()
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("there is no organization " + shorten(orgID))
		}
		return nil, fmt.Errorf("store member invitation: %w", err)
	}
	s.memberMailed(ctx, "member invitation created", inv, m, "invited_by", invitedBy)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.MemberInvitationCreate, TargetID: inv.ID, OrgID: inv.OrgID,
		After: MemberInvitationView(inv, now)})
	return inv, nil
}

// newMemberMail draws a new token for inv and writes the email that
// carries it, due at now. It returns the token's hash, which is all the
// invitation keeps of it.
func (s *Service) newMemberMail(ctx context.Context, o *store.Organization, inv *store.MemberInvitation, now time.Time) (string, *store.Mail, error) {
	loc := i18n.FromContext(ctx)
	if loc == nil {
		loc = s.languages().Choose("", "")
	}
	token, err := oauth.NewSecret(s.rand(), oauth.PrefixMemberInvitation)
	if err != nil {
		return "", nil, err
	}
	mailID, err := NewID(s.rand())
	if err != nil {
		return "", nil, err
	}
	inviter := ""
	if inv.InvitedBy != InvitedByAdmin {
		if u, err := s.Store.GetUser(ctx, inv.InvitedBy); err == nil {
			inviter = u.Email
			if u.Name != "" {
				inviter = u.Name + " (" + u.Email + ")"
			}
		}
	}
	link := s.MemberLink(token)
	subject, body := composeMemberInvitation(loc, o, inv, inviter, link, s.Issuer, s.ServiceName, s.Support)
	return oauth.HashSecret(token), &store.Mail{
		ID: mailID, Recipient: inv.Email, Subject: subject, Body: body, Link: link,
		Status: store.MailPending, NextAttemptAt: now, CreatedAt: now, ExpiresAt: inv.ExpiresAt,
	}, nil
}

// composeMemberInvitation writes the member invitation email, in loc's
// language: who invites whom into what, with which role, and the link.
func composeMemberInvitation(loc *i18n.Locale, o *store.Organization, inv *store.MemberInvitation, inviter, link, issuer, service, support string) (subject, body string) {
	subject = loc.T("mail.member_invitation.subject", "org", o.Name)
	host := issuer
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		host = u.Host
	}
	at := host
	if service != "" {
		at = service + ", " + host
	}
	var b strings.Builder
	intro := "mail.member_invitation.intro_member"
	if inv.Role == store.RoleAdmin {
		intro = "mail.member_invitation.intro_admin"
	}
	b.WriteString(loc.T(intro, "org", o.Name, "at", at) + "\n")
	if inviter != "" {
		b.WriteString(loc.T("mail.member_invitation.from", "inviter", inviter) + "\n")
	}
	b.WriteString("\n" + loc.T("mail.member_invitation.open", "email", inv.Email) + "\n\n")
	b.WriteString(link + "\n\n")
	b.WriteString(loc.T("mail.member_invitation.until", "date", loc.Date(inv.ExpiresAt)) + "\n")
	b.WriteString("\n" + account.Signature(loc, service, host, support))
	return subject, b.String()
}

// memberMailed logs that inv's mail m is in the outbox and wakes the
// sender; the link only in development mode (LogLinks), as mailed does.
func (s *Service) memberMailed(ctx context.Context, event string, inv *store.MemberInvitation, m *store.Mail, byKey, by string) {
	if s.LogLinks {
		s.log().InfoContext(ctx, event+"; no mail server is configured (development mode), so its link is here",
			"member_invitation_id", inv.ID, "org_id", inv.OrgID, "link", m.Link)
	} else {
		s.log().InfoContext(ctx, event, "member_invitation_id", inv.ID, "org_id", inv.OrgID, byKey, by)
	}
	if s.Outbox != nil {
		s.Outbox.Kick()
	}
}

// MemberInvitations returns orgID's member invitations, newest first.
func (s *Service) MemberInvitations(ctx context.Context, orgID string) ([]*store.MemberInvitation, error) {
	if _, err := s.Store.GetOrganization(ctx, orgID); errors.Is(err, store.ErrNotFound) {
		return nil, notFound("there is no organization " + shorten(orgID))
	} else if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	invs, err := s.Store.ListMemberInvitations(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("list member invitations: %w", err)
	}
	return invs, nil
}

// MemberInvitation returns orgID's member invitation id; one of another
// organization is as unknown as one that does not exist.
func (s *Service) MemberInvitation(ctx context.Context, orgID, id string) (*store.MemberInvitation, error) {
	inv, err := s.Store.GetMemberInvitation(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inv.OrgID != orgID) {
		return nil, notFound("there is no member invitation " + shorten(id))
	}
	if err != nil {
		return nil, fmt.Errorf("load member invitation: %w", err)
	}
	return inv, nil
}

// memberChangeError is the answer when the store refused to change
// member invitation id: not found, or not pending (why), or the cause.
func memberChangeError(err error, id, what, why string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("there is no member invitation " + shorten(id))
	case errors.Is(err, store.ErrConflict):
		return errNotPending(why)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ResendMember gives orgID's pending member invitation id a new token and
// queues its email again with the new link; by is who asks. The old link
// stops working at once; the invitation keeps its lifetime.
func (s *Service) ResendMember(ctx context.Context, orgID, id, by string) (*store.MemberInvitation, error) {
	inv, err := s.MemberInvitation(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !inv.Pending(now) {
		return nil, errNotPending("the invitation is " + MemberState(inv, now) + ": only a pending one can be resent; send a new one instead")
	}
	o, err := s.Store.GetOrganization(ctx, inv.OrgID)
	if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	refund, err := s.spendSend(ctx, o.ID, by)
	if err != nil {
		return nil, err
	}
	hash, m, err := s.newMemberMail(ctx, o, inv, now)
	if err != nil {
		refund()
		return nil, err
	}
	got, err := s.Store.ResendMemberInvitation(ctx, inv.ID, hash, m, now)
	if err != nil {
		refund()
		return nil, memberChangeError(err, id, "resend member invitation",
			"the invitation is no longer pending: it was accepted or revoked, or it expired")
	}
	s.memberMailed(ctx, "member invitation resent", got, m, "resent_by", by)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.MemberInvitationResend, TargetID: got.ID, OrgID: got.OrgID,
		Before: MemberInvitationView(inv, now), After: MemberInvitationView(got, now)})
	return got, nil
}

// RevokeMember revokes orgID's pending member invitation id: its link
// stops working and its unsent mail is cancelled.
func (s *Service) RevokeMember(ctx context.Context, orgID, id string) (*store.MemberInvitation, error) {
	inv, err := s.MemberInvitation(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	got, err := s.Store.RevokeMemberInvitation(ctx, inv.ID, now)
	if err != nil {
		return nil, memberChangeError(err, id, "revoke member invitation",
			"the invitation is no longer pending: it was accepted or revoked")
	}
	s.log().InfoContext(ctx, "member invitation revoked", "member_invitation_id", got.ID, "org_id", got.OrgID)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.MemberInvitationRevoke, TargetID: got.ID, OrgID: got.OrgID,
		Before: MemberInvitationView(inv, now), After: MemberInvitationView(got, now)})
	return got, nil
}

// MemberLanding is what the member invitation page shows.
type MemberLanding struct {
	OrgID, OrgName string
	Email          string
	Role           string
	ExpiresAt      time.Time
}

// checkMemberToken rejects what cannot be a member invitation token
// before any lookup.
func checkMemberToken(token string) error {
	if !strings.HasPrefix(token, oauth.PrefixMemberInvitation) || len(token) > maxTokenLength || !oauth.CleanText(token) {
		return invalidInvitation(errors.New("not a member invitation token"))
	}
	return nil
}

// pendingMember returns the member invitation token names if it can still
// be used, with its organization; anything else is the uniform
// invalid-invitation answer.
func (s *Service) pendingMember(ctx context.Context, token string) (*store.MemberInvitation, *store.Organization, error) {
	if err := checkMemberToken(token); err != nil {
		return nil, nil, err
	}
	inv, err := s.Store.GetMemberInvitationByToken(ctx, oauth.HashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, invalidInvitation(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load member invitation: %w", err)
	}
	if !inv.Pending(s.now()) {
		return nil, nil, invalidInvitation(errors.New("member invitation " + MemberState(inv, s.now())))
	}
	o, err := s.Store.GetOrganization(ctx, inv.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, invalidInvitation(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load organization: %w", err)
	}
	return inv, o, nil
}

// MemberLanding returns what the member invitation page shows for token;
// the uniform invalid-invitation answer for a token that cannot be used.
// Opening the page changes nothing.
func (s *Service) MemberLanding(ctx context.Context, token string) (*MemberLanding, error) {
	inv, o, err := s.pendingMember(ctx, token)
	if err != nil {
		return nil, err
	}
	return &MemberLanding{OrgID: o.ID, OrgName: o.Name, Email: inv.Email, Role: inv.Role, ExpiresAt: inv.ExpiresAt}, nil
}

// AcceptMember uses up the member invitation token names for u, who
// becomes a member of its organization with its role, in one store
// transaction (of two acceptances, one wins). u's address must be the
// invited one, in any case: else CodeWrongAccount, and nothing changes.
// ctx carries u as the audit actor.
func (s *Service) AcceptMember(ctx context.Context, token string, u *store.User) (*store.MemberInvitation, error) {
	inv, _, err := s.pendingMember(ctx, token)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(u.Email, inv.Email) {
		return nil, &oauth.Error{Code: CodeWrongAccount, Status: http.StatusForbidden,
			Description: "the invitation is for another email address"}
	}
	now := s.now()
	got, err := s.Store.AcceptMemberInvitation(ctx, oauth.HashSecret(token), u.ID, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return nil, invalidInvitation(err)
	}
	if err != nil {
		return nil, fmt.Errorf("accept member invitation: %w", err)
	}
	s.log().InfoContext(ctx, "member invitation accepted", "member_invitation_id", got.ID, "org_id", got.OrgID, "user_id", u.ID)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.MemberInvitationAccept, TargetID: got.ID, OrgID: got.OrgID,
		Before: MemberInvitationView(inv, now), After: MemberInvitationView(got, now)})
	return got, nil
}

// InvitedEmail returns the address the pending member invitation token
// names, or "" for a token that cannot be used: the registration page
// lets that address register where accounts.registration's domains
// would not.
func (s *Service) InvitedEmail(ctx context.Context, token string) (string, error) {
	inv, _, err := s.pendingMember(ctx, token)
	if IsInvalidInvitation(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return inv.Email, nil
}
