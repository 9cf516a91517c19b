package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
)

const clientsUsage = `Usage: latchkey clients <command> [flags]

Manage OAuth clients through the admin API of a running server.

Commands:
  create          register a client (a confidential one gets a secret, shown once)
  list            list clients
  get ID          show a client
  update ID       change a client's metadata
  delete ID       delete a client, its device authorizations and its grants
  rotate-secret ID
                  replace a confidential client's secret (shown once)

Every command takes --endpoint (default $LATCHKEY_ENDPOINT, else ` + defaultEndpoint + `),
--token (default $LATCHKEY_ADMIN_TOKEN) and --json, and -h for its flags.
`

// runClients runs `latchkey clients ...`.
func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return newAdminCLI(stdout, stderr).clients(ctx, args)
}

func (c *adminCLI) clients(ctx context.Context, args []string) error {
	return c.dispatch(ctx, "clients", clientsUsage, args, map[string]func(context.Context, []string) error{
		"create":        c.clientsCreate,
		"list":          c.clientsList,
		"get":           c.clientsGet,
		"update":        c.clientsUpdate,
		"delete":        c.clientsDelete,
		"rotate-secret": c.clientsRotate,
	})
}

// grantAliases lets people type the device grant's short name.
var grantAliases = map[string]string{
	"device_code": store.GrantDeviceCode,
	"device":      store.GrantDeviceCode,
}

// shortGrant shows the device grant by its short name in text output.
func shortGrant(g string) string {
	if g == store.GrantDeviceCode {
		return "device_code"
	}
	return g
}

// metadataFlags are the flags create and update share.
type metadataFlags struct {
	name, grantTypes, scopes, redirectURIs, authMethod string
	public                                             bool
	alphabet                                           string
	length, group                                      int
	lifetime, interval                                 time.Duration
	postLogoutURIs, sessionAttachment                  string
}

func (m *metadataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.name, "name", "", "the client's `name`, shown to people when they approve it")
	fs.BoolVar(&m.public, "public", false, "a public client, without a secret (device and native apps); same as --auth-method none")
	fs.StringVar(&m.grantTypes, "grant-types", "", "comma-separated `grants`: device_code, refresh_token, authorization_code, client_credentials (default device_code)")
	fs.StringVar(&m.scopes, "scopes", "", "space-separated `scopes` the client may ask for (default \"openid profile email offline_access\")")
	fs.StringVar(&m.redirectURIs, "redirect-uris", "", "comma-separated redirect `URIs`; required with authorization_code")
	fs.StringVar(&m.authMethod, "auth-method", "", "token endpoint `method`: none, client_secret_basic (default) or client_secret_post")
	fs.StringVar(&m.alphabet, "user-code-alphabet", "", "user code `alphabet`: base20, digits or the characters (default: the server's)")
	fs.IntVar(&m.length, "user-code-length", 0, "user code `length`, 4 to 16 (default: the server's)")
	fs.IntVar(&m.group, "user-code-group", 0, "characters between dashes in the user code, -1 for none (default: the server's)")
	fs.DurationVar(&m.lifetime, "device-code-lifetime", 0, "how long a device code lives, up to 30m (default: the server's)")
	fs.DurationVar(&m.interval, "poll-interval", 0, "the device's polling interval, whole seconds (default: the server's)")
	fs.StringVar(&m.postLogoutURIs, "post-logout-redirect-uris", "", "comma-separated `URIs` RP-initiated logout may return to")
	fs.StringVar(&m.sessionAttachment, "session-attachment", "", "`attached`: the client's grants end when the browser session that approved them signs out; detached (default): they outlive it")
}

