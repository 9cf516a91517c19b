package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The clients' pages: a searchable list, the form that creates a client
// and edits every setting of one, the page that shows a new secret once,
// rotating the secret and deleting the client (each confirmed; deleting
// also re-authenticates).

var (
	clientsTemplate      = page("clients")
	clientFormTemplate   = page("client_form")
	clientSecretTemplate = page("client_secret")
)

// grantChoices are the grant types the form offers (Label a message key),
// each a checkbox of its own (a form's names are never repeated: oauth.ParseForm refuses that).
var grantChoices = []struct{ Value, Name, Label string }{
	{store.GrantDeviceCode, "grant_device_code", "console.grant.device_code"},
	{store.GrantRefreshToken, "grant_refresh_token", "console.grant.refresh_token"},
	{store.GrantAuthorizationCode, "grant_authorization_code", "console.grant.authorization_code"},
	{store.GrantClientCredentials, "grant_client_credentials", "console.grant.client_credentials"},
}

type clientsPage struct {
	Clients []*store.Client
	Pager   pager
}

// Clients serves GET /console/clients: ?q= searches id and name.
func (c *Console) Clients(rq *request) error {
	all, err := c.Store.ListClients(rq.ctx)
	if err != nil {
		return err
	}
	shown, p, err := paginate(rq, "/console/clients", all, func(cl *store.Client, q string) bool {
		return contains(q, cl.ID, cl.Name)
	})
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusOK, clientsTemplate, "clients", rq.T("console.nav.clients"), "", clientsPage{Clients: shown, Pager: p})
}

// clientForm is the form's values, as shown and as sent.
type clientForm struct {
	New                    bool
	ID                     string
	Name                   string
	Grants                 map[string]bool
	RedirectURIs           string // one a line
	PostLogoutRedirectURIs string // one a line
	Scope                  string
	AuthMethod             string
	SessionAttachment      string
	IDTokenSigningAlg      string
	AccessTokenLifetime    string // seconds; 0 or empty: the server's
	IDTokenLifetime        string
	RefreshLifetime        string
	RefreshIdleLifetime    string
	RefreshTokenPolicy     string
	DeviceCodeLifetime     string
	PollInterval           string
	DPoPBound              bool
	Created, Updated       time.Time

	GrantChoices any
}

