// Package serviceapi is the service API: Authlete's API for an
// authorization server that runs its own pages and user database and wants
// Latchkey only as its OAuth engine ("bring your own front end"). The
// front end receives the device's requests and hands them here
// (/device/authorization, /auth/token), asks about a user code its own
// verification page was given (/device/verification), reports the person's
// decision (/device/complete), and checks tokens for its resource servers
// (/auth/introspection). Paths, field names, JSON types and actions are
// Authlete's, under /api/ (2.x: HTTP Basic with a service key and secret)
// and /api/{serviceId}/ (3.0: a Bearer service access token).
//
// It is another front for the same engine: device authorization is
// device.Handler's Begin, the decision device.Verifier's lookup (with its
// wrong-code budgets) and one conditional update, the token endpoint
// grant.Handler's Exchange, introspection token.Handler's. Its own are the
// service keys, the translation to Authlete's shapes, and a decision for a
// person who has no user row (store.DeviceCompletion).
package serviceapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/grant"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// UserCodePlaceholder is what stands for the user code in the configured
// verification URI with placeholder (Authlete's "Verification URI with
// Placeholder": https://as.example.com/device?user_code=USER_CODE).
const UserCodePlaceholder = "USER_CODE"

// API serves the service API.
type API struct {
	Store interface {
		GetServiceKeyBySecret(ctx context.Context, secretHash string) (*store.ServiceKey, error)
		CompleteDeviceAuth(ctx context.Context, userCodeHash string, d *store.DeviceCompletion, now time.Time) (*store.DeviceAuth, error)
	}
	Device   *device.Handler  // device authorization
	Verifier *device.Verifier // user code lookup, with the wrong-code budgets
	Token    *grant.Handler   // the token endpoint's grants
	Tokens   *token.Handler   // introspection
	DPoP     *dpop.Checker    // the devices' DPoP proofs the front end passes on to auth/token (nil: refused)
	// ServiceID is the {serviceId} of the 3.0 paths: a number, as
	// Authlete's; another one in the path is not found.
	ServiceID string
	// VerificationURI and VerificationURIComplete (with
	// UserCodePlaceholder) are the front end's verification page, sent to
	// devices in place of Latchkey's own.
	VerificationURI         string
	VerificationURIComplete string
	Now                     func() time.Time
	Log                     *slog.Logger
	Unavailable             error            // store.ErrUnavailable: answered 503
	Metrics                 *metrics.Metrics // counts front ends' decisions (nil: off)
	// Audit records each decision a front end makes with its service key
	// (device/complete), the key as the actor (nil: none).
	Audit *audit.Log
}

// Result codes. Authlete's are opaque strings an SDK passes on; ours say
// which answer it was, one per outcome, and are documented in the README.
const (
	codeUnauthenticated = "LK00001" // no, or a wrong, service credential
	codeBadRequest      = "LK00002" // malformed JSON or form, unknown member, wrong type
	codeTooLarge        = "LK00003" // the body is over 64 KiB
	codeMethod          = "LK00004" // not POST
	codeThrottled       = "LK00005" // the wrong user code budget is spent
	codeUnavailable     = "LK00006" // the database is away
	codeServerError     = "LK00007" // anything else that went wrong
	codeNotFound        = "LK00008" // a 3.0 path with another service id
)

// Result is what every answer carries (Authlete's ApiResponse).
type Result struct {
	ResultCode    string `json:"resultCode"`
	ResultMessage string `json:"resultMessage"`
	Action        string `json:"action"`
}

// failure is an answer to a call the API could not take at all: bad
// credentials, a malformed body. It carries the endpoint's action for
// errors of the front end's own (INTERNAL_SERVER_ERROR, Authlete's "the
// request from the service implementation was wrong").
type failure struct {
	status int
	code   string
	msg    string
	retry  int // seconds, for Retry-After
}

func (f *failure) Error() string { return f.msg }

// endpoint is one API call: it parses the body into its request and
// answers with a value carrying Result.
type endpoint struct {
	name        string // for the log
	errorAction string // the endpoint's action for a failure
	serve       func(ctx context.Context, key *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error)
}

