package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// Organizations, their members and their device client groups; `latchkey
// orgs` and `latchkey groups` are the command-line clients. Invitations
// are in invitations.go.

// orgStore is the store of organizations, or an error when the API was
// built without the invitation service.
func (a *API) orgStore() (Store, error) {
	if a.Orgs == nil {
		return nil, notFound("organizations are not enabled on this server")
	}
	return a.Store, nil
}

// Organization is an organization as the API shows it.
type Organization struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	AppLink   string `json:"app_link"` // the device app's invitation link, such as myapp://invitation
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// OrganizationList is the answer to GET /admin/v1/organizations.
type OrganizationList struct {
	Organizations []Organization `json:"organizations"`
}

type orgRequest struct {
	ID      *string `json:"id"`
	Name    *string `json:"name"`
	AppLink *string `json:"app_link"`

	CreatedAt *json.RawMessage `json:"created_at"`
	UpdatedAt *json.RawMessage `json:"updated_at"`
}

func orgJSON(o *store.Organization) Organization {
	return Organization{ID: o.ID, Name: o.Name, AppLink: o.AppLink, CreatedAt: formatTime(o.CreatedAt), UpdatedAt: formatTime(o.UpdatedAt)}
}

func applyOrg(o *store.Organization, req *orgRequest) error {
	if req.CreatedAt != nil || req.UpdatedAt != nil {
		return badRequest("created_at and updated_at are set by the server")
	}
	if req.Name != nil {
		if err := org.CheckName("name", *req.Name); err != nil {
			return err
		}
		o.Name = *req.Name
	}
	if req.AppLink != nil {
		if err := org.CheckAppLink(*req.AppLink); err != nil {
			return err
		}
		o.AppLink = *req.AppLink
	}
	return nil
}

// OrgRequest is what creating an organization asks for: the admin API's
// JSON body, and what the SysAdmin console's form is read into.
type OrgRequest = orgRequest

// CreateOrg serves POST /admin/v1/organizations.
func (a *API) CreateOrg(w http.ResponseWriter, r *http.Request) error {
	var req orgRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	o, err := a.NewOrg(r.Context(), &req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"organizations/"+url.PathEscape(o.ID))
	return oauth.WriteJSON(w, http.StatusCreated, orgJSON(o))
}

// NewOrg creates an organization from req, by the rules of POST
// /admin/v1/organizations, and records it as done by ctx's actor.
func (a *API) NewOrg(ctx context.Context, req *OrgRequest) (*store.Organization, error) {
	st, err := a.orgStore()
	if err != nil {
		return nil, err
	}
	if req.Name == nil {
		return nil, badRequest("name is required")
	}
	now := a.now()
	o := &store.Organization{CreatedAt: now, UpdatedAt: now}
	if req.ID != nil {
		if err := org.CheckID("id", *req.ID); err != nil {
			return nil, err
		}
		o.ID = *req.ID
	} else if o.ID, err = a.newID(); err != nil {
		return nil, err
	}
	if err := applyOrg(o, req); err != nil {
		return nil, err
	}
	if err := st.CreateOrganization(ctx, o); err != nil {
		return nil, storeError(err, "", "an organization with id "+o.ID+" exists already")
	}
	a.log().InfoContext(ctx, "admin: organization created", "org_id", o.ID)
	a.record(ctx, audit.Change{Kind: audit.OrgCreate, TargetID: o.ID, OrgID: o.ID, After: orgJSON(o)})
	return o, nil
}

