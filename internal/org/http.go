package org

import (
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// The public invitation endpoints, compatible with 10Duke's Identity
// Management API (member names in camelCase, as there):
//
//	POST /organizations/{organizationId}/client-group-invitations/send   an org admin invites
//	PUT  /client-group-invitations/accept                                 a device accepts
//	PUT  /client-group-invitations/decline                                a device declines

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
	invitedBy, err := s.AuthorizeSender(r, orgID)
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
	inv, err := s.CreateInvitation(r.Context(), orgID, InvitationRequest{
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
	acc, err := s.Accept(r.Context(), req.Token, req.DeviceName, dev)
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
	if err := s.Decline(r.Context(), req.Token); err != nil {
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
