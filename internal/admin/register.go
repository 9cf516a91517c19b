package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// RegistrationPath is where clients register themselves (RFC 7591 §3); a
// registered client's configuration endpoint (RFC 7592 §2) is this path
// and its client_id.
const RegistrationPath = "/oauth2/register"

// RegistrationStore is what dynamic registration reads and writes.
type RegistrationStore interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
	UpdateClient(ctx context.Context, c *store.Client) error
	DeleteClient(ctx context.Context, id string) error
	GetRegistrationToken(ctx context.Context, hash string) (*store.RegistrationToken, error)
	RegisterClient(ctx context.Context, tokenHash string, c *store.Client, accessHash string, now time.Time) error
	ClientRegistrationHash(ctx context.Context, clientID string) (string, error)
	RotateClientRegistrationHash(ctx context.Context, clientID, oldHash, newHash string) error
	Hit(ctx context.Context, key string, window, until time.Time) (int, error)
}

// Registration serves dynamic client registration (RFC 7591) and the
// registered clients' configuration endpoints (RFC 7592). It checks the
// metadata with the admin API's own rules (applyClient), and within them a
// policy of its own: the members only an operator may set (lifetimes, user
// code policy, session attachment, refresh token policy, client_id) are
// refused, and scopes and grant types must be among those configured.
//
// Who may call: POST with an initial access token an admin made; GET, PUT
// and DELETE on a client's URI only with that client's registration access
// token. Every call counts against its address's budget, in the store.
type Registration struct {
	Store  RegistrationStore
	Issuer string
	// Enabled: when false, every path answers 404.
	Enabled    bool
	Scopes     []string // those a registered client may ask for; all of them when it names none
	GrantTypes []string // those a registered client may use
	// PerIPPerMinute bounds requests per client address (0: no limit).
	PerIPPerMinute int
	TrustProxy     bool
	Now            func() time.Time
	Rand           io.Reader
	Log            *slog.Logger
}

// RFC 7591 §3.2.2 error codes.
const (
	invalidClientMetadata = "invalid_client_metadata"
	invalidRedirectURI    = "invalid_redirect_uri"
)

// ClientMetadata is a client as registration shows it (RFC 7591 §3.2.1,
// RFC 7592 §3): the standard metadata and what manages it.
type ClientMetadata struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"` // 0: never; only with a secret
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	IDTokenSignedResponse   string   `json:"id_token_signed_response_alg,omitempty"`
	DPoPBound               bool     `json:"dpop_bound_access_tokens"` // RFC 9449 §5.2
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
}

// operatorMembers are the admin API's members a client may not set for
// itself: they are the operator's policy, not the client's metadata.
var operatorMembers = []string{
	"client_id", "user_code", "device_code_lifetime", "poll_interval", "session_attachment",
	"access_token_lifetime", "id_token_lifetime", "refresh_lifetime", "refresh_idle_lifetime", "refresh_token_policy",
	"created_at", "updated_at",
}

// clientMembers are the RFC 7591 members the admin API's rules check.
var clientMembers = []string{
	"client_name", "grant_types", "redirect_uris", "token_endpoint_auth_method", "scope",
	"post_logout_redirect_uris", "id_token_signed_response_alg", "dpop_bound_access_tokens",
}

// Register serves POST /oauth2/register (RFC 7591 §3).
func (g *Registration) Register(w http.ResponseWriter, r *http.Request) error {
	if err := g.begin(w, r, http.MethodPost); err != nil {
		return err
	}
	tokenHash, err := g.initialAccess(r)
	if err != nil {
		return err
	}
	req, err := g.readMetadata(w, r, false)
	if err != nil {
		return err
	}
	now := g.now()
	id, err := oauth.NewID(g.rand())
	if err != nil {
		return err
	}
	c := &store.Client{ID: id, CreatedAt: now, UpdatedAt: now}
	if err := g.apply(c, req); err != nil {
		return err
	}
	secret, err := g.admin().settleSecret(c)
	if err != nil {
		return err
	}
	access, err := oauth.NewSecret(g.rand(), oauth.PrefixRegistrationAccess)
	if err != nil {
		return err
	}
	err = g.Store.RegisterClient(r.Context(), tokenHash, c, oauth.HashSecret(access), now)
	if errors.Is(err, store.ErrNotFound) {
		return badToken("the initial access token is used up or expired")
	}
	if err != nil {
		return err
	}
	g.log().InfoContext(r.Context(), "registration: client registered", "client_id", c.ID, "auth_method", c.AuthMethod)
	out := g.metadata(c, secret)
	out.RegistrationAccessToken = access
	w.Header().Set("Location", out.RegistrationClientURI)
	return oauth.WriteJSON(w, http.StatusCreated, out)
}