// ListOrgs serves GET /admin/v1/organizations.
func (a *API) ListOrgs(w http.ResponseWriter, r *http.Request) error {
	st, err := a.orgStore()
	if err != nil {
		return err
	}
	orgs, err := st.ListOrganizations(r.Context())
	if err != nil {
		return err
	}
	out := OrganizationList{Organizations: make([]Organization, 0, len(orgs))}
	for _, o := range orgs {
		out.Organizations = append(out.Organizations, orgJSON(o))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// loadOrg loads the organization the path names.
func (a *API) loadOrg(r *http.Request) (Store, *store.Organization, error) {
	st, err := a.orgStore()
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("id")
	o, err := st.GetOrganization(r.Context(), id)
	if err != nil {
		return nil, nil, storeError(err, "there is no organization "+shorten(id), "")
	}
	return st, o, nil
}

// GetOrg serves GET /admin/v1/organizations/{id}.
func (a *API) GetOrg(w http.ResponseWriter, r *http.Request) error {
	_, o, err := a.loadOrg(r)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, orgJSON(o))
}

// PatchOrg serves PATCH /admin/v1/organizations/{id}.
func (a *API) PatchOrg(w http.ResponseWriter, r *http.Request) error {
	var req orgRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	st, o, err := a.loadOrg(r)
	if err != nil {
		return err
	}
	if req.ID != nil && *req.ID != o.ID {
		return badRequest("id cannot be changed: it is %s", o.ID)
	}
	before := orgJSON(o)
	if err := applyOrg(o, &req); err != nil {
		return err
	}
	o.UpdatedAt = a.now()
	if err := st.UpdateOrganization(r.Context(), o); err != nil {
		return storeError(err, "there is no organization "+o.ID, "")
	}
	a.log().InfoContext(r.Context(), "admin: organization updated", "org_id", o.ID)
	a.record(r.Context(), audit.Change{Kind: audit.OrgUpdate, TargetID: o.ID, OrgID: o.ID, Before: before, After: orgJSON(o)})
	return oauth.WriteJSON(w, http.StatusOK, orgJSON(o))
}

// DeleteOrg serves DELETE /admin/v1/organizations/{id}.
func (a *API) DeleteOrg(w http.ResponseWriter, r *http.Request) error {
	if err := a.RemoveOrg(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RemoveOrg deletes organization id with its members, groups and
// invitations (not while it owns clients) and records it as done by ctx's
// actor.
func (a *API) RemoveOrg(ctx context.Context, id string) error {
	st, err := a.orgStore()
	if err != nil {
		return err
	}
	o, err := st.GetOrganization(ctx, id)
	if err != nil {
		return storeError(err, "there is no organization "+shorten(id), "")
	}
	if err := st.DeleteOrganization(ctx, id); err != nil {
		return storeError(err, "there is no organization "+shorten(id),
			"organization "+shorten(id)+" owns device clients: delete them first")
	}
	a.log().InfoContext(ctx, "admin: organization deleted", "org_id", id)
	a.record(ctx, audit.Change{Kind: audit.OrgDelete, TargetID: id, OrgID: id, Before: orgJSON(o)})
	return nil
}

// Member is a user's membership of an organization.
type Member struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	Role      string `json:"role"` // admin or member
	CreatedAt string `json:"created_at"`
}

// MemberList is the answer to GET /admin/v1/organizations/{id}/members.
type MemberList struct {
	Members []Member `json:"members"`
}

func (a *API) memberJSON(ctx context.Context, m *store.OrgMember) Member {
	out := Member{UserID: m.UserID, Role: m.Role, CreatedAt: formatTime(m.CreatedAt)}
	if u, err := a.Store.GetUser(ctx, m.UserID); err == nil {
		out.Email = u.Email
	}
	return out
}

// ListMembers serves GET /admin/v1/organizations/{id}/members.
func (a *API) ListMembers(w http.ResponseWriter, r *http.Request) error {
	st, o, err := a.loadOrg(r)
	if err != nil {
		return err
	}
	ms, err := st.ListOrgMembers(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := MemberList{Members: make([]Member, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, a.memberJSON(r.Context(), m))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// PutMember adds a user to an organization, or changes their role.
func (a *API) PutMember(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Role string `json:"role"`
	}
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	m, err := a.SetMember(r.Context(), r.PathValue("id"), r.PathValue("user_id"), req.Role, false)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, m)
}

// LastAdmin is the answer to a change that would leave an organization
// without an admin, for someone bound by that rule (keepAdmin).
const LastAdmin = "that is the organization's last admin: make another member an admin first, or ask a system administrator"

// lastAdminError is LastAdmin as a 409.
func lastAdminError() *oauth.Error { return conflict(LastAdmin) }

// SetMember makes user userID a member of organization orgID with role
// (store.RoleAdmin or store.RoleMember), as PUT
// /admin/v1/organizations/{id}/members/{user_id} does, and records it as
// done by ctx's actor. keepAdmin binds the change by the last-admin rule
// (an organization's admin who is not a system administrator): taking the
// role from its only admin is then refused (409, LastAdmin), decided in
// the store's one transaction.
func (a *API) SetMember(ctx context.Context, orgID, userID, role string, keepAdmin bool) (Member, error) {
	if role != store.RoleAdmin && role != store.RoleMember {
		return Member{}, badRequest("role must be %s or %s", store.RoleAdmin, store.RoleMember)
	}
	st, err := a.orgStore()
	if err != nil {
		return Member{}, err
	}
	o, err := st.GetOrganization(ctx, orgID)
	if err != nil {
		return Member{}, storeError(err, "there is no organization "+shorten(orgID), "")
	}
	var before any
	if old, err := st.GetOrgMember(ctx, o.ID, userID); err == nil {
		before = a.memberJSON(ctx, old)
	}
	m := &store.OrgMember{OrgID: o.ID, UserID: userID, Role: role, CreatedAt: a.now()}
	put := st.PutOrgMember
	if keepAdmin {
		put = st.PutOrgMemberKeepAdmin
	}
	if err := put(ctx, m); errors.Is(err, store.ErrLastAdmin) {
		return Member{}, lastAdminError()
	} else if err != nil {
		return Member{}, storeError(err, "there is no user "+shorten(userID), "")
	}
	if got, err := st.GetOrgMember(ctx, o.ID, userID); err == nil {
		m = got
	}
	a.log().InfoContext(ctx, "admin: organization member set", "org_id", o.ID, "user_id", userID, "role", role)
	after := a.memberJSON(ctx, m)
	a.record(ctx, audit.Change{Kind: audit.MemberPut, TargetID: userID, OrgID: o.ID, Before: before, After: after})
	return after, nil
}

// DeleteMember serves DELETE /admin/v1/organizations/{id}/members/{user_id}.
func (a *API) DeleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.RemoveMember(r.Context(), r.PathValue("id"), r.PathValue("user_id"), false); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RemoveMember removes user userID from organization orgID and records it
// as done by ctx's actor; keepAdmin as SetMember's.
func (a *API) RemoveMember(ctx context.Context, orgID, userID string, keepAdmin bool) error {
	st, err := a.orgStore()
	if err != nil {
		return err
	}
	o, err := st.GetOrganization(ctx, orgID)
	if err != nil {
		return storeError(err, "there is no organization "+shorten(orgID), "")
	}
	var before any
	if old, err := st.GetOrgMember(ctx, o.ID, userID); err == nil {
		before = a.memberJSON(ctx, old)
	}
	del := st.DeleteOrgMember
	if keepAdmin {
		del = st.DeleteOrgMemberKeepAdmin
	}
	if err := del(ctx, o.ID, userID); errors.Is(err, store.ErrLastAdmin) {
		return lastAdminError()
	} else if err != nil {
		return storeError(err, "user "+shorten(userID)+" is not a member of "+o.ID, "")
	}
	a.log().InfoContext(ctx, "admin: organization member removed", "org_id", o.ID, "user_id", userID)
	a.record(ctx, audit.Change{Kind: audit.MemberDelete, TargetID: userID, OrgID: o.ID, Before: before})
	return nil
}

// ClientGroup is a device client group as the API shows it.
type ClientGroup struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	Scope          string `json:"scope"` // what the group grants its device clients
	CreatedAt      string `json:"created_at"`
	UpdatedAt      string `json:"updated_at"`
}

// ClientGroupList is the answer to GET …/client-groups.
type ClientGroupList struct {
	ClientGroups []ClientGroup `json:"client_groups"`
}

type groupRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Scope       *string `json:"scope"`

	ID        *json.RawMessage `json:"id"`
	CreatedAt *json.RawMessage `json:"created_at"`
	UpdatedAt *json.RawMessage `json:"updated_at"`
}

const maxDescriptionLength = 1000

func groupJSON(g *store.ClientGroup) ClientGroup {
	return ClientGroup{ID: g.ID, OrganizationID: g.OrgID, Name: g.Name, Description: g.Description,
		Scope: oauth.JoinScope(g.Scopes), CreatedAt: formatTime(g.CreatedAt), UpdatedAt: formatTime(g.UpdatedAt)}
}

func applyGroup(g *store.ClientGroup, req *groupRequest) error {
	if req.ID != nil || req.CreatedAt != nil || req.UpdatedAt != nil {
		return badRequest("id, created_at and updated_at are set by the server")
	}
	if req.Name != nil {
		if err := org.CheckName("name", *req.Name); err != nil {
			return err
		}
		g.Name = *req.Name
	}
	if req.Description != nil {
		if len([]rune(*req.Description)) > maxDescriptionLength || !oauth.CleanText(*req.Description) {
			return badRequest("description must be at most %d characters without control characters", maxDescriptionLength)
		}
		g.Description = *req.Description
	}
	if req.Scope != nil {
		scopes, err := oauth.ParseScope(*req.Scope)
		if err != nil {
			return badRequest("scope: %s", describeScopeError(err))
		}
		g.Scopes = scopes
	}
	return nil
}

// GroupRequest is what creating or changing a device client group asks
// for: the admin API's JSON body, and what the OrgAdmin console's form is
// read into.
type GroupRequest = groupRequest

// CreateGroup serves POST /admin/v1/organizations/{id}/client-groups.
func (a *API) CreateGroup(w http.ResponseWriter, r *http.Request) error {
	var req groupRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	g, err := a.NewGroup(r.Context(), r.PathValue("id"), &req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"organizations/"+url.PathEscape(g.OrgID)+"/client-groups/"+g.ID)
	return oauth.WriteJSON(w, http.StatusCreated, groupJSON(g))
}

// NewGroup creates a device client group of organization orgID from req,
// by the rules of POST …/client-groups, and records it as done by ctx's
// actor.
func (a *API) NewGroup(ctx context.Context, orgID string, req *GroupRequest) (*store.ClientGroup, error) {
	if req.Name == nil {
		return nil, badRequest("name is required")
	}
	st, err := a.orgStore()
	if err != nil {
		return nil, err
	}
	o, err := st.GetOrganization(ctx, orgID)
	if err != nil {
		return nil, storeError(err, "there is no organization "+shorten(orgID), "")
	}
	now := a.now()
	id, err := a.newID()
	if err != nil {
		return nil, err
	}
	g := &store.ClientGroup{ID: id, OrgID: o.ID, CreatedAt: now, UpdatedAt: now}
	if err := applyGroup(g, req); err != nil {
		return nil, err
	}
	if err := st.CreateClientGroup(ctx, g); err != nil {
		return nil, storeError(err, "there is no organization "+o.ID, "organization "+o.ID+" has a group named "+shorten(g.Name)+" already")
	}
	a.log().InfoContext(ctx, "admin: client group created", "org_id", o.ID, "group_id", g.ID)
	a.record(ctx, audit.Change{Kind: audit.GroupCreate, TargetID: g.ID, OrgID: o.ID, After: groupJSON(g)})
	return g, nil
}

// ListGroups serves GET /admin/v1/organizations/{id}/client-groups.
func (a *API) ListGroups(w http.ResponseWriter, r *http.Request) error {
	st, o, err := a.loadOrg(r)
	if err != nil {
		return err
	}
	gs, err := st.ListClientGroups(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := ClientGroupList{ClientGroups: make([]ClientGroup, 0, len(gs))}
	for _, g := range gs {
		out.ClientGroups = append(out.ClientGroups, groupJSON(g))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// Group returns organization orgID's client group id; one of another
// organization is as unknown as one that does not exist.
func (a *API) Group(ctx context.Context, orgID, id string) (*store.ClientGroup, error) {
	st, err := a.orgStore()
	if err != nil {
		return nil, err
	}
	g, err := st.GetClientGroup(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.OrgID != orgID) {
		return nil, notFound("organization " + shorten(orgID) + " has no client group " + shorten(id))
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// loadGroup loads the group the path names, which must be the path's
// organization's.
func (a *API) loadGroup(r *http.Request) (*store.ClientGroup, error) {
	return a.Group(r.Context(), r.PathValue("id"), r.PathValue("group_id"))
}

// GetGroup serves GET /admin/v1/organizations/{id}/client-groups/{group_id}.
func (a *API) GetGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, groupJSON(g))
}

// PatchGroup serves PATCH /admin/v1/organizations/{id}/client-groups/{group_id}.
func (a *API) PatchGroup(w http.ResponseWriter, r *http.Request) error {
	var req groupRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	g, err := a.ChangeGroup(r.Context(), r.PathValue("id"), r.PathValue("group_id"), &req)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, groupJSON(g))
}

// ChangeGroup changes organization orgID's client group id as req asks
// (members left out keep their values), by the rules of PATCH
// …/client-groups/{group_id}, and records it as done by ctx's actor.
func (a *API) ChangeGroup(ctx context.Context, orgID, id string, req *GroupRequest) (*store.ClientGroup, error) {
	g, err := a.Group(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	before := groupJSON(g)
	if err := applyGroup(g, req); err != nil {
		return nil, err
	}
	g.UpdatedAt = a.now()
	if err := a.Store.UpdateClientGroup(ctx, g); err != nil {
		return nil, storeError(err, "there is no client group "+g.ID, "the organization has a group named "+shorten(g.Name)+" already")
	}
	a.log().InfoContext(ctx, "admin: client group updated", "org_id", g.OrgID, "group_id", g.ID)
	a.record(ctx, audit.Change{Kind: audit.GroupUpdate, TargetID: g.ID, OrgID: g.OrgID, Before: before, After: groupJSON(g)})
	return g, nil
}

// DeleteGroup deletes a group; its pending invitations are revoked with it.
func (a *API) DeleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := a.RemoveGroup(r.Context(), r.PathValue("id"), r.PathValue("group_id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RemoveGroup deletes organization orgID's client group id (its pending
// invitations are revoked with it) and records it as done by ctx's actor.
func (a *API) RemoveGroup(ctx context.Context, orgID, id string) error {
	g, err := a.Group(ctx, orgID, id)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteClientGroup(ctx, g.ID, a.now()); err != nil {
		return storeError(err, "there is no client group "+g.ID, "")
	}
	a.log().InfoContext(ctx, "admin: client group deleted", "org_id", g.OrgID, "group_id", g.ID)
	a.record(ctx, audit.Change{Kind: audit.GroupDelete, TargetID: g.ID, OrgID: g.OrgID, Before: groupJSON(g)})
	return nil
}

// GroupClients is the answer to GET …/client-groups/{group_id}/clients.
type GroupClients struct {
	ClientIDs []string `json:"client_ids"`
}

// ListGroupClients serves GET /admin/v1/organizations/{id}/client-groups/{group_id}/clients.
func (a *API) ListGroupClients(w http.ResponseWriter, r *http.Request) error {
	g, err := a.loadGroup(r)
	if err != nil {
		return err
	}
	ids, err := a.Store.ListGroupClients(r.Context(), g.ID)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, GroupClients{ClientIDs: nonNil(ids)})
}

// AddGroupClient puts a device client of the group's organization into the
// group (back into it, say, after removeGroupClient); a client already in
// it stays, and the answer is the same (PUT is idempotent).
func (a *API) AddGroupClient(w http.ResponseWriter, r *http.Request) error {
	if err := a.JoinGroup(r.Context(), r.PathValue("id"), r.PathValue("group_id"), r.PathValue("client_id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// JoinGroup puts device client clientID of organization orgID into its
// group groupID, by the rules of PUT …/clients/{client_id}, and records it
// as done by ctx's actor.
func (a *API) JoinGroup(ctx context.Context, orgID, groupID, clientID string) error {
	g, err := a.Group(ctx, orgID, groupID)
	if err != nil {
		return err
	}
	if err := a.Store.AddGroupClient(ctx, g.ID, clientID, a.now()); err != nil {
		return storeError(err, "there is no client "+shorten(clientID), "client "+shorten(clientID)+
			" is not a device client of organization "+shorten(g.OrgID)+": only the organization's own devices join its groups")
	}
	a.log().InfoContext(ctx, "admin: client added to group", "group_id", g.ID, "client_id", clientID)
	a.record(ctx, audit.Change{Kind: audit.GroupAddClient, TargetID: g.ID, OrgID: g.OrgID, After: map[string]string{"client_id": clientID}})
	return nil
}

// RemoveGroupClient serves DELETE /admin/v1/organizations/{id}/client-groups/{group_id}/clients/{client_id}.
func (a *API) RemoveGroupClient(w http.ResponseWriter, r *http.Request) error {
	if err := a.LeaveGroup(r.Context(), r.PathValue("id"), r.PathValue("group_id"), r.PathValue("client_id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// LeaveGroup takes client clientID out of organization orgID's group
// groupID, by the rules of DELETE …/clients/{client_id}, and records it as
// done by ctx's actor.
func (a *API) LeaveGroup(ctx context.Context, orgID, groupID, clientID string) error {
	g, err := a.Group(ctx, orgID, groupID)
	if err != nil {
		return err
	}
	if err := a.Store.RemoveGroupClient(ctx, g.ID, clientID); err != nil {
		return storeError(err, "client "+shorten(clientID)+" is not in group "+g.ID, "")
	}
	a.log().InfoContext(ctx, "admin: client removed from group", "group_id", g.ID, "client_id", clientID)
	a.record(ctx, audit.Change{Kind: audit.GroupRemoveClient, TargetID: g.ID, OrgID: g.OrgID, Before: map[string]string{"client_id": clientID}})
	return nil
}
