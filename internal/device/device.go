// Package device implements the OAuth 2.0 Device Authorization Grant
// (RFC 8628) in one place: the device authorization endpoint (Handler),
// user codes and their policy (usercode.go, policy.go), the person's
// approve/deny decision (verify.go) and the device_code grant at the token
// endpoint, with its polling rules (poll.go). The phases every grant shares
// (client authentication, issuance) are package grant's, and the tokens are
// minted by package token.
package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Handler serves the device authorization endpoint.
type Handler struct {
	// Store keeps the authorizations and counts requests for the limits.
	Store interface {
		CreateDeviceAuth(ctx context.Context, a *store.DeviceAuth) error
		Hit(ctx context.Context, key string, window, until time.Time) (int, error)
	}
	// Clients authenticates the clients that ask; the server's answers
	// from its client cache (clientauth.Clients).
	Clients clientauth.Clients
	// Guard bounds secret guessing (nil: none).
	Guard    *clientauth.Guard
	Issuer   string
	Now      func() time.Time // time.Now in production, a fixed clock in tests
	Rand     io.Reader        // crypto/rand.Reader in production
	Log      *slog.Logger
	Policy   CodePolicy    // the server's user code policy; clients may override
	Lifetime time.Duration // how long a device code stays valid
	Interval time.Duration // the minimum polling interval we announce and enforce
	// Requests allowed per minute from one client id and from one IP; they
	// bound how many codes are alive at once, which is what guessing feeds on
	// (docs/security.md DF-19). Zero disables a limit.
	PerClientPerMinute int
	PerIPPerMinute     int
	TrustProxy         bool
	Metrics            *metrics.Metrics // counts authorizations (nil: off)
}

// Response is the device authorization response (RFC 8628 §3.2).
type Response struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// Page is a verification page a device authorization response sends
// people to (RFC 8628 §3.2): its path on the issuer, and the query parameter
// that carries the user code in verification_uri_complete.
type Page struct {
	Path      string
	CodeParam string
}

var (
	// DefaultPage is Latchkey's own: /device?user_code=.
	DefaultPage = Page{Path: "/device", CodeParam: "user_code"}
	// TenDukePage is 10Duke Enterprise's spelling of the same page,
	// /user/device?userCode=, which a client that asked on 10Duke's path
	// (/user/oauth20/device-authz) expects back.
	TenDukePage = Page{Path: "/user/device", CodeParam: "userCode"}
)

// Authorize serves POST /oauth2/device_authorization (RFC 8628 §3.1, §3.2)
// and Oracle's /oauth2/v1/device, whose response_type=device_code is
// accepted and otherwise ignored. Its verification URIs name DefaultPage.
func (h *Handler) Authorize(w http.ResponseWriter, r *http.Request) error {
	return h.authorize(w, r, DefaultPage)
}

// AuthorizeOn is Authorize answering with page's verification URIs: the
// alias of a vendor whose clients expect its own page back.
func (h *Handler) AuthorizeOn(page Page) oauth.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return h.authorize(w, r, page) }
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, page Page) error {
	f, err := oauth.ParseForm(w, r)
	if err != nil {
		return err
	}
	creds, err := oauth.ClientCredentialsFrom(r, f)
	if err != nil {
		return err
	}
	uris := WithLocales(page.URIs(h.Issuer), f.Get("ui_locales"))
	st, err := h.Begin(r.Context(), f, creds, clientip.From(r, h.TrustProxy), r.UserAgent(), uris)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, st.Response)
}

// WithLocales is uris with the device's languages: the well-formed tags of
// its ui_locales (OpenID Connect Core §3.1.2.1, which RFC 8628 leaves to
// extensions) go to the page through the link it shows, as the ui_locales
// query parameter of verification_uri_complete, so the page, and the
// sign-in steps after it, are in the first of them there is a catalog for.
// Without such tags it is uris. The link keeps its shape, whatever the
// page (ours, or a front end's of the service API): the parameter joins
// its query, or begins one, before any fragment.
func WithLocales(uris URIs, uiLocales string) URIs {
	ui := wellFormedLocales(uiLocales)
	if ui == "" {
		return uris
	}
	return func(code string) (string, string) {
		uri, complete := uris(code)
		rest, fragment, hasFragment := strings.Cut(complete, "#")
		sep := "?"
		if strings.Contains(rest, "?") {
			sep = "&"
		}
		complete = rest + sep + "ui_locales=" + url.QueryEscape(ui)
		if hasFragment {
			complete += "#" + fragment
		}
		return uri, complete
	}
}

// languageTag is the shape of a BCP 47 language tag.
var languageTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)

// wellFormedLocales is a ui_locales value's well-formed tags, at most eight, space
// separated; "" when none is. A preference, not a demand: what is not a
// tag is left out, never an error.
func wellFormedLocales(v string) string {
	var tags []string
	for _, f := range strings.Fields(v) {
		if len(tags) < 8 && len(f) <= 35 && languageTag.MatchString(f) {
			tags = append(tags, f)
		}
	}
	return strings.Join(tags, " ")
}

// URIs makes the verification_uri and verification_uri_complete of a
// response for the user code as displayed.
type URIs func(userCode string) (uri, complete string)

// URIs are the page's verification URIs on issuer.
func (p Page) URIs(issuer string) URIs {
	return func(userCode string) (string, string) {
		return issuer + p.Path, issuer + p.Path + "?" + p.CodeParam + "=" + url.QueryEscape(userCode)
	}
}

// Started is a stored device authorization: the response for the device,
// and what a front end shows of it (the service API).
type Started struct {
	Response *Response
	Client   *store.Client
	Scopes   []string
}

