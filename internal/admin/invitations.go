package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// Device client invitations (package org does the work); `latchkey
// invitations` is the command-line client.

// Invitation is an invitation as the admin API shows it. The token is
// stored only as a hash; Link, which carries it, is shown while the outbox
// still holds the email: until the mail server took it, or for as long as
// there is no mail server (development).
type Invitation struct {
	ID                  string   `json:"id"`
	OrganizationID      string   `json:"organization_id"`
	ClientGroupIDs      []string `json:"client_group_ids"`
	Email               string   `json:"email"`
	Message             string   `json:"message"`
	DeviceName          string   `json:"device_name"`
	AllowRename         bool     `json:"allow_rename"`
	ExistingClientsOnly bool     `json:"existing_clients_only"`
	ClientID            string   `json:"client_id"` // the only client that may accept; "" for any
	AppLink             string   `json:"app_link"`
	InvitedBy           string   `json:"invited_by"`
	State               string   `json:"state"` // pending, accepted, declined, revoked or expired
	CreatedAt           string   `json:"created_at"`
	ExpiresAt           string   `json:"expires_at"`
	DecidedAt           string   `json:"decided_at,omitempty"`
	AcceptedBy          string   `json:"accepted_by,omitempty"` // the client that accepted
	Link                string   `json:"link,omitempty"`
	EmailSentAt         string   `json:"email_sent_at,omitempty"`
}

// InvitationList is the answer to GET …/invitations.
type InvitationList struct {
	Invitations []Invitation `json:"invitations"`
}

type invitationRequest struct {
	ClientGroupIDs      []string `json:"client_group_ids"`
	Email               string   `json:"email"`
	Message             string   `json:"message"`
	Lifetime            int64    `json:"lifetime"` // seconds; 0: the server's default
	ExistingClientsOnly bool     `json:"existing_clients_only"`
	ClientID            string   `json:"client_id"`
	AllowRename         bool     `json:"allow_rename"`
	DeviceName          string   `json:"device_name"`
	AppLink             string   `json:"app_link"`
}

func (a *API) invitationJSON(r *http.Request, inv *store.Invitation) (Invitation, error) {
	out := Invitation{
		ID: inv.ID, OrganizationID: inv.OrgID, ClientGroupIDs: nonNil(inv.GroupIDs), Email: inv.Email,
		Message: inv.Message, DeviceName: inv.DeviceName, AllowRename: inv.AllowRename,
		ExistingClientsOnly: inv.ExistingOnly, ClientID: inv.RestrictClientID, AppLink: inv.AppLink,
		InvitedBy: inv.InvitedBy, State: org.State(inv, a.now()), CreatedAt: formatTime(inv.CreatedAt),
		ExpiresAt: formatTime(inv.ExpiresAt), DecidedAt: formatTime(inv.DecidedAt),
	}
	if inv.Status == store.InvitationAccepted {
		out.AcceptedBy = inv.ClientID
	}
	link, sent, err := a.Orgs.PendingLink(r.Context(), inv)
	if err != nil {
		return out, err
	}
	out.Link, out.EmailSentAt = link, formatTime(sent)
	return out, nil
}

// CreateInvitation serves POST /admin/v1/organizations/{id}/invitations.
func (a *API) CreateInvitation(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	var req invitationRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	if req.Lifetime < 0 || req.Lifetime > int64(org.MaxLifetime/time.Second) {
		return badRequest("lifetime must be from %d to %d seconds, or 0 for the server's default",
			int64(org.MinLifetime/time.Second), int64(org.MaxLifetime/time.Second))
	}
	inv, err := a.Orgs.CreateInvitation(r.Context(), r.PathValue("id"), org.InvitationRequest{
		GroupIDs: req.ClientGroupIDs, Email: req.Email, Message: req.Message,
		Lifetime:     time.Duration(req.Lifetime) * time.Second,
		ExistingOnly: req.ExistingClientsOnly, ClientID: req.ClientID, AllowRename: req.AllowRename,
		DeviceName: req.DeviceName, AppLink: req.AppLink,
	}, org.InvitedByAdmin)
	if err != nil {
		return err
	}
	out, err := a.invitationJSON(r, inv)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"invitations/"+url.PathEscape(inv.ID))
	return oauth.WriteJSON(w, http.StatusCreated, out)
}

// ListInvitations serves GET /admin/v1/organizations/{id}/invitations.
func (a *API) ListInvitations(w http.ResponseWriter, r *http.Request) error {
	st, o, err := a.loadOrg(r)
	if err != nil {
		return err
	}
	invs, err := st.ListInvitations(r.Context(), o.ID)
	if err != nil {
		return err
	}
	out := InvitationList{Invitations: make([]Invitation, 0, len(invs))}
	for _, inv := range invs {
		j, err := a.invitationJSON(r, inv)
		if err != nil {
			return err
		}
		j.Link = "" // a list is for overviews; `show` gives one link at a time
		out.Invitations = append(out.Invitations, j)
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// GetInvitation serves GET /admin/v1/invitations/{id}.
func (a *API) GetInvitation(w http.ResponseWriter, r *http.Request) error {
	st, err := a.orgStore()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	inv, err := st.GetInvitation(r.Context(), id)
	if err != nil {
		return storeError(err, "there is no invitation "+shorten(id), "")
	}
	out, err := a.invitationJSON(r, inv)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// RevokeInvitation serves POST /admin/v1/invitations/{id}/revoke.
func (a *API) RevokeInvitation(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.orgStore(); err != nil {
		return err
	}
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	inv, err := a.Orgs.Revoke(r.Context(), "", r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := a.invitationJSON(r, inv)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}
