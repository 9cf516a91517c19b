package org

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The public invitation endpoints, compatible with 10Duke's Identity
// Management API (member names in camelCase, as there):
//
//	POST /organizations/{organizationId}/client-group-invitations/send          an org admin invites
//	GET  /organizations/{organizationId}/client-group-invitations               the admin lists them
//	GET  /organizations/{organizationId}/client-group-invitations/{id}          … reads one (the send's Location)
//	POST /organizations/{organizationId}/client-group-invitations/{id}/resend   … sends it again, with a new token
//	PUT  /organizations/{organizationId}/client-group-invitations/{id}/revoke   … ends it
//	PUT  /client-group-invitations/accept                                        a device accepts
//	PUT  /client-group-invitations/decline                                       a device declines
//
// The organization's paths answer the admin token, or an admin of the
// organization with an access token of scope invitations (AuthorizeAdmin).

// SendRequest is the body of a send.
type SendRequest struct {
	ClientGroupIDs      []string `json:"clientGroupIds"`
	RecipientEmail      string   `json:"recipientEmail"`
	Message             string   `json:"message"`
	ValidForSeconds     int64    `json:"validForSeconds"` // 0: the server's default
	ExistingClientsOnly bool     `json:"existingClientsOnly"`
	ClientID            string   `json:"clientId"` // only this client may accept
	AllowRename         bool     `json:"allowRename"`
	DeviceName          string   `json:"deviceName"`
	AppLink             string   `json:"appLink"`
}

// InvitationJSON is an invitation as the public endpoints show it. The
// token is never in it: only the email carries it.
type InvitationJSON struct {
	ID                  string   `json:"id"`
	OrganizationID      string   `json:"organizationId"`
	ClientGroupIDs      []string `json:"clientGroupIds"`
	RecipientEmail      string   `json:"recipientEmail"`
	Message             string   `json:"message,omitempty"`
	DeviceName          string   `json:"deviceName,omitempty"`
	AllowRename         bool     `json:"allowRename"`
	ExistingClientsOnly bool     `json:"existingClientsOnly"`
	ClientID            string   `json:"clientId,omitempty"`
	State               string   `json:"state"` // pending, accepted, declined, revoked or expired
	Created             string   `json:"created"`
	ValidUntil          string   `json:"validUntil"`
}

func invitationJSON(inv *store.Invitation, now time.Time) InvitationJSON {
	return InvitationJSON{
		ID: inv.ID, OrganizationID: inv.OrgID, ClientGroupIDs: inv.GroupIDs, RecipientEmail: inv.Email,
		Message: inv.Message, DeviceName: inv.DeviceName, AllowRename: inv.AllowRename,
		ExistingClientsOnly: inv.ExistingOnly, ClientID: inv.RestrictClientID, State: State(inv, now),
		Created: inv.CreatedAt.UTC().Format(time.RFC3339), ValidUntil: inv.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

// Send serves POST /organizations/{organizationId}/client-group-invitations/send.
func (s *Service) Send(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, http.MethodPost)
	}
	orgID := r.PathValue("organizationId")
	invitedBy, err := s.AuthorizeAdmin(r, orgID)
	if err != nil {
		return err
	}
	var req SendRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	if req.ValidForSeconds < 0 || req.ValidForSeconds > int64(MaxLifetime/time.Second) {
		return badRequest("validForSeconds must be from %d to %d, or 0 for the server's default",
			int64(MinLifetime/time.Second), int64(MaxLifetime/time.Second))
	}
	inv, err := s.CreateInvitation(s.asActor(r, invitedBy), orgID, InvitationRequest{
		GroupIDs: req.ClientGroupIDs, Email: req.RecipientEmail, Message: req.Message,
		Lifetime:     time.Duration(req.ValidForSeconds) * time.Second,
		ExistingOnly: req.ExistingClientsOnly, ClientID: req.ClientID, AllowRename: req.AllowRename,
		DeviceName: req.DeviceName, AppLink: req.AppLink,
	}, invitedBy)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/organizations/"+url.PathEscape(inv.OrgID)+"/client-group-invitations/"+inv.ID)
	return oauth.WriteJSON(w, http.StatusCreated, invitationJSON(inv, s.now()))
}

