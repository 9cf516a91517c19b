package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The users' pages: a searchable list, creating a user, and a user's page
// with their active grants (each revocable) and forms to disable or enable
// them, set a new password (their sessions end, with the grants attached
// to them) and make or unmake a system administrator (re-authenticated).

var (
	usersTemplate    = page("users")
	userNewTemplate  = page("user_new")
	userPageTemplate = page("user")
)

type usersPage struct {
	Users []*store.User
	Pager pager
}

// Users serves GET /console/users: ?q= searches email, name and id.
func (c *Console) Users(rq *request) error {
	all, err := c.Store.ListUsers(rq.ctx)
	if err != nil {
		return err
	}
	shown, p, err := paginate(rq, "/console/users", all, func(u *store.User, q string) bool {
		return contains(q, u.Email, u.Name, u.ID)
	})
	if err != nil {
		return err
	}
	return c.render(rq, http.StatusOK, usersTemplate, "users", rq.T("console.nav.users"), "", usersPage{Users: shown, Pager: p})
}

type userNewPage struct {
	Email, Name string
	MinPassword int
}

// NewUserForm serves GET /console/users/new.
func (c *Console) NewUserForm(rq *request) error {
	return c.render(rq, http.StatusOK, userNewTemplate, "users", rq.T("console.users.new"), "", userNewPage{MinPassword: account.MinPasswordLength})
}

