package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Client is a client as the API shows it, with RFC 7591 §2 metadata names.
type Client struct {
	ClientID string `json:"client_id"`
	// ClientSecret is only ever in the answer that generated it: a create,
	// a rotation, or a change from public to confidential.
	ClientSecret       string                `json:"client_secret,omitempty"`
	ClientName         string                `json:"client_name"`
	GrantTypes         []string              `json:"grant_types"`
	RedirectURIs       []string              `json:"redirect_uris"`
	AuthMethod         string                `json:"token_endpoint_auth_method"`
	Scope              string                `json:"scope"`
	UserCode           *store.UserCodePolicy `json:"user_code,omitempty"`  // absent: the server's
	DeviceCodeLifetime int64                 `json:"device_code_lifetime"` // seconds; 0: the server's
	PollInterval       int64                 `json:"poll_interval"`        // seconds; 0: the server's
	CreatedAt          string                `json:"created_at"`           // RFC 3339
	UpdatedAt          string                `json:"updated_at"`           // RFC 3339
	// PostLogoutRedirectURIs: OpenID Connect RP-Initiated Logout 1.0 §3.1.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	SessionAttachment      string   `json:"session_attachment"` // "detached" or "attached"

	// The client's token policy (store.TokenPolicy); "" and 0 are the
	// server's settings. IDTokenSigningAlg is RFC 7591 §2's name.
	IDTokenSigningAlg   string `json:"id_token_signed_response_alg"`
	AccessTokenLifetime int64  `json:"access_token_lifetime"` // seconds
	IDTokenLifetime     int64  `json:"id_token_lifetime"`     // seconds
	RefreshLifetime     int64  `json:"refresh_lifetime"`      // seconds, absolute: refreshable_until
	RefreshIdleLifetime int64  `json:"refresh_idle_lifetime"` // seconds
	RefreshTokenPolicy  string `json:"refresh_token_policy"`  // "offline_access" or "always"
	// DPoPBound is RFC 9449 §5.2's name: every token request must carry a
	// DPoP proof.
	DPoPBound bool `json:"dpop_bound_access_tokens"`
}

// ClientList is the answer to GET /admin/v1/clients.
type ClientList struct {
	Clients []Client `json:"clients"`
}

// clientRequest is the body of a create, replace or patch. Pointers tell an
// absent member from a zero one.
type clientRequest struct {
	ClientID           *string               `json:"client_id"`
	ClientName         *string               `json:"client_name"`
	GrantTypes         *[]string             `json:"grant_types"`
	RedirectURIs       *[]string             `json:"redirect_uris"`
	AuthMethod         *string               `json:"token_endpoint_auth_method"`
	Scope              *string               `json:"scope"`
	UserCode           *store.UserCodePolicy `json:"user_code"`
	DeviceCodeLifetime *int64                `json:"device_code_lifetime"`
	PollInterval       *int64                `json:"poll_interval"`

	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	SessionAttachment      *string   `json:"session_attachment"`

	IDTokenSigningAlg   *string `json:"id_token_signed_response_alg"`
	AccessTokenLifetime *int64  `json:"access_token_lifetime"`
	IDTokenLifetime     *int64  `json:"id_token_lifetime"`
	RefreshLifetime     *int64  `json:"refresh_lifetime"`
	RefreshIdleLifetime *int64  `json:"refresh_idle_lifetime"`
	RefreshTokenPolicy  *string `json:"refresh_token_policy"`
	DPoPBound           *bool   `json:"dpop_bound_access_tokens"`

	// Known so that sending them gets a clear answer rather than "unknown
	// member": they are the server's to set.
	ClientSecret *json.RawMessage `json:"client_secret"`
	CreatedAt    *json.RawMessage `json:"created_at"`
	UpdatedAt    *json.RawMessage `json:"updated_at"`
}

// Defaults for members a new client leaves out.
var (
	DefaultGrantTypes = []string{store.GrantDeviceCode}
	DefaultScopes     = []string{"openid", "profile", "email", "offline_access"}
)

