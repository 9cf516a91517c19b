package serviceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// deviceAuthorizationRequest is Authlete's /device/authorization request:
// the device's form body as the front end received it, and the client
// credentials the front end read from its Authorization header, if any.
type deviceAuthorizationRequest struct {
	Parameters            string `json:"parameters"`
	ClientID              string `json:"clientId"`
	ClientSecret          string `json:"clientSecret"`
	ClientCertificate     unset  `json:"clientCertificate"`
	ClientCertificatePath unset  `json:"clientCertificatePath"`
}

func (q *deviceAuthorizationRequest) ignored() []ignored {
	return []ignored{{"clientCertificate", whyMTLS, &q.ClientCertificate}, {"clientCertificatePath", whyMTLS, &q.ClientCertificatePath}}
}

func (q *deviceAuthorizationRequest) fromForm(f oauth.Form) error {
	q.Parameters, q.ClientID, q.ClientSecret = f.Get("parameters"), f.Get("clientId"), f.Get("clientSecret")
	return unknownMembers(f, "parameters", "clientId", "clientSecret")
}

// DeviceAuthorizationResponse is Authlete's, with its field names and types.
type DeviceAuthorizationResponse struct {
	Result
	ResponseContent         string   `json:"responseContent"`
	ClientID                int64    `json:"clientId,omitempty"`
	ClientIDAlias           string   `json:"clientIdAlias,omitempty"`
	ClientIDAliasUsed       bool     `json:"clientIdAliasUsed"`
	ClientName              string   `json:"clientName,omitempty"`
	ClientAuthMethod        string   `json:"clientAuthMethod,omitempty"`
	Scopes                  []Scope  `json:"scopes,omitempty"` // objects, as Authlete's (its SDKs read a Scope[])
	ClaimNames              []string `json:"claimNames,omitempty"`
	DeviceCode              string   `json:"deviceCode,omitempty"`
	UserCode                string   `json:"userCode,omitempty"`
	VerificationURI         string   `json:"verificationUri,omitempty"`
	VerificationURIComplete string   `json:"verificationUriComplete,omitempty"`
	ExpiresIn               int32    `json:"expiresIn,omitempty"`
	Interval                int32    `json:"interval,omitempty"`
}

// deviceAuthorization serves /device/authorization: the device
// authorization endpoint's work (RFC 8628 §3.1, §3.2) on what the front end
// received, answered with the front end's own verification page.
func (a *API) deviceAuthorization(ctx context.Context, _ *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error) {
	var q deviceAuthorizationRequest
	if err := readBody(w, r, &q); err != nil {
		return nil, err
	}
	resp := &DeviceAuthorizationResponse{}
	st, err := a.beginDevice(ctx, &q)
	var oe *oauth.Error
	switch {
	case errors.As(err, &oe):
		resp.Result = outcome(codeFor("device/authorization", oe.Code), oe.Description, actionBadRequest)
		if oe.Code == oauth.InvalidClient {
			resp.Action = actionUnauthorized
		}
		resp.ResponseContent = errorContent(oe)
		return resp, nil
	case err != nil:
		return nil, err
	}
	c := st.Client
	resp.Result = outcome("LK01000", "the device authorization request was accepted", actionOK)
	resp.ResponseContent = content(st.Response)
	resp.ClientID, resp.ClientIDAlias, resp.ClientIDAliasUsed = NumericClientID(c.ID), c.ID, true
	resp.ClientName, resp.ClientAuthMethod = c.Name, authMethodName(c.AuthMethod)
	resp.Scopes, resp.ClaimNames = scopeObjects(st.Scopes), ClaimNames(st.Scopes)
	resp.DeviceCode, resp.UserCode = st.Response.DeviceCode, st.Response.UserCode
	resp.VerificationURI, resp.VerificationURIComplete = st.Response.VerificationURI, st.Response.VerificationURIComplete
	resp.ExpiresIn, resp.Interval = int32(st.Response.ExpiresIn), int32(st.Response.Interval)
	return resp, nil
}

