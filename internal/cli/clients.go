package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

var clientsGroup = group{
	name:    "clients",
	about:   "Manage OAuth clients through the admin API of a running server.",
	trailer: adminTrailer,
	subs: func() []subcommand {
		return subs("clients",
			clients.create(op{name: "create", summary: "register a client (a confidential one gets a secret, shown once)", help: `
Registers a client. A confidential client (the default) gets a generated
secret, printed once; a public one (--public) has none.

Examples:
  latchkey clients create --name "Living room TV" --public --grant-types device_code,refresh_token
  latchkey clients create --name Billing --grant-types client_credentials --scopes "invoices:read"
  latchkey clients create --name Web --id web --grant-types authorization_code,refresh_token \
      --redirect-uris https://app.example.com/callback`}, clientBody(true)),
			clients.list(op{name: "list", summary: "list clients", help: "Lists every client, ordered by client_id."}),
			clients.get(op{name: "get", summary: "show a client", help: "Shows a client. Its secret is never shown again after it was generated."}),
			clients.update(op{name: "update", summary: "change a client's metadata", help: `
Changes the metadata given by flags and keeps the rest. A client made
confidential gets a new secret, printed once; one made public loses it.

Examples:
  latchkey clients update tv-app --name "Kitchen TV"
  latchkey clients update tv-app --user-code-length 9 --poll-interval 10s
  latchkey clients update web --redirect-uris https://a.example/cb,https://b.example/cb
  latchkey clients update tv-app --session-attachment attached
  latchkey clients update tv-app --refresh-token-policy always --refresh-lifetime 2160h
  latchkey clients update web --id-token-alg RS256 --access-token-lifetime 5m
  latchkey clients update web --post-logout-redirect-uris https://app.example/signed-out`}, clientBody(false)),
			clients.remove(op{name: "delete", summary: "delete a client, its device authorizations and its grants", help: `
Deletes a client with its device authorizations and grants: its tokens stop
working.`},
				"Its device authorizations and grants go with it: its tokens stop working."),
			clients.post(op{name: "rotate-secret", summary: "replace a confidential client's secret (shown once)", help: `
Replaces a confidential client's secret. The old secret stops working at
once; the new one is printed once.`},
				"/secret", "replace the secret of client {CLIENT}", "The old secret stops working at once."),
			revokeTokens(op{name: "revoke-tokens", summary: "revoke every token of a client (it keeps its secret)", help: `
Revokes every token the client holds: its grants with their refresh
tokens, and the access tokens it got for itself (client credentials), which
introspection then calls inactive. The client keeps its secret and may ask
for new tokens: to stop that too, rotate its secret or delete it. Recorded
in the audit log.

Examples:
  latchkey clients revoke-tokens boiler-sensor
  latchkey clients revoke-tokens boiler-sensor --yes --json`}),
		)
	},
}

// revokeTokens makes the subcommand that revokes every token of a
// client, after asking.
func revokeTokens(o op) *op {
	o.refs, o.prints, o.asks = clients.itemRefs(), true, true
	o.run = func(c *call) error {
		if err := c.confirm(c.expand("revoke every token of client {CLIENT}"),
			"They stop working at once; the client keeps its secret."); err != nil {
			return err
		}
		var out struct {
			GrantsRevoked int `json:"grants_revoked"`
		}
		raw, err := c.api.do(c.ctx, http.MethodPost, clients.itemPath(c)+"/revoke-tokens", nil, &out)
		if err != nil {
			return err
		}
		if c.json {
			return printJSON(c.Stdout, raw)
		}
		_, err = fmt.Fprintf(c.Stdout, "Revoked the tokens of client %s: %d grant(s), and every access token it got for itself.\n",
			c.typed["CLIENT"], out.GrantsRevoked)
		return err
	}
	return &o
}

