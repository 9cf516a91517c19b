package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// An organization's invitations in its OrgAdmin console: the list, by
// state, a page at a time from the store (QueryInvitations' cursor); the
// form that sends one by email into the organization's groups, with its
// restrictions and rename permission; resending and revoking. Every
// change is the invitation service's (package org), the one the
// organization API's handlers call, with the signed-in user as the
// sender and the audit log's actor. And the organization's audit log.

var (
	orgInvitationsTemplate = page("org_invitations")
	invitationNewTemplate  = page("invitation_new")
	orgAuditTemplate       = page("org_audit")
)

func orgInvitationsPath(orgID string) string { return orgPath(orgID) + "/invitations" }

// invitationService is the invitation logic, or a 404 page when the server
// runs without organizations.
func (c *Console) invitationService() (*org.Service, error) {
	if c.Admin.Orgs == nil {
		return nil, web.Error(http.StatusNotFound, "console.err.invitations_off", "console.err.invitations_off_text")
	}
	return c.Admin.Orgs, nil
}

type orgInvitationsPage struct {
	Invitations []invitationView
	Groups      map[string]string // names by id
	State       string
	States      []string
	Next        string // the next page's link, "" for none
	First       string // the first page's link, when this is not it
}

// OrgInvitations serves GET /console/orgs/{id}/invitations: newest first,
// ?state= one of org.ListStates, PageSize at a time after ?cursor=.
func (c *Console) OrgInvitations(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	state, err := web.Query(rq.r, "state")
	if err != nil {
		return err
	}
	cursor, err := web.Query(rq.r, "cursor")
	if err != nil {
		return err
	}
	if state != "" && !slices.Contains(org.ListStates, state) {
		return web.Error(http.StatusBadRequest, "console.err.no_state", "console.err.no_state_text")
	}
	now := c.now()
	q := store.InvitationQuery{OrgID: o.ID, State: state, Now: now, Limit: PageSize + 1}
	if cursor != "" {
		if q.AfterCreated, q.AfterID, err = org.DecodeCursor(cursor); err != nil {
			return web.Error(http.StatusBadRequest, "console.err.no_page", "console.err.bad_cursor")
		}
	}
	invs, err := c.Store.QueryInvitations(rq.ctx, q)
	if err != nil {
		return err
	}
	link := func(cursor string) string {
		v := url.Values{}
		if state != "" {
			v.Set("state", state)
		}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		if len(v) == 0 {
			return orgInvitationsPath(o.ID)
		}
		return orgInvitationsPath(o.ID) + "?" + v.Encode()
	}
	p := orgInvitationsPage{State: state, States: org.ListStates, Groups: map[string]string{}}
	if len(invs) > PageSize {
		invs = invs[:PageSize]
		p.Next = link(org.EncodeCursor(invs[PageSize-1]))
	}
	if cursor != "" {
		p.First = link("")
	}
	for _, inv := range invs {
		p.Invitations = append(p.Invitations, invitationView{Invitation: inv, State: org.State(inv, now), OrgName: o.Name})
	}
	gs, err := c.Store.ListClientGroups(rq.ctx, o.ID)
	if err != nil {
		return err
	}
	for _, g := range gs {
		p.Groups[g.ID] = g.Name
	}
	return c.renderOrgPage(rq, http.StatusOK, orgInvitationsTemplate, o, "invitations", rq.T("console.nav.invitations"), "", p)
}

// invitationForm is the send form's values, as shown and as sent.
type invitationForm struct {
	Groups       []*store.ClientGroup
	Chosen       map[string]bool // group ids
	Email        string
	Message      string
	DeviceName   string
	AllowRename  bool
	ExistingOnly bool
	ClientID     string
	Days         string
	MaxDays      int
}

func (c *Console) renderInvitationForm(rq *request, status int, notice string, o *store.Organization, f invitationForm) error {
	gs, err := c.Store.ListClientGroups(rq.ctx, o.ID)
	if err != nil {
		return err
	}
	f.Groups = gs
	f.MaxDays = int(org.MaxLifetime / (24 * time.Hour))
	return c.renderOrgPage(rq, status, invitationNewTemplate, o, "invitations", rq.T("console.invite.heading"), notice, f)
}

// NewInvitationForm serves GET /console/orgs/{id}/invitations/new; ?group=
// ticks a group.
func (c *Console) NewInvitationForm(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	g, err := web.Query(rq.r, "group")
	if err != nil {
		return err
	}
	return c.renderInvitationForm(rq, http.StatusOK, "", o, invitationForm{Chosen: map[string]bool{g: g != ""}})
}

// SendInvitation serves POST /console/orgs/{id}/invitations/new: the
// invitation service's CreateInvitation, with the signed-in user as the
// sender; its email goes to the outbox.
func (c *Console) SendInvitation(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	svc, err := c.invitationService()
	if err != nil {
		return err
	}
	gs, err := c.Store.ListClientGroups(rq.ctx, o.ID)
	if err != nil {
		return err
	}
	f := invitationForm{Chosen: map[string]bool{}, Email: strings.TrimSpace(rq.form["email"]), Message: rq.form["message"],
		DeviceName: strings.TrimSpace(rq.form["device_name"]), AllowRename: rq.form["allow_rename"] != "",
		ExistingOnly: rq.form["existing_only"] != "", ClientID: strings.TrimSpace(rq.form["client_id"]), Days: strings.TrimSpace(rq.form["days"])}
	req := org.InvitationRequest{Email: f.Email, Message: f.Message, DeviceName: f.DeviceName, AllowRename: f.AllowRename,
		ExistingOnly: f.ExistingOnly, ClientID: f.ClientID}
	for _, g := range gs { // one checkbox per group: a form's names are never repeated
		if rq.form["group_"+g.ID] != "" {
			f.Chosen[g.ID] = true
			req.GroupIDs = append(req.GroupIDs, g.ID)
		}
	}
	if f.Days != "" {
		days, err := strconv.Atoi(f.Days)
		if err != nil || days < 1 || days > int(org.MaxLifetime/(24*time.Hour)) {
			return c.renderInvitationForm(rq, http.StatusBadRequest, rq.T("console.invite.days_invalid", "n", int(org.MaxLifetime/(24*time.Hour))), o, f)
		}
		req.Lifetime = time.Duration(days) * 24 * time.Hour
	}
	if len(req.GroupIDs) == 0 {
		return c.renderInvitationForm(rq, http.StatusBadRequest, rq.T("console.invite.choose_group"), o, f)
	}
	_, err = svc.CreateInvitation(rq.ctx, o.ID, req, rq.v.User.ID)
	if oe := userError(err); oe != nil {
		return c.renderInvitationForm(rq, oe.StatusCode(), rq.describe(oe), o, f)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgInvitationsPath(o.ID)+"?done=invitation-sent")
}