// Limits on client metadata.
const (
	maxClientIDLength   = 128
	maxNameLength       = 200
	maxRedirectURIs     = 20
	maxRedirectURILen   = 2000
	maxDeviceCodeLife   = 1800 // seconds; RFC 8628 §3.2's example, and our config's ceiling
	maxPollInterval     = 300  // seconds
	defaultSecretMethod = store.AuthClientSecretBasic

	// A client's own token lifetimes, in seconds. Below a minute a token
	// would hardly outlast the clock skew verifiers allow; access and ID
	// tokens live at most MaxTokenLifetime, which is also how long a
	// retired signing key stays published; a grant at most a year.
	minTokenLifetime   = 60
	maxRefreshLifetime = 365 * 24 * 3600
)

// MaxTokenLifetime is the longest access or ID token life a client may
// have. The server keeps a retired signing key published this long (and
// an hour) after it stops signing, so every token it signed still verifies.
const MaxTokenLifetime = 24 * time.Hour

var knownGrants = []string{store.GrantDeviceCode, store.GrantRefreshToken, store.GrantAuthorizationCode, store.GrantClientCredentials}

var knownAuthMethods = []string{store.AuthNone, store.AuthClientSecretBasic, store.AuthClientSecretPost}

var knownAttachments = []string{store.SessionDetached, store.SessionAttached}

var knownRefreshPolicies = []string{store.RefreshWithOfflineAccess, store.RefreshAlways}

// knownIDTokenAlgs are the algorithms an ID token may be signed with.
var knownIDTokenAlgs = keys.Algorithms

// ClientRequest is what creating or changing a client asks for: the
// admin API's JSON body, and what the SysAdmin console's form is read
// into. A nil member is one left out.
type ClientRequest = clientRequest

// CreateClient serves POST /admin/v1/clients.
func (a *API) CreateClient(w http.ResponseWriter, r *http.Request) error {
	var req clientRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	c, secret, err := a.NewClient(r.Context(), &req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"clients/"+url.PathEscape(c.ID))
	return oauth.WriteJSON(w, http.StatusCreated, clientJSON(c, secret))
}

// NewClient creates a client from req, by the rules of POST
// /admin/v1/clients, and records it as done by the actor ctx carries. The
// secret, for a confidential client, is returned to be shown once; the
// store keeps only its hash. Errors about req are *oauth.Error.
func (a *API) NewClient(ctx context.Context, req *ClientRequest) (*store.Client, string, error) {
	now := a.now()
	c := &store.Client{CreatedAt: now, UpdatedAt: now}
	if req.ClientID != nil {
		if err := checkClientID(*req.ClientID); err != nil {
			return nil, "", err
		}
		c.ID = *req.ClientID
	} else {
		id, err := a.newID()
		if err != nil {
			return nil, "", err
		}
		c.ID = id
	}
	if err := a.applyClient(c, req, true); err != nil {
		return nil, "", err
	}
	secret, err := a.settleSecret(c)
	if err != nil {
		return nil, "", err
	}
	if err := a.Store.CreateClient(ctx, c); err != nil {
		return nil, "", storeError(err, "", "a client with client_id "+shorten(c.ID)+" exists already")
	}
	a.log().InfoContext(ctx, "admin: client created", "client_id", c.ID, "auth_method", c.AuthMethod)
	a.record(ctx, audit.Change{Kind: audit.ClientCreate, TargetID: c.ID, OrgID: c.OrgID, After: clientJSON(c, "")})
	return c, secret, nil
}