// Client serves GET, PUT and DELETE on a registered client's URI (RFC 7592 §2).
func (g *Registration) Client(w http.ResponseWriter, r *http.Request) error {
	if err := g.begin(w, r, http.MethodGet, http.MethodPut, http.MethodDelete); err != nil {
		return err
	}
	c, err := g.registered(r)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		return oauth.WriteJSON(w, http.StatusOK, g.metadata(c, ""))
	case http.MethodDelete:
		// RFC 7592 §2.3: the client, its grants and its registration go.
		if err := g.Store.DeleteClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		g.log().InfoContext(r.Context(), "registration: client deleted", "client_id", c.ID)
		oauth.NoStore(w)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	req, err := g.readMetadata(w, r, true)
	if err != nil {
		return err
	}
	// RFC 7592 §2.2: client_id must be the client's; a client_secret, if
	// sent, must be its current one (it cannot be chosen).
	var id, secret string
	if raw, ok := req["client_id"]; !ok || json.Unmarshal(raw, &id) != nil || id != c.ID {
		return metadataError("client_id must be sent and be this client's")
	}
	delete(req, "client_id")
	if raw, ok := req["client_secret"]; ok {
		if json.Unmarshal(raw, &secret) != nil || c.Public() || !oauth.SecretMatches(secret, c.SecretHash) {
			return metadataError("client_secret does not match the client's: it cannot be chosen")
		}
		delete(req, "client_secret")
	}
	if err := g.apply(c, req); err != nil {
		return err
	}
	newSecret, err := g.admin().settleSecret(c)
	if err != nil {
		return err
	}
	c.UpdatedAt = g.now()
	if err := g.Store.UpdateClient(r.Context(), c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return badToken("the client is gone")
		}
		return err
	}
	// RFC 7592 §2.2 lets the server issue a new registration access token
	// with an update: we do, so a token read off a device stops working
	// at the unit's next update. The old one is replaced only if it is
	// still the current one; a concurrent update that rotated it first
	// wins, and this one's client must read its registration again.
	access, err := oauth.NewSecret(g.rand(), oauth.PrefixRegistrationAccess)
	if err != nil {
		return err
	}
	if err := g.Store.RotateClientRegistrationHash(r.Context(), c.ID, oauth.HashSecret(bearer(r)), oauth.HashSecret(access)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return badToken("the registration access token was replaced by another update")
		}
		return err
	}
	g.log().InfoContext(r.Context(), "registration: client updated", "client_id", c.ID, "new_secret", newSecret != "")
	out := g.metadata(c, newSecret)
	out.RegistrationAccessToken = access
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// begin refuses what no registration path serves: the feature off (404),
// another method (405), and an address over its budget (429).
func (g *Registration) begin(w http.ResponseWriter, r *http.Request, methods ...string) error {
	if g == nil || !g.Enabled {
		return &oauth.Error{Code: "not_found", Description: "dynamic client registration is not enabled", Status: http.StatusNotFound}
	}
	if !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		return &oauth.Error{Code: oauth.InvalidRequest, Description: "method not allowed: use " + strings.Join(methods, " or "),
			Status: http.StatusMethodNotAllowed}
	}
	if g.PerIPPerMinute <= 0 {
		return nil
	}
	now := g.now()
	window := now.Truncate(time.Minute)
	n, err := g.Store.Hit(r.Context(), "register:ip:"+clientip.ThrottleKey(clientip.From(r, g.TrustProxy)), window, window.Add(2*time.Minute))
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if n > g.PerIPPerMinute {
		return &oauth.Error{Code: oauth.SlowDown, Description: "too many registration requests; try again later",
			Status: http.StatusTooManyRequests, RetryAfter: int(window.Add(time.Minute).Sub(now)/time.Second) + 1}
	}
	return nil
}

