package oauth

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// ClientCredentials is how a request identified its client.
type ClientCredentials struct {
	ID     string
	Secret Secret // empty for a public client
	Basic  bool   // sent in the Authorization header
}

// ClientCredentialsFrom reads the client's identity from the Authorization
// header (client_secret_basic) or the body (client_secret_post, or a bare
// client_id for public clients). RFC 6749 §2.3: a client must not use more
// than one method in one request.
func ClientCredentialsFrom(r *http.Request, f Form) (ClientCredentials, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, err := parseBasic(h)
		if err != nil {
			return ClientCredentials{}, err
		}
		if secret == "" {
			// client_secret_basic is for clients with a secret; a public
			// client names itself with client_id in the body (RFC 6749
			// §3.2.1). Refusing here, before any state is touched, also
			// keeps golang.org/x/oauth2's default auth-style probe (header
			// first, then the body on any error) from reaching the device
			// poll twice within milliseconds, which would earn every
			// such client a slow_down on each poll.
			return ClientCredentials{}, ClientAuthFailed()
		}
		// An empty parameter counts as absent (RFC 6749 §3.1): some client
		// libraries send client_secret= beside the header.
		if f.Get("client_secret") != "" {
			return ClientCredentials{}, BadRequest("the client authenticated with more than one method")
		}
		if f.Get("client_id") != "" && f.Get("client_id") != id {
			return ClientCredentials{}, BadRequest("client_id does not match the Authorization header")
		}
		return ClientCredentials{ID: id, Secret: Secret(secret), Basic: true}, nil
	}
	id := f.Get("client_id")
	if id == "" {
		return ClientCredentials{}, ClientAuthFailed()
	}
	return ClientCredentials{ID: id, Secret: Secret(f.Get("client_secret"))}, nil
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))"
// (RFC 6749 §2.3.1). Every malformation is invalid_client.
func parseBasic(h string) (id, secret string, err error) {
	scheme, payload, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", ClientAuthFailed()
	}
	raw, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if decErr != nil {
		return "", "", ClientAuthFailed()
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", ClientAuthFailed()
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" || !cleanText(id) || !cleanText(secret) || len(id) > MaxParamBytes || len(secret) > MaxParamBytes {
		return "", "", ClientAuthFailed()
	}
	return id, secret, nil
}
