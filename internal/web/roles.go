package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

// Roles says what the signed-in person may do in the consoles (issue 15):
// a system administrator (store.User.Sysadmin) may use the SysAdmin
// console; an organization's admins (store.RoleAdmin) may manage that
// organization, and no other. It reads the store on every call, so a role
// taken away, a disabled user or a membership removed counts at the next
// request, on every instance. Every console page and form asks it on the
// server; nothing the browser sends decides a role.
type Roles struct {
	Sessions *session.Manager
	Members  MemberStore
}

// MemberStore is what Roles reads besides the session's user.
type MemberStore interface {
	GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error)
}

// Viewer is the signed-in person of a request, as stored now.
type Viewer struct {
	Session *store.Session
	User    *store.User
}

// Sysadmin reports whether the viewer is a system administrator.
func (v *Viewer) Sysadmin() bool { return v != nil && v.User != nil && v.User.Sysadmin }

// Who returns the signed-in person of r; nil, without an error, when the
// browser is signed out (or its user is gone or disabled: session.Current).
func (rs *Roles) Who(r *http.Request) (*Viewer, error) {
	s, u, err := rs.Sessions.Current(r)
	if err != nil || s == nil {
		return nil, err
	}
	return &Viewer{Session: s, User: u}, nil
}

// OrgAdmin reports whether v is an admin of organization orgID: a member
// with the admin role. Being a system administrator does not count here
// (CanManageOrg counts it); a plain member is not an admin.
func (rs *Roles) OrgAdmin(ctx context.Context, v *Viewer, orgID string) (bool, error) {
	if v == nil || v.User == nil || orgID == "" {
		return false, nil
	}
	m, err := rs.Members.GetOrgMember(ctx, orgID, v.User.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get organization member: %w", err)
	}
	return m.Role == store.RoleAdmin, nil
}

// CanManageOrg reports whether v may see and change organization orgID's
// data: a system administrator, or an admin of that organization.
func (rs *Roles) CanManageOrg(ctx context.Context, v *Viewer, orgID string) (bool, error) {
	if v.Sysadmin() {
		return true, nil
	}
	return rs.OrgAdmin(ctx, v, orgID)
}