// handler wraps an endpoint in the method check, service authentication and
// the failure answers. v3 says which path family it serves: Basic on /api/,
// Bearer on /api/{serviceId}/.
func (a *API) handler(e endpoint, v3 bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := a.call(e, v3, w, r)
		if err != nil {
			a.fail(w, r, e, err)
			return
		}
		_ = oauth.WriteJSON(w, http.StatusOK, resp)
	})
}

func (a *API) call(e endpoint, v3 bool, w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &failure{status: http.StatusMethodNotAllowed, code: codeMethod, msg: "the method must be POST"}
	}
	if v3 && r.PathValue("serviceId") != a.ServiceID {
		return nil, &failure{status: http.StatusNotFound, code: codeNotFound, msg: "no such service"}
	}
	key, err := a.authenticate(r, v3)
	if err != nil {
		return nil, err
	}
	return e.serve(r.Context(), key, w, r)
}

// fail writes err: a failure as it is, an unavailable database as 503, and
// anything else, logged, as 500 with no detail.
func (a *API) fail(w http.ResponseWriter, r *http.Request, e endpoint, err error) {
	var f *failure
	if !errors.As(err, &f) {
		var oe *oauth.Error
		switch {
		case errors.As(err, &oe):
			// The body could not be read as a request (oauth.ReadJSON,
			// ParseForm): the front end's mistake.
			code := codeBadRequest
			if oe.Status == http.StatusRequestEntityTooLarge {
				code = codeTooLarge
			}
			f = &failure{status: oe.StatusCode(), code: code, msg: oe.Description}
		case a.Unavailable != nil && errors.Is(err, a.Unavailable):
			f = &failure{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "the database is unavailable; try again", retry: 1}
		default:
			a.log().ErrorContext(r.Context(), "service API call failed", "endpoint", e.name, "err", err)
			f = &failure{status: http.StatusInternalServerError, code: codeServerError, msg: "the call failed; see the server's log"}
		}
	}
	if f.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey service API", Bearer realm="latchkey service API"`)
	}
	if f.retry > 0 {
		w.Header().Set("Retry-After", itoa(f.retry))
	}
	_ = oauth.WriteJSON(w, f.status, Result{ResultCode: f.code, ResultMessage: oauth.Describe(f.msg), Action: e.errorAction})
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// authenticate finds the service key of the request: Basic key:secret on
// /api/ (Authlete 2.x), Bearer secret on /api/{serviceId}/ (3.0). The
// secret is looked up by its hash (256 random bits find their key); the
// admin token, or a client's secret, is no key's and is refused.
func (a *API) authenticate(r *http.Request, v3 bool) (*store.ServiceKey, error) {
	unauthenticated := &failure{status: http.StatusUnauthorized, code: codeUnauthenticated, msg: "service authentication failed"}
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	var id, secret string
	switch {
	case v3 && strings.EqualFold(scheme, "Bearer"):
		secret = strings.TrimSpace(cred)
	case !v3 && strings.EqualFold(scheme, "Basic"):
		var ok bool
		if id, secret, ok = r.BasicAuth(); !ok || id == "" {
			return nil, unauthenticated
		}
	default:
		return nil, unauthenticated
	}
	if !strings.HasPrefix(secret, oauth.PrefixServiceSecret) || len(secret) > 256 {
		return nil, unauthenticated
	}
	k, err := a.Store.GetServiceKeyBySecret(r.Context(), oauth.HashSecret(secret))
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !v3 && k.ID != id {
		return nil, unauthenticated
	}
	return k, nil
}

// request is the body of one of the API's calls.
type request interface {
	// fromForm reads the request from a form, which Authlete accepts too.
	fromForm(oauth.Form) error
	// ignored are the request's members that Latchkey takes only when
	// they say nothing.
	ignored() []ignored
}