func formOf(cl *store.Client) clientForm {
	j := admin.ClientView(cl)
	f := clientForm{
		ID: j.ClientID, Name: j.ClientName, Grants: map[string]bool{},
		RedirectURIs: strings.Join(j.RedirectURIs, "\n"), PostLogoutRedirectURIs: strings.Join(j.PostLogoutRedirectURIs, "\n"),
		Scope: j.Scope, AuthMethod: j.AuthMethod, SessionAttachment: j.SessionAttachment, IDTokenSigningAlg: j.IDTokenSigningAlg,
		AccessTokenLifetime: num(j.AccessTokenLifetime), IDTokenLifetime: num(j.IDTokenLifetime),
		RefreshLifetime: num(j.RefreshLifetime), RefreshIdleLifetime: num(j.RefreshIdleLifetime),
		RefreshTokenPolicy: j.RefreshTokenPolicy, DeviceCodeLifetime: num(j.DeviceCodeLifetime), PollInterval: num(j.PollInterval),
		DPoPBound: j.DPoPBound, Created: cl.CreatedAt, Updated: cl.UpdatedAt,
	}
	for _, g := range j.GrantTypes {
		f.Grants[g] = true
	}
	return f
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

// newClientForm is the form for a new client: the API's defaults.
func newClientForm() clientForm {
	f := clientForm{New: true, Grants: map[string]bool{}, Scope: strings.Join(admin.DefaultScopes, " "),
		AuthMethod: store.AuthNone, SessionAttachment: store.SessionDetached, RefreshTokenPolicy: store.RefreshWithOfflineAccess,
		AccessTokenLifetime: "0", IDTokenLifetime: "0", RefreshLifetime: "0", RefreshIdleLifetime: "0", DeviceCodeLifetime: "0", PollInterval: "0"}
	for _, g := range admin.DefaultGrantTypes {
		f.Grants[g] = true
	}
	f.Grants[store.GrantRefreshToken] = true
	return f
}

func (c *Console) renderClientForm(rq *request, status int, notice string, f clientForm) error {
	f.GrantChoices = grantChoices
	title := rq.T("console.clients.new")
	if !f.New {
		title = rq.T("console.client.title", "name", f.Name)
	}
	return c.render(rq, status, clientFormTemplate, "clients", title, notice, f)
}

// NewClientForm serves GET /console/clients/new.
func (c *Console) NewClientForm(rq *request) error {
	return c.renderClientForm(rq, http.StatusOK, "", newClientForm())
}

// readClientForm reads the posted form into f (to show it again) and into
// the admin API's request; a problem with a number is a notice.
func readClientForm(rq *request, f *clientForm) (*admin.ClientRequest, string) {
	form := rq.form
	f.Name = form["client_name"]
	f.RedirectURIs, f.PostLogoutRedirectURIs = form["redirect_uris"], form["post_logout_redirect_uris"]
	f.Scope, f.AuthMethod, f.SessionAttachment = form["scope"], form["token_endpoint_auth_method"], form["session_attachment"]
	f.IDTokenSigningAlg, f.RefreshTokenPolicy = form["id_token_signed_response_alg"], form["refresh_token_policy"]
	f.AccessTokenLifetime, f.IDTokenLifetime = form["access_token_lifetime"], form["id_token_lifetime"]
	f.RefreshLifetime, f.RefreshIdleLifetime = form["refresh_lifetime"], form["refresh_idle_lifetime"]
	f.DeviceCodeLifetime, f.PollInterval = form["device_code_lifetime"], form["poll_interval"]
	f.DPoPBound = form["dpop_bound_access_tokens"] == "on"
	f.Grants = map[string]bool{}
	var grants []string
	for _, g := range grantChoices {
		if form[g.Name] == "on" {
			f.Grants[g.Value] = true
			grants = append(grants, g.Value)
		}
	}
	req := &admin.ClientRequest{
		ClientName: &f.Name, GrantTypes: &grants, Scope: &f.Scope, AuthMethod: &f.AuthMethod,
		SessionAttachment: &f.SessionAttachment, IDTokenSigningAlg: &f.IDTokenSigningAlg, RefreshTokenPolicy: &f.RefreshTokenPolicy,
		DPoPBound: &f.DPoPBound,
	}
	redirects, logouts := lines(f.RedirectURIs), lines(f.PostLogoutRedirectURIs)
	req.RedirectURIs, req.PostLogoutRedirectURIs = &redirects, &logouts
	for _, n := range []struct {
		label string
		in    string
		dst   **int64
	}{
		{"console.client.access_token", f.AccessTokenLifetime, &req.AccessTokenLifetime},
		{"console.client.id_token", f.IDTokenLifetime, &req.IDTokenLifetime},
		{"console.client.refresh_absolute", f.RefreshLifetime, &req.RefreshLifetime},
		{"console.client.refresh_idle", f.RefreshIdleLifetime, &req.RefreshIdleLifetime},
		{"console.client.device_code", f.DeviceCodeLifetime, &req.DeviceCodeLifetime},
		{"console.client.poll_interval", f.PollInterval, &req.PollInterval},
	} {
		s := strings.TrimSpace(n.in)
		if s == "" {
			s = "0"
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, rq.T("console.client.whole_seconds", "field", rq.T(n.label))
		}
		*n.dst = &v
	}
	if f.New {
		if id := strings.TrimSpace(form["client_id"]); id != "" {
			f.ID = id
			req.ClientID = &f.ID
		}
	}
	return req, ""
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type secretPage struct {
	Client  *store.Client
	Secret  string
	Created bool
}

// CreateClient serves POST /console/clients/new: the client is created by
// the admin API's rules, and its secret, if it has one, shown on the
// answer, once; nothing shows it again.
func (c *Console) CreateClient(rq *request) error {
	f := clientForm{New: true}
	req, notice := readClientForm(rq, &f)
	if notice != "" {
		return c.renderClientForm(rq, http.StatusBadRequest, notice, f)
	}
	cl, secret, err := c.Admin.NewClient(rq.ctx, req)
	if oe := userError(err); oe != nil {
		return c.renderClientForm(rq, http.StatusBadRequest, rq.describe(oe), f)
	}
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusCreated, clientSecretTemplate, "clients", rq.T("console.client.created"), "",
		secretPage{Client: cl, Secret: secret, Created: true})
}

// loadClient reads the client of the path's {id}: a 404 page if none.
func (c *Console) loadClient(rq *request) (*store.Client, error) {
	cl, err := c.Store.GetClient(rq.ctx, rq.r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, web.Error(http.StatusNotFound, "console.err.no_client", "console.err.no_client_text")
	}
	return cl, err
}

func clientPath(id string) string { return "/console/clients/" + url.PathEscape(id) }

// Client serves GET /console/clients/{id}: every setting, editable.
func (c *Console) Client(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	return c.renderClientForm(rq, http.StatusOK, "", formOf(cl))
}

// SaveClient serves POST /console/clients/{id}: the form's settings
// replace the client's, by the admin API's PATCH rules (what the form does
// not show, the user code policy, keeps its value).
func (c *Console) SaveClient(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	f := formOf(cl)
	req, notice := readClientForm(rq, &f)
	if notice != "" {
		return c.renderClientForm(rq, http.StatusBadRequest, notice, f)
	}
	cl, secret, err := c.Admin.ChangeClient(rq.ctx, cl.ID, req, false)
	if oe := userError(err); oe != nil {
		return c.renderClientForm(rq, http.StatusBadRequest, rq.describe(oe), f)
	}
	if err != nil {
		return err
	}
	if secret != "" {
		// A public client made confidential got its first secret.
		return c.render(rq, http.StatusOK, clientSecretTemplate, "clients", rq.T("console.client.new_secret"), "", secretPage{Client: cl, Secret: secret})
	}
	return web.SeeOther(rq.w, clientPath(cl.ID)+"?done=client-saved")
}

// RotateSecretForm serves GET /console/clients/{id}/secret: the
// confirmation.
func (c *Console) RotateSecretForm(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", rotateConfirm(rq, cl))
}

func rotateConfirm(rq *request, cl *store.Client) confirmPage {
	return confirmPage{Heading: rq.T("console.client.rotate_heading", "name", cl.Name),
		Text:   rq.T("console.client.rotate_text"),
		Action: clientPath(cl.ID) + "/secret", Button: rq.T("console.rotate_secret"), Danger: true, Back: clientPath(cl.ID), Nav: "clients"}
}

// RotateSecret serves POST /console/clients/{id}/secret.
func (c *Console) RotateSecret(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	cl, secret, err := c.Admin.NewClientSecret(rq.ctx, cl.ID)
	if oe := userError(err); oe != nil {
		return c.confirm(rq, http.StatusBadRequest, rq.describe(oe), rotateConfirm(rq, cl))
	}
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusOK, clientSecretTemplate, "clients", rq.T("console.client.new_secret"), "", secretPage{Client: cl, Secret: secret})
}

