package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Grant is a grant as the API shows it: what a user allowed a client, and
// until when. The browser session it was approved in is not shown: its
// hash is derived from a live cookie.
type Grant struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Subject   string `json:"subject,omitempty"` // a front end's person (the service API); user_id is then ""
	ClientID  string `json:"client_id"`
	Scope     string `json:"scope"`
	Active    bool   `json:"active"`               // neither revoked nor past expires_at, at the time of the answer
	AuthTime  string `json:"auth_time,omitempty"`  // RFC 3339: when the user last authenticated for it
	CreatedAt string `json:"created_at"`           // RFC 3339
	ExpiresAt string `json:"expires_at"`           // RFC 3339: refreshable_until
	RevokedAt string `json:"revoked_at,omitempty"` // RFC 3339
}

// GrantList is the answer to GET /admin/v1/users/{id}/grants.
type GrantList struct {
	Grants []Grant `json:"grants"`
}

// ListUserGrants shows a user's grants, revoked ones included, oldest first;
// a grant past its absolute expiry is gone once the sweeper has run.
func (a *API) ListUserGrants(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := a.Store.GetUser(r.Context(), id); err != nil {
		return storeError(err, "there is no user "+shorten(id), "")
	}
	gs, err := a.Store.ListGrantsByUser(r.Context(), id)
	if err != nil {
		return err
	}
	now := a.now()
	out := GrantList{Grants: make([]Grant, 0, len(gs))}
	for _, g := range gs {
		out.Grants = append(out.Grants, grantJSON(g, now))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// GetGrant shows one grant, so that a caller can tell a revoked one before
// revoking it again.
func (a *API) GetGrant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	g, err := a.Store.GetGrant(r.Context(), id)
	if err != nil {
		return storeError(err, "there is no grant "+shorten(id), "")
	}
	return oauth.WriteJSON(w, http.StatusOK, grantJSON(g, a.now()))
}

// RevokeGrant revokes a grant: every access and refresh token of it stops
// working at once (introspection and refresh answer from the grant). The
// grant stays, listed as revoked, until the sweeper deletes it past its
// absolute expiry; revoking it again before then changes nothing.
func (a *API) RevokeGrant(w http.ResponseWriter, r *http.Request) error {
	if err := a.EndGrant(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// EndGrant revokes grant id, as DELETE /admin/v1/grants/{id} does, and
// records it as done by ctx's actor.
func (a *API) EndGrant(ctx context.Context, id string) error {
	if err := a.Store.RevokeGrant(ctx, id, a.now()); err != nil {
		return storeError(err, "there is no grant "+shorten(id), "")
	}
	a.log().InfoContext(ctx, "admin: grant revoked", "grant_id", id)
	a.record(ctx, audit.Change{Kind: audit.GrantRevoke, TargetID: id})
	return nil
}

func grantJSON(g *store.Grant, now time.Time) Grant {
	return Grant{
		ID:        g.ID,
		UserID:    g.UserID,
		Subject:   g.Subject,
		ClientID:  g.ClientID,
		Scope:     oauth.JoinScope(g.Scopes),
		Active:    g.Active(now),
		AuthTime:  formatTime(g.AuthTime),
		CreatedAt: formatTime(g.CreatedAt),
		ExpiresAt: formatTime(g.ExpiresAt),
		RevokedAt: formatTime(g.RevokedAt),
	}
}