// loadOrgInvitation loads the invitation the path names
// ({invitation_id}) and its organization ({id}): 404 for either missing,
// or an invitation of another organization.
func (c *Console) loadOrgInvitation(rq *request) (*store.Organization, *store.Invitation, error) {
	o, err := c.loadOrg(rq)
	if err != nil {
		return nil, nil, err
	}
	svc, err := c.invitationService()
	if err != nil {
		return nil, nil, err
	}
	inv, err := svc.Invitation(rq.ctx, o.ID, rq.r.PathValue("invitation_id"))
	if oe := userError(err); oe != nil {
		return nil, nil, web.Error(http.StatusNotFound, "console.err.no_invitation", "console.err.no_org_invitation_text")
	}
	return o, inv, err
}

// ResendInvitation serves POST /console/orgs/{id}/invitations/{invitation_id}/resend:
// a new link by email; the old one stops working.
func (c *Console) ResendInvitation(rq *request) error {
	o, inv, err := c.loadOrgInvitation(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.Orgs.Resend(rq.ctx, o.ID, inv.ID, rq.v.User.ID)
	if oe := userError(err); oe != nil {
		return web.Error(oe.StatusCode(), "console.err.not_resent", rq.describe(oe))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgInvitationsPath(o.ID)+"?done=invitation-resent")
}

func revokeOrgInvitationConfirm(rq *request, o *store.Organization, inv *store.Invitation) confirmPage {
	return confirmPage{Heading: rq.T("console.inv.revoke_heading", "email", inv.Email),
		Text:   rq.T("console.inv.revoke_text"),
		Action: orgInvitationsPath(o.ID) + "/" + url.PathEscape(inv.ID) + "/revoke", Button: rq.T("console.inv.revoke_button"), Danger: true,
		Back: orgInvitationsPath(o.ID), Org: o, OrgNav: "invitations"}
}

// RevokeOrgInvitationForm serves GET /console/orgs/{id}/invitations/{invitation_id}/revoke.
func (c *Console) RevokeOrgInvitationForm(rq *request) error {
	o, inv, err := c.loadOrgInvitation(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", revokeOrgInvitationConfirm(rq, o, inv))
}

// RevokeOrgInvitation serves POST /console/orgs/{id}/invitations/{invitation_id}/revoke.
func (c *Console) RevokeOrgInvitation(rq *request) error {
	o, inv, err := c.loadOrgInvitation(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.Orgs.Revoke(rq.ctx, o.ID, inv.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), revokeOrgInvitationConfirm(rq, o, inv))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgInvitationsPath(o.ID)+"?done=invitation-gone")
}

type orgAuditPage struct {
	Entries []*store.AuditEntry
	Names   map[string]string // users' email addresses, by id, for the actors
	Kind    string
	Kinds   []string
	Next    string
}

// OrgAudit serves GET /console/orgs/{id}/audit: the organization's
// entries of the audit log, newest first, by ?kind=, a page at a time
// (?cursor=). The organization is the path's, whatever the query says.
func (c *Console) OrgAudit(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	v := url.Values{}
	for _, name := range []string{"kind", "cursor"} {
		s, err := web.Query(rq.r, name)
		if err != nil {
			return err
		}
		if s != "" {
			v.Set(name, s)
		}
	}
	v.Set("organization", o.ID)
	q, err := audit.ParseQuery(v)
	if err != nil {
		text := "console.err.filters_text"
		var oe *oauth.Error
		if errors.As(err, &oe) {
			text = rq.describe(oe)
		}
		return web.Error(http.StatusBadRequest, "console.err.filters", text)
	}
	q.Limit = auditPageSize + 1
	es, err := c.Store.QueryAudit(rq.ctx, q)
	if err != nil {
		return err
	}
	es, next := audit.Page(es, auditPageSize)
	p := orgAuditPage{Entries: es, Kind: q.Kind, Kinds: audit.Kinds, Names: map[string]string{}}
	for _, e := range es {
		if _, ok := p.Names[e.ActorID]; ok || e.ActorKind != store.ActorUser {
			continue
		}
		if u, err := c.Store.GetUser(rq.ctx, e.ActorID); err == nil {
			p.Names[e.ActorID] = u.Email
		}
	}
	if next != "" {
		nv := url.Values{"cursor": {next}}
		if q.Kind != "" {
			nv.Set("kind", q.Kind)
		}
		p.Next = orgPath(o.ID) + "/audit?" + nv.Encode()
	}
	return c.renderOrgPage(rq, http.StatusOK, orgAuditTemplate, o, "audit", rq.T("console.nav.audit"), "", p)
}
