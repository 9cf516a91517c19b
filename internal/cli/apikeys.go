package cli

import (
	"github.com/latchkey/latchkey/internal/admin"
)

var apiKeysGroup = group{
	name: "api-keys",
	about: `Manage the service API's credentials through the admin API of a running
server. The service API (/api/..., Authlete's API) is what a front end of
your own calls to run the device flow with its own pages and users; a key
opens it and nothing else. KEY is the key's twelve digits.`,
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("api-keys",
			apiKeys.create(op{name: "create", summary: "create a key (its secret is shown once)", help: `
Creates a service API key. Its secret is printed once: give the key and
secret to the front end (HTTP Basic on /api/..., or the secret as the
Bearer service access token on /api/{serviceId}/...).

Example:
  latchkey api-keys create --name "web front end"`}, &body{fields: []field{
				{flag: "name", member: "name", usage: "what the key is for, as `TEXT`", required: true},
			}}),
			apiKeys.list(op{name: "list", summary: "list the keys (without secrets)", help: "Lists the service API keys."}),
			apiKeys.post(op{name: "rotate", summary: "replace a key's secret (shown once)", help: `
Replaces a key's secret. The old secret stops working at once; the new one
is printed once.`},
				"/rotate", "replace the secret of API key {KEY}", "The old secret stops working at once."),
			apiKeys.remove(op{name: "revoke", summary: "revoke a key", help: `
Revokes a service API key: its secret stops working at once.`}, "Its secret stops working at once."),
		)
	},
}

var apiKeys = &resource[admin.APIKey, []admin.APIKey]{
	one:     "API key",
	key:     ref{name: "KEY"},
	path:    "/admin/v1/api-keys",
	items:   func(l *[]admin.APIKey) []admin.APIKey { return *l },
	columns: []string{"API KEY", "NAME", "CREATED", "ROTATED"},
	row: func(k *admin.APIKey) []string {
		return []string{k.APIKey, k.Name, k.CreatedAt, orDash(k.RotatedAt)}
	},
	empty: "No API keys yet: add one with `latchkey api-keys create --name NAME`.",
	fields: func(k *admin.APIKey) [][2]string {
		f := [][2]string{{"api_key", k.APIKey}, {"name", k.Name}}
		if k.Secret != "" {
			f = append(f, [2]string{"api_secret", k.Secret})
		}
		return append(f, [2]string{"created_at", k.CreatedAt}, [2]string{"rotated_at", orDash(k.RotatedAt)})
	},
	notice: func(k *admin.APIKey) string {
		if k.Secret != "" {
			return "The api_secret is shown only now: store it where the front end reads it."
		}
		return ""
	},
}