// onInvitation serves a request about one invitation of an organization
// (/organizations/{organizationId}/client-group-invitations/{id}…): one
// of the methods allow names, the caller authorized before anything else
// is read (AuthorizeAdmin), then, when it may carry a body, none or an
// empty JSON object, then act; the answer is the invitation as act left it.
func (s *Service) onInvitation(w http.ResponseWriter, r *http.Request, allow string, body bool,
	act func(ctx context.Context, orgID, id, by string) (*store.Invitation, error)) error {
	if !slices.Contains(strings.Split(allow, ", "), r.Method) {
		return methodNotAllowed(w, allow)
	}
	orgID, id := r.PathValue("organizationId"), r.PathValue("id")
	if orgID == "" || id == "" {
		// The mux never gives empty segments, but an empty organization
		// must not reach Revoke, where it means any organization.
		return notFound("there is no such invitation")
	}
	by, err := s.AuthorizeAdmin(r, orgID)
	if err != nil {
		return err
	}
	if body {
		if err := oauth.ReadEmptyJSON(w, r); err != nil {
			return err
		}
	}
	inv, err := act(s.asActor(r, by), orgID, id, by)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, invitationJSON(inv, s.now()))
}

// InvitationHandler serves GET /organizations/{organizationId}/client-group-invitations/{id}:
// the invitation, as the send answered it; 404 for one of another
// organization, as for one that does not exist.
func (s *Service) InvitationHandler(w http.ResponseWriter, r *http.Request) error {
	return s.onInvitation(w, r, "GET, HEAD", false, func(ctx context.Context, orgID, id, _ string) (*store.Invitation, error) {
		return s.Invitation(ctx, orgID, id)
	})
}

// ResendHandler serves POST /organizations/{organizationId}/client-group-invitations/{id}/resend:
// a new token, and the email again with its link; the old link stops
// working. 200 with the invitation.
func (s *Service) ResendHandler(w http.ResponseWriter, r *http.Request) error {
	return s.onInvitation(w, r, http.MethodPost, true, s.Resend)
}

// RevokeHandler serves PUT /organizations/{organizationId}/client-group-invitations/{id}/revoke:
// the invitation ends, unused, and its unsent email is cancelled. 200 with
// the invitation, 409 for one that is not pending.
func (s *Service) RevokeHandler(w http.ResponseWriter, r *http.Request) error {
	return s.onInvitation(w, r, http.MethodPut, true, func(ctx context.Context, orgID, id, _ string) (*store.Invitation, error) {
		return s.Revoke(ctx, orgID, id)
	})
}

// Pages of the invitation list.
const (
	DefaultListLimit = 100
	MaxListLimit     = 500
)

// InvitationListJSON is a page of an organization's invitations, newest
// first. NextCursor, when set, is the cursor that gives the next page.
type InvitationListJSON struct {
	Invitations []InvitationJSON `json:"invitations"`
	NextCursor  string           `json:"nextCursor,omitempty"`
}

// ListHandler serves GET /organizations/{organizationId}/client-group-invitations:
// the organization's invitations, newest first, limit (1 to MaxListLimit,
// DefaultListLimit when not given) at a time, after cursor (the previous
// page's nextCursor), only those in state when given.
func (s *Service) ListHandler(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	orgID := r.PathValue("organizationId")
	by, err := s.AuthorizeAdmin(r, orgID)
	if err != nil {
		return err
	}
	q, err := parseListQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if by == InvitedByAdmin {
		// An organization admin's organization exists; the admin token's
		// may not, and an empty list would not say so.
		if _, err := s.Store.GetOrganization(ctx, orgID); errors.Is(err, store.ErrNotFound) {
			return notFound("there is no organization " + shorten(orgID))
		} else if err != nil {
			return fmt.Errorf("load organization: %w", err)
		}
	}
	limit := q.Limit
	q.OrgID, q.Now, q.Limit = orgID, s.now(), limit+1 // one more says whether a next page exists
	invs, err := s.Store.QueryInvitations(ctx, q)
	if err != nil {
		return fmt.Errorf("list invitations: %w", err)
	}
	out := InvitationListJSON{Invitations: make([]InvitationJSON, 0, min(len(invs), limit))}
	if len(invs) > limit {
		invs = invs[:limit]
		out.NextCursor = encodeCursor(invs[limit-1])
	}
	for _, inv := range invs {
		out.Invitations = append(out.Invitations, invitationJSON(inv, q.Now))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// ListStates are the states a list of invitations may be narrowed to.
var ListStates = listStates

// EncodeCursor is the cursor of a page of invitations that ended with inv
// (the organization API's nextCursor; the OrgAdmin console's too).
func EncodeCursor(inv *store.Invitation) string { return encodeCursor(inv) }

// DecodeCursor reads a cursor EncodeCursor made into the AfterCreated and
// AfterID of a store.InvitationQuery; a bad one is a 400 *oauth.Error.
func DecodeCursor(c string) (time.Time, string, error) { return decodeCursor(c) }

// listStates are the states a list may be narrowed to.
var listStates = []string{store.InvitationPending, store.InvitationExpired, store.InvitationAccepted,
	store.InvitationDeclined, store.InvitationRevoked}

// parseListQuery reads a list's query string: state, limit and cursor,
// each at most once, and nothing else, so that a misspelt filter is an
// error rather than a list of everything.
func parseListQuery(raw string) (store.InvitationQuery, error) {
	q := store.InvitationQuery{Limit: DefaultListLimit}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return q, badRequest("the query string could not be read")
	}
	for name := range v {
		if name != "state" && name != "limit" && name != "cursor" {
			return q, badRequest("unknown query parameter %q: a list takes state, limit and cursor", shorten(name))
		}
	}
	get := func(name string) (string, error) { return oauth.QueryValue(v, name) }
	if q.State, err = get("state"); err != nil {
		return q, err
	}
	if q.State != "" && !slices.Contains(listStates, q.State) {
		return q, badRequest("state must be one of %s", strings.Join(listStates, ", "))
	}
	limit, err := get("limit")
	if err != nil {
		return q, err
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxListLimit {
			return q, badRequest("limit must be a whole number from 1 to %d", MaxListLimit)
		}
		q.Limit = n
	}
	cursor, err := get("cursor")
	if err != nil {
		return q, err
	}
	if cursor != "" {
		if q.AfterCreated, q.AfterID, err = decodeCursor(cursor); err != nil {
			return q, err
		}
	}
	return q, nil
}

// A cursor is where a page ended: the last invitation's creation time (unix
// milliseconds) and id, base64url-encoded. It is opaque to clients and
// grants nothing: a page still needs the organization's authorization,
// and holds only that organization's invitations.
func encodeCursor(inv *store.Invitation) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(inv.CreatedAt.UnixMilli(), 10) + "." + inv.ID))
}

