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

// dummyHash keeps the work for an unknown client the same as for a known
// one, so the answer's timing does not tell which client ids exist.
var dummyHash = HashSecret("latchkey-no-such-client")

// AuthenticateClient loads the client named by creds and checks its secret.
// A public client presents no secret; a confidential one must present its
// own, by either secret method. Every failure is the same invalid_client.
func AuthenticateClient(ctx context.Context, clients store.ClientStore, creds ClientCredentials) (*store.Client, error) {
	c, err := clients.GetClient(ctx, creds.ID)
	if errors.Is(err, store.ErrNotFound) {
		SecretMatches(string(creds.Secret), dummyHash)
		return nil, ClientAuthFailed()
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	if ok := credentialsFit(c, creds); !ok {
		// A cache may hold the client as it was before its secret was
		// rotated or it became confidential: decide on a fresh read.
		fresh, isCache := clients.(freshClients)
		if !isCache {
			return nil, ClientAuthFailed()
		}
		if c, err = fresh.GetClientFresh(ctx, creds.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, ClientAuthFailed()
			}
			return nil, fmt.Errorf("load client: %w", err)
		}
		if !credentialsFit(c, creds) {
			return nil, ClientAuthFailed()
		}
	}
	return c, nil
}

// freshClients is a caching client store that can bypass its cache.
type freshClients interface {
	GetClientFresh(ctx context.Context, id string) (*store.Client, error)
}

// credentialsFit reports whether creds authenticate c: no secret for a
// public client (one that sends a secret is confused or is not the client
// it claims to be), its own secret for a confidential one.
func credentialsFit(c *store.Client, creds ClientCredentials) bool {
	if c.Public() {
		return creds.Secret == ""
	}
	return creds.Secret != "" && SecretMatches(string(creds.Secret), c.SecretHash)
}