// readBody decodes the request body into q: JSON (strictly, as
// oauth.ReadJSON reads: one object, no repeated or unknown members, at most
// 64 KiB), or a form. A member of Authlete's that Latchkey does not
// support is accepted when it says nothing, and refused otherwise.
func readBody(w http.ResponseWriter, r *http.Request, q request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		f, err := oauth.ParseForm(w, r)
		if err != nil {
			return err
		}
		for _, m := range q.ignored() {
			if f.Has(m.name) {
				v := f.Get(m.name)
				m.v.given = v != "" && v != "0" && v != "false"
				delete(f, m.name)
			}
		}
		if err := q.fromForm(f); err != nil {
			return err
		}
	} else if err := oauth.ReadJSON(w, r, q); err != nil {
		return err
	}
	for _, m := range q.ignored() {
		if m.v.given {
			return oauth.BadRequestf("%s is not supported: %s", m.name, m.why)
		}
	}
	return nil
}

// unset is a member of an Authlete request that Latchkey does not
// support (README, "Bring your own front end", lists them with why). An
// SDK sends some members whatever it was asked to set (Java's 0 and false
// for its numbers and booleans), so one that says nothing — null, false,
// 0, "", [] or {} — is accepted and ignored; anything else is refused,
// since the front end would otherwise not get what it asked for.
type unset struct{ given bool }

func (u *unset) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "null", "false", "0", `""`, "[]", "{}":
		u.given = false
	default:
		u.given = true
	}
	return nil
}

// ignored is one unset member of a request: its name, why it is not
// supported, and its value.
type ignored struct {
	name, why string
	v         *unset
}

// Why a member is not supported, for the members several calls share.
const (
	whyMTLS       = "mutual-TLS client authentication and certificate-bound tokens (RFC 8705) are not supported"
	whyProperties = "extra properties of tokens are not supported"
	whyATClaims   = "the claims of access tokens are Latchkey's (RFC 9068)"
	whyAudType    = "the aud of ID tokens is always the client id"
)

// NumericClientID is the number Authlete's clientId fields carry for a
// client whose id (Authlete's clientIdAlias) is id: the first 53 bits of
// its SHA-256, so every instance says the same, and JavaScript's numbers
// hold it exactly. It names a client in answers only; requests name
// clients by their id.
func NumericClientID(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 11)
}

// content is a responseContent: the JSON the front end sends on as it is.
func content(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return `{"error":"server_error"}`
	}
	return string(b)
}

// errorContent is the OAuth error response (RFC 6749 §5.2) for err.
func errorContent(err *oauth.Error) string {
	return content(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{err.Code, err.Description})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Routes are the API's patterns and handlers, for the server's route table:
// both path families, every method (a wrong one gets the API's JSON 405).
func (a *API) Routes() []Route {
	var rs []Route
	for _, e := range a.endpoints() {
		rs = append(rs,
			Route{"/api/" + e.path, a.handler(e.endpoint, false)},
			Route{"/api/{serviceId}/" + e.path, a.handler(e.endpoint, true)})
	}
	return rs
}

// Route is a pattern of the API and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

func (a *API) endpoints() []struct {
	path string
	endpoint
} {
	return []struct {
		path string
		endpoint
	}{
		{"device/authorization", endpoint{"device/authorization", actionInternalServerError, a.deviceAuthorization}},
		{"device/verification", endpoint{"device/verification", actionInternalServerError, a.deviceVerification}},
		{"device/complete", endpoint{"device/complete", actionServerError, a.deviceComplete}},
		{"auth/token", endpoint{"auth/token", actionInternalServerError, a.authToken}},
		{"auth/introspection", endpoint{"auth/introspection", actionInternalServerError, a.introspection}},
	}
}

// Actions (Authlete's names).
const (
	actionOK                  = "OK"
	actionBadRequest          = "BAD_REQUEST"
	actionUnauthorized        = "UNAUTHORIZED"
	actionForbidden           = "FORBIDDEN"
	actionInvalidClient       = "INVALID_CLIENT"
	actionInternalServerError = "INTERNAL_SERVER_ERROR"
	actionValid               = "VALID"
	actionExpired             = "EXPIRED"
	actionNotExist            = "NOT_EXIST"
	actionSuccess             = "SUCCESS"
	actionUserCodeNotExist    = "USER_CODE_NOT_EXIST"
	actionUserCodeExpired     = "USER_CODE_EXPIRED"
	actionInvalidRequest      = "INVALID_REQUEST"
	actionServerError         = "SERVER_ERROR"
)