var clients = &resource[admin.Client, admin.ClientList]{
	one:     "client",
	key:     ref{name: "CLIENT"},
	path:    "/admin/v1/clients",
	items:   func(l *admin.ClientList) []admin.Client { return l.Clients },
	columns: []string{"CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "SCOPE"},
	row: func(cl *admin.Client) []string {
		return []string{cl.ClientID, orDash(cl.ClientName), clientType(cl), strings.Join(shortGrants(cl.GrantTypes), ","), orDash(cl.Scope)}
	},
	empty:  "No clients yet: add one with `latchkey clients create --name NAME`.",
	fields: clientFields,
	notice: func(cl *admin.Client) string {
		if cl.ClientSecret != "" {
			return secretNotice
		}
		return ""
	},
}

// clientBody is the body of clients create (create) and clients update.
func clientBody(create bool) *body {
	fields := []field{
		{flag: "name", member: "client_name", usage: "the client's `NAME`, shown to people when they approve it", required: create},
		{flag: "grant-types", member: "grant_types", value: grantTypes,
			usage: "comma-separated `GRANTS`: device_code, refresh_token, authorization_code, client_credentials (default device_code)"},
		{flag: "scopes", member: "scope", value: spaceList,
			usage: "space-separated `SCOPES` the client may ask for (default \"openid profile email offline_access\")"},
		{flag: "redirect-uris", member: "redirect_uris", value: commaList, usage: "comma-separated redirect `URIS`; required with authorization_code"},
		{flag: "post-logout-redirect-uris", member: "post_logout_redirect_uris", value: commaList,
			usage: "comma-separated `URIS` RP-initiated logout may return to"},
		{flag: "session-attachment", member: "session_attachment",
			usage: "`ATTACHMENT`: attached (its grants end when the browser session that approved them signs out) or detached (the default: they outlive it)"},
		{flag: "auth-method", member: "token_endpoint_auth_method", usage: "token endpoint `METHOD`: none, client_secret_basic (default) or client_secret_post"},
		{flag: "device-code-lifetime", member: "device_code_lifetime", value: wholeSeconds,
			usage: "how long a device code lives, a `DURATION` up to 30m (default: the server's)"},
		{flag: "poll-interval", member: "poll_interval", value: wholeSeconds,
			usage: "the device's polling interval, a `DURATION` of whole seconds (default: the server's)"},
		{flag: "id-token-alg", member: "id_token_signed_response_alg",
			usage: "`ALG` of the client's ID tokens: ES256 or RS256 (RS256 costs far more to sign; default: the server's)"},
		{flag: "access-token-lifetime", member: "access_token_lifetime", value: wholeSeconds,
			usage: "how long its access tokens live, a `DURATION` from 1m to 24h (default: the server's)"},
		{flag: "id-token-lifetime", member: "id_token_lifetime", value: wholeSeconds,
			usage: "how long its ID tokens live, a `DURATION` from 1m to 24h (default: the server's)"},
		{flag: "refresh-lifetime", member: "refresh_lifetime", value: wholeSeconds,
			usage: "the absolute life of its new grants (refreshable_until), a `DURATION` up to 8760h (default: the server's)"},
		{flag: "refresh-idle-lifetime", member: "refresh_idle_lifetime", value: wholeSeconds,
			usage: "how long its refresh tokens may go unused, a `DURATION` (default: the server's)"},
		{flag: "dpop-bound", member: "dpop_bound_access_tokens", value: trueOrFalse,
			usage: "`BOOL`: true if every token request must carry a DPoP proof (RFC 9449's dpop_bound_access_tokens), false if not"},
		{flag: "refresh-token-policy", member: "refresh_token_policy",
			usage: "when users' grants come with a refresh token: `POLICY` offline_access (when the user granted it; the default) or always"},
	}
	if create {
		fields = append(fields, field{flag: "id", member: "client_id", usage: "the client's `ID` (default: generated)"})
	}
	var f clientFlags
	return &body{fields: fields, flags: f.register, adjust: f.adjust}
}

// clientFlags are the flags of a client's body that are not one member each.
type clientFlags struct {
	public        bool
	alphabet      string
	length, group int
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.public, "public", false, "a public client, without a secret (device and native apps); same as --auth-method none")
	fs.StringVar(&f.alphabet, "user-code-alphabet", "", "user code `ALPHABET`: base20, digits or the characters (default: the server's)")
	fs.IntVar(&f.length, "user-code-length", 0, "user code `LENGTH`, 4 to 16 (default: the server's)")
	fs.IntVar(&f.group, "user-code-group", 0, "`CHARACTERS` between dashes in the user code, -1 for none (default: the server's)")
}

// adjust adds --public and the user code flags to req. A user code
// override is sent whole, so on update the flags not given keep the
// client's stored values.
func (f *clientFlags) adjust(c *call, req map[string]any) error {
	set := given(c.fs)
	if f.public {
		if m, ok := req["token_endpoint_auth_method"]; ok && m != store.AuthNone {
			return fmt.Errorf("--public and --auth-method %s contradict each other", m)
		}
		req["token_endpoint_auth_method"] = store.AuthNone
	}
	if !set["user-code-alphabet"] && !set["user-code-length"] && !set["user-code-group"] {
		return nil
	}
	var p store.UserCodePolicy
	if _, ok := c.ids["CLIENT"]; ok {
		var current admin.Client
		if _, err := c.api.do(c.ctx, http.MethodGet, clients.itemPath(c), nil, &current); err != nil {
			return err
		}
		if current.UserCode != nil {
			p = *current.UserCode
		}
	}
	if set["user-code-alphabet"] {
		p.Alphabet = f.alphabet
	}
	if set["user-code-length"] {
		p.Length = f.length
	}
	if set["user-code-group"] {
		p.Group = f.group
	}
	req["user_code"] = p
	return nil
}

