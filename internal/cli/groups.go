package cli

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
)

var groupsGroup = group{
	name: "groups",
	about: `Manage an organization's device client groups through the admin API of a
running server. A group grants its device clients scopes; devices join
groups by accepting invitations (latchkey invitations), and an
organization's own device can be put into one with add-client.

Every command takes --org ORG. GROUP is a group's name or id.`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("groups",
			groups.create(op{name: "create", summary: "create a group", help: `
Creates a client group in an organization.

Example:
  latchkey groups create --org acme --name Sensors --scopes "telemetry:write config:read"`}, groupBody(true)),
			groups.list(op{name: "list", summary: "list the organization's groups", help: "Lists an organization's client groups."}),
			groups.get(op{name: "get", summary: "show a group", help: "Shows a client group."}),
			groups.update(op{name: "update", summary: "change its name, description or scopes", help: "Changes what the flags give and keeps the rest."}, groupBody(false)),
			groups.remove(op{name: "delete", summary: "delete it; its pending invitations are revoked", help: `
Deletes a client group: its devices leave it, and its pending invitations
are revoked.`}, "Its devices leave it, and its pending invitations are revoked."),
			groupClients.list(op{name: "clients", summary: "list the device clients in it", help: "Lists the device clients in a client group."}),
			groupClients.change(op{name: "add-client", summary: "put a device client of the organization into it", help: `
Puts a device client the organization owns into a client group: the
group's scopes are granted to it.`}, http.MethodPut, "", "",
				"Added client {CLIENT} to group {GROUP}."),
			groupClients.change(op{name: "remove-client", summary: "take a device client out of it", help: `
Takes a device client out of a client group: the group's scopes are no
longer granted to it.`}, http.MethodDelete, "", "",
				"Removed client {CLIENT} from group {GROUP}."),
		)
	},
}

const groupsPath = "/admin/v1/organizations/{ORG}/client-groups"

// groupArg is a client group named by its name or id.
var groupArg = ref{name: "GROUP", resolve: resolveGroup}

var groups = &resource[admin.ClientGroup, admin.ClientGroupList]{
	one:     "client group",
	key:     groupArg,
	parents: []ref{orgFlag},
	path:    groupsPath,
	items:   func(l *admin.ClientGroupList) []admin.ClientGroup { return l.ClientGroups },
	columns: []string{"ID", "NAME", "SCOPE", "DESCRIPTION"},
	row: func(g *admin.ClientGroup) []string {
		return []string{g.ID, g.Name, orDash(g.Scope), orDash(g.Description)}
	},
	empty: "Organization {ORG} has no client groups: add one with `latchkey groups create --org {ORG} --name NAME`.",
	fields: func(g *admin.ClientGroup) [][2]string {
		return [][2]string{
			{"id", g.ID},
			{"organization", g.OrganizationID},
			{"name", g.Name},
			{"description", orDash(g.Description)},
			{"scope", orDash(g.Scope)},
			{"created_at", g.CreatedAt},
			{"updated_at", g.UpdatedAt},
		}
	},
}

// groupBody is the body of groups create (create) and groups update.
func groupBody(create bool) *body {
	return &body{fields: []field{
		{flag: "name", member: "name", usage: "the group's `NAME`, unique in the organization", required: create},
		{flag: "description", member: "description", usage: "what the group is for, as `TEXT`"},
		{flag: "scopes", member: "scope", value: spaceList, usage: "space-separated `SCOPES` the group grants its devices"},
	}}
}

// groupClients are the device clients in a group.
var groupClients = &resource[string, admin.GroupClients]{
	one:     "client",
	key:     ref{name: "CLIENT"},
	parents: []ref{orgFlag, groupArg},
	path:    groupsPath + "/{GROUP}/clients",
	items:   func(l *admin.GroupClients) []string { return l.ClientIDs },
	columns: []string{"CLIENT ID"},
	row:     func(id *string) []string { return []string{*id} },
	empty:   "No device clients in group {GROUP} yet: invite one with `latchkey invitations create`.",
}

func resolveGroup(c *call, typed string) (string, error) {
	ids, err := groupIDs(c, []string{typed})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// groupIDs turns the names (or ids) of the organization's client groups
// into their ids.
func groupIDs(c *call, refs []string) ([]string, error) {
	org := c.ids["ORG"]
	var list admin.ClientGroupList
	if _, err := c.api.do(c.ctx, http.MethodGet, c.expandPath(groupsPath), nil, &list); err != nil {
		return nil, err
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		id, err := findGroup(list.ClientGroups, r)
		if err != nil {
			return nil, fmt.Errorf("organization %s: %w", org, err)
		}
		ids[i] = id
	}
	return ids, nil
}

// findGroup finds a group by id, then by name, then by name in any case.
func findGroup(gs []admin.ClientGroup, ref string) (string, error) {
	for _, match := range []func(g admin.ClientGroup) bool{
		func(g admin.ClientGroup) bool { return g.ID == ref },
		func(g admin.ClientGroup) bool { return g.Name == ref },
		func(g admin.ClientGroup) bool { return strings.EqualFold(g.Name, ref) },
	} {
		var found []string
		for _, g := range gs {
			if match(g) {
				found = append(found, g.ID)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		return "", fmt.Errorf("%q names more than one client group (ids %s): give its id", ref, strings.Join(found, ", "))
	}
	if len(gs) == 0 {
		return "", fmt.Errorf("there is no client group %q: it has none yet (latchkey groups create)", ref)
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	slices.Sort(names)
	return "", fmt.Errorf("there is no client group %q; its groups are %s", ref, strings.Join(names, ", "))
}
