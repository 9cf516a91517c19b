package grant

import (
	"context"
	"fmt"
	"slices"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

// ClientCredentials is the client credentials grant (RFC 6749 §4.4): a
// confidential client, such as a device enrolled by invitation, asks for an
// access token for itself. It gets no refresh token (§4.4.3), whatever its
// refresh token policy: it can always ask again with its secret. Its
// access token lifetime is its own when it has one (store.TokenPolicy).
type ClientCredentials struct {
	*Deps
	// Store reads the groups a client is in, which decide its scopes.
	Store interface {
		ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error)
	}
}

// GrantType is client_credentials.
func (ClientCredentials) GrantType() string { return store.GrantClientCredentials }

// Exchange authenticates the client, settles the scopes and issues the
// token. It writes nothing: the token has no grant_id, and revoking or
// introspecting it goes by its client and jti (token.Live).
func (g ClientCredentials) Exchange(ctx context.Context, req *Request) (*token.Response, error) {
	// §4.4: only a confidential client may use this grant; a client that
	// presents no secret has not authenticated (§3.2.1).
	if req.Creds.Secret == "" {
		return nil, oauth.ClientAuthFailed()
	}
	c, err := g.Authenticate(ctx, req.Creds, store.GrantClientCredentials)
	if err != nil {
		return nil, err
	}
	asked, err := oauth.ParseScope(req.Form.Get("scope"))
	if err != nil {
		return nil, err
	}
	groups, err := g.Store.ListClientGroupsOf(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("load the client's groups: %w", err)
	}
	allowed, groupIDs := ClientScopes(c, groups)
	scopes := asked
	if len(scopes) == 0 {
		// RFC 6749 §3.3: without a scope, the default is everything allowed.
		scopes = allowed
	}
	if missing, ok := oauth.ScopeSubset(scopes, allowed); !ok {
		return nil, &oauth.Error{Code: oauth.InvalidScope, Description: "the client may not ask for scope " + missing}
	}
	// No grant is stored: the token carries everything, and token.Live
	// decides whether it may still be used from its client and the list of
	// revoked tokens, so a fleet asking for tokens costs no write.
	jkt, err := g.Bind(c, req)
	if err != nil {
		return nil, err
	}
	gr := &store.Grant{ClientID: c.ID, Scopes: scopes}
	return g.Minter.Mint(ctx, token.Issue{Client: c, Grant: gr, Scopes: scopes, OrgID: c.OrgID, Groups: groupIDs, JKT: jkt})
}

// ClientScopes returns what client c may ask for when it acts for itself,
// given the groups it is in, and the ids of those of its groups that count.
// A client of no organization has its registered scopes. A client an
// organization owns has what its groups of that organization grant,
// narrowed to its registered scopes when it has any: its groups decide, and
// its registration can only take away.
func ClientScopes(c *store.Client, groups []*store.ClientGroup) (scopes, groupIDs []string) {
	if c.OrgID == "" {
		return c.Scopes, nil
	}
	for _, gr := range groups {
		if gr.OrgID != c.OrgID {
			continue
		}
		groupIDs = append(groupIDs, gr.ID)
		for _, s := range gr.Scopes {
			if !slices.Contains(scopes, s) && (len(c.Scopes) == 0 || slices.Contains(c.Scopes, s)) {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes, groupIDs
}