func (a *API) beginDevice(ctx context.Context, q *deviceAuthorizationRequest) (*device.Started, error) {
	f, err := oauth.ParseQuery(q.Parameters)
	if err != nil {
		return nil, err
	}
	creds, err := credentials(q.ClientID, q.ClientSecret, f)
	if err != nil {
		return nil, err
	}
	// As at the device authorization endpoint, the device's ui_locales
	// join the link to the (front end's) verification page.
	return a.Device.Begin(ctx, f, creds, "", "", device.WithLocales(a.uris, f.Get("ui_locales")))
}

// uris are the front end's verification URIs for a user code.
func (a *API) uris(userCode string) (string, string) {
	return a.VerificationURI, strings.ReplaceAll(a.VerificationURIComplete, UserCodePlaceholder, url.QueryEscape(userCode))
}

// credentials are the device's client credentials: the ones the front end
// read from the request's Authorization header (clientId, clientSecret:
// client_secret_basic, as Authlete's fields mean), or else the body's.
func credentials(id, secret string, f oauth.Form) (oauth.ClientCredentials, error) {
	if id == "" && secret == "" {
		if f.Get("client_id") == "" {
			return oauth.ClientCredentials{}, oauth.ClientAuthFailed()
		}
		return oauth.ClientCredentials{ID: f.Get("client_id"), Secret: oauth.Secret(f.Get("client_secret"))}, nil
	}
	if id == "" || secret == "" || !oauth.CleanText(id) || !oauth.CleanText(secret) {
		return oauth.ClientCredentials{}, oauth.ClientAuthFailed()
	}
	if f.Get("client_secret") != "" {
		return oauth.ClientCredentials{}, oauth.BadRequest("the client authenticated with more than one method")
	}
	if f.Get("client_id") != "" && f.Get("client_id") != id {
		return oauth.ClientCredentials{}, oauth.BadRequest("client_id does not match the Authorization header")
	}
	return oauth.ClientCredentials{ID: id, Secret: oauth.Secret(secret), Basic: true}, nil
}

// authMethodName is Authlete's name of a token endpoint auth method.
func authMethodName(m string) string {
	switch m {
	case store.AuthClientSecretBasic:
		return "CLIENT_SECRET_BASIC"
	case store.AuthClientSecretPost:
		return "CLIENT_SECRET_POST"
	}
	return "NONE"
}

// claimsByScope are the claims a scope asks for (OpenID Connect Core §5.4).
var claimsByScope = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// ClaimNames are the claims scopes ask for indirectly; none without openid
// (Authlete's claimNames).
func ClaimNames(scopes []string) []string {
	if !slices.Contains(scopes, "openid") {
		return nil
	}
	var names []string
	for _, s := range scopes {
		names = append(names, claimsByScope[s]...)
	}
	return names
}

// deviceVerificationRequest is Authlete's /device/verification request.
type deviceVerificationRequest struct {
	UserCode string `json:"userCode"`
}

func (q *deviceVerificationRequest) fromForm(f oauth.Form) error {
	q.UserCode = f.Get("userCode")
	return unknownMembers(f, "userCode")
}

func (q *deviceVerificationRequest) ignored() []ignored { return nil }

// Scope is Authlete's scope object: its name (descriptions are ours to leave out).
type Scope struct {
	Name string `json:"name"`
}

// scopeObjects are names as Authlete's Scope objects.
func scopeObjects(names []string) []Scope {
	if len(names) == 0 {
		return nil
	}
	out := make([]Scope, len(names))
	for i, n := range names {
		out[i] = Scope{Name: n}
	}
	return out
}

// DeviceVerificationResponse is Authlete's.
type DeviceVerificationResponse struct {
	Result
	ClientID          int64    `json:"clientId,omitempty"`
	ClientIDAlias     string   `json:"clientIdAlias,omitempty"`
	ClientIDAliasUsed bool     `json:"clientIdAliasUsed"`
	ClientName        string   `json:"clientName,omitempty"`
	Scopes            []Scope  `json:"scopes,omitempty"`
	ClaimNames        []string `json:"claimNames,omitempty"`
	ExpiresAt         int64    `json:"expiresAt,omitempty"` // unix milliseconds
}

