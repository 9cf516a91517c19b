package org

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// InvitationRequest is what the sender of an invitation decides.
type InvitationRequest struct {
	GroupIDs []string
	Email    string
	Message  string
	Lifetime time.Duration // 0: Service.Lifetime
	// ExistingOnly: only a device that is a client already may accept.
	ExistingOnly bool
	// ClientID: only this client may accept (and so only an existing one).
	ClientID    string
	AllowRename bool
	DeviceName  string // a new device client's name; "" for one made up
	AppLink     string // overrides the organization's
}

// CreateInvitation checks req, stores an invitation into orgID's groups
// with its email in the outbox (one transaction: no invitation without its
// mail), and wakes the sender. invitedBy is the inviting user's id, or
// InvitedByAdmin. The token exists only in the mail: the invitation keeps
// its hash (docs/security.md INV-01, INV-02).
func (s *Service) CreateInvitation(ctx context.Context, orgID string, req InvitationRequest, invitedBy string) (*store.Invitation, error) {
	o, err := s.Store.GetOrganization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("there is no organization " + shorten(orgID))
	}
	if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	groups, err := s.checkGroups(ctx, o, req.GroupIDs)
	if err != nil {
		return nil, err
	}
	email, err := checkEmail(req.Email)
	if err != nil {
		return nil, err
	}
	message, err := checkMessage(req.Message)
	if err != nil {
		return nil, err
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = s.Lifetime
	}
	if lifetime < MinLifetime || lifetime > MaxLifetime {
		return nil, badRequest("the lifetime must be from %s to %d days", MinLifetime, MaxLifetime/(24*time.Hour))
	}
	if req.DeviceName != "" {
		if err := CheckName("the device name", req.DeviceName); err != nil {
			return nil, err
		}
	}
	if err := CheckAppLink(req.AppLink); err != nil {
		return nil, err
	}
	existingOnly := req.ExistingOnly
	if req.ClientID != "" {
		if err := s.checkInvitedClient(ctx, o, req.ClientID); err != nil {
			return nil, err
		}
		existingOnly = true // a named client exists already
	}

	id, err := NewID(s.rand())
	if err != nil {
		return nil, err
	}
	now := s.now()
	inv := &store.Invitation{
		ID: id, OrgID: o.ID, GroupIDs: req.GroupIDs,
		Email: email, Message: message, DeviceName: req.DeviceName, AllowRename: req.AllowRename,
		ExistingOnly: existingOnly, RestrictClientID: req.ClientID, AppLink: req.AppLink,
		InvitedBy: invitedBy, Status: store.InvitationPending, CreatedAt: now, ExpiresAt: now.Add(lifetime),
	}
	refund, err := s.spendSend(ctx, o.ID, invitedBy)
	if err != nil {
		return nil, err
	}
	hash, m, err := s.newMail(ctx, o, groups, inv, now)
	if err != nil {
		refund()
		return nil, err
	}
	inv.TokenHash = hash
	if err := s.Store.CreateInvitation(ctx, inv, m); err != nil {
		refund()
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("there is no organization " + shorten(orgID))
		}
		return nil, fmt.Errorf("store invitation: %w", err)
	}
	s.mailed(ctx, "invitation created", inv, m, "invited_by", invitedBy)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.InvitationSend, TargetID: inv.ID, OrgID: inv.OrgID,
		After: invitationJSON(inv, now)})
	return inv, nil
}

// newMail draws a new token for inv and writes the email that carries it,
// due at now. It returns the token's hash, which is all the invitation
// keeps of it (docs/security.md INV-01, INV-02).
//
// The mail is in the language ctx carries (asActor: the sending request's
// Accept-Language), else the default language.
func (s *Service) newMail(ctx context.Context, o *store.Organization, groups []*store.ClientGroup, inv *store.Invitation, now time.Time) (string, *store.Mail, error) {
	loc := i18n.FromContext(ctx)
	if loc == nil {
		loc = s.languages().Choose("", "")
	}
	token, err := oauth.NewSecret(s.rand(), oauth.PrefixInvitation)
	if err != nil {
		return "", nil, err
	}
	mailID, err := NewID(s.rand())
	if err != nil {
		return "", nil, err
	}
	link := s.Link(token)
	subject, body := composeInvitation(loc, o, groups, inv, link, s.Issuer, s.ServiceName, s.Support)
	return oauth.HashSecret(token), &store.Mail{
		ID: mailID, InvitationID: inv.ID, Recipient: inv.Email, Subject: subject, Body: body, Link: link,
		Status: store.MailPending, NextAttemptAt: now, CreatedAt: now,
	}, nil
}

