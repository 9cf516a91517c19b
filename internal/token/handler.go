package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Handler serves the endpoints that answer about tokens already issued:
// revocation (RFC 7009), introspection (RFC 7662) and UserInfo (OpenID
// Connect Core §5.3). They all answer from the grant's state, not from the
// token alone, so revoking a grant turns every token of it inactive at once.
type Handler struct {
	Store interface {
		store.ClientStore
		store.GrantStore
		store.UserStore
	}
	Tokens *Verifier
	Now    func() time.Time // time.Now in production, a fixed clock in tests
	Log    *slog.Logger
}

// authenticate reads and checks the client's credentials (RFC 6749 §2.3),
// which revocation and introspection both require: from the Authorization
// header or the body f, never the query.
func (h *Handler) authenticate(r *http.Request, f oauth.Form) (*store.Client, error) {
	creds, err := oauth.ClientCredentialsFrom(r, f)
	if err != nil {
		return nil, err
	}
	return oauth.AuthenticateClient(r.Context(), h.Store, creds)
}

// liveGrant returns grant id if tokens of it may be used at now by
// clientID: it exists, is active (not revoked, not past its absolute
// expiry), belongs to clientID, and the user it acts for (nil for a
// client on its own behalf) can still sign in (SECURITY-CHECKLIST RT-07).
// ok is false, with no error, for every way it may not.
func (h *Handler) liveGrant(ctx context.Context, id, clientID string, now time.Time) (g *store.Grant, u *store.User, ok bool, err error) {
	if id == "" {
		return nil, nil, false, nil
	}
	g, err = h.Store.GetGrant(ctx, id)
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
	u, err = h.Store.GetUser(ctx, g.UserID)
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
