package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The OrgAdmin console (/console/orgs/{id}/…): an organization's device
// client groups (create, edit, delete), the devices in each (rename, move
// between groups, remove, revoke their tokens, rotate their secret). Its
// routes are adapted by OrgPage and OrgForm: a system administrator, or an
// admin of organization {id}. Every group and device a path names must be
// that organization's, else it is as unknown as a missing one. Every
// change goes through an operation of the admin API (package admin), as
// the JSON API's do, with the signed-in user as the audit log's actor.

var (
	myOrgsTemplate       = page("my_orgs")
	groupTemplate        = page("group")
	deviceTemplate       = page("device")
	deviceSecretTemplate = page("device_secret")
)

type myOrgsPage struct {
	Orgs []*store.Organization
}

// MyOrgs is GET /console for someone who is not a system administrator:
// the organizations they are an admin of; 403 when there are none.
func (c *Console) MyOrgs(rq *request) error {
	ms, err := c.Store.ListUserMemberships(rq.ctx, rq.v.User.ID)
	if err != nil {
		return err
	}
	var p myOrgsPage
	for _, m := range ms {
		if m.Role != store.RoleAdmin {
			continue
		}
		o, err := c.Store.GetOrganization(rq.ctx, m.OrgID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		p.Orgs = append(p.Orgs, o)
	}
	if len(p.Orgs) == 0 {
		return errNotConsoleUser
	}
	return c.render(rq, http.StatusOK, myOrgsTemplate, "my-orgs", rq.T("console.nav.my_orgs"), "", p)
}

var errNotConsoleUser = web.Error(http.StatusForbidden, "err.not_allowed.heading", "console.err.not_console_user")

func groupPath(orgID, groupID string) string {
	return orgPath(orgID) + "/groups/" + url.PathEscape(groupID)
}

func devicePath(orgID, clientID string) string {
	return orgPath(orgID) + "/devices/" + url.PathEscape(clientID)
}

// groupView is a group with how many devices it has.
type groupView struct {
	*store.ClientGroup
	Devices int
}

// groups are o's groups, each with its count of devices.
func (c *Console) groups(rq *request, o *store.Organization) ([]groupView, error) {
	gs, err := c.Store.ListClientGroups(rq.ctx, o.ID)
	if err != nil {
		return nil, err
	}
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		ids, err := c.Store.ListGroupClients(rq.ctx, g.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, groupView{ClientGroup: g, Devices: len(ids)})
	}
	return out, nil
}

// groupForm is the group form's values, as shown and as sent.
type groupForm struct {
	Name, Description, Scope string
}

func readGroupForm(rq *request) (groupForm, *admin.GroupRequest) {
	f := groupForm{Name: strings.TrimSpace(rq.form["name"]), Description: strings.TrimSpace(rq.form["description"]),
		Scope: strings.Join(strings.Fields(rq.form["scope"]), " ")}
	return f, &admin.GroupRequest{Name: &f.Name, Description: &f.Description, Scope: &f.Scope}
}

// CreateGroup serves POST /console/orgs/{id}/groups.
func (c *Console) CreateGroup(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	f, req := readGroupForm(rq)
	g, err := c.Admin.NewGroup(rq.ctx, o.ID, req)
	if oe := userError(err); oe != nil {
		return c.renderOrg(rq, http.StatusBadRequest, rq.describe(oe), o, orgPage{Group: f})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, groupPath(o.ID, g.ID)+"?done=group-created")
}

// loadGroup loads the organization the path names ({id}) and its device
// client group ({group_id}): 404 for either missing, or a group of another
// organization.
func (c *Console) loadGroup(rq *request) (*store.Organization, *store.ClientGroup, error) {
	o, err := c.loadOrg(rq)
	if err != nil {
		return nil, nil, err
	}
	g, err := c.Admin.Group(rq.ctx, o.ID, rq.r.PathValue("group_id"))
	if oe := userError(err); oe != nil {
		return nil, nil, web.Error(http.StatusNotFound, "console.err.no_group", "console.err.no_group_text")
	}
	return o, g, err
}

// deviceView is a device client as its group's list shows it.
type deviceView struct {
	*store.Client
}