// mailed logs that inv's mail m is in the outbox (what happened: event;
// who did it: by, under the key byKey), and wakes the sender. The link is a
// credential: it is logged only in development mode (LogLinks).
func (s *Service) mailed(ctx context.Context, event string, inv *store.Invitation, m *store.Mail, byKey, by string) {
	if s.LogLinks {
		s.log().InfoContext(ctx, event+"; no mail server is configured (development mode), so its link is here",
			"invitation_id", inv.ID, "org_id", inv.OrgID, "link", m.Link)
	} else {
		s.log().InfoContext(ctx, event, "invitation_id", inv.ID, "org_id", inv.OrgID, byKey, by)
	}
	if s.Outbox != nil {
		s.Outbox.Kick()
	}
}

// Invitation returns orgID's invitation id. One of another organization is
// as unknown as one that does not exist (docs/security.md INV-09).
func (s *Service) Invitation(ctx context.Context, orgID, id string) (*store.Invitation, error) {
	inv, err := s.Store.GetInvitation(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && inv.OrgID != orgID) {
		return nil, notFound("there is no invitation " + shorten(id))
	}
	if err != nil {
		return nil, fmt.Errorf("load invitation: %w", err)
	}
	return inv, nil
}

// errNotPending is the answer to resending or revoking an invitation that
// ended; why says how.
func errNotPending(why string) *oauth.Error {
	return &oauth.Error{Code: codeConflict, Status: http.StatusConflict, Description: why}
}

// changeError is the answer when the store refused to change invitation
// id (what failed): not found, or not pending (why), or the cause.
func changeError(err error, id, what, why string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("there is no invitation " + shorten(id))
	case errors.Is(err, store.ErrConflict):
		return errNotPending(why)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Resend gives orgID's pending invitation id a new token and queues its
// email again, with the new link; by is who asks (InvitedByAdmin or a
// user's id). The old token stops working at once, in the same store
// transaction, so a link sent to the wrong place can be made useless
// without ending the invitation (docs/security.md INV-11). The invitation
// keeps its lifetime: an expired one cannot be resent, only sent anew.
func (s *Service) Resend(ctx context.Context, orgID, id, by string) (*store.Invitation, error) {
	inv, err := s.Invitation(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !inv.Pending(now) {
		return nil, errNotPending("the invitation is " + State(inv, now) + ": only a pending one can be resent; send a new one instead")
	}
	o, err := s.Store.GetOrganization(ctx, inv.OrgID)
	if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	groups := make([]*store.ClientGroup, 0, len(inv.GroupIDs))
	for _, gid := range inv.GroupIDs {
		g, err := s.Store.GetClientGroup(ctx, gid)
		if err != nil {
			// Deleting a group revokes its pending invitations, so this one
			// is being revoked now: the store's answer will say so.
			continue
		}
		groups = append(groups, g)
	}
	refund, err := s.spendSend(ctx, o.ID, by)
	if err != nil {
		return nil, err
	}
	hash, m, err := s.newMail(ctx, o, groups, inv, now)
	if err != nil {
		refund()
		return nil, err
	}
	got, err := s.Store.ResendInvitation(ctx, inv.ID, hash, m, now)
	if err != nil {
		refund()
		return nil, changeError(err, id, "resend invitation",
			"the invitation is no longer pending: it was accepted, declined or revoked, or it expired")
	}
	s.mailed(ctx, "invitation resent", got, m, "resent_by", by)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.InvitationResend, TargetID: got.ID, OrgID: got.OrgID,
		Before: invitationJSON(inv, now), After: invitationJSON(got, now)})
	return got, nil
}