func deleteClientConfirm(rq *request, cl *store.Client, password bool) confirmPage {
	return confirmPage{Heading: rq.T("console.client.delete_heading", "name", cl.Name),
		Text:   rq.T("console.client.delete_text", "id", cl.ID),
		Action: clientPath(cl.ID) + "/delete", Button: rq.T("console.client.delete"), Danger: true, Password: password, Back: clientPath(cl.ID), Nav: "clients"}
}

// DeleteClientForm serves GET /console/clients/{id}/delete: the
// confirmation, asking for the password unless it was entered within
// ReauthWindow.
func (c *Console) DeleteClientForm(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", deleteClientConfirm(rq, cl, c.needsPassword(rq)))
}

// DeleteClient serves POST /console/clients/{id}/delete.
func (c *Console) DeleteClient(rq *request) error {
	cl, err := c.loadClient(rq)
	if err != nil {
		return err
	}
	if ok, err := c.reauthenticated(rq); err != nil {
		return err
	} else if !ok {
		return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), deleteClientConfirm(rq, cl, true))
	}
	if err := c.Admin.RemoveClient(rq.ctx, cl.ID); err != nil {
		if oe := userError(err); oe != nil {
			return c.confirm(rq, http.StatusBadRequest, rq.describe(oe), deleteClientConfirm(rq, cl, false))
		}
		return err
	}
	return web.SeeOther(rq.w, "/console/clients?done=client-deleted")
}

// hasGrant is for the templates.
func (f clientForm) HasGrant(g string) bool { return f.Grants[g] }
