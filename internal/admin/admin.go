// Package admin serves the admin JSON API under /admin/v1/: registering OAuth
// clients, managing users and revoking their grants, behind one bearer
// token, with an OpenAPI document describing it. It validates what operators
// send; storage belongs to package store, and `latchkey clients`, `latchkey
// users` and `latchkey grants` are its command-line clients.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// Store is what the admin API reads and writes itself. Invitations are
// created and revoked through package org (API.Orgs), which keeps their
// mail with them.
type Store interface {
	store.ClientStore

	CreateUser(ctx context.Context, u *store.User) error
	GetUser(ctx context.Context, id string) (*store.User, error)
	ListUsers(ctx context.Context) ([]*store.User, error)
	UpdateUser(ctx context.Context, u *store.User) error
	// UpdateUserEndSessions is UpdateUser ending the user's sessions with
	// their attached grants, as a reset does, in the same transaction
	// (PatchUser with a password).
	UpdateUserEndSessions(ctx context.Context, u *store.User, now time.Time) (int, error)
	DeleteUser(ctx context.Context, id string) error

	ListGrantsByUser(ctx context.Context, userID string) ([]*store.Grant, error)
	GetGrant(ctx context.Context, id string) (*store.Grant, error)
	RevokeGrant(ctx context.Context, id string, now time.Time) error

	store.OrganizationStore

	CreateClientGroup(ctx context.Context, g *store.ClientGroup) error
	GetClientGroup(ctx context.Context, id string) (*store.ClientGroup, error)
	ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error)
	UpdateClientGroup(ctx context.Context, g *store.ClientGroup) error
	DeleteClientGroup(ctx context.Context, id string, now time.Time) error
	ListGroupClients(ctx context.Context, groupID string) ([]string, error)
	AddGroupClient(ctx context.Context, groupID, clientID string, at time.Time) error
	RemoveGroupClient(ctx context.Context, groupID, clientID string) error

	GetInvitation(ctx context.Context, id string) (*store.Invitation, error)
	ListInvitations(ctx context.Context, orgID string) ([]*store.Invitation, error)

	store.ServiceKeyStore
	QueryAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEntry, error)
	CreateRegistrationToken(ctx context.Context, t *store.RegistrationToken) error
	ListRegistrationTokens(ctx context.Context) ([]*store.RegistrationToken, error)
	DeleteRegistrationToken(ctx context.Context, id string) error
}

// API is the admin JSON API.
type API struct {
	Store Store
	// Token is the bearer token every request must present. Empty disables
	// the API: every path under /admin/v1/ answers 404.
	Token string
	Now   func() time.Time // time.Now in production, a fixed clock in tests
	Rand  io.Reader        // crypto/rand.Reader in production: ids and client secrets
	Log   *slog.Logger
	// CheckCodePolicy checks a client's user code override against the
	// server's guessing budget (RFC 8628 §5.1), once merged with the
	// server's policy: the server's device.Rules.CheckClient. Nil checks
	// only the shape.
	CheckCodePolicy func(store.UserCodePolicy) error
	// Orgs serves organizations, client groups and invitations (orgs.go,
	// invitations.go); nil answers 404 on those paths.
	Orgs *org.Service
	// Audit records every change the API makes, as made by the admin
	// token from the request's address; nil records nothing.
	Audit *audit.Log
	// TrustProxy: the request's address is the one a reverse proxy
	// appended to X-Forwarded-For (clientip.From), for the audit log.
	TrustProxy bool
	// Links mails password reset links (users.go, SendPasswordReset); nil
	// answers 404 on that path.
	Links *account.Links
}

// Prefix is the path every admin route lives under.
const Prefix = "/admin/v1/"

// Guard adapts an operation of the API: it answers 404 when no token is
// configured (the API is off), checks the token, and writes returned errors
// as JSON. Every route under Prefix goes through it.
func (a *API) Guard(h oauth.HandlerFunc) http.Handler {
	return oauth.ErrorWriter{Log: a.Log, Unavailable: store.ErrUnavailable}.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if a.Token == "" {
			return notFound("the admin API is disabled: no admin token is configured")
		}
		if err := a.authenticate(r); err != nil {
			return err
		}
		// Whatever the API changes, the admin token changed it.
		r = r.WithContext(audit.WithActor(r.Context(), audit.AdminToken(clientip.From(r, a.TrustProxy))))
		return h(w, r)
	})
}

// realm names the protection space in WWW-Authenticate (RFC 6750 §3).
const realm = `Bearer realm="latchkey-admin"`

// authenticate checks "Authorization: Bearer <token>" (RFC 6750 §2.1).
func (a *API) authenticate(r *http.Request) error {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		// RFC 6750 §3.1: no error code when the request had no credentials.
		return &oauth.Error{Code: oauth.InvalidToken, Description: "the admin token is missing", Status: http.StatusUnauthorized, Challenge: realm}
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if len(values) != 1 || !strings.EqualFold(scheme, "Bearer") || !tokenMatches(strings.TrimSpace(token), a.Token) {
		return &oauth.Error{Code: oauth.InvalidToken, Description: "the admin token is wrong", Status: http.StatusUnauthorized,
			Challenge: realm + `, error="invalid_token"`}
	}
	return nil
}

// tokenMatches compares in constant time; hashing first hides the length too.
func tokenMatches(got, want string) bool {
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// methods are those the API uses, tried by unmatched to fill in Allow.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Unmatched answers, under Prefix, a request no route of mux took: 405
// with Allow when the path is served for other methods, 404 otherwise, in
// JSON like every other answer of the API.
func (a *API) Unmatched(mux *http.ServeMux) oauth.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error { return unmatched(mux, w, r) }
}

func unmatched(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != Prefix {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return notFound("there is no such admin API path")
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return &oauth.Error{Code: "method_not_allowed", Description: "use " + strings.Join(allow, " or ") + " on this path", Status: http.StatusMethodNotAllowed}
}

// Error codes of the admin API beyond RFC 6749's.
const (
	codeNotFound = "not_found"
	codeConflict = "conflict"
)

// badRequest is a 400 invalid_request with a formatted description.
func badRequest(format string, args ...any) *oauth.Error { return oauth.BadRequestf(format, args...) }

func notFound(description string) *oauth.Error {
	return &oauth.Error{Code: codeNotFound, Description: describe(description), Status: http.StatusNotFound}
}

func conflict(description string) *oauth.Error {
	return &oauth.Error{Code: codeConflict, Description: describe(description), Status: http.StatusConflict}
}

// storeError turns the store's sentinel errors into answers; anything else
// is the server's fault and stays an internal error.
func storeError(err error, missing, taken string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(missing)
	case errors.Is(err, store.ErrConflict):
		return conflict(taken)
	}
	return err
}

func describe(s string) string { return oauth.Describe(s) }

func shorten(s string) string { return oauth.Shorten(s) }

func (a *API) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *API) rand() io.Reader {
	if a.Rand == nil {
		return rand.Reader
	}
	return a.Rand
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// record adds c to the audit log, after the change succeeded. A failure
// to store the entry is logged there; the change stands and is answered.
func (a *API) record(ctx context.Context, c audit.Change) {
	_ = a.Audit.Record(ctx, c)
}

// newID draws a random id (oauth.NewID).
func (a *API) newID() (string, error) { return oauth.NewID(a.rand()) }

// formatTime is how the API writes timestamps: RFC 3339, UTC, seconds.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
