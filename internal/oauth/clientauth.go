package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/store"
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
		if f.Has("client_secret") {
			return ClientCredentials{}, BadRequest("the client authenticated with more than one method")
		}
		if f.Has("client_id") && f.Get("client_id") != id {
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

// dummyHash keeps the work for an unknown client the same as for a known
// one, so the answer's timing does not tell which client ids exist.
var dummyHash = HashSecret("latchkey-no-such-client")

// AuthenticateClient loads the client named by creds and checks its secret.
// A public client may present no secret (an empty Basic password counts as
// none, which is what golang.org/x/oauth2 sends for public clients); a
// confidential one must present its own. Either secret method is accepted
// for a confidential client. Every failure is the same invalid_client.
func AuthenticateClient(ctx context.Context, clients store.ClientStore, creds ClientCredentials) (*store.Client, error) {
	c, err := clients.GetClient(ctx, creds.ID)
	if errors.Is(err, store.ErrNotFound) {
		SecretMatches(string(creds.Secret), dummyHash)
		return nil, ClientAuthFailed()
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	if c.Public() {
		if creds.Secret != "" {
			// A public client has no secret to check; one that sends a
			// secret is confused or is not the client it claims to be.
			return nil, ClientAuthFailed()
		}
		return c, nil
	}
	if creds.Secret == "" || !SecretMatches(string(creds.Secret), c.SecretHash) {
		return nil, ClientAuthFailed()
	}
	return c, nil
}