// CreateUser serves POST /console/users/new, by the admin API's rules for
// a new user (package account's for the address and the password).
func (c *Console) CreateUser(rq *request) error {
	email, name, password := strings.TrimSpace(rq.form["email"]), strings.TrimSpace(rq.form["name"]), rq.form["password"]
	u, err := c.Admin.NewUser(rq.ctx, &admin.UserRequest{Email: &email, Name: &name, Password: &password})
	if oe := userError(err); oe != nil {
		return c.render(rq, http.StatusBadRequest, userNewTemplate, "users", rq.T("console.users.new"), rq.describe(oe),
			userNewPage{Email: email, Name: name, MinPassword: account.MinPasswordLength})
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=user-saved")
}

func userPath(id string) string { return "/console/users/" + url.PathEscape(id) }

// loadUser reads the user of the path's {id}: a 404 page if none.
func (c *Console) loadUser(rq *request) (*store.User, error) {
	u, err := c.Store.GetUser(rq.ctx, rq.r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, web.Error(http.StatusNotFound, "console.err.no_user", "console.err.no_user_text")
	}
	return u, err
}

type userPage struct {
	Account     *store.User
	Grants      []*store.GrantInfo
	Self        bool
	MinPassword int
}

func (c *Console) renderUser(rq *request, status int, notice string, u *store.User) error {
	grants, err := c.Store.ListUserGrants(rq.ctx, u.ID, c.now())
	if err != nil {
		return err
	}
	return c.render(rq, status, userPageTemplate, "users", u.Email, notice,
		userPage{Account: u, Grants: grants, Self: u.ID == rq.v.User.ID, MinPassword: account.MinPasswordLength})
}

// User serves GET /console/users/{id}.
func (c *Console) User(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	return c.renderUser(rq, http.StatusOK, "", u)
}

func statusConfirm(rq *request, u *store.User) confirmPage {
	p := confirmPage{Action: userPath(u.ID) + "/status", Back: userPath(u.ID), Nav: "users"}
	if u.Disabled {
		p.Heading, p.Button = rq.T("console.user.enable_heading", "email", u.Email), rq.T("console.user.enable")
		p.Text = rq.T("console.user.enable_text")
		p.Fields = map[string]string{"disabled": "false"}
	} else {
		p.Heading, p.Button, p.Danger = rq.T("console.user.disable_heading", "email", u.Email), rq.T("console.user.disable"), true
		p.Text = rq.T("console.user.disable_text")
		p.Fields = map[string]string{"disabled": "true"}
	}
	return p
}

// StatusForm serves GET /console/users/{id}/status: the confirmation of
// disabling or enabling.
func (c *Console) StatusForm(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", statusConfirm(rq, u))
}

// SetStatus serves POST /console/users/{id}/status: disabled=true or
// false. A system administrator cannot disable themself here.
func (c *Console) SetStatus(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	disabled, err := userFlag(rq, "disabled")
	if err != nil {
		return err
	}
	if disabled && u.ID == rq.v.User.ID {
		return c.confirm(rq, http.StatusBadRequest, rq.T("console.user.not_yourself"), statusConfirm(rq, u))
	}
	if _, err := c.Admin.ChangeUser(rq.ctx, u.ID, &admin.UserRequest{Disabled: &disabled}); err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=user-saved")
}

// SetPassword serves POST /console/users/{id}/password: the admin API's
// password rules; the user's sessions end, with the grants attached to
// them.
func (c *Console) SetPassword(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	password := rq.form["new_password"]
	_, err = c.Admin.ChangeUser(rq.ctx, u.ID, &admin.UserRequest{Password: &password})
	if oe := userError(err); oe != nil {
		return c.renderUser(rq, http.StatusBadRequest, rq.describe(oe), u)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=password-set")
}

// SendPasswordReset serves POST /console/users/{id}/password-reset: the
// user is mailed the "Forgot password?" link (admin.API.SendPasswordReset,
// recorded with the signed-in administrator as the actor).
func (c *Console) SendPasswordReset(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	_, err = c.Admin.SendPasswordReset(rq.ctx, u.ID)
	if oe := userError(err); oe != nil {
		return c.renderUser(rq, http.StatusConflict, rq.describe(oe), u)
	}
	if err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=reset-sent")
}

func emailConfirm(rq *request, u *store.User) confirmPage {
	p := confirmPage{Action: userPath(u.ID) + "/email", Back: userPath(u.ID), Nav: "users"}
	if u.EmailVerified {
		p.Heading, p.Button = rq.T("console.user.unvouch_heading", "email", u.Email), rq.T("console.user.unvouch")
		p.Text = rq.T("console.user.unvouch_text")
		p.Fields = map[string]string{"email_verified": "false"}
	} else {
		p.Heading, p.Button = rq.T("console.user.vouch_heading", "email", u.Email), rq.T("console.user.vouch")
		p.Text = rq.T("console.user.vouch_text")
		p.Fields = map[string]string{"email_verified": "true"}
	}
	return p
}

// EmailForm serves GET /console/users/{id}/email: the confirmation of
// vouching for the user's address (marking it confirmed) or of asking
// them to confirm it again.
func (c *Console) EmailForm(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", emailConfirm(rq, u))
}

// SetEmailVerified serves POST /console/users/{id}/email:
// email_verified=true vouches for the address, false asks the person to
// confirm it again, through the admin API's operation (PATCH
// /admin/v1/users/{id} with email_verified), audited as user.update.
func (c *Console) SetEmailVerified(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	verified, err := userFlag(rq, "email_verified")
	if err != nil {
		return err
	}
	if _, err := c.Admin.ChangeUser(rq.ctx, u.ID, &admin.UserRequest{EmailVerified: &verified}); err != nil {
		return err
	}
	done := "email-unconfirmed"
	if verified {
		done = "email-confirmed"
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done="+done)
}

func sysadminConfirm(rq *request, u *store.User, password bool) confirmPage {
	p := confirmPage{Action: userPath(u.ID) + "/sysadmin", Back: userPath(u.ID), Nav: "users", Password: password, Danger: true}
	if u.Sysadmin {
		p.Heading, p.Button = rq.T("console.user.unmake_admin_heading", "email", u.Email), rq.T("console.user.unmake_admin")
		p.Text = rq.T("console.user.unmake_admin_text")
		p.Fields = map[string]string{"sysadmin": "false"}
	} else {
		p.Heading, p.Button = rq.T("console.user.make_admin_heading", "email", u.Email), rq.T("console.user.make_admin")
		p.Text = rq.T("console.user.make_admin_text")
		p.Fields = map[string]string{"sysadmin": "true"}
	}
	return p
}

// SysadminForm serves GET /console/users/{id}/sysadmin: the
// confirmation, asking for the password unless entered within
// ReauthWindow.
func (c *Console) SysadminForm(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	return c.confirm(rq, http.StatusOK, "", sysadminConfirm(rq, u, c.needsPassword(rq)))
}

// SetSysadmin serves POST /console/users/{id}/sysadmin: sysadmin=true or
// false, re-authenticated. No one removes their own role here, so the
// console never loses its last administrator by a slip.
func (c *Console) SetSysadmin(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	yes, err := userFlag(rq, "sysadmin")
	if err != nil {
		return err
	}
	if !yes && u.ID == rq.v.User.ID {
		return c.confirm(rq, http.StatusBadRequest, rq.T("console.user.not_yourself_admin"), sysadminConfirm(rq, u, false))
	}
	if ok, err := c.reauthenticated(rq); err != nil {
		return err
	} else if !ok {
		return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), sysadminConfirm(rq, u, true))
	}
	if _, err := c.Admin.ChangeUser(rq.ctx, u.ID, &admin.UserRequest{Sysadmin: &yes}); err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=user-saved")
}

// RevokeGrant serves POST /console/users/{id}/grants/revoke: one of the
// user's grants (grant_id), revoked by the admin API's operation: its
// tokens stop working at once.
func (c *Console) RevokeGrant(rq *request) error {
	u, err := c.loadUser(rq)
	if err != nil {
		return err
	}
	g, err := c.Store.GetGrant(rq.ctx, rq.form["grant_id"])
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.UserID != u.ID) {
		return web.Error(http.StatusNotFound, "console.err.no_grant", "console.err.no_grant_text")
	}
	if err != nil {
		return err
	}
	if err := c.Admin.EndGrant(rq.ctx, g.ID); err != nil {
		return err
	}
	return web.SeeOther(rq.w, userPath(u.ID)+"?done=grant-revoked")
}

// userFlag reads a user form's true/false field; anything else is a form
// from another version of the page, answered with a way back to the user.
func userFlag(rq *request, name string) (bool, error) {
	switch rq.form[name] {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, web.Error(http.StatusBadRequest, "err.bad_form.heading", "console.err.reload_user")
}