type groupPage struct {
	Group   *store.ClientGroup
	Form    groupForm
	Devices []deviceView
	Pager   pager
}

// Group serves GET /console/orgs/{id}/groups/{group_id}: the group's
// settings and its devices, searched (?q=, by name or id) and paged.
func (c *Console) Group(rq *request) error {
	o, g, err := c.loadGroup(rq)
	if err != nil {
		return err
	}
	return c.renderGroup(rq, http.StatusOK, "", o, g, groupForm{Name: g.Name, Description: g.Description, Scope: strings.Join(g.Scopes, " ")})
}

// renderGroup shows group g of o. The store gives a group's members as one
// list of ids (ListGroupClients, no cursor), so the page is cut from it
// here; each shown device is then read.
func (c *Console) renderGroup(rq *request, status int, notice string, o *store.Organization, g *store.ClientGroup, f groupForm) error {
	ids, err := c.Store.ListGroupClients(rq.ctx, g.ID)
	if err != nil {
		return err
	}
	var all []*store.Client
	for _, id := range ids {
		cl, err := c.Store.GetClient(rq.ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		all = append(all, cl)
	}
	shown, pg, err := paginate(rq, groupPath(o.ID, g.ID), all, func(cl *store.Client, q string) bool {
		return contains(q, cl.ID, cl.Name)
	})
	if err != nil {
		return err
	}
	p := groupPage{Group: g, Form: f, Pager: pg}
	for _, cl := range shown {
		p.Devices = append(p.Devices, deviceView{Client: cl})
	}
	return c.renderOrgPage(rq, status, groupTemplate, o, "org", g.Name, notice, p)
}

// SaveGroup serves POST /console/orgs/{id}/groups/{group_id}: name,
// description and scopes, by the admin API's rules.
func (c *Console) SaveGroup(rq *request) error {
	o, g, err := c.loadGroup(rq)
	if err != nil {
		return err
	}
	f, req := readGroupForm(rq)
	_, err = c.Admin.ChangeGroup(rq.ctx, o.ID, g.ID, req)
	if oe := userError(err); oe != nil {
		return c.renderGroup(rq, oe.StatusCode(), rq.describe(oe), o, g, f)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, groupPath(o.ID, g.ID)+"?done=group-saved")
}

func deleteGroupConfirm(rq *request, o *store.Organization, g *store.ClientGroup) confirmPage {
	return confirmPage{Heading: rq.T("console.group.delete_heading", "name", g.Name),
		Text:   rq.T("console.group.delete_text"),
		Action: groupPath(o.ID, g.ID) + "/delete", Button: rq.T("console.group.delete"), Danger: true,
		Back: groupPath(o.ID, g.ID), Org: o, OrgNav: "org"}
}

// DeleteGroupForm serves GET /console/orgs/{id}/groups/{group_id}/delete.
func (c *Console) DeleteGroupForm(rq *request) error {
	o, g, err := c.loadGroup(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", deleteGroupConfirm(rq, o, g))
}

// DeleteGroup serves POST /console/orgs/{id}/groups/{group_id}/delete.
func (c *Console) DeleteGroup(rq *request) error {
	o, g, err := c.loadGroup(rq)
	if err != nil {
		return err
	}
	err = c.Admin.RemoveGroup(rq.ctx, o.ID, g.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), deleteGroupConfirm(rq, o, g))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"?done=group-deleted")
}

