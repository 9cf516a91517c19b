package server

import (
	"cmp"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// metadata is the discovery document (OpenID Connect Discovery 1.0 §3,
// RFC 8414 §2, RFC 8628 §4). It lists only what is implemented.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint   string   `json:"device_authorization_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	ScopesSupported               []string `json:"scopes_supported"`
	ResponseTypesSupported        []string `json:"response_types_supported"`
	ResponseModesSupported        []string `json:"response_modes_supported"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	// RFC 9207 §3: every authorization response carries iss.
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`

	RevocationEndpoint                        string   `json:"revocation_endpoint"`                           // RFC 8414 §2
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`    // RFC 8414 §2
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`                        // RFC 8414 §2
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"` // RFC 8414 §2
	UserInfoEndpoint                          string   `json:"userinfo_endpoint"`                             // OIDC Discovery §3
	EndSessionEndpoint                        string   `json:"end_session_endpoint"`                          // RP-Initiated Logout §2.1
	// RFC 9449 §5.1.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
	// RFC 8414 §2: listed only while dynamic registration is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
}

func (s *Server) metadata() metadata {
	iss := s.issuer
	m := metadata{
		Issuer:                      iss,
		AuthorizationEndpoint:       iss + "/oauth2/authorize",
		TokenEndpoint:               iss + "/oauth2/token",
		DeviceAuthorizationEndpoint: iss + "/oauth2/device_authorization",
		JWKSURI:                     iss + "/oauth2/jwks",
		ScopesSupported:             []string{"openid", "profile", "email", "offline_access"},
		// The authorization code flow only (RFC 9700 §2.1.2), answered in
		// the query, with PKCE S256 (RFC 7636 §4.2; plain is refused).
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		CodeChallengeMethodsSupported:              []string{authorize.MethodS256},
		AuthorizationResponseISSParameterSupported: true,
		GrantTypesSupported:                        s.grantTypes, // each grant registers its own (grant.Grant)
		TokenEndpointAuthMethodsSupported:          []string{store.AuthClientSecretBasic, store.AuthClientSecretPost, store.AuthNone},
		SubjectTypesSupported:                      []string{"public"},
		// OIDC Discovery §3: RS256 must be listed; the server's default for
		// clients that registered none comes first.
		IDTokenSigningAlgValuesSupported: s.idTokenAlgs(),
		ClaimsSupported:                  []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "azp", "sid", "email", "email_verified", "name"},

		RevocationEndpoint: iss + "/oauth2/revoke",
		// As at the token endpoint: a public client names itself with client_id (RFC 7009 §2.1).
		RevocationEndpointAuthMethodsSupported: []string{store.AuthClientSecretBasic, store.AuthClientSecretPost, store.AuthNone},
		IntrospectionEndpoint:                  iss + "/oauth2/introspect",
		// Only confidential callers may introspect (RFC 7662 §2.1).
		IntrospectionEndpointAuthMethodsSupported: []string{store.AuthClientSecretBasic, store.AuthClientSecretPost},
		UserInfoEndpoint:   iss + "/userinfo",
		EndSessionEndpoint: iss + "/logout",

		DPoPSigningAlgValuesSupported: dpop.Algorithms,
	}
	if s.cfg.Registration.Enabled {
		m.RegistrationEndpoint = iss + admin.RegistrationPath
	}
	return m
}

// idTokenAlgs are the algorithms ID tokens may be signed with, the
// configured default first.
func (s *Server) idTokenAlgs() []string {
	algs := []string{cmp.Or(s.cfg.Tokens.IDTokenSigningAlg, keys.ES256)}
	for _, a := range keys.Algorithms {
		if a != algs[0] {
			algs = append(algs, a)
		}
	}
	return algs
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	return writeCacheable(w, s.metadata(), "public, max-age=300")
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	set, err := s.keys.JWKS(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	// Short enough that a verifier caching the set has refetched it before
	// a rotated-in key signs: the key is published PublishDelay before it
	// signs, and this instance may have learned of it up to Refresh late.
	maxAge := max(int((s.keys.PublishDelay-s.keys.Refresh)/time.Second), 0)
	return writeCacheable(w, set, "public, max-age="+strconv.Itoa(maxAge))
}

func writeCacheable(w http.ResponseWriter, v any, cache string) error {
	if err := oauth.WriteJSON(&cacheWriter{ResponseWriter: w, cache: cache}, http.StatusOK, v); err != nil {
		return err
	}
	return nil
}

// cacheWriter replaces the no-store headers WriteJSON sets with cache,
// for the public documents that may be cached.
type cacheWriter struct {
	http.ResponseWriter
	cache string
}

func (c *cacheWriter) WriteHeader(status int) {
	h := c.Header()
	h.Set("Cache-Control", c.cache)
	h.Del("Pragma")
	c.ResponseWriter.WriteHeader(status)
}
