package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// User is a user as the API shows it. The password is write-only.
type User struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Disabled bool   `json:"disabled"`
	// EmailVerified: the address is confirmed (the email_verified claim).
	// The person confirms it with a mailed link; an admin may vouch for it.
	EmailVerified bool   `json:"email_verified"`
	Sysadmin      bool   `json:"sysadmin"`   // a system administrator: may use the SysAdmin console
	CreatedAt     string `json:"created_at"` // RFC 3339
	UpdatedAt     string `json:"updated_at"` // RFC 3339
}

// UserList is the answer to GET /admin/v1/users.
type UserList struct {
	Users []User `json:"users"`
}

// userRequest is the body of a create or patch.
type userRequest struct {
	Email    *string `json:"email"`
	Name     *string `json:"name"`
	Password *string `json:"password"`
	Disabled *bool   `json:"disabled"`
	Sysadmin *bool   `json:"sysadmin"`
	// EmailVerified vouches for the address (true) or asks the person to
	// confirm it again (false). Left out, a new user's address is not
	// confirmed, and a changed one is confirmed no longer.
	EmailVerified *bool `json:"email_verified"`

	// Known so that sending them gets a clear answer: the server sets them.
	ID        *json.RawMessage `json:"id"`
	CreatedAt *json.RawMessage `json:"created_at"`
	UpdatedAt *json.RawMessage `json:"updated_at"`
}

// UserRequest is what creating or changing a user asks for: the admin
// API's JSON body, and what the SysAdmin console's forms are read into.
type UserRequest = userRequest

// CreateUser serves POST /admin/v1/users.
func (a *API) CreateUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	u, err := a.NewUser(r.Context(), &req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"users/"+url.PathEscape(u.ID))
	return oauth.WriteJSON(w, http.StatusCreated, userJSON(u))
}

// NewUser creates a user from req by the rules of POST /admin/v1/users
// (an email and a password are required; package account's rules) and
// records it as done by ctx's actor.
func (a *API) NewUser(ctx context.Context, req *UserRequest) (*store.User, error) {
	switch {
	case req.Email == nil:
		return nil, badRequest("email is required")
	case req.Password == nil:
		return nil, badRequest("password is required")
	}
	now := a.now()
	id, err := a.newID()
	if err != nil {
		return nil, err
	}
	u := &store.User{ID: id, CreatedAt: now, UpdatedAt: now}
	if err := applyUser(u, req); err != nil {
		return nil, err
	}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		return nil, storeError(err, "", "a user with email "+u.Email+" exists already")
	}
	a.log().InfoContext(ctx, "admin: user created", "user_id", u.ID)
	a.record(ctx, audit.Change{Kind: audit.UserCreate, TargetID: u.ID, After: userJSON(u)})
	return u, nil
}

// ListUsers serves GET /admin/v1/users.
func (a *API) ListUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := a.Store.ListUsers(r.Context())
	if err != nil {
		return err
	}
	out := UserList{Users: make([]User, 0, len(us))}
	for _, u := range us {
		out.Users = append(out.Users, userJSON(u))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// GetUser serves GET /admin/v1/users/{id}.
func (a *API) GetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, userJSON(u))
}

// PatchUser changes the members sent; a new password replaces the old one.
func (a *API) PatchUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	u, err := a.ChangeUser(r.Context(), r.PathValue("id"), &req)
	if err != nil {
		return err
	}
	return oauth.WriteJSON(w, http.StatusOK, userJSON(u))
}

// ChangeUser changes the members req sends of user id, by the rules of
// PATCH /admin/v1/users/{id}, and records it as done by ctx's actor. A new
// password ends every session of the user and the grants attached to them.
func (a *API) ChangeUser(ctx context.Context, id string, req *UserRequest) (*store.User, error) {
	u, err := a.Store.GetUser(ctx, id)
	if err != nil {
		return nil, storeError(err, "there is no user "+shorten(id), "")
	}
	before := userChange(u, false)
	if err := applyUser(u, req); err != nil {
		return nil, err
	}
	u.UpdatedAt = a.now()
	if req.Password != nil {
		// A password an admin sets ends every session of the user and the
		// attached clients' grants approved in them, as a reset does
		// (docs/security.md ACC-05), in the change's own transaction: no
		// new password stands while the old sessions live on.
		_, err = a.Store.UpdateUserEndSessions(ctx, u, u.UpdatedAt)
	} else {
		err = a.Store.UpdateUser(ctx, u)
	}
	if err != nil {
		return nil, storeError(err, "there is no user "+u.ID, "a user with email "+u.Email+" exists already")
	}
	a.log().InfoContext(ctx, "admin: user updated", "user_id", u.ID, "new_password", req.Password != nil)
	a.record(ctx, audit.Change{Kind: audit.UserUpdate, TargetID: u.ID, Before: before, After: userChange(u, req.Password != nil)})
	return u, nil
}