// deviceVerification serves /device/verification: what a user code stands
// for, so the front end can show the person what they are asked to allow.
// It changes nothing but the wrong-code counters (device.Verifier.Lookup).
func (a *API) deviceVerification(ctx context.Context, key *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error) {
	var q deviceVerificationRequest
	if err := readBody(w, r, &q); err != nil {
		return nil, err
	}
	if q.UserCode == "" {
		return nil, &failure{status: http.StatusBadRequest, code: codeBadRequest, msg: "userCode is required"}
	}
	p, err := a.lookup(ctx, key, q.UserCode)
	switch {
	case errors.Is(err, device.ErrExpired):
		return &DeviceVerificationResponse{Result: outcome("LK02002", "the user code has expired", actionExpired)}, nil
	case errors.Is(err, device.ErrInvalidCode), errors.Is(err, device.ErrUsed):
		// A decided code is gone for the front end as for Authlete's.
		return &DeviceVerificationResponse{Result: outcome("LK02003", "no such user code", actionNotExist)}, nil
	case err != nil:
		return nil, err
	}
	return &DeviceVerificationResponse{
		Result:   outcome("LK02001", "the user code is valid", actionValid),
		ClientID: NumericClientID(p.Client.ID), ClientIDAlias: p.Client.ID, ClientIDAliasUsed: true,
		ClientName: p.Client.Name, Scopes: scopeObjects(p.Auth.Scopes), ClaimNames: ClaimNames(p.Auth.Scopes),
		ExpiresAt: p.Auth.ExpiresAt.UnixMilli(),
	}, nil
}

// lookup finds a pending authorization by user code, counting a wrong code
// against the verification budgets: the caller is the key, in place of a
// signed-in account, and the front end's address is no person's, so the
// server-wide budget, shared with the hosted pages, is what binds (the
// API's verifier is built with the global limit for all three).
func (a *API) lookup(ctx context.Context, key *store.ServiceKey, userCode string) (*device.Pending, error) {
	p, err := a.Verifier.Lookup(ctx, "service-key:"+key.ID, "", userCode)
	if errors.Is(err, device.ErrThrottled) {
		return nil, &failure{status: http.StatusTooManyRequests, code: codeThrottled,
			msg: "too many wrong user codes; try again later", retry: int(a.Verifier.Window / time.Second)}
	}
	return p, err
}

// deviceCompleteRequest is Authlete's /device/complete request.
type deviceCompleteRequest struct {
	UserCode         string    `json:"userCode"`
	Result           string    `json:"result"`
	Subject          string    `json:"subject"`
	AuthTime         epoch     `json:"authTime"`
	ACR              string    `json:"acr"`
	Claims           string    `json:"claims"`
	Scopes           *[]string `json:"scopes"`
	ErrorDescription string    `json:"errorDescription"`

	Sub             unset `json:"sub"`
	Properties      unset `json:"properties"`
	ErrorURI        unset `json:"errorUri"`
	IDTHeaderParams unset `json:"idtHeaderParams"`
	ConsentedClaims unset `json:"consentedClaims"`
	JWTATClaims     unset `json:"jwtAtClaims"`
	IDTokenAudType  unset `json:"idTokenAudType"`
}

func (q *deviceCompleteRequest) ignored() []ignored {
	return []ignored{
		{"sub", "the sub of ID tokens is always the subject", &q.Sub},
		{"properties", whyProperties, &q.Properties},
		{"errorUri", "the device's error answer carries no error_uri", &q.ErrorURI},
		{"idtHeaderParams", "the header of ID tokens is Latchkey's", &q.IDTHeaderParams},
		{"consentedClaims", "ID tokens carry every claim given in claims", &q.ConsentedClaims},
		{"jwtAtClaims", whyATClaims, &q.JWTATClaims},
		{"idTokenAudType", whyAudType, &q.IDTokenAudType},
	}
}

func (q *deviceCompleteRequest) fromForm(f oauth.Form) error {
	q.UserCode, q.Result, q.Subject = f.Get("userCode"), f.Get("result"), f.Get("subject")
	q.ACR, q.Claims, q.ErrorDescription = f.Get("acr"), f.Get("claims"), f.Get("errorDescription")
	if f.Has("authTime") {
		if err := q.AuthTime.UnmarshalJSON([]byte(f.Get("authTime"))); err != nil {
			return oauth.BadRequest("authTime: want seconds since 1970")
		}
	}
	if f.Has("scopes") {
		s := strings.Fields(f.Get("scopes"))
		q.Scopes = &s
	}
	return unknownMembers(f, "userCode", "result", "subject", "authTime", "acr", "claims", "scopes", "errorDescription")
}

