package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
)

// Handler serves the endpoints that answer about tokens already issued:
// revocation (RFC 7009), introspection (RFC 7662) and UserInfo (OpenID
// Connect Core §5.3). They answer from the grant's state, not from the
// token alone, so revoking a grant turns every token of it inactive at once
// (see Live for the tokens a client gets for itself, which have no grant).
type Handler struct {
	Store interface {
		Lookup
		GetRefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error)
		RevokeGrant(ctx context.Context, id string, now time.Time) error
		RevokeAccessToken(ctx context.Context, jti, clientID string, expiresAt time.Time) error
	}
	// Clients authenticates the callers of revocation and introspection;
	// the server's answers from its client cache (clientauth.Clients).
	Clients clientauth.Clients
	// Guard bounds secret guessing at revocation and introspection (nil: none).
	Guard *clientauth.Guard
	// IntrospectLimit is each caller's rate limit at introspection,
	// counted once it has authenticated (nil or zero Limit: none).
	IntrospectLimit *throttle.PerMinute
	Tokens          *Verifier
	Now             func() time.Time // time.Now in production, a fixed clock in tests
	Log             *slog.Logger
	// DPoP checks the proofs that come with DPoP-bound access tokens at
	// UserInfo (RFC 9449 §7); nil refuses every DPoP-bound token there.
	DPoP *dpop.Checker
	// Issuer is what a proof's htu is checked against, with the path.
	Issuer string
}

// authenticate reads and checks the client's credentials (RFC 6749 §2.3),
// which revocation and introspection both require: from the Authorization
// header or the body f, never the query.
func (h *Handler) authenticate(r *http.Request, f oauth.Form) (*store.Client, error) {
	creds, err := oauth.ClientCredentialsFrom(r, f)
	if err != nil {
		return nil, err
	}
	return h.Guard.Authenticate(r.Context(), h.Clients, creds)
}

// Lookup is what deciding whether a token may still be used reads.
type Lookup interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	GetUser(ctx context.Context, id string) (*store.User, error)
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)
}

// Live reports whether the access token with claims c may still be used at
// now; its validity window (exp, nbf) is the caller's to check.
//
// A token minted for a grant is live while liveGrant says so of its grant,
// so revoking the grant ends it at once. A token a client got for itself
// (client credentials) has no grant behind it, since issuing one writes
// nothing: it is live while its client exists and it was not revoked
// (RFC 7009, store.GrantStore.RevokeAccessToken). u is the user the token
// acts for: nil for a token without one.
func Live(ctx context.Context, st Lookup, c *AccessClaims, now time.Time) (u *store.User, ok bool, err error) {
	_, u, ok, err = LiveGrant(ctx, st, c, now)
	return u, ok, err
}

// LiveGrant is Live that also returns the token's grant: nil for a
// client's own token. A grant of a front end's subject (the service API)
// has no user: its Subject and Claims say who it is for.
func LiveGrant(ctx context.Context, st Lookup, c *AccessClaims, now time.Time) (g *store.Grant, u *store.User, ok bool, err error) {
	if c.GrantID != "" {
		g, u, ok, err := liveGrant(ctx, st, c.GrantID, c.ClientID, now)
		if ok && g.UserID != "" && g.UserID != c.Subject {
			return nil, nil, false, nil // not the grant this token was minted for
		}
		if ok && g.UserID == "" && g.Subject != "" && g.Subject != c.Subject {
			return nil, nil, false, nil // a front end's subject, but not this token's
		}
		return g, u, ok, err
	}
	u, ok, err = liveOwn(ctx, st, c)
	return nil, u, ok, err
}

// liveOwn is Live for a token a client got for itself, without a grant.
func liveOwn(ctx context.Context, st Lookup, c *AccessClaims) (u *store.User, ok bool, err error) {
	if c.Subject != c.ClientID || c.JTI == "" {
		return nil, false, nil // only a client's own tokens come without a grant
	}
	cl, err := st.GetClient(ctx, c.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("load client: %w", err)
	}
	// Every token of the client was revoked (RevokeClientTokens): one
	// issued at or before then is not live. iat has whole seconds, so a
	// token issued in the same second just after is refused too; the
	// client asks again.
	if !cl.TokensRevokedAt.IsZero() && c.IssuedAt <= cl.TokensRevokedAt.Unix() {
		return nil, false, nil
	}
	revoked, err := st.AccessTokenRevoked(ctx, c.JTI)
	if err != nil {
		return nil, false, fmt.Errorf("load revocation: %w", err)
	}
	return nil, !revoked, nil
}

// liveGrant returns grant id if tokens of it may be used at now by
// clientID: it exists, is active (not revoked, not past its absolute
// expiry), belongs to clientID, and the user it acts for (nil for a
// client on its own behalf) can still sign in (docs/security.md RT-07).
// ok is false, with no error, for every way it may not.
func liveGrant(ctx context.Context, st Lookup, id, clientID string, now time.Time) (g *store.Grant, u *store.User, ok bool, err error) {
	if id == "" {
		return nil, nil, false, nil
	}
	g, err = st.GetGrant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("load grant: %w", err)
	}
	if !g.Active(now) || g.ClientID != clientID {
		return nil, nil, false, nil
	}
	if g.UserID == "" {
		return g, nil, true, nil
	}
	u, err = st.GetUser(ctx, g.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("load user: %w", err)
	}
	return g, u, true, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}