// PasswordReset is the answer to POST /admin/v1/users/{id}/password-reset.
type PasswordReset struct {
	SentTo    string `json:"sent_to"`    // the address the link went to
	ExpiresIn int    `json:"expires_in"` // seconds the link works
}

// ResetPassword serves POST /admin/v1/users/{id}/password-reset: the user
// is mailed a link to choose a new password, the "Forgot password?" link.
func (a *API) ResetPassword(w http.ResponseWriter, r *http.Request) error {
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	u, err := a.SendPasswordReset(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return oauth.WriteJSON(w, http.StatusAccepted, PasswordReset{SentTo: u.Email, ExpiresIn: int(a.Links.ResetLinkLifetime() / time.Second)})
}

// SendPasswordReset mails user id a password reset link, as "Forgot
// password?" does, and records it as done by ctx's actor. Nothing else
// changes until the person uses the link, which then ends their sessions
// (docs/security.md ACC-05); an admin who must stop them at once disables
// them or sets a password. A disabled user is refused: the link would not
// let them in.
func (a *API) SendPasswordReset(ctx context.Context, id string) (*store.User, error) {
	if a.Links == nil {
		return nil, notFound("password reset mail is not configured")
	}
	u, err := a.Store.GetUser(ctx, id)
	if err != nil {
		return nil, storeError(err, "there is no user "+shorten(id), "")
	}
	if u.Disabled {
		return nil, conflict("user " + u.ID + " is disabled: enable them first, or set a password")
	}
	if err := a.Links.SendReset(ctx, nil, u); err != nil { // nil: English; the API knows no language of the person
		return nil, err
	}
	a.log().InfoContext(ctx, "admin: password reset link sent", "user_id", u.ID)
	a.record(ctx, audit.Change{Kind: audit.UserPasswordReset, TargetID: u.ID, After: struct {
		SentTo string `json:"sent_to"`
	}{u.Email}})
	return u, nil
}

// DeleteUser serves DELETE /admin/v1/users/{id}.
func (a *API) DeleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.loadUser(r)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteUser(r.Context(), u.ID); err != nil {
		return storeError(err, "there is no user "+shorten(u.ID), "")
	}
	a.log().InfoContext(r.Context(), "admin: user deleted", "user_id", u.ID)
	a.record(r.Context(), audit.Change{Kind: audit.UserDelete, TargetID: u.ID, Before: userJSON(u)})
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) loadUser(r *http.Request) (*store.User, error) {
	id := r.PathValue("id")
	u, err := a.Store.GetUser(r.Context(), id)
	if err != nil {
		return nil, storeError(err, "there is no user "+shorten(id), "")
	}
	return u, nil
}

// applyUser checks req's members and writes them into u. The password is
// checked and hashed last, so a bad email costs no argon2 work.
func applyUser(u *store.User, req *userRequest) error {
	switch {
	case req.ID != nil:
		return badRequest("id is set by the server")
	case req.CreatedAt != nil || req.UpdatedAt != nil:
		return badRequest("created_at and updated_at are set by the server")
	}
	if v := req.Email; v != nil {
		email, err := checkEmail(*v)
		if err != nil {
			return err
		}
		if email != u.Email {
			// Whoever confirmed the old address did not confirm this one.
			u.EmailVerified = false
		}
		u.Email = email
	}
	if v := req.EmailVerified; v != nil {
		u.EmailVerified = *v
	}
	if v := req.Name; v != nil {
		if !oauth.CleanText(*v) || utf8.RuneCountInString(*v) > maxNameLength {
			return badRequest("name must be at most %d characters of text without control characters", maxNameLength)
		}
		u.Name = *v
	}
	if v := req.Disabled; v != nil {
		u.Disabled = *v
	}
	if v := req.Sysadmin; v != nil {
		u.Sysadmin = *v
	}
	if v := req.Password; v != nil {
		if err := account.ValidatePassword(*v); err != nil {
			return badRequest("password: %v", err)
		}
		hash, err := account.HashPassword(*v)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
	}
	return nil
}

// checkEmail lower-cases an address and checks its basic shape: one @, a
// local part and a dotted domain, nothing that needs quoting. Whether it
// receives mail is not ours to know.
func checkEmail(s string) (string, error) {
	e := strings.ToLower(s)
	if !account.ValidEmail(e) {
		return "", badRequest("email %s is not an email address such as name@example.com", shorten(s))
	}
	return e, nil
}

func userJSON(u *store.User) User {
	return User{
		ID:            u.ID,
		Email:         u.Email,
		Name:          u.Name,
		Disabled:      u.Disabled,
		Sysadmin:      u.Sysadmin,
		EmailVerified: u.EmailVerified,
		CreatedAt:     formatTime(u.CreatedAt),
		UpdatedAt:     formatTime(u.UpdatedAt),
	}
}

// userChange is a user's settings for the audit log: as the API shows
// them, and whether this change set a new password (never the password).
func userChange(u *store.User, newPassword bool) any {
	return struct {
		User
		PasswordChanged bool `json:"password_changed,omitempty"`
	}{userJSON(u), newPassword}
}