// bearer returns the request's Bearer token (RFC 6750 §2.1), or "".
func bearer(r *http.Request) string {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return ""
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func badToken(description string) *oauth.Error {
	return &oauth.Error{Code: oauth.InvalidToken, Description: description, Status: http.StatusUnauthorized,
		Challenge: `Bearer error="invalid_token"`}
}

// initialAccess checks the initial access token and returns its hash. The
// use is spent only when the client is stored (RegisterClient).
func (g *Registration) initialAccess(r *http.Request) (string, error) {
	token := bearer(r)
	if token == "" {
		return "", &oauth.Error{Code: oauth.InvalidToken, Description: "registration needs an initial access token (Authorization: Bearer)",
			Status: http.StatusUnauthorized, Challenge: "Bearer"}
	}
	hash := oauth.HashSecret(token)
	t, err := g.Store.GetRegistrationToken(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return "", badToken("the initial access token is not known")
	}
	if err != nil {
		return "", err
	}
	if t.UsesLeft <= 0 || !g.now().Before(t.ExpiresAt) {
		return "", badToken("the initial access token is used up or expired")
	}
	return hash, nil
}

// registered authenticates a call on a client's URI with its registration
// access token. RFC 7592 §2: an unknown client, a client not registered
// dynamically and a wrong token all answer 401 alike.
func (g *Registration) registered(r *http.Request) (*store.Client, error) {
	token := bearer(r)
	if token == "" {
		return nil, &oauth.Error{Code: oauth.InvalidToken, Description: "the registration access token is missing (Authorization: Bearer)",
			Status: http.StatusUnauthorized, Challenge: "Bearer"}
	}
	id := r.PathValue("client_id")
	want, err := g.Store.ClientRegistrationHash(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	got := sha256.Sum256([]byte(oauth.HashSecret(token)))
	w := sha256.Sum256([]byte(want))
	if err != nil || subtle.ConstantTimeCompare(got[:], w[:]) != 1 {
		return nil, badToken("the registration access token is not this client's")
	}
	c, err := g.Store.GetClient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badToken("the client is gone")
	}
	return c, err
}

// readMetadata reads the body as strictly as the admin API reads one, then
// sorts its members: an operator's member is refused, a member RFC 7591
// defines that Latchkey does not keep is ignored (RFC 7591 §2: the server
// "MUST ignore any client metadata sent by the client that it does not
// understand"), except response_types, which must agree with grant_types.
func (g *Registration) readMetadata(w http.ResponseWriter, r *http.Request, update bool) (map[string]json.RawMessage, error) {
	var body map[string]json.RawMessage
	if err := oauth.ReadJSON(w, r, &body); err != nil {
		return nil, err
	}
	for name := range body {
		switch {
		case update && (name == "client_id" || name == "client_secret"):
		case slices.Contains(operatorMembers, name):
			return nil, metadataError(fmt.Sprintf("%s is set by the server's operator, not by registration", name))
		case name == "client_secret":
			return nil, metadataError("client_secret cannot be chosen: secrets are generated")
		case name == "response_types" || name == "registration_access_token" || name == "registration_client_uri" ||
			name == "client_id_issued_at" || name == "client_secret_expires_at":
			// Checked below (response_types) or ours to set.
		case !slices.Contains(clientMembers, name):
			delete(body, name)
		}
	}
	return body, nil
}

// apply checks the metadata by the admin API's rules, as a replacement
// (RFC 7592 §2.2: omitted members are reset), then the registration policy.
func (g *Registration) apply(c *store.Client, body map[string]json.RawMessage) error {
	var responseTypes []string
	if raw, ok := body["response_types"]; ok {
		if err := json.Unmarshal(raw, &responseTypes); err != nil {
			return metadataError("response_types: want a list of strings")
		}
	}
	for _, name := range []string{"response_types", "registration_access_token", "registration_client_uri", "client_id_issued_at", "client_secret_expires_at"} {
		delete(body, name)
	}
	// RFC 7591 §2's defaults, where they differ from the admin API's.
	if _, ok := body["grant_types"]; !ok {
		body["grant_types"] = json.RawMessage(`["authorization_code"]`)
	}
	if _, ok := body["scope"]; !ok {
		s, _ := json.Marshal(oauth.JoinScope(g.Scopes))
		body["scope"] = s
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var req clientRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return metadataError("the metadata has a member of the wrong type")
	}
	if err := g.admin().applyClient(c, &req, true); err != nil {
		return asMetadataError(err)
	}
	if missing, ok := oauth.ScopeSubset(c.Scopes, g.Scopes); !ok {
		return &oauth.Error{Code: oauth.InvalidScope, Description: describe("scope " + shorten(missing) + " may not be registered: allowed are " + oauth.JoinScope(g.Scopes))}
	}
	for _, gt := range c.GrantTypes {
		if !slices.Contains(g.GrantTypes, gt) {
			return metadataError(fmt.Sprintf("grant type %s may not be registered: allowed are %s", gt, strings.Join(g.GrantTypes, ", ")))
		}
	}
	// RFC 7591 §2.1: "code" goes with authorization_code; we answer no
	// other response type.
	for _, rt := range responseTypes {
		if rt != "code" {
			return metadataError("response_types: only code is supported")
		}
		if !c.HasGrant(store.GrantAuthorizationCode) {
			return metadataError("response_types code needs the authorization_code grant in grant_types")
		}
	}
	return nil
}

func metadataError(description string) *oauth.Error {
	return &oauth.Error{Code: invalidClientMetadata, Description: describe(description)}
}

// asMetadataError renames the admin API's invalid_request to RFC 7591
// §3.2.2's codes; the description stays.
func asMetadataError(err error) error {
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != oauth.InvalidRequest {
		return err
	}
	code := invalidClientMetadata
	if strings.HasPrefix(oe.Description, "redirect_uris") || strings.HasPrefix(oe.Description, "post_logout_redirect_uris") {
		code = invalidRedirectURI
	}
	return &oauth.Error{Code: code, Description: oe.Description}
}

func (g *Registration) metadata(c *store.Client, secret string) ClientMetadata {
	out := ClientMetadata{
		ClientID:                c.ID,
		ClientSecret:            secret,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		ClientName:              c.Name,
		RedirectURIs:            nonNil(c.RedirectURIs),
		GrantTypes:              nonNil(c.GrantTypes),
		ResponseTypes:           []string{},
		TokenEndpointAuthMethod: c.AuthMethod,
		Scope:                   oauth.JoinScope(c.Scopes),
		PostLogoutRedirectURIs:  c.PostLogoutRedirectURIs,
		IDTokenSignedResponse:   c.Tokens.IDTokenSigningAlg,
		DPoPBound:               c.DPoPBound,
		RegistrationClientURI:   g.Issuer + RegistrationPath + "/" + url.PathEscape(c.ID),
	}
	if c.HasGrant(store.GrantAuthorizationCode) {
		out.ResponseTypes = []string{"code"}
	}
	if !c.Public() {
		var never int64 // generated secrets do not expire
		out.ClientSecretExpiresAt = &never
	}
	return out
}

func (g *Registration) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

func (g *Registration) rand() io.Reader {
	if g.Rand == nil {
		return rand.Reader
	}
	return g.Rand
}

func (g *Registration) log() *slog.Logger {
	if g.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Log
}

// admin is the admin API whose rules registration applies. A registered
// client cannot set a user code policy (operatorMembers), so none needs
// checking against the server's.
func (g *Registration) admin() *API { return &API{Now: g.Now, Rand: g.rand(), Log: g.Log} }
