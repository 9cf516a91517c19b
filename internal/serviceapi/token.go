package serviceapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/grant"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// tokenRequest is Authlete's /auth/token request: the device's (or any
// client's) token request body, and the credentials from its
// Authorization header.
type tokenRequest struct {
	Parameters   string `json:"parameters"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// DPoP is the DPoP header of the device's token request (RFC 9449),
	// HTM and HTU the method and URL the front end received it at: the
	// proof must be for them. HTM defaults to POST; HTU is required with a
	// proof, since only the front end knows its own token endpoint.
	DPoP string `json:"dpop"`
	HTM  string `json:"htm"`
	HTU  string `json:"htu"`

	ClientCertificate         unset `json:"clientCertificate"`
	ClientCertificatePath     unset `json:"clientCertificatePath"`
	Properties                unset `json:"properties"`
	AccessToken               unset `json:"accessToken"`
	JWTATClaims               unset `json:"jwtAtClaims"`
	AccessTokenDuration       unset `json:"accessTokenDuration"`
	RefreshTokenDuration      unset `json:"refreshTokenDuration"`
	DPoPNonceRequired         unset `json:"dpopNonceRequired"`
	OAuthClientAttestation    unset `json:"oauthClientAttestation"`
	OAuthClientAttestationPoP unset `json:"oauthClientAttestationPop"`
	IDTokenAudType            unset `json:"idTokenAudType"`
}

func (q *tokenRequest) ignored() []ignored {
	const lifetimes = "token lifetimes are the client's token policy (latchkey clients update --access-token-lifetime, --refresh-lifetime)"
	const attestation = "attestation-based client authentication is not supported"
	return []ignored{
		{"clientCertificate", whyMTLS, &q.ClientCertificate},
		{"clientCertificatePath", whyMTLS, &q.ClientCertificatePath},
		{"properties", whyProperties, &q.Properties},
		{"accessToken", "Latchkey makes its own access tokens", &q.AccessToken},
		{"jwtAtClaims", whyATClaims, &q.JWTATClaims},
		{"accessTokenDuration", lifetimes, &q.AccessTokenDuration},
		{"refreshTokenDuration", lifetimes, &q.RefreshTokenDuration},
		{"dpopNonceRequired", "whether DPoP proofs need a nonce is the server's setting (dpop.nonce)", &q.DPoPNonceRequired},
		{"oauthClientAttestation", attestation, &q.OAuthClientAttestation},
		{"oauthClientAttestationPop", attestation, &q.OAuthClientAttestationPoP},
		{"idTokenAudType", whyAudType, &q.IDTokenAudType},
	}
}

func (q *tokenRequest) fromForm(f oauth.Form) error {
	q.Parameters, q.ClientID, q.ClientSecret = f.Get("parameters"), f.Get("clientId"), f.Get("clientSecret")
	q.DPoP, q.HTM, q.HTU = f.Get("dpop"), f.Get("htm"), f.Get("htu")
	return unknownMembers(f, "parameters", "clientId", "clientSecret", "dpop", "htm", "htu")
}

// proof checks the device's DPoP proof the front end passed on, if any,
// against the method and URL it was received at. Like the token endpoint,
// it gives the nonce the device's next proof must carry, for the front end
// to send as DPoP-Nonce.
func (a *API) proof(ctx context.Context, q *tokenRequest) (p *dpop.Proof, nonce string, err error) {
	if q.DPoP == "" {
		if q.HTM != "" || q.HTU != "" {
			return nil, "", oauth.BadRequest("htm and htu go with dpop: the device's DPoP header")
		}
		return nil, "", nil
	}
	if a.DPoP == nil {
		return nil, "", &oauth.Error{Code: dpop.InvalidProof, Description: "DPoP is not supported here"}
	}
	if a.DPoP.Nonces != nil {
		nonce = a.DPoP.Nonces.Current(a.DPoP.Now())
	}
	htm := q.HTM
	if htm == "" {
		htm = http.MethodPost
	}
	u, perr := url.Parse(q.HTU)
	if q.HTU == "" || perr != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return nil, nonce, oauth.BadRequest("htu must be the absolute URL, without query or fragment, of the token endpoint the device sent its proof to")
	}
	p, err = a.DPoP.CheckProof(ctx, q.DPoP, dpop.Target{Method: htm, URL: q.HTU})
	return p, nonce, err
}

// TokenResponse is Authlete's /auth/token response.
type TokenResponse struct {
	Result
	ResponseContent       string   `json:"responseContent"`
	GrantType             string   `json:"grantType,omitempty"`
	ClientID              int64    `json:"clientId,omitempty"`
	ClientIDAlias         string   `json:"clientIdAlias,omitempty"`
	ClientIDAliasUsed     bool     `json:"clientIdAliasUsed"`
	Subject               string   `json:"subject,omitempty"`
	Scopes                []string `json:"scopes,omitempty"`
	AccessToken           string   `json:"accessToken,omitempty"`
	JWTAccessToken        string   `json:"jwtAccessToken,omitempty"`
	AccessTokenExpiresAt  int64    `json:"accessTokenExpiresAt,omitempty"` // unix milliseconds
	AccessTokenDuration   int64    `json:"accessTokenDuration,omitempty"`  // seconds
	RefreshToken          string   `json:"refreshToken,omitempty"`
	RefreshTokenExpiresAt int64    `json:"refreshTokenExpiresAt,omitempty"`
	RefreshTokenDuration  int64    `json:"refreshTokenDuration,omitempty"`
	IDToken               string   `json:"idToken,omitempty"`
	// DPoPNonce, when the device sent a proof, is the nonce its next proof
	// must carry: for the front end's DPoP-Nonce header.
	DPoPNonce string `json:"dpopNonce,omitempty"`
}

// grantTypeNames are Authlete's names of the grant types we answer.
var grantTypeNames = map[string]string{
	store.GrantDeviceCode:        "DEVICE_CODE",
	store.GrantRefreshToken:      "REFRESH_TOKEN",
	store.GrantClientCredentials: "CLIENT_CREDENTIALS",
	store.GrantAuthorizationCode: "AUTHORIZATION_CODE",
}

// authToken serves /auth/token: the token endpoint's work on what the front
// end received (the device_code grant's polls with authorization_pending
// and slow_down, refresh_token rotation, client_credentials), with the
// token endpoint's response for the front end to send on.
func (a *API) authToken(ctx context.Context, _ *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error) {
	var q tokenRequest
	if err := readBody(w, r, &q); err != nil {
		return nil, err
	}
	now := a.Now()
	f, err := oauth.ParseQuery(q.Parameters)
	var resp *token.Response
	var nonce string
	if err == nil {
		var creds oauth.ClientCredentials
		if creds, err = credentials(q.ClientID, q.ClientSecret, f); err == nil {
			var p *dpop.Proof
			if p, nonce, err = a.proof(ctx, &q); err == nil {
				resp, err = a.Token.Exchange(ctx, &grant.Request{HTTP: r, Form: f, Creds: creds, DPoP: p})
			}
		}
	}
	var oe *oauth.Error
	switch {
	case errors.As(err, &oe):
		out := &TokenResponse{Result: outcome("LK04001", oe.Description, actionBadRequest), ResponseContent: errorContent(oe), DPoPNonce: nonce}
		if oe.Code == oauth.InvalidClient {
			out.Result = outcome("LK04002", oe.Description, actionInvalidClient)
		}
		return out, nil
	case err != nil:
		return nil, err
	}
	gt := f.Get("grant_type")
	out := &TokenResponse{
		Result:          outcome("LK04000", "the token request was granted", actionOK),
		ResponseContent: content(resp),
		GrantType:       grantTypeNames[gt],
		Scopes:          strings.Fields(resp.Scope),
		AccessToken:     resp.AccessToken, JWTAccessToken: resp.AccessToken,
		AccessTokenExpiresAt: now.Add(time.Duration(resp.ExpiresIn) * time.Second).UnixMilli(),
		AccessTokenDuration:  resp.ExpiresIn,
		RefreshToken:         resp.RefreshToken,
		IDToken:              resp.IDToken,
		DPoPNonce:            nonce,
	}
	if resp.RefreshToken != "" && resp.RefreshableUntil > 0 {
		out.RefreshTokenExpiresAt = resp.RefreshableUntil * 1000
		out.RefreshTokenDuration = resp.RefreshableUntil - now.Unix()
	}
	// The client and person come from the access token just minted: its
	// payload, which we signed a moment ago, needs no verifying here.
	if claims, ok := payload(resp.AccessToken); ok {
		out.ClientID, out.ClientIDAlias, out.ClientIDAliasUsed = NumericClientID(claims.ClientID), claims.ClientID, true
		if claims.GrantID != "" {
			out.Subject = claims.Subject // a client acting for itself has none
		}
	}
	return out, nil
}

// payload reads the claims of a JWT without verifying it: only for one we
// have just signed.
func payload(jwt string) (*token.AccessClaims, bool) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c token.AccessClaims
	if json.Unmarshal(b, &c) != nil {
		return nil, false
	}
	return &c, true
}

// introspectionRequest is Authlete's /auth/introspection request.
type introspectionRequest struct {
	Token   string    `json:"token"`
	Scopes  *[]string `json:"scopes"`
	Subject string    `json:"subject"`

	ClientCertificate    unset `json:"clientCertificate"`
	DPoP                 unset `json:"dpop"`
	HTM                  unset `json:"htm"`
	HTU                  unset `json:"htu"`
	Resources            unset `json:"resources"`
	ACRValues            unset `json:"acrValues"`
	MaxAge               unset `json:"maxAge"`
	RequiredComponents   unset `json:"requiredComponents"`
	URI                  unset `json:"uri"`
	Message              unset `json:"message"`
	Headers              unset `json:"headers"`
	TargetURI            unset `json:"targetUri"`
	DPoPNonceRequired    unset `json:"dpopNonceRequired"`
	RequestBodyContained unset `json:"requestBodyContained"`
}

func (q *introspectionRequest) ignored() []ignored {
	const dpop = "DPoP proofs are not checked at introspection: a DPoP-bound token's key is its JWT's cnf.jkt, for the resource server to compare"
	const signatures = "HTTP message signatures are not supported"
	return []ignored{
		{"clientCertificate", whyMTLS, &q.ClientCertificate},
		{"dpop", dpop, &q.DPoP},
		{"htm", dpop, &q.HTM},
		{"htu", dpop, &q.HTU},
		{"resources", "resource indicators (RFC 8707) are not supported", &q.Resources},
		{"acrValues", "introspection does not check how the person was authenticated", &q.ACRValues},
		{"maxAge", "introspection does not check when the person was authenticated", &q.MaxAge},
		{"requiredComponents", signatures, &q.RequiredComponents},
		{"uri", signatures, &q.URI},
		{"message", signatures, &q.Message},
		{"headers", signatures, &q.Headers},
		{"targetUri", signatures, &q.TargetURI},
		{"dpopNonceRequired", dpop, &q.DPoPNonceRequired},
		{"requestBodyContained", signatures, &q.RequestBodyContained},
	}
}

func (q *introspectionRequest) fromForm(f oauth.Form) error {
	q.Token, q.Subject = f.Get("token"), f.Get("subject")
	if f.Has("scopes") {
		s := strings.Fields(f.Get("scopes"))
		q.Scopes = &s
	}
	return unknownMembers(f, "token", "scopes", "subject")
}

// IntrospectionResponse is Authlete's /auth/introspection response.
type IntrospectionResponse struct {
	Result
	// ResponseContent is, for every action but OK, the WWW-Authenticate
	// value the resource server answers with (RFC 6750 §3).
	ResponseContent   string   `json:"responseContent,omitempty"`
	ClientID          int64    `json:"clientId,omitempty"`
	ClientIDAlias     string   `json:"clientIdAlias,omitempty"`
	ClientIDAliasUsed bool     `json:"clientIdAliasUsed"`
	Subject           string   `json:"subject,omitempty"`
	Scopes            []string `json:"scopes,omitempty"`
	ExpiresAt         int64    `json:"expiresAt,omitempty"` // unix milliseconds
	Existent          bool     `json:"existent"`
	Usable            bool     `json:"usable"`
	Sufficient        bool     `json:"sufficient"`
}

// introspection serves /auth/introspection: whether an access token is
// active (signature, expiry, its grant and person as token.Handler checks
// them), and whether it has the scopes and subject the resource server
// needs. The caller holds a service key, so it learns about any client's
// token, as the company's resource servers must.
func (a *API) introspection(ctx context.Context, _ *store.ServiceKey, w http.ResponseWriter, r *http.Request) (any, error) {
	var q introspectionRequest
	if err := readBody(w, r, &q); err != nil {
		return nil, err
	}
	if q.Token == "" {
		return &IntrospectionResponse{Result: outcome("LK05001", "token is required", actionBadRequest),
			ResponseContent: bearer("invalid_request", "the access token is missing", "")}, nil
	}
	in, err := a.Tokens.IntrospectAccess(ctx, q.Token)
	if err != nil {
		return nil, err
	}
	if in == nil {
		return &IntrospectionResponse{Result: outcome("LK05002", "the access token is not active", actionUnauthorized),
			ResponseContent: bearer("invalid_token", "the access token is invalid, expired or revoked", "")}, nil
	}
	scopes := strings.Fields(in.Scope)
	out := &IntrospectionResponse{
		ClientID: NumericClientID(in.ClientID), ClientIDAlias: in.ClientID, ClientIDAliasUsed: true,
		Scopes: scopes, ExpiresAt: in.Expiry * 1000, Existent: true, Usable: true,
	}
	if in.GrantID != "" {
		out.Subject = in.Subject
	}
	if q.Scopes != nil {
		for _, s := range *q.Scopes {
			if !slices.Contains(scopes, s) {
				out.Result = outcome("LK05003", "the access token lacks scope "+oauth.Shorten(s), actionForbidden)
				out.ResponseContent = bearer("insufficient_scope", "the access token lacks a required scope", strings.Join(*q.Scopes, " "))
				return out, nil
			}
		}
	}
	if q.Subject != "" && q.Subject != out.Subject {
		out.Result = outcome("LK05004", "the access token is another subject's", actionForbidden)
		out.ResponseContent = bearer("invalid_token", "the access token was issued for another subject", "")
		return out, nil
	}
	out.Sufficient = true
	out.Result = outcome("LK05000", "the access token is active", actionOK)
	return out, nil
}

// bearer is a WWW-Authenticate challenge (RFC 6750 §3).
func bearer(code, description, scope string) string {
	s := `Bearer error="` + code + `", error_description="` + oauth.Describe(description) + `"`
	if scope != "" {
		s += `, scope="` + oauth.Describe(scope) + `"`
	}
	return s
}