// ListClients serves GET /admin/v1/clients.
func (a *API) ListClients(w http.ResponseWriter, r *http.Request) error {
	cs, err := a.Store.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := ClientList{Clients: make([]Client, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, clientJSON(c, ""))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// GetClient serves GET /admin/v1/clients/{id}.
func (a *API) GetClient(w http.ResponseWriter, r *http.Request) error {
	c, err := a.loadClient(r)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, clientJSON(c, ""))
}

// ReplaceClient is PUT: members left out take their defaults, as on create.
func (a *API) ReplaceClient(w http.ResponseWriter, r *http.Request) error {
	return a.updateClient(w, r, true)
}

// PatchClient is PATCH: members left out keep their values.
func (a *API) PatchClient(w http.ResponseWriter, r *http.Request) error {
	return a.updateClient(w, r, false)
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, replace bool) error {
	var req clientRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	c, secret, err := a.ChangeClient(r.Context(), r.PathValue("id"), &req, replace)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, clientJSON(c, secret))
}

// ChangeClient changes client id as req asks, by the rules of PUT (with
// replace: members left out take their defaults) or PATCH /admin/v1/clients/{id},
// and records it as done by ctx's actor. A secret is returned, to be shown
// once, when the change made a public client confidential.
func (a *API) ChangeClient(ctx context.Context, id string, req *ClientRequest, replace bool) (*store.Client, string, error) {
	c, err := a.getClient(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if req.ClientID != nil && *req.ClientID != c.ID {
		return nil, "", badRequest("client_id cannot be changed: it is %s", c.ID)
	}
	before := clientJSON(c, "")
	if err := a.applyClient(c, req, replace); err != nil {
		return nil, "", err
	}
	secret, err := a.settleSecret(c)
	if err != nil {
		return nil, "", err
	}
	c.UpdatedAt = a.now()
	if err := a.Store.UpdateClient(ctx, c); err != nil {
		return nil, "", storeError(err, "there is no client "+c.ID, "the client changed meanwhile: try again")
	}
	a.log().InfoContext(ctx, "admin: client updated", "client_id", c.ID, "new_secret", secret != "")
	a.record(ctx, audit.Change{Kind: audit.ClientUpdate, TargetID: c.ID, OrgID: c.OrgID, Before: before, After: clientJSON(c, "")})
	return c, secret, nil
}

// DeleteClient serves DELETE /admin/v1/clients/{id}.
func (a *API) DeleteClient(w http.ResponseWriter, r *http.Request) error {
	if err := a.RemoveClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RemoveClient deletes client id and records it as done by ctx's actor.
func (a *API) RemoveClient(ctx context.Context, id string) error {
	c, err := a.getClient(ctx, id)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteClient(ctx, c.ID); err != nil {
		return storeError(err, "there is no client "+shorten(c.ID), "")
	}
	a.log().InfoContext(ctx, "admin: client deleted", "client_id", c.ID)
	a.record(ctx, audit.Change{Kind: audit.ClientDelete, TargetID: c.ID, OrgID: c.OrgID, Before: clientJSON(c, "")})
	return nil
}

// RotateSecret replaces a confidential client's secret and shows the new
// one, once. The old secret stops working at once.
func (a *API) RotateSecret(w http.ResponseWriter, r *http.Request) error {
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	c, secret, err := a.NewClientSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, clientJSON(c, secret))
}

// NewClientSecret gives confidential client id a new secret, returned to
// be shown once; the old one stops working at once. It is recorded as done
// by ctx's actor.
func (a *API) NewClientSecret(ctx context.Context, id string) (*store.Client, string, error) {
	c, err := a.getClient(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if c.Public() {
		return nil, "", badRequest("client %s is public (token_endpoint_auth_method none) and has no secret", c.ID)
	}
	c.SecretHash = ""
	secret, err := a.settleSecret(c)
	if err != nil {
		return nil, "", err
	}
	c.UpdatedAt = a.now()
	if err := a.Store.UpdateClient(ctx, c); err != nil {
		return nil, "", storeError(err, "there is no client "+c.ID, "the client changed meanwhile: try again")
	}
	a.log().InfoContext(ctx, "admin: client secret rotated", "client_id", c.ID)
	a.record(ctx, audit.Change{Kind: audit.ClientRotateSecret, TargetID: c.ID, OrgID: c.OrgID})
	return c, secret, nil
}

// RevokeClientTokens serves POST /admin/v1/clients/{id}/revoke-tokens:
// every token of the client stops working; 200 with how many grants.
func (a *API) RevokeClientTokens(w http.ResponseWriter, r *http.Request) error {
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	n, err := a.EndClientTokens(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, map[string]int{"grants_revoked": n})
}

// EndClientTokens revokes every token of client id: its grants with
// their refresh tokens, and the access tokens it got for itself (client
// credentials), which stop being live (introspection, the organization
// API) — the secret still works, so the client may ask for new ones:
// rotate it to stop that. It returns how many grants it revoked, and is
// recorded as done by ctx's actor.
func (a *API) EndClientTokens(ctx context.Context, id string) (int, error) {
	c, err := a.getClient(ctx, id)
	if err != nil {
		return 0, err
	}
	n, err := a.Store.RevokeClientTokens(ctx, c.ID, a.now())
	if err != nil {
		return 0, storeError(err, "there is no client "+shorten(c.ID), "")
	}
	a.log().InfoContext(ctx, "admin: client tokens revoked", "client_id", c.ID, "grants", n)
	a.record(ctx, audit.Change{Kind: audit.ClientRevokeTokens, TargetID: c.ID, OrgID: c.OrgID, After: map[string]int{"grants_revoked": n}})
	return n, nil
}

func (a *API) getClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := a.Store.GetClient(ctx, id)
	if err != nil {
		return nil, storeError(err, "there is no client "+shorten(id), "")
	}
	return c, nil
}

func (a *API) loadClient(r *http.Request) (*store.Client, error) {
	id := r.PathValue("id")
	c, err := a.Store.GetClient(r.Context(), id)
	if err != nil {
		return nil, storeError(err, "there is no client "+shorten(id), "")
	}
	return c, nil
}

// settleSecret makes the secret agree with the auth method: a public client
// has none, and a confidential one without a hash gets a new secret, which
// is returned to be shown once. docs/architecture.md, "Client secrets": generated, 256
// bits, stored as SHA-256.
func (a *API) settleSecret(c *store.Client) (string, error) {
	if c.Public() {
		c.SecretHash = ""
		return "", nil
	}
	if c.SecretHash != "" {
		return "", nil
	}
	secret, err := oauth.NewSecret(a.rand(), oauth.PrefixClientSecret)
	if err != nil {
		return "", err
	}
	c.SecretHash = oauth.HashSecret(secret)
	return secret, nil
}

// applyClient writes req's members into c after checking each, then checks
// the client as a whole. With replace, members req leaves out are reset to
// their defaults; without, they keep c's values.
func (a *API) applyClient(c *store.Client, req *clientRequest, replace bool) error {
	switch {
	case req.ClientSecret != nil:
		return badRequest("client_secret cannot be chosen: secrets are generated; rotate one with POST /admin/v1/clients/{id}/secret")
	case req.CreatedAt != nil || req.UpdatedAt != nil:
		return badRequest("created_at and updated_at are set by the server")
	}
	if replace {
		c.Name = ""
		c.GrantTypes = slices.Clone(DefaultGrantTypes)
		c.RedirectURIs = nil
		c.AuthMethod = defaultSecretMethod
		c.Scopes = slices.Clone(DefaultScopes)
		c.UserCode = store.UserCodePolicy{}
		c.DeviceCodeLifetime = 0
		c.PollInterval = 0
		c.PostLogoutRedirectURIs = nil
		c.SessionAttachment = store.SessionDetached
		c.Tokens = store.TokenPolicy{}
		c.DPoPBound = false
	}
	if v := req.ClientName; v != nil {
		if !oauth.CleanText(*v) || utf8.RuneCountInString(*v) > maxNameLength {
			return badRequest("client_name must be at most %d characters of text without control characters", maxNameLength)
		}
		c.Name = *v
	}
	if v := req.GrantTypes; v != nil {
		if err := checkGrantTypes(*v); err != nil {
			return err
		}
		c.GrantTypes = slices.Clone(*v)
	}
	if v := req.RedirectURIs; v != nil {
		if err := checkRedirectURIs(*v); err != nil {
			return err
		}
		c.RedirectURIs = slices.Clone(*v)
	}
	if v := req.AuthMethod; v != nil {
		if !slices.Contains(knownAuthMethods, *v) {
			return badRequest("token_endpoint_auth_method %s is not one of %s", shorten(*v), strings.Join(knownAuthMethods, ", "))
		}
		c.AuthMethod = *v
	}
	if v := req.Scope; v != nil {
		scopes, err := oauth.ParseScope(*v)
		if err != nil {
			return badRequest("scope: %s", describeScopeError(err))
		}
		c.Scopes = scopes
	}
	if v := req.UserCode; v != nil {
		p, err := a.checkUserCode(*v)
		if err != nil {
			return err
		}
		c.UserCode = p
	}
	if v := req.DeviceCodeLifetime; v != nil {
		if *v < 0 || *v > maxDeviceCodeLife {
			return badRequest("device_code_lifetime %d: want 1 to %d seconds, or 0 for the server's", *v, maxDeviceCodeLife)
		}
		c.DeviceCodeLifetime = time.Duration(*v) * time.Second
	}
	if v := req.PollInterval; v != nil {
		if *v < 0 || *v > maxPollInterval {
			return badRequest("poll_interval %d: want 1 to %d seconds, or 0 for the server's", *v, maxPollInterval)
		}
		c.PollInterval = time.Duration(*v) * time.Second
	}
	if v := req.PostLogoutRedirectURIs; v != nil {
		if err := checkPostLogoutRedirectURIs(*v); err != nil {
			return err
		}
		c.PostLogoutRedirectURIs = slices.Clone(*v)
	}
	if v := req.SessionAttachment; v != nil {
		if !slices.Contains(knownAttachments, *v) {
			return badRequest("session_attachment %s is not one of %s", shorten(*v), strings.Join(knownAttachments, ", "))
		}
		c.SessionAttachment = *v
	}
	if err := applyTokenPolicy(&c.Tokens, req); err != nil {
		return err
	}
	if v := req.DPoPBound; v != nil {
		c.DPoPBound = *v
	}
	return checkClient(c)
}

// applyTokenPolicy writes req's token policy members into p after checking
// each.
func applyTokenPolicy(p *store.TokenPolicy, req *clientRequest) error {
	if v := req.IDTokenSigningAlg; v != nil {
		// OpenID Connect Registration 1.0 §2 allows none and the HMAC
		// algorithms too; we sign with our own keys only, never with none.
		if *v != "" && !slices.Contains(knownIDTokenAlgs, *v) {
			return badRequest("id_token_signed_response_alg %s is not one of %s (or empty for the server's)", shorten(*v), strings.Join(knownIDTokenAlgs, ", "))
		}
		p.IDTokenSigningAlg = *v
	}
	for _, l := range []struct {
		name string
		v    *int64
		dst  *time.Duration
		max  int64
	}{
		{"access_token_lifetime", req.AccessTokenLifetime, &p.AccessTokenLifetime, int64(MaxTokenLifetime / time.Second)},
		{"id_token_lifetime", req.IDTokenLifetime, &p.IDTokenLifetime, int64(MaxTokenLifetime / time.Second)},
		{"refresh_lifetime", req.RefreshLifetime, &p.RefreshLifetime, maxRefreshLifetime},
		{"refresh_idle_lifetime", req.RefreshIdleLifetime, &p.RefreshIdleLifetime, maxRefreshLifetime},
	} {
		if l.v == nil {
			continue
		}
		if *l.v != 0 && (*l.v < minTokenLifetime || *l.v > l.max) {
			return badRequest("%s %d: want %d to %d seconds, or 0 for the server's", l.name, *l.v, minTokenLifetime, l.max)
		}
		*l.dst = time.Duration(*l.v) * time.Second
	}
	if v := req.RefreshTokenPolicy; v != nil {
		if !slices.Contains(knownRefreshPolicies, *v) {
			return badRequest("refresh_token_policy %s is not one of %s", shorten(*v), strings.Join(knownRefreshPolicies, ", "))
		}
		p.RefreshTokens = *v
	}
	return nil
}

// checkClient checks what depends on more than one member.
func checkClient(c *store.Client) error {
	code := c.HasGrant(store.GrantAuthorizationCode)
	switch {
	case code && len(c.RedirectURIs) == 0:
		return badRequest("redirect_uris: the authorization_code grant needs at least one")
	case !code && len(c.RedirectURIs) > 0:
		return badRequest("redirect_uris are used only by the authorization_code grant, which grant_types does not list")
	case c.HasGrant(store.GrantClientCredentials) && c.Public():
		// RFC 6749 §4.4: only a confidential client may use client_credentials.
		return badRequest("the client_credentials grant needs a confidential client: token_endpoint_auth_method must not be none")
	case c.HasGrant(store.GrantRefreshToken) && !c.HasGrant(store.GrantDeviceCode) && !code:
		return badRequest("the refresh_token grant needs a grant that issues refresh tokens: device_code or authorization_code")
	case c.DeviceCodeLifetime > 0 && c.PollInterval >= c.DeviceCodeLifetime:
		return badRequest("poll_interval must be shorter than device_code_lifetime")
	case c.Tokens.RefreshLifetime > 0 && c.Tokens.RefreshIdleLifetime > c.Tokens.RefreshLifetime:
		return badRequest("refresh_idle_lifetime must not exceed refresh_lifetime")
	case c.Tokens.RefreshTokens == store.RefreshAlways && !c.HasGrant(store.GrantRefreshToken):
		return badRequest("refresh_token_policy always needs the refresh_token grant in grant_types")
	}
	return nil
}

// checkClientID accepts RFC 6749 Appendix A.1's VSCHAR without the space:
// a client_id travels in URLs, Basic credentials and log lines.
func checkClientID(id string) error {
	if id == "" || len(id) > maxClientIDLength {
		return badRequest("client_id must have 1 to %d characters", maxClientIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return badRequest("client_id may hold only printable ASCII characters, without spaces")
		}
	}
	return nil
}

func checkGrantTypes(gts []string) error {
	if len(gts) == 0 {
		return badRequest("grant_types must not be empty")
	}
	for i, gt := range gts {
		if !slices.Contains(knownGrants, gt) {
			return badRequest("grant_types: %s is not one of %s", shorten(gt), strings.Join(knownGrants, ", "))
		}
		if slices.Contains(gts[:i], gt) {
			return badRequest("grant_types lists %s twice", gt)
		}
	}
	return nil
}

func checkRedirectURIs(uris []string) error {
	if len(uris) > maxRedirectURIs {
		return badRequest("redirect_uris: at most %d", maxRedirectURIs)
	}
	for i, u := range uris {
		if err := checkRedirectURI(u); err != nil {
			return badRequest("redirect_uris: %s %s", shorten(u), err)
		}
		if slices.Contains(uris[:i], u) {
			return badRequest("redirect_uris lists %s twice", shorten(u))
		}
	}
	return nil
}

// checkPostLogoutRedirectURIs holds the URIs RP-initiated logout may return
// to (OpenID Connect RP-Initiated Logout 1.0 §3.1) to the rules of redirect
// URIs: they are where we send a browser, so the same open-redirect and
// native-app concerns apply.
func checkPostLogoutRedirectURIs(uris []string) error {
	if len(uris) > maxRedirectURIs {
		return badRequest("post_logout_redirect_uris: at most %d", maxRedirectURIs)
	}
	for i, u := range uris {
		if err := checkRedirectURI(u); err != nil {
			return badRequest("post_logout_redirect_uris: %s %s", shorten(u), err)
		}
		if slices.Contains(uris[:i], u) {
			return badRequest("post_logout_redirect_uris lists %s twice", shorten(u))
		}
	}
	return nil
}

// checkRedirectURI enforces RFC 6749 §3.1.2 (absolute, no fragment) and
// RFC 9700 §2.6 / RFC 8252 §7 (https; http only on loopback; private-use
// schemes in reverse-domain form for native apps). The error completes a
// sentence that starts with the URI.
func checkRedirectURI(s string) error {
	if s == "" || len(s) > maxRedirectURILen || !oauth.CleanText(s) || strings.ContainsAny(s, " ") {
		return fmt.Errorf("must be a URL of at most %d characters, without spaces", maxRedirectURILen)
	}
	if strings.Contains(s, "#") {
		return fmt.Errorf("must not have a fragment (RFC 6749 §3.1.2)")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("must be an absolute URL (RFC 6749 §3.1.2)")
	}
	if u.User != nil {
		return fmt.Errorf("must not have user information")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("must name a host")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("must use https: http is allowed only for loopback addresses (RFC 8252 §7.3)")
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("must use https, http on loopback, or a reverse-domain private-use scheme such as com.example.app (RFC 8252 §7.1)")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkUserCode checks the shape of a user code override
// (device.CheckOverride) and, through CheckCodePolicy, its guessing odds.
// Named alphabets are stored by name.
func (a *API) checkUserCode(p store.UserCodePolicy) (store.UserCodePolicy, error) {
	if err := device.CheckOverride(p); err != nil {
		return p, badRequest("%v", err)
	}
	if lower := strings.ToLower(p.Alphabet); lower == "base20" || lower == "digits" {
		p.Alphabet = lower
	}
	if p == (store.UserCodePolicy{}) || a.CheckCodePolicy == nil {
		return p, nil
	}
	if err := a.CheckCodePolicy(p); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "user_code") {
			msg = "user_code: " + msg
		}
		return p, badRequest("%s", msg)
	}
	return p, nil
}

func describeScopeError(err error) string {
	if oe, ok := err.(*oauth.Error); ok && oe.Description != "" {
		return oe.Description
	}
	return "not a space-separated list of scope tokens"
}

// ClientView is c as the API shows it, without a secret: what the console
// shows of a client.
func ClientView(c *store.Client) Client { return clientJSON(c, "") }

// clientJSON shows c; secret is set only in the answer that generated it.
func clientJSON(c *store.Client, secret string) Client {
	out := Client{
		ClientID:           c.ID,
		ClientSecret:       secret,
		ClientName:         c.Name,
		GrantTypes:         nonNil(c.GrantTypes),
		RedirectURIs:       nonNil(c.RedirectURIs),
		AuthMethod:         c.AuthMethod,
		Scope:              oauth.JoinScope(c.Scopes),
		DeviceCodeLifetime: int64(c.DeviceCodeLifetime / time.Second),
		PollInterval:       int64(c.PollInterval / time.Second),
		CreatedAt:          formatTime(c.CreatedAt),
		UpdatedAt:          formatTime(c.UpdatedAt),

		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		SessionAttachment:      c.SessionAttachment,

		IDTokenSigningAlg:   c.Tokens.IDTokenSigningAlg,
		AccessTokenLifetime: int64(c.Tokens.AccessTokenLifetime / time.Second),
		IDTokenLifetime:     int64(c.Tokens.IDTokenLifetime / time.Second),
		RefreshLifetime:     int64(c.Tokens.RefreshLifetime / time.Second),
		RefreshIdleLifetime: int64(c.Tokens.RefreshIdleLifetime / time.Second),
		RefreshTokenPolicy:  cmp.Or(c.Tokens.RefreshTokens, store.RefreshWithOfflineAccess),
		DPoPBound:           c.DPoPBound,
	}
	if out.SessionAttachment == "" {
		out.SessionAttachment = store.SessionDetached // the store's default
	}
	if c.UserCode != (store.UserCodePolicy{}) {
		p := c.UserCode
		out.UserCode = &p
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