// request turns the flags that were set into a request body. current is
// the client being updated (nil on create): a user code override is sent
// whole, so the flags not given keep current's values.
func (m *metadataFlags) request(fs *flag.FlagSet, current *admin.Client) (map[string]any, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	req := map[string]any{}
	if set["name"] {
		req["client_name"] = m.name
	}
	if set["grant-types"] {
		gts := splitList(m.grantTypes)
		for i, g := range gts {
			if full, ok := grantAliases[g]; ok {
				gts[i] = full
			}
		}
		req["grant_types"] = gts
	}
	if set["scopes"] {
		req["scope"] = strings.Join(strings.Fields(m.scopes), " ")
	}
	if set["redirect-uris"] {
		req["redirect_uris"] = splitList(m.redirectURIs)
	}
	if set["post-logout-redirect-uris"] {
		req["post_logout_redirect_uris"] = splitList(m.postLogoutURIs)
	}
	if set["session-attachment"] {
		req["session_attachment"] = m.sessionAttachment
	}
	switch {
	case m.public && set["auth-method"] && m.authMethod != store.AuthNone:
		return nil, fmt.Errorf("--public and --auth-method %s contradict each other", m.authMethod)
	case m.public:
		req["token_endpoint_auth_method"] = store.AuthNone
	case set["auth-method"]:
		req["token_endpoint_auth_method"] = m.authMethod
	}
	if set["user-code-alphabet"] || set["user-code-length"] || set["user-code-group"] {
		var p store.UserCodePolicy
		if current != nil && current.UserCode != nil {
			p = *current.UserCode
		}
		if set["user-code-alphabet"] {
			p.Alphabet = m.alphabet
		}
		if set["user-code-length"] {
			p.Length = m.length
		}
		if set["user-code-group"] {
			p.Group = m.group
		}
		req["user_code"] = p
	}
	for _, d := range []struct {
		flag, member string
		value        time.Duration
	}{
		{"device-code-lifetime", "device_code_lifetime", m.lifetime},
		{"poll-interval", "poll_interval", m.interval},
	} {
		if !set[d.flag] {
			continue
		}
		if d.value < 0 || d.value%time.Second != 0 {
			return nil, fmt.Errorf("--%s %s: want whole seconds, such as 10m or 5s (0 for the server's)", d.flag, d.value)
		}
		req[d.member] = int64(d.value / time.Second)
	}
	return req, nil
}