// grantAliases lets people type the device grant's short name.
var grantAliases = map[string]string{
	"device_code": store.GrantDeviceCode,
	"device":      store.GrantDeviceCode,
}

func grantTypes(s string) (any, error) {
	gts := splitList(s)
	for i, g := range gts {
		if full, ok := grantAliases[g]; ok {
			gts[i] = full
		}
	}
	return gts, nil
}

// shortGrants shows the device grant by its short name in text output.
func shortGrants(gts []string) []string {
	out := make([]string, len(gts))
	for i, g := range gts {
		out[i] = g
		if g == store.GrantDeviceCode {
			out[i] = "device_code"
		}
	}
	return out
}

// wholeSeconds is a duration flag's value in seconds.
// trueOrFalse reads a boolean member's flag, which may turn it off too.
func trueOrFalse(s string) (any, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, errors.New("want true or false")
	}
	return b, nil
}

func wholeSeconds(s string) (any, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d%time.Second != 0 {
		return nil, errors.New("want whole seconds, such as 10m or 5s (0 for the server's)")
	}
	return int64(d / time.Second), nil
}

// secretNotice goes with a generated secret, wherever it is printed.
const secretNotice = "Save the client secret now: it will not be shown again. Only its hash is stored."

// clientFields is a client as text, with its secret when the answer has one.
func clientFields(cl *admin.Client) [][2]string {
	serverDefault := "the server's"
	duration := func(s int64) string {
		if s == 0 {
			return serverDefault
		}
		return (time.Duration(s) * time.Second).String()
	}
	userCode := serverDefault
	if p := cl.UserCode; p != nil {
		var parts []string
		if p.Alphabet != "" {
			parts = append(parts, "alphabet "+p.Alphabet)
		}
		if p.Length != 0 {
			parts = append(parts, fmt.Sprintf("length %d", p.Length))
		}
		switch {
		case p.Group > 0:
			parts = append(parts, fmt.Sprintf("dash every %d", p.Group))
		case p.Group < 0:
			parts = append(parts, "no dashes")
		}
		userCode = strings.Join(parts, ", ") + " (the rest: the server's)"
	}
	fields := [][2]string{
		{"client_id", cl.ClientID},
		{"client_name", orDash(cl.ClientName)},
		{"type", clientType(cl)},
		{"token_endpoint_auth_method", cl.AuthMethod},
		{"grant_types", strings.Join(shortGrants(cl.GrantTypes), ", ")},
		{"redirect_uris", orDash(strings.Join(cl.RedirectURIs, ", "))},
		{"scope", orDash(cl.Scope)},
		{"post_logout_redirect_uris", orDash(strings.Join(cl.PostLogoutRedirectURIs, ", "))},
		{"session_attachment", cl.SessionAttachment},
	}
	fields = append(fields,
		[2]string{"id_token_signed_response_alg", cmp.Or(cl.IDTokenSigningAlg, serverDefault)},
		[2]string{"access_token_lifetime", duration(cl.AccessTokenLifetime)},
		[2]string{"id_token_lifetime", duration(cl.IDTokenLifetime)},
		[2]string{"dpop_bound_access_tokens", strconv.FormatBool(cl.DPoPBound)})
	if slices.Contains(cl.GrantTypes, store.GrantRefreshToken) {
		fields = append(fields,
			[2]string{"refresh_lifetime", duration(cl.RefreshLifetime)},
			[2]string{"refresh_idle_lifetime", duration(cl.RefreshIdleLifetime)},
			[2]string{"refresh_token_policy", cl.RefreshTokenPolicy})
	}
	if slices.Contains(cl.GrantTypes, store.GrantDeviceCode) {
		fields = append(fields,
			[2]string{"user_code", userCode},
			[2]string{"device_code_lifetime", duration(cl.DeviceCodeLifetime)},
			[2]string{"poll_interval", duration(cl.PollInterval)})
	}
	fields = append(fields, [2]string{"created_at", cl.CreatedAt}, [2]string{"updated_at", cl.UpdatedAt})
	if cl.ClientSecret != "" {
		fields = append(fields, [2]string{"client_secret", cl.ClientSecret})
	}
	return fields
}

func clientType(cl *admin.Client) string {
	if cl.AuthMethod == store.AuthNone {
		return "public"
	}
	return "confidential"
}
