package cli

import (
	"net/http"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

var orgsGroup = group{
	name: "orgs",
	about: `Manage organizations, which own device clients, and their members, through
the admin API of a running server. An organization's admins may invite
devices into its client groups (latchkey groups, latchkey invitations).

USER is a user's id or email address.`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("orgs",
			orgs.create(op{name: "create", summary: "create an organization", help: `
Creates an organization. --app-link is where its device app takes
invitations (such as myapp://invitation): the invitation page links there
with the token added.

Example:
  latchkey orgs create --id acme --name "Acme Sensors" --app-link com.acme.sensor://invitation`}, orgBody(true)),
			orgs.list(op{name: "list", summary: "list organizations", help: "Lists every organization."}),
			orgs.get(op{name: "get", summary: "show an organization", help: "Shows an organization."}),
			orgs.update(op{name: "update", summary: "change its name or app link", help: "Changes what the flags give and keeps the rest."}, orgBody(false)),
			orgs.remove(op{name: "delete", summary: "delete it with its members, groups and invitations", help: `
Deletes an organization with its members, client groups and invitations.
It is refused while the organization owns device clients: delete those
first (latchkey clients delete).`}, "Its members, client groups and invitations go with it."),
			members.list(op{name: "members", summary: "list its members", help: "Lists an organization's members and their roles."}),
			members.put(op{name: "add-member", summary: "add a user, or change their --role", help: `
Adds a user to an organization, or changes their role. An admin may send
the organization's device invitations.

Example:
  latchkey orgs add-member acme ops@acme.example --role admin`}, &body{fields: []field{
				{flag: "role", member: "role", def: store.RoleMember, usage: "the member's `ROLE`: admin (may invite devices) or member"},
			}}),
			members.change(op{name: "remove-member", summary: "remove a user", help: "Removes a user from an organization; the user stays."},
				http.MethodDelete, "remove {USER} from organization {ORG}", "", "Removed {USER} from organization {ORG}."),
		)
	},
}

// orgFlag is the organization a record belongs to, given as --org.
var orgFlag = ref{name: "ORG", flag: "org", usage: "`ORG`: the organization's id"}

var orgs = &resource[admin.Organization, admin.OrganizationList]{
	one:     "organization",
	key:     ref{name: "ORG"},
	path:    "/admin/v1/organizations",
	items:   func(l *admin.OrganizationList) []admin.Organization { return l.Organizations },
	columns: []string{"ID", "NAME", "APP LINK"},
	row:     func(o *admin.Organization) []string { return []string{o.ID, o.Name, orDash(o.AppLink)} },
	empty:   "No organizations yet: add one with `latchkey orgs create --name NAME`.",
	fields: func(o *admin.Organization) [][2]string {
		return [][2]string{
			{"id", o.ID},
			{"name", o.Name},
			{"app_link", orDash(o.AppLink)},
			{"created_at", o.CreatedAt},
			{"updated_at", o.UpdatedAt},
		}
	},
}

// orgBody is the body of orgs create (create) and orgs update.
func orgBody(create bool) *body {
	b := &body{fields: []field{
		{flag: "name", member: "name", usage: "the organization's `NAME`", required: create},
		{flag: "app-link", member: "app_link", usage: "the device app's invitation `URL` (\"\" for none)"},
	}}
	if create {
		b.fields = append(b.fields, field{flag: "id", member: "id", usage: "its `ID`: letters, digits, . _ - (default: generated)"})
	}
	return b
}

var members = &resource[admin.Member, admin.MemberList]{
	one:     "member",
	key:     userArg,
	parents: []ref{{name: "ORG"}},
	path:    "/admin/v1/organizations/{ORG}/members",
	items:   func(l *admin.MemberList) []admin.Member { return l.Members },
	columns: []string{"USER ID", "EMAIL", "ROLE"},
	row:     func(m *admin.Member) []string { return []string{m.UserID, orDash(m.Email), m.Role} },
	empty:   "Organization {ORG} has no members: add one with `latchkey orgs add-member {ORG} USER --role admin`.",
	fields: func(m *admin.Member) [][2]string {
		return [][2]string{{"user_id", m.UserID}, {"email", orDash(m.Email)}, {"role", m.Role}, {"created_at", m.CreatedAt}}
	},
}