// checkGroups loads the groups an invitation names: one to MaxGroups, each
// once, each of o.
func (s *Service) checkGroups(ctx context.Context, o *store.Organization, ids []string) ([]*store.ClientGroup, error) {
	if len(ids) == 0 || len(ids) > MaxGroups {
		return nil, badRequest("name 1 to %d client groups to invite the device into", MaxGroups)
	}
	groups := make([]*store.ClientGroup, 0, len(ids))
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return nil, badRequest("client group %s is named twice", shorten(id))
		}
		g, err := s.Store.GetClientGroup(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && g.OrgID != o.ID) {
			// Another organization's group is as unknown here as a missing one.
			return nil, badRequest("organization %s has no client group %s", shorten(o.ID), shorten(id))
		}
		if err != nil {
			return nil, fmt.Errorf("load client group: %w", err)
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// checkInvitedClient checks a client an invitation is restricted to: it
// exists, may use client credentials, and belongs to o or to nobody.
func (s *Service) checkInvitedClient(ctx context.Context, o *store.Organization, id string) error {
	c, err := s.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("there is no client %s to restrict the invitation to", shorten(id))
	}
	if err != nil {
		return fmt.Errorf("load client: %w", err)
	}
	if c.OrgID != "" && c.OrgID != o.ID {
		return badRequest("client %s belongs to another organization", shorten(id))
	}
	if !c.HasGrant(store.GrantClientCredentials) || c.Public() {
		return badRequest("client %s cannot use client credentials, which a device needs to accept an invitation", shorten(id))
	}
	return nil
}

// checkEmail accepts one plain address, and returns it as it will be sent to.
func checkEmail(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(a.Address) > MaxEmailLength ||
		!oauth.CleanText(a.Address) || strings.ContainsAny(a.Address, " \"") {
		return "", badRequest("the recipient's email must be one address, such as devices@example.com")
	}
	return a.Address, nil
}

// checkMessage accepts the inviter's note: text with line breaks, no other
// control characters. CRLF becomes LF.
func checkMessage(s string) (string, error) {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, line := range strings.Split(s, "\n") {
		if !oauth.CleanText(line) {
			return "", badRequest("the message must be text without control characters other than line breaks")
		}
	}
	if utf8.RuneCountInString(s) > MaxMessageLength {
		return "", badRequest("the message must have at most %d characters", MaxMessageLength)
	}
	return strings.TrimSpace(s), nil
}

// Link is the invitation page for token: what the email carries.
func (s *Service) Link(token string) string {
	return strings.TrimSuffix(s.Issuer, "/") + "/invitations/" + token
}

// AppLinkFor is the device app's link for token: base (the invitation's
// app link, else its organization's) with token=… added to its query. ""
// when neither has one.
func AppLinkFor(base, token string) string {
	if base == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	return base + sep + "token=" + url.QueryEscape(token)
}

// checkToken rejects what cannot be an invitation token before any lookup.
func checkToken(token string) error {
	if !strings.HasPrefix(token, oauth.PrefixInvitation) || len(token) > maxTokenLength || !oauth.CleanText(token) {
		return invalidInvitation(errors.New("not an invitation token"))
	}
	return nil
}

// pending returns the invitation token names if it can still be used;
// anything else is the uniform invalid-invitation answer.
func (s *Service) pending(ctx context.Context, token string) (*store.Invitation, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	inv, err := s.Store.GetInvitationByToken(ctx, oauth.HashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidInvitation(err)
	}
	if err != nil {
		return nil, fmt.Errorf("load invitation: %w", err)
	}
	if !inv.Pending(s.now()) {
		return nil, invalidInvitation(fmt.Errorf("invitation %s is %s, expiring %s", inv.ID, inv.Status, inv.ExpiresAt))
	}
	return inv, nil
}

// Accepted is what accepting an invitation gives the device.
type Accepted struct {
	Invitation *store.Invitation
	Client     *store.Client
	// Secret is the new client's secret, shown to the device once; "" when
	// an existing client accepted.
	Secret string
}

// Device is the client an accepting request proved it is (with a client
// credentials access token), or nil for a new device.
type Device struct {
	ClientID string
}