// Begin handles device authorization request f, whose client presented
// creds, from ip: authentication, the client's grant and scopes, the
// throttles, and the new authorization, stored. The endpoint calls it with
// what it read from the request; the service API with what a front end
// read from the device's, and ip "" (the front end's own address is no
// device's: the per-IP limit does not apply, the per-client one does).
func (h *Handler) Begin(ctx context.Context, f oauth.Form, creds oauth.ClientCredentials, ip, ua string, uris URIs) (*Started, error) {
	if rt := f.Get("response_type"); f.Has("response_type") && rt != "device_code" {
		return nil, &oauth.Error{Code: oauth.UnsupportedResponseType, Description: "response_type must be device_code"}
	}
	c, err := h.Guard.Authenticate(ctx, h.Clients, creds)
	if err != nil {
		return nil, err
	}
	if !c.HasGrant(store.GrantDeviceCode) {
		return nil, &oauth.Error{Code: oauth.UnauthorizedClient, Description: "the client is not registered for the device_code grant"}
	}
	scopes, err := oauth.ParseScope(f.Get("scope"))
	if err != nil {
		return nil, err
	}
	if len(scopes) == 0 {
		// RFC 6749 §3.3: without a scope the server uses a default; ours
		// is everything the client is registered for.
		scopes = c.Scopes
	}
	if missing, ok := oauth.ScopeSubset(scopes, c.Scopes); !ok {
		return nil, &oauth.Error{Code: oauth.InvalidScope, Description: "the client may not ask for scope " + missing}
	}
	if err := h.throttle(ctx, c.ID, ip); err != nil {
		return nil, err
	}
	resp, err := h.start(ctx, c, scopes, ip, ua, uris)
	if err != nil {
		return nil, err
	}
	h.Metrics.Device(metrics.DeviceAuthorized)
	return &Started{Response: resp, Client: c, Scopes: scopes}, nil
}

func (h *Handler) throttle(ctx context.Context, clientID, ip string) error {
	now := h.Now()
	window := now.Truncate(time.Minute)
	until := window.Add(2 * time.Minute)
	for _, lim := range []struct {
		key   string
		limit int
	}{
		{"devauth:client:" + clientID, h.PerClientPerMinute},
		{"devauth:ip:" + clientip.ThrottleKey(ip), h.PerIPPerMinute},
	} {
		if lim.limit <= 0 || (ip == "" && strings.HasPrefix(lim.key, "devauth:ip:")) {
			continue
		}
		n, err := h.Store.Hit(ctx, lim.key, window, until)
		if err != nil {
			return fmt.Errorf("throttle: %w", err)
		}
		if n > lim.limit {
			retry := int(window.Add(time.Minute).Sub(now)/time.Second) + 1
			return &oauth.Error{Code: oauth.SlowDown, Description: "too many device authorization requests; try again later",
				Status: http.StatusTooManyRequests, RetryAfter: retry}
		}
	}
	return nil
}

// policyFor applies the client's overrides to the server's settings.
func (h *Handler) policyFor(c *store.Client) (CodePolicy, time.Duration, time.Duration, error) {
	p, err := h.Policy.Override(c.UserCode)
	if err != nil {
		return p, 0, 0, fmt.Errorf("client %s: %w", c.ID, err)
	}
	lifetime, interval := h.Lifetime, h.Interval
	if c.DeviceCodeLifetime > 0 {
		lifetime = c.DeviceCodeLifetime
	}
	if c.PollInterval > 0 {
		interval = c.PollInterval
	}
	return p, lifetime, interval, nil
}

// maxCodeDraws bounds retries when a drawn user code is taken: with the
// guardrail's code space and live-code count, a second collision in a row
// means something is wrong, not bad luck.
const maxCodeDraws = 5

func (h *Handler) start(ctx context.Context, c *store.Client, scopes []string, ip, ua string, uris URIs) (*Response, error) {
	policy, lifetime, interval, err := h.policyFor(c)
	if err != nil {
		return nil, err
	}
	deviceCode, err := oauth.NewSecret(h.Rand, oauth.PrefixDeviceCode)
	if err != nil {
		return nil, err
	}
	now := h.Now()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	for range maxCodeDraws {
		userCode, display, err := policy.Generate(h.Rand)
		if err != nil {
			return nil, err
		}
		a := &store.DeviceAuth{
			DeviceCodeHash:   oauth.HashSecret(deviceCode),
			UserCodeHash:     oauth.HashSecret(userCode),
			ClientID:         c.ID,
			ClientPublic:     c.Public(),
			Scopes:           scopes,
			Status:           store.DevicePending,
			Interval:         interval,
			CreatedAt:        now,
			ExpiresAt:        now.Add(lifetime),
			RequestIP:        ip,
			RequestUserAgent: oauthSafe(ua),
		}
		err = h.Store.CreateDeviceAuth(ctx, a)
		if errors.Is(err, store.ErrConflict) {
			continue // the user code is taken by a live request: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("create device authorization: %w", err)
		}
		uri, complete := uris(display)
		return &Response{
			DeviceCode:              deviceCode,
			UserCode:                display,
			VerificationURI:         uri,
			VerificationURIComplete: complete,
			ExpiresIn:               int64(lifetime / time.Second),
			Interval:                int64(interval / time.Second),
		}, nil
	}
	return nil, errors.New("could not draw a free user code")
}

// oauthSafe drops what a user agent string must not carry into the store.
func oauthSafe(s string) string {
	if oauth.CleanText(s) {
		return s
	}
	return ""
}