// loadDevice loads the organization the path names ({id}) and the device
// client ({client_id}), which must be owned by it.
func (c *Console) loadDevice(rq *request) (*store.Organization, *store.Client, error) {
	o, err := c.loadOrg(rq)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.Store.GetClient(rq.ctx, rq.r.PathValue("client_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && cl.OrgID != o.ID) {
		return nil, nil, web.Error(http.StatusNotFound, "console.err.no_device", "console.err.no_device_text")
	}
	return o, cl, err
}

type devicePage struct {
	Device *store.Client
	In     []*store.ClientGroup // the groups it is in
	Others []*store.ClientGroup // the organization's groups it is not in
	Name   string               // the rename form, as sent
}

// Device serves GET /console/orgs/{id}/devices/{client_id}.
func (c *Console) Device(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	return c.renderDevice(rq, http.StatusOK, "", o, d, d.Name)
}

func (c *Console) renderDevice(rq *request, status int, notice string, o *store.Organization, d *store.Client, name string) error {
	in, err := c.Store.ListClientGroupsOf(rq.ctx, d.ID)
	if err != nil {
		return err
	}
	all, err := c.Store.ListClientGroups(rq.ctx, o.ID)
	if err != nil {
		return err
	}
	p := devicePage{Device: d, In: in, Name: name}
	for _, g := range all {
		if !slices.ContainsFunc(in, func(x *store.ClientGroup) bool { return x.ID == g.ID }) {
			p.Others = append(p.Others, g)
		}
	}
	return c.renderOrgPage(rq, status, deviceTemplate, o, "org", d.Name, notice, p)
}

// RenameDevice serves POST /console/orgs/{id}/devices/{client_id}/name,
// by the admin API's rules for a client's name.
func (c *Console) RenameDevice(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(rq.form["name"])
	_, _, err = c.Admin.ChangeClient(rq.ctx, d.ID, &admin.ClientRequest{ClientName: &name}, false)
	if oe := userError(err); oe != nil {
		return c.renderDevice(rq, oe.StatusCode(), rq.describe(oe), o, d, name)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, devicePath(o.ID, d.ID)+"?done=device-renamed")
}

// MoveDevice serves POST /console/orgs/{id}/devices/{client_id}/move: the
// device joins group "to" and then leaves group "from", both the
// organization's. It joins first, so that a failure between the two
// leaves it in both groups rather than in neither.
func (c *Console) MoveDevice(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	from, to := rq.form["from"], rq.form["to"]
	if from == "" || to == "" || from == to {
		return c.renderDevice(rq, http.StatusBadRequest, rq.T("console.device.choose_groups"), o, d, d.Name)
	}
	in, err := c.Store.ListClientGroupsOf(rq.ctx, d.ID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(in, func(g *store.ClientGroup) bool { return g.ID == from }) {
		return c.renderDevice(rq, http.StatusBadRequest, rq.T("console.device.not_in_group"), o, d, d.Name)
	}
	err = c.Admin.JoinGroup(rq.ctx, o.ID, to, d.ID)
	if err == nil {
		err = c.Admin.LeaveGroup(rq.ctx, o.ID, from, d.ID)
	}
	if oe := userError(err); oe != nil {
		return c.renderDevice(rq, oe.StatusCode(), rq.describe(oe), o, d, d.Name)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, devicePath(o.ID, d.ID)+"?done=device-moved")
}

func removeDeviceConfirm(rq *request, o *store.Organization, d *store.Client) confirmPage {
	return confirmPage{Heading: rq.T("console.device.remove_heading", "name", d.Name),
		Text:   rq.T("console.device.remove_text", "id", d.ID),
		Action: devicePath(o.ID, d.ID) + "/remove", Button: rq.T("console.device.remove"), Danger: true,
		Back: devicePath(o.ID, d.ID), Org: o, OrgNav: "org"}
}

// RemoveDeviceForm serves GET /console/orgs/{id}/devices/{client_id}/remove.
func (c *Console) RemoveDeviceForm(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", removeDeviceConfirm(rq, o, d))
}

// RemoveDevice serves POST /console/orgs/{id}/devices/{client_id}/remove:
// the device client is deleted, as DELETE /admin/v1/clients/{id} does.
func (c *Console) RemoveDevice(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	err = c.Admin.RemoveClient(rq.ctx, d.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), removeDeviceConfirm(rq, o, d))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, orgPath(o.ID)+"/devices?done=device-removed")
}

func rotateDeviceConfirm(rq *request, o *store.Organization, d *store.Client) confirmPage {
	return confirmPage{Heading: rq.T("console.device.rotate_heading", "name", d.Name),
		Text:   rq.T("console.device.rotate_text"),
		Action: devicePath(o.ID, d.ID) + "/secret", Button: rq.T("console.rotate_secret"), Danger: true,
		Back: devicePath(o.ID, d.ID), Org: o, OrgNav: "org"}
}