// epoch is Authlete's authTime: seconds since 1970, as a JSON number or
// a string of digits.
type epoch int64

func (e *epoch) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*e = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return fmt.Errorf("authTime: want seconds since 1970")
	}
	*e = epoch(n)
	return nil
}

// DeviceCompleteResponse is Authlete's.
type DeviceCompleteResponse struct {
	Result
}

// Results a front end reports (Authlete's DeviceCompleteRequest.Result).
const (
	resultAuthorized        = "AUTHORIZED"
	resultAccessDenied      = "ACCESS_DENIED"
	resultTransactionFailed = "TRANSACTION_FAILED"
)

// Limits of what a front end hands in for a person.
const (
	maxSubject = 255 // OIDC Core §2: sub is at most 255 ASCII characters
	maxACR     = 255
)

// deviceComplete serves /device/complete: the person's decision on the
// front end's page. AUTHORIZED approves for subject, a person of the
// front end's with no user row of ours; the device's next poll gets tokens
// with that sub, the claims in its ID token and, when scopes is given, only
// those (a subset of what the device asked for). ACCESS_DENIED answers the
// poll access_denied, TRANSACTION_FAILED expired_token, each with the front
// end's errorDescription. It is one conditional update: of concurrent
// completions of one code exactly one is SUCCESS, the rest find it gone.
func (a *API) deviceComplete(ctx context.Context, key *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error) {
	var q deviceCompleteRequest
	if err := readBody(w, r, &q); err != nil {
		return nil, err
	}
	invalid := func(msg string) (any, error) {
		return &DeviceCompleteResponse{Result: outcome("LK03004", msg, actionInvalidRequest)}, nil
	}
	d, msg := q.completion()
	if msg != "" {
		return invalid(msg)
	}
	p, err := a.lookup(ctx, key, q.UserCode)
	switch {
	case errors.Is(err, device.ErrExpired):
		return &DeviceCompleteResponse{Result: outcome("LK03002", "the user code has expired", actionUserCodeExpired)}, nil
	case errors.Is(err, device.ErrInvalidCode), errors.Is(err, device.ErrUsed):
		return &DeviceCompleteResponse{Result: outcome("LK03003", "no such user code", actionUserCodeNotExist)}, nil
	case err != nil:
		return nil, err
	}
	if q.Scopes != nil {
		if missing, ok := oauth.ScopeSubset(d.Scopes, p.Auth.Scopes); !ok {
			return invalid("scope " + missing + " was not requested by the device")
		}
	}
	_, err = a.Store.CompleteDeviceAuth(ctx, p.Auth.UserCodeHash, d, a.Now())
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Decided by a concurrent completion (or the hosted page) since
		// the lookup, or swept: gone, as a decided code is.
		return &DeviceCompleteResponse{Result: outcome("LK03003", "no such user code", actionUserCodeNotExist)}, nil
	case err != nil:
		return nil, fmt.Errorf("complete device authorization: %w", err)
	}
	a.recordDecision(ctx, key, p, d)
	return &DeviceCompleteResponse{Result: outcome("LK03001", "the decision was recorded", actionSuccess)}, nil
}

// recordDecision counts a front end's decision, writes it to the security
// event log as a device decision made through the service API, and to the
// audit log with the service key as the actor: who decided what, for which
// of the front end's subjects, for which client. The claims stay out of
// both: they are the front end's data about its person.
func (a *API) recordDecision(ctx context.Context, key *store.ServiceKey, p *device.Pending, d *store.DeviceCompletion) {
	outcome, decision := secevent.Approved, "approved"
	if d.Approve {
		a.Metrics.Device(metrics.DeviceApproved)
	} else {
		outcome, decision = secevent.Denied, "denied"
		a.Metrics.Device(metrics.DeviceDenied)
	}
	secevent.Log(ctx, a.Log, secevent.Event{Name: secevent.DeviceDecision, Outcome: outcome,
		ClientID: p.Auth.ClientID, UserID: d.Subject, Reason: "through the service API"})
	scopes := d.Scopes
	if scopes == nil {
		scopes = p.Auth.Scopes
	}
	after := map[string]any{"decision": decision, "client_id": p.Auth.ClientID, "subject": d.Subject}
	if d.Approve {
		after["scopes"] = scopes
	}
	ctx = audit.WithActor(ctx, audit.Actor{Kind: store.ActorServiceKey, ID: key.ID, Address: clientip.Addr(ctx)})
	_ = a.Audit.Record(ctx, audit.Change{Kind: audit.DeviceComplete, TargetID: p.Auth.ClientID, After: after})
}

