// Package clientauth authenticates OAuth clients at the endpoints that
// require it (RFC 6749 §2.3): token, device authorization, revocation and
// introspection. Reading the credentials off a request is package oauth's
// (oauth.ClientCredentialsFrom); checking them against the registered
// client is here, because it needs the client's record, and oauth knows no
// store.
package clientauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Clients looks registered clients up. The server's answers GetClient from
// a short-lived cache in front of the database, so a client may be seen as
// it was a moment ago; GetClientFresh reads the database (and refreshes the
// cache). Authenticate reads the cache first and, only when the presented
// secret does not fit, decides on a fresh read: a secret rotated in on
// another instance works at once, and the common case costs no query.
type Clients interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
	GetClientFresh(ctx context.Context, id string) (*store.Client, error)
}

// Direct is Clients over a store with no cache in front, where a fresh
// read is just another read.
type Direct struct {
	Store interface {
		GetClient(ctx context.Context, id string) (*store.Client, error)
	}
}

// GetClient reads the client.
func (d Direct) GetClient(ctx context.Context, id string) (*store.Client, error) {
	return d.Store.GetClient(ctx, id)
}

// GetClientFresh reads the client.
func (d Direct) GetClientFresh(ctx context.Context, id string) (*store.Client, error) {
	return d.Store.GetClient(ctx, id)
}

// dummyHash keeps the work for an unknown client the same as for a known
// one, so the answer's timing does not tell which client ids exist.
var dummyHash = oauth.HashSecret("latchkey-no-such-client")

// Authenticate loads the client named by creds and checks its secret. A
// public client presents no secret; a confidential one must present its
// own, by the method it registered (token_endpoint_auth_method, RFC 7591
// §2): client_secret_basic in the Authorization header, client_secret_post
// in the body. Every failure, an unknown client included, is the same
// invalid_client (oauth.ClientAuthFailed), but for the right secret sent
// the wrong way, which says which way to send it: whoever sent it knows the
// secret already (docs/security.md CA-02).
func Authenticate(ctx context.Context, clients Clients, creds oauth.ClientCredentials) (*store.Client, error) {
	c, err := clients.GetClient(ctx, creds.ID)
	if errors.Is(err, store.ErrNotFound) {
		oauth.SecretMatches(string(creds.Secret), dummyHash)
		return nil, oauth.ClientAuthFailed()
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	if fits(c, creds) {
		return c, nil
	}
	// The cache may hold the client as it was before its secret was
	// rotated or it became confidential: decide on a fresh read.
	c, err = clients.GetClientFresh(ctx, creds.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.ClientAuthFailed()
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	if !fits(c, creds) {
		if secretFits(c, creds) {
			return nil, wrongMethod(c)
		}
		return nil, oauth.ClientAuthFailed()
	}
	return c, nil
}

// fits reports whether creds authenticate c: no secret for a public client
// (one that sends a secret is confused or is not the client it claims to
// be), its own secret by its registered method for a confidential one.
func fits(c *store.Client, creds oauth.ClientCredentials) bool {
	if c.Public() {
		return creds.Secret == ""
	}
	return methodFits(c, creds) && secretFits(c, creds)
}

// secretFits reports whether creds carry confidential client c's secret.
func secretFits(c *store.Client, creds oauth.ClientCredentials) bool {
	return !c.Public() && creds.Secret != "" && oauth.SecretMatches(string(creds.Secret), c.SecretHash)
}

// methodFits reports whether the secret came the way c registered: a
// secret is the same secret either way, but a client registered for one
// method that turns up with the other is not behaving as registered, and
// an attacker who got hold of a secret one way (a logged request body, a
// proxy that records Authorization headers) should not get to use it the
// other way too.
func methodFits(c *store.Client, creds oauth.ClientCredentials) bool {
	switch c.AuthMethod {
	case store.AuthClientSecretBasic:
		return creds.Basic
	case store.AuthClientSecretPost:
		return !creds.Basic
	}
	return false
}

// wrongMethod is invalid_client for a client that sent its secret by the
// method it did not register.
func wrongMethod(c *store.Client) error {
	e := oauth.ClientAuthFailed()
	switch c.AuthMethod {
	case store.AuthClientSecretBasic:
		e.Description = "client " + c.ID + " is registered for client_secret_basic: send its secret in the Authorization header, not the body"
	case store.AuthClientSecretPost:
		e.Description = "client " + c.ID + " is registered for client_secret_post: send its secret as client_secret in the body, not the Authorization header"
	}
	return e
}
