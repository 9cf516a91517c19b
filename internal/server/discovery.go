package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// metadata is the discovery document (OpenID Connect Discovery 1.0 §3,
// RFC 8414 §2, RFC 8628 §4). It lists only what is implemented.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (s *Server) metadata() metadata {
	iss := s.issuer
	return metadata{
		Issuer:                      iss,
		TokenEndpoint:               iss + "/oauth2/token",
		DeviceAuthorizationEndpoint: iss + "/oauth2/device_authorization",
		JWKSURI:                     iss + "/oauth2/jwks",
		ScopesSupported:             []string{"openid", "profile", "email", "offline_access"},
		// No authorization endpoint yet, so no response types: the device
		// grant needs none. The member is required, so it is present and empty.
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{store.GrantDeviceCode, store.GrantRefreshToken},
		TokenEndpointAuthMethodsSupported: []string{store.AuthClientSecretBasic, store.AuthClientSecretPost, store.AuthNone},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"ES256"},
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "azp", "email", "email_verified", "name"},
	}
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