// RotateDeviceSecretForm serves GET /console/orgs/{id}/devices/{client_id}/secret.
func (c *Console) RotateDeviceSecretForm(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", rotateDeviceConfirm(rq, o, d))
}

type deviceSecretPage struct {
	Device *store.Client
	Secret string
}

// RotateDeviceSecret serves POST /console/orgs/{id}/devices/{client_id}/secret:
// the new secret, shown on this answer only.
func (c *Console) RotateDeviceSecret(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	rotated, secret, err := c.Admin.NewClientSecret(rq.ctx, d.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), rotateDeviceConfirm(rq, o, d))
	}
	if err != nil {
		return err
	}
	// Pages are never cached (Cache-Control: no-store), so this is the
	// only time the secret is shown.
	return c.renderOrgPage(rq, http.StatusOK, deviceSecretTemplate, o, "org", rq.T("console.device_secret.heading"), "", deviceSecretPage{Device: rotated, Secret: secret})
}

func revokeDeviceConfirm(rq *request, o *store.Organization, d *store.Client) confirmPage {
	return confirmPage{Heading: rq.T("console.device.revoke_heading", "name", d.Name),
		Text:   rq.T("console.device.revoke_text"),
		Action: devicePath(o.ID, d.ID) + "/revoke", Button: rq.T("console.device.revoke"), Danger: true,
		Back: devicePath(o.ID, d.ID), Org: o, OrgNav: "org"}
}

// RevokeDeviceTokensForm serves GET /console/orgs/{id}/devices/{client_id}/revoke.
func (c *Console) RevokeDeviceTokensForm(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", revokeDeviceConfirm(rq, o, d))
}

// RevokeDeviceTokens serves POST /console/orgs/{id}/devices/{client_id}/revoke.
func (c *Console) RevokeDeviceTokens(rq *request) error {
	o, d, err := c.loadDevice(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.EndClientTokens(rq.ctx, d.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, oe.StatusCode(), rq.describe(oe), revokeDeviceConfirm(rq, o, d))
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, devicePath(o.ID, d.ID)+"?done=tokens-revoked")
}

var devicesTemplate = page("devices")

type devicesPage struct {
	Devices []*store.Client
	Groups  map[string][]string // the names of each device's groups, by client id
	Query   string
	Next    string // the next page's link, "" for none
	First   string // the first page's link, when this is not it
}

// Devices serves GET /console/orgs/{id}/devices: every device client the
// organization owns, in a group or not (a device whose groups were all
// deleted is found here), by client ID, PageSize at a time from the store
// (?after=, the last id of the previous page), searched in the store by
// name or client ID (?q=).
func (c *Console) Devices(rq *request) error {
	o, err := c.loadOrg(rq)
	if err != nil {
		return err
	}
	q, err := web.Query(rq.r, "q")
	if err != nil {
		return err
	}
	after, err := web.Query(rq.r, "after")
	if err != nil {
		return err
	}
	q = strings.TrimSpace(q)
	if len(q) > 200 {
		q = q[:200]
	}
	cs, err := c.Store.ListOrgClients(rq.ctx, store.OrgClientQuery{OrgID: o.ID, Search: q, AfterID: after, Limit: PageSize + 1})
	if err != nil {
		return err
	}
	link := func(after string) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		if after != "" {
			v.Set("after", after)
		}
		if len(v) == 0 {
			return orgPath(o.ID) + "/devices"
		}
		return orgPath(o.ID) + "/devices?" + v.Encode()
	}
	p := devicesPage{Query: q, Groups: map[string][]string{}}
	if len(cs) > PageSize {
		cs = cs[:PageSize]
		p.Next = link(cs[PageSize-1].ID)
	}
	if after != "" {
		p.First = link("")
	}
	p.Devices = cs
	for _, d := range cs {
		gs, err := c.Store.ListClientGroupsOf(rq.ctx, d.ID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			p.Groups[d.ID] = append(p.Groups[d.ID], g.Name)
		}
	}
	return c.renderOrgPage(rq, http.StatusOK, devicesTemplate, o, "devices", rq.T("console.nav.devices"), "", p)
}