// Accept uses up the invitation token names for dev (nil: a new device,
// which becomes a new client owned by the invitation's organization) and
// adds the client to its groups, in one store transaction
// (docs/security.md INV-03, INV-10). name, when not empty, names the
// device; the invitation must allow that. The restrictions the sender set
// are enforced here; nothing in the request can widen what the invitation
// grants (INV-05): the groups, and so the scopes, are the invitation's.
func (s *Service) Accept(ctx context.Context, token, name string, dev *Device) (*Accepted, error) {
	inv, err := s.pending(ctx, token)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if !inv.AllowRename {
			return nil, forbidden("this invitation does not let the device choose its name")
		}
		if err := CheckName("deviceName", name); err != nil {
			return nil, err
		}
	}
	var acc store.Acceptance
	var secret string
	if dev == nil {
		if inv.ExistingOnly || inv.RestrictClientID != "" {
			return nil, forbidden("this invitation is for a device that is a client already: accept it with the device's access token")
		}
		c, sec, err := s.newDeviceClient(ctx, inv, name)
		if err != nil {
			return nil, err
		}
		acc.NewClient, secret = c, sec
	} else {
		c, err := s.Store.GetClient(ctx, dev.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidToken("the client of this access token no longer exists")
		}
		if err != nil {
			return nil, fmt.Errorf("load client: %w", err)
		}
		if inv.RestrictClientID != "" && inv.RestrictClientID != c.ID {
			return nil, forbidden("this invitation is for another device")
		}
		if c.OrgID != "" && c.OrgID != inv.OrgID {
			return nil, forbidden("this device belongs to another organization")
		}
		acc.ClientID, acc.Rename = c.ID, name
	}
	now := s.now()
	used, err := s.Store.AcceptInvitation(ctx, oauth.HashSecret(token), &acc, now)
	switch {
	case errors.Is(err, store.ErrConflict) && dev != nil:
		// Either another acceptance won, or the device was taken into
		// another organization meanwhile: tell them apart.
		if again, err2 := s.Store.GetInvitationByToken(ctx, oauth.HashSecret(token)); err2 == nil && again.Pending(now) {
			return nil, forbidden("this device belongs to another organization")
		}
		return nil, invalidInvitation(err)
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return nil, invalidInvitation(err)
	case err != nil:
		return nil, fmt.Errorf("accept invitation: %w", err)
	}
	c := acc.NewClient
	if c == nil {
		if c, err = s.freshClient(ctx, acc.ClientID); err != nil {
			return nil, fmt.Errorf("load client: %w", err)
		}
	} else {
		c.OrgID = used.OrgID
	}
	s.log().InfoContext(ctx, "invitation accepted", "invitation_id", used.ID, "org_id", used.OrgID,
		"client_id", c.ID, "new_client", secret != "")
	_ = s.Audit.Record(holder(ctx, used), audit.Change{Kind: audit.InvitationAccept, TargetID: used.ID, OrgID: used.OrgID,
		After: acceptedChange{invitationJSON(used, now), c.ID, c.Name, secret != ""}})
	return &Accepted{Invitation: used, Client: c, Secret: secret}, nil
}

// newDeviceClient makes the client a new device becomes, with a generated
// secret (256 bits, stored as SHA-256; docs/architecture.md, "Client secrets"). It has the
// client credentials grant and no scopes of its own: an owned client's
// groups decide what it may ask for (grant.ClientScopes).
func (s *Service) newDeviceClient(ctx context.Context, inv *store.Invitation, name string) (*store.Client, string, error) {
	if name == "" {
		name = inv.DeviceName
	}
	if name == "" {
		o, err := s.Store.GetOrganization(ctx, inv.OrgID)
		if err != nil {
			return nil, "", invalidInvitation(err)
		}
		name = "Device of " + o.Name
		if utf8.RuneCountInString(name) > MaxNameLength {
			name = string([]rune(name)[:MaxNameLength])
		}
	}
	id, err := NewID(s.rand())
	if err != nil {
		return nil, "", err
	}
	secret, err := oauth.NewSecret(s.rand(), oauth.PrefixClientSecret)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	return &store.Client{
		ID: id, Name: name, SecretHash: oauth.HashSecret(secret), AuthMethod: store.AuthClientSecretBasic,
		GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: now, UpdatedAt: now,
	}, secret, nil
}

// Decline ends the invitation token names, unused.
func (s *Service) Decline(ctx context.Context, token string) error {
	if err := checkToken(token); err != nil {
		return err
	}
	inv, err := s.Store.DeclineInvitation(ctx, oauth.HashSecret(token), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return invalidInvitation(err)
	}
	if err != nil {
		return fmt.Errorf("decline invitation: %w", err)
	}
	s.log().InfoContext(ctx, "invitation declined", "invitation_id", inv.ID, "org_id", inv.OrgID)
	_ = s.Audit.Record(holder(ctx, inv), audit.Change{Kind: audit.InvitationDecline, TargetID: inv.ID, OrgID: inv.OrgID,
		After: invitationJSON(inv, s.now())})
	return nil
}