// completion checks q and turns it into the decision to store; a message
// says what is wrong with it.
func (q *deviceCompleteRequest) completion() (*store.DeviceCompletion, string) {
	if q.UserCode == "" {
		return nil, "userCode is required"
	}
	d := &store.DeviceCompletion{Subject: q.Subject}
	switch q.Result {
	case resultAuthorized:
		d.Approve = true
		if q.Subject == "" {
			return nil, "subject is required when result is AUTHORIZED"
		}
	case resultAccessDenied:
		d.ErrorCode = oauth.AccessDenied
	case resultTransactionFailed:
		// Authlete answers the device's poll expired_token (RFC 8628
		// §3.5: the session is over; the device may start again).
		d.ErrorCode = oauth.ExpiredToken
	case "":
		return nil, "result is required"
	default:
		return nil, "result must be AUTHORIZED, ACCESS_DENIED or TRANSACTION_FAILED"
	}
	if len(q.Subject) > maxSubject || !oauth.CleanText(q.Subject) {
		return nil, "subject must be text of at most 255 bytes"
	}
	if len(q.ACR) > maxACR || !oauth.CleanText(q.ACR) {
		return nil, "acr must be text of at most 255 bytes"
	}
	if q.ErrorDescription != "" {
		if !d.Approve && oauth.Describe(q.ErrorDescription) != q.ErrorDescription {
			// RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E only.
			return nil, "errorDescription holds characters an error_description may not"
		}
		d.ErrorDescription = q.ErrorDescription
		if d.Approve {
			d.ErrorDescription = "" // used only when the result is not AUTHORIZED
		}
	}
	if q.AuthTime > 0 {
		d.AuthTime = time.Unix(int64(q.AuthTime), 0).UTC()
	}
	if q.Scopes != nil && len(*q.Scopes) > 0 {
		for _, s := range *q.Scopes {
			if _, err := oauth.ParseScope(s); err != nil || s == "" || strings.Contains(s, " ") {
				return nil, "scopes holds something that is not a scope"
			}
		}
		d.Scopes = slices.Clone(*q.Scopes)
	}
	if q.Claims != "" || q.ACR != "" {
		claims, msg := idClaims(q.Claims, q.ACR)
		if msg != "" {
			return nil, msg
		}
		d.Claims = claims
	}
	if !d.Approve {
		d.Claims, d.Scopes = "", nil
	}
	return d, ""
}

// idClaims checks the front end's claims (a JSON object as a string,
// Authlete's claims) and adds acr, returning the object to store.
func idClaims(claims, acr string) (string, string) {
	m := map[string]any{}
	if claims != "" {
		if err := json.Unmarshal([]byte(claims), &m); err != nil || m == nil {
			return "", "claims must be a JSON object"
		}
		for _, name := range token.ReservedClaims {
			if _, ok := m[name]; ok {
				return "", "claims may not set " + name + ": Latchkey sets it"
			}
		}
	}
	if acr != "" {
		m["acr"] = acr
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", "claims must be a JSON object"
	}
	return string(b), ""
}

// outcome is a Result.
func outcome(code, msg, action string) Result {
	return Result{ResultCode: code, ResultMessage: msg, Action: action}
}

// codeFor is the result code of an OAuth error answered through endpoint.
func codeFor(endpoint, oauthCode string) string {
	switch endpoint {
	case "device/authorization":
		if oauthCode == oauth.InvalidClient {
			return "LK01002"
		}
		return "LK01001"
	}
	return "LK04001"
}

// unknownMembers refuses a form member the request does not have, as the
// JSON reader refuses an unknown member.
func unknownMembers(f oauth.Form, known ...string) error {
	for k := range f {
		if !slices.Contains(known, k) {
			return oauth.BadRequestf("unknown member %s", oauth.Shorten(k))
		}
	}
	return nil
}