func (c *adminCLI) clientsCreate(ctx context.Context, args []string) error {
	fs := newFlags("clients create", `clients create --name NAME [flags]

Registers a client. A confidential client (the default) gets a generated
secret, printed once; a public one (--public) has none.

Examples:
  latchkey clients create --name "Living room TV" --public --grant-types device_code,refresh_token
  latchkey clients create --name Billing --grant-types client_credentials --scopes "invoices:read"
  latchkey clients create --name Web --id web --grant-types authorization_code,refresh_token \
      --redirect-uris https://app.example.com/callback

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	var mf metadataFlags
	mf.register(fs)
	id := fs.String("id", "", "the client_id (default: generated)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(mf.name) == "" {
		fmt.Fprintln(c.stderr, "latchkey clients create: --name is required")
		fs.Usage()
		return errUsage
	}
	req, err := mf.request(fs, nil)
	if err != nil {
		return err
	}
	if *id != "" {
		req["client_id"] = *id
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Client
	raw, err := api.do(ctx, http.MethodPost, "/admin/v1/clients", req, &out)
	if err != nil {
		return err
	}
	return c.showClient(&af, raw, &out)
}

func (c *adminCLI) clientsList(ctx context.Context, args []string) error {
	fs := newFlags("clients list", `clients list [--json]

Lists every client, ordered by client_id.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.ClientList
	raw, err := api.do(ctx, http.MethodGet, "/admin/v1/clients", nil, &out)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(c.stdout, raw)
	}
	if len(out.Clients) == 0 {
		fmt.Fprintln(c.stdout, "No clients yet: add one with `latchkey clients create --name NAME`.")
		return nil
	}
	rows := make([][]string, 0, len(out.Clients))
	for _, cl := range out.Clients {
		grants := make([]string, len(cl.GrantTypes))
		for i, g := range cl.GrantTypes {
			grants[i] = shortGrant(g)
		}
		rows = append(rows, []string{cl.ClientID, orDash(cl.ClientName), clientType(&cl), strings.Join(grants, ","), orDash(cl.Scope)})
	}
	return printTable(c.stdout, []string{"CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "SCOPE"}, rows)
}

func (c *adminCLI) clientsGet(ctx context.Context, args []string) error {
	fs := newFlags("clients get", `clients get CLIENT_ID [--json]

Shows a client. Its secret is never shown again after it was generated.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Client
	raw, err := api.do(ctx, http.MethodGet, clientPath(pos[0]), nil, &out)
	if err != nil {
		return err
	}
	return c.showClient(&af, raw, &out)
}

func (c *adminCLI) clientsUpdate(ctx context.Context, args []string) error {
	fs := newFlags("clients update", `clients update CLIENT_ID [flags]

Changes the metadata given by flags and keeps the rest. A client made
confidential gets a new secret, printed once; one made public loses it.

Examples:
  latchkey clients update tv-app --name "Kitchen TV"
  latchkey clients update tv-app --user-code-length 9 --poll-interval 10s
  latchkey clients update web --redirect-uris https://a.example/cb,https://b.example/cb
  latchkey clients update tv-app --session-attachment attached
  latchkey clients update web --post-logout-redirect-uris https://app.example/signed-out

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	var mf metadataFlags
	mf.register(fs)
	pos, err := parseArgs(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var current *admin.Client
	if mf.usesUserCode(fs) {
		current = new(admin.Client)
		if _, err := api.do(ctx, http.MethodGet, clientPath(pos[0]), nil, current); err != nil {
			return err
		}
	}
	req, err := mf.request(fs, current)
	if err != nil {
		return err
	}
	if len(req) == 0 {
		fmt.Fprintln(c.stderr, "latchkey clients update: nothing to change: give at least one flag")
		fs.Usage()
		return errUsage
	}
	var out admin.Client
	raw, err := api.do(ctx, http.MethodPatch, clientPath(pos[0]), req, &out)
	if err != nil {
		return err
	}
	return c.showClient(&af, raw, &out)
}

// usesUserCode reports whether any user code flag was given.
func (m *metadataFlags) usesUserCode(fs *flag.FlagSet) bool {
	used := false
	fs.Visit(func(f *flag.Flag) {
		used = used || strings.HasPrefix(f.Name, "user-code-")
	})
	return used
}

func (c *adminCLI) clientsDelete(ctx context.Context, args []string) error {
	fs := newFlags("clients delete", `clients delete CLIENT_ID

Deletes a client with its device authorizations and grants: its tokens stop
working.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	if _, err := api.do(ctx, http.MethodDelete, clientPath(pos[0]), nil, nil); err != nil {
		return err
	}
	if !af.json {
		fmt.Fprintf(c.stdout, "Deleted client %s.\n", pos[0])
	}
	return nil
}

func (c *adminCLI) clientsRotate(ctx context.Context, args []string) error {
	fs := newFlags("clients rotate-secret", `clients rotate-secret CLIENT_ID [--json]

Replaces a confidential client's secret. The old secret stops working at
once; the new one is printed once.

Flags:`, c.stderr)
	var af adminFlags
	af.register(fs)
	pos, err := parseArgs(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	api, err := c.client(&af)
	if err != nil {
		return err
	}
	var out admin.Client
	raw, err := api.do(ctx, http.MethodPost, clientPath(pos[0])+"/secret", nil, &out)
	if err != nil {
		return err
	}
	return c.showClient(&af, raw, &out)
}

func clientPath(id string) string { return "/admin/v1/clients/" + url.PathEscape(id) }

// secretNotice goes with a generated secret, wherever it is printed.
const secretNotice = "Save the client secret now: it will not be shown again. Only its hash is stored."

// showClient prints one client, and its secret when the answer has one.
func (c *adminCLI) showClient(af *adminFlags, raw []byte, cl *admin.Client) error {
	if af.json {
		if err := printJSON(c.stdout, raw); err != nil {
			return err
		}
		if cl.ClientSecret != "" {
			fmt.Fprintln(c.stderr, secretNotice) // stdout stays one JSON value
		}
		return nil
	}
	grants := make([]string, len(cl.GrantTypes))
	for i, g := range cl.GrantTypes {
		grants[i] = shortGrant(g)
	}
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
		{"grant_types", strings.Join(grants, ", ")},
		{"redirect_uris", orDash(strings.Join(cl.RedirectURIs, ", "))},
		{"scope", orDash(cl.Scope)},
		{"post_logout_redirect_uris", orDash(strings.Join(cl.PostLogoutRedirectURIs, ", "))},
		{"session_attachment", cl.SessionAttachment},
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
	if err := printFields(c.stdout, fields); err != nil {
		return err
	}
	if cl.ClientSecret != "" {
		fmt.Fprintf(c.stdout, "\n%s\n", secretNotice)
	}
	return nil
}

func clientType(cl *admin.Client) string {
	if cl.AuthMethod == store.AuthNone {
		return "public"
	}
	return "confidential"
}