// Revoke ends orgID's pending invitation id (docs/security.md INV-09).
func (s *Service) Revoke(ctx context.Context, orgID, id string) (*store.Invitation, error) {
	var before any
	if orgID != "" {
		old, err := s.Invitation(ctx, orgID, id)
		if err != nil {
			return nil, err
		}
		before = invitationJSON(old, s.now())
	} else if old, err := s.Store.GetInvitation(ctx, id); err == nil {
		before = invitationJSON(old, s.now())
	}
	inv, err := s.Store.RevokeInvitation(ctx, id, s.now())
	if err != nil {
		return nil, changeError(err, id, "revoke invitation",
			"the invitation is not pending: it was accepted, declined or revoked already")
	}
	s.log().InfoContext(ctx, "invitation revoked", "invitation_id", inv.ID, "org_id", inv.OrgID)
	_ = s.Audit.Record(ctx, audit.Change{Kind: audit.InvitationRevoke, TargetID: inv.ID, OrgID: inv.OrgID,
		Before: before, After: invitationJSON(inv, s.now())})
	return inv, nil
}

// State is an invitation's state as people see it: its Status, or
// "expired" for a pending one past its time.
func State(inv *store.Invitation, now time.Time) string {
	if inv.Status == store.InvitationPending && !now.Before(inv.ExpiresAt) {
		return store.InvitationExpired
	}
	return inv.Status
}

// PendingLink returns the invitation link while the outbox still holds it
// (the mail is unsent, or there is no mail server), and "" otherwise: once
// the mail server took it, or the invitation ended, it is erased.
func (s *Service) PendingLink(ctx context.Context, inv *store.Invitation) (link string, sent time.Time, err error) {
	ms, err := s.Store.ListMail(ctx, inv.ID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("list mail: %w", err)
	}
	for _, m := range ms {
		if m.Status == store.MailPending && m.Link != "" && inv.Pending(s.now()) {
			link = m.Link
		}
		if m.Status == store.MailSent {
			sent = m.SentAt
		}
	}
	return link, sent, nil
}

// Landing is what the invitation page shows.
type Landing struct {
	Token      string
	OrgName    string
	Groups     []string // names
	Message    string
	DeviceName string
	ExpiresAt  time.Time
	AppLink    string // the device app's link with the token; "" for none
}

// Landing returns what the invitation page shows for token; the uniform
// invalid-invitation answer for a token that cannot be used. It changes
// nothing: opening the page is not accepting.
func (s *Service) Landing(ctx context.Context, token string) (*Landing, error) {
	inv, err := s.pending(ctx, token)
	if err != nil {
		return nil, err
	}
	o, err := s.Store.GetOrganization(ctx, inv.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidInvitation(err)
	}
	if err != nil {
		return nil, fmt.Errorf("load organization: %w", err)
	}
	l := &Landing{Token: token, OrgName: o.Name, Message: inv.Message, DeviceName: inv.DeviceName, ExpiresAt: inv.ExpiresAt}
	for _, id := range inv.GroupIDs {
		g, err := s.Store.GetClientGroup(ctx, id)
		if err != nil {
			continue // deleted just now; the invitation is being revoked
		}
		l.Groups = append(l.Groups, g.Name)
	}
	base := inv.AppLink
	if base == "" {
		base = o.AppLink
	}
	l.AppLink = AppLinkFor(base, token)
	return l, nil
}

// freshClient reads a client the acceptance just changed (its organization
// and name) past the server's client cache, which refreshes its entry, so
// this instance's token endpoint sees the change at once.
func (s *Service) freshClient(ctx context.Context, id string) (*store.Client, error) {
	return s.Clients.GetClientFresh(ctx, id)
}

// acceptedChange is an accepted invitation for the audit log: the
// invitation, and the client that accepted it (never its secret).
type acceptedChange struct {
	InvitationJSON
	AcceptedBy string `json:"acceptedByClientId"`
	ClientName string `json:"clientName"`
	NewClient  bool   `json:"newClient"`
}