// maxCursorLength bounds a cursor well above what encodeCursor makes.
const maxCursorLength = 512

func decodeCursor(c string) (time.Time, string, error) {
	bad := badRequest("cursor is not one this server gave: start again without it")
	if len(c) > maxCursorLength {
		return time.Time{}, "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ms, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || !oauth.CleanText(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMilli(n), id, nil
}

// acceptRequest is the body of an accept; declineRequest of a decline.
type acceptRequest struct {
	Token      string `json:"token"`
	DeviceName string `json:"deviceName"`
}

type declineRequest struct {
	Token string `json:"token"`
}

// AcceptedJSON is the answer to an accept. ClientSecret is there only for
// a new device, and only in this answer: it is stored hashed
// (docs/security.md INV-06).
type AcceptedJSON struct {
	ID             string   `json:"id"` // the device client's id, which is its OAuth client_id
	ClientID       string   `json:"clientId"`
	ClientSecret   string   `json:"clientSecret,omitempty"`
	Name           string   `json:"name"`
	OrganizationID string   `json:"organizationId"`
	ClientGroupIDs []string `json:"clientGroupIds"`
}

// AcceptHandler serves PUT /client-group-invitations/accept. Without an
// Authorization header the caller is a new device and becomes a client:
// 201 with its credentials. With its client credentials access token, an
// existing device joins the groups: 200.
func (s *Service) AcceptHandler(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPut {
		return methodNotAllowed(w, http.MethodPut)
	}
	if err := s.Throttle(r.Context(), r); err != nil {
		return err
	}
	var req acceptRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	dev, err := s.DeviceFrom(r)
	if err != nil {
		return err
	}
	acc, err := s.Accept(s.asDevice(r, dev), req.Token, req.DeviceName, dev)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if acc.Secret != "" {
		status = http.StatusCreated
	}
	return oauth.WriteJSON(w, status, AcceptedJSON{
		ID: acc.Client.ID, ClientID: acc.Client.ID, ClientSecret: acc.Secret, Name: acc.Client.Name,
		OrganizationID: acc.Invitation.OrgID, ClientGroupIDs: acc.Invitation.GroupIDs,
	})
}

// DeclineHandler serves PUT /client-group-invitations/decline: 204.
func (s *Service) DeclineHandler(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPut {
		return methodNotAllowed(w, http.MethodPut)
	}
	if err := s.Throttle(r.Context(), r); err != nil {
		return err
	}
	var req declineRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.Decline(s.asDevice(r, nil), req.Token); err != nil {
		return err
	}
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &oauth.Error{Code: "method_not_allowed", Description: "use " + allow + " on this path", Status: http.StatusMethodNotAllowed}
}
