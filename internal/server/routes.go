package server

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/serviceapi"
	"github.com/latchkey/latchkey/internal/web"
)

// route is one pattern the server serves (net/http.ServeMux syntax) and
// its handler.
type route struct {
	pattern string
	handler http.Handler
}

// routes is every path the server serves, each with its handler: the
// protocol endpoints with their 10Duke and Oracle aliases, the pages, the
// device invitations, the operations endpoints and the admin API
// (adminRoutes, below). Nothing else registers a route. TestRoutes holds
// the table to the mux and to README.md's endpoint table, TestAdminRoutes
// to the admin API's OpenAPI document.
//
// mux is the mux the routes go into: the admin API's fallback asks it
// which methods a path takes.
func (s *Server) routes(e *endpoints, mux *http.ServeMux) []route {
	api := e.errs.Handle                     // an OAuth JSON error for a returned error
	page, form := e.pages.Page, e.pages.Form // HTML; form also refuses cross-origin POSTs
	notAllowed := e.pages.NotAllowed         // a page's 405, naming the methods it takes
	invitation := e.invitation.Page          // HTML, never logging the token in the path
	p := e.pages
	cs := e.console
	return append([]route{
		// Discovery and keys (OpenID Connect Discovery 1.0 §4, RFC 8414 §3).
		{"GET /.well-known/openid-configuration", api(s.discovery)},
		{"GET /.well-known/oauth-authorization-server", api(s.discovery)},
		{"GET /oauth2/jwks", api(s.jwks)},

		// Protocol endpoints take every method, so that a wrong one gets an
		// OAuth JSON 405 from oauth.ParseForm rather than the mux's plain text.
		{"/oauth2/device_authorization", api(e.device.Authorize)},
		// 10Duke's clients are sent to 10Duke's page: /user/device?userCode=.
		{"/user/oauth20/device-authz", api(e.device.AuthorizeOn(device.TenDukePage))},
		{"/oauth2/v1/device", api(e.device.Authorize)}, // Oracle
		{"/oauth2/token", api(e.token.Token)},
		{"/user/oauth20/token", api(e.token.Token)}, // 10Duke
		{"/oauth2/v1/token", api(e.token.Token)},    // Oracle
		{"/oauth2/revoke", api(e.tokens.Revoke)},
		{"/user/oauth20/revoke", api(e.tokens.Revoke)}, // 10Duke
		{"/oauth2/v1/revoke", api(e.tokens.Revoke)},    // Oracle
		{"/oauth2/introspect", api(e.tokens.Introspect)},
		{"/user/oauth20/introspect", api(e.tokens.Introspect)}, // 10Duke
		{"/oauth2/v1/introspect", api(e.tokens.Introspect)},    // Oracle
		{"/userinfo", api(e.tokens.UserInfo)},                  // GET and POST (OIDC Core §5.3.1)
		{"/user/oauth20/userinfo", api(e.tokens.UserInfo)},     // 10Duke
		{"/oauth2/v1/userinfo", api(e.tokens.UserInfo)},        // Oracle
		// Dynamic client registration (RFC 7591 §3) and each registered
		// client's configuration endpoint (RFC 7592 §2); 404 unless
		// registration.enabled.
		{"/oauth2/register", api(e.register.Register)},
		{"/oauth2/register/{client_id}", api(e.register.Client)},

		// The authorization endpoint is a page. A POST comes from the
		// client's site by design (OIDC Core §3.1.2.1), so it is not
		// cross-origin protected; it changes nothing, only turns into the GET.
		{"GET /oauth2/authorize", page(p.Authorize)},
		{"POST /oauth2/authorize", page(p.AuthorizePost)},
		{"/oauth2/authorize", notAllowed("GET, HEAD, POST")},
		{"GET /user/oauth20/authz", page(p.Authorize)}, // 10Duke
		{"/user/oauth20/authz", notAllowed("GET, HEAD")},

		// Pages, each with a 405 page for the methods it does not take.
		{"GET /login", page(p.LoginForm)},
		{"POST /login", form(p.Login)},
		{"/login", notAllowed("GET, HEAD, POST")},
		{"POST /login/passkey", form(p.LoginPasskey)}, // the sign-in page's passkey answer (anyone; the passkey proves who)
		{"/login/passkey", notAllowed("POST")},
		{"POST /login/second-factor", form(p.SecondStep)}, // the browser that gave the right password (its state)
		{"/login/second-factor", notAllowed("POST")},
		{"GET /assets/passkey.js", page(p.PasskeyScript)}, // the pages' one script (anyone)
		{"/assets/passkey.js", notAllowed("GET, HEAD")},
		{"GET /register", page(p.RegisterForm)},
		{"POST /register", form(p.Register)},
		{"/register", notAllowed("GET, HEAD, POST")},
		{"GET /forgot-password", page(p.ForgotForm)},
		{"POST /forgot-password", form(p.Forgot)},
		{"/forgot-password", notAllowed("GET, HEAD, POST")},
		{"GET /reset-password", page(p.ResetForm)}, // the link a reset email carries
		{"POST /reset-password", form(p.Reset)},
		{"/reset-password", notAllowed("GET, HEAD, POST")},
		{"GET /verify-email", page(p.VerifyForm)}, // the link a verification email carries
		{"POST /verify-email", form(p.Verify)},
		{"/verify-email", notAllowed("GET, HEAD, POST")},
		{"GET /verify-email/resend", page(p.ResendForm)},
		{"POST /verify-email/resend", form(p.Resend)},
		{"/verify-email/resend", notAllowed("GET, HEAD, POST")},
		{"GET /verify-email/required", page(p.VerifyRequired)}, // the signed-in person whose address is not confirmed (ConfirmFirst)
		{"POST /verify-email/required", form(p.VerifyRequiredPost)},
		{"/verify-email/required", notAllowed("GET, HEAD, POST")},
		{"GET /account", page(p.Account)},
		{"/account", notAllowed("GET, HEAD")},
		{"POST /account/password", form(p.ChangePassword)},
		{"/account/password", notAllowed("POST")},
		{"POST /account/email", form(p.ChangeEmail)},
		{"/account/email", notAllowed("POST")},
		{"POST /account/grants/revoke", form(p.RevokeGrant)},
		{"/account/grants/revoke", notAllowed("POST")},
		{"POST /account/consents/forget", form(p.ForgetConsent)},
		{"/account/consents/forget", notAllowed("POST")},
		{"POST /account/passkeys", form(p.AddPasskey)}, // the signed-in person, their own passkeys
		{"/account/passkeys", notAllowed("POST")},
		{"POST /account/passkeys/rename", form(p.RenamePasskey)},
		{"/account/passkeys/rename", notAllowed("POST")},
		{"POST /account/passkeys/remove", form(p.RemovePasskey)},
		{"/account/passkeys/remove", notAllowed("POST")},
		{"POST /account/totp", form(p.BeginTOTP)}, // the signed-in person, their own second factor
		{"/account/totp", notAllowed("POST")},
		{"POST /account/totp/confirm", form(p.ConfirmTOTP)},
		{"/account/totp/confirm", notAllowed("POST")},
		{"POST /account/totp/remove", form(p.RemoveTOTP)},
		{"/account/totp/remove", notAllowed("POST")},
		{"GET /consent", page(p.ConsentForm)},
		{"POST /consent", form(p.ConsentPost)},
		{"/consent", notAllowed("GET, HEAD, POST")},
		{"GET /logout", page(p.LogoutForm)},
		{"POST /logout", page(p.Logout)}, // RP-initiated logout: it checks the origin itself (web/logout.go)
		{"/logout", notAllowed("GET, HEAD, POST")},
		{"GET /device", page(p.DeviceForm)}, // the verification_uri (RFC 8628 §3.3)
		{"POST /device", form(p.DevicePost)},
		{"/device", notAllowed("GET, HEAD, POST")},
		{"GET /user/device", page(p.DeviceFormAlias)}, // 10Duke
		{"/user/device", notAllowed("GET, HEAD")},
		{"GET /device/qr.svg", page(p.QRCode)},
		{"/device/qr.svg", notAllowed("GET, HEAD")},

		// The SysAdmin console (package console): every page and form
		// checks on the server that the person is a system administrator.
		{"GET /console", page(cs.HomePage(cs.Overview))}, // a system administrator's overview, or the organizations one administers
		{"/console", notAllowed("GET, HEAD")},
		{"GET /console/clients", page(cs.Page(cs.Clients))},
		{"/console/clients", notAllowed("GET, HEAD")},
		{"GET /console/clients/new", page(cs.Page(cs.NewClientForm))},
		{"POST /console/clients/new", form(cs.Form(cs.CreateClient))}, // other methods: {id}'s 405
		{"GET /console/clients/{id}", page(cs.Page(cs.Client))},
		{"POST /console/clients/{id}", form(cs.Form(cs.SaveClient))},
		{"/console/clients/{id}", notAllowed("GET, HEAD, POST")},
		{"GET /console/clients/{id}/secret", page(cs.Page(cs.RotateSecretForm))},
		{"POST /console/clients/{id}/secret", form(cs.Form(cs.RotateSecret))},
		{"/console/clients/{id}/secret", notAllowed("GET, HEAD, POST")},
		{"GET /console/clients/{id}/delete", page(cs.Page(cs.DeleteClientForm))},
		{"POST /console/clients/{id}/delete", form(cs.Form(cs.DeleteClient))},
		{"/console/clients/{id}/delete", notAllowed("GET, HEAD, POST")},
		{"GET /console/users", page(cs.Page(cs.Users))},
		{"/console/users", notAllowed("GET, HEAD")},
		{"GET /console/users/new", page(cs.Page(cs.NewUserForm))},
		{"POST /console/users/new", form(cs.Form(cs.CreateUser))}, // other methods: {id}'s 405
		{"GET /console/users/{id}", page(cs.Page(cs.User))},
		{"/console/users/{id}", notAllowed("GET, HEAD")},
		{"GET /console/users/{id}/status", page(cs.Page(cs.StatusForm))},
		{"POST /console/users/{id}/status", form(cs.Form(cs.SetStatus))},
		{"/console/users/{id}/status", notAllowed("GET, HEAD, POST")},
		{"POST /console/users/{id}/password", form(cs.Form(cs.SetPassword))},
		{"/console/users/{id}/password", notAllowed("POST")},
		{"POST /console/users/{id}/password-reset", form(cs.Form(cs.SendPasswordReset))},
		{"/console/users/{id}/password-reset", notAllowed("POST")},
		{"GET /console/users/{id}/email", page(cs.Page(cs.EmailForm))},
		{"POST /console/users/{id}/email", form(cs.Form(cs.SetEmailVerified))},
		{"/console/users/{id}/email", notAllowed("GET, HEAD, POST")},
		{"GET /console/users/{id}/sysadmin", page(cs.Page(cs.SysadminForm))},
		{"POST /console/users/{id}/sysadmin", form(cs.Form(cs.SetSysadmin))},
		{"/console/users/{id}/sysadmin", notAllowed("GET, HEAD, POST")},
		{"POST /console/users/{id}/grants/revoke", form(cs.Form(cs.RevokeGrant))},
		{"/console/users/{id}/grants/revoke", notAllowed("POST")},
		{"GET /console/orgs", page(cs.Page(cs.Orgs))},
		{"/console/orgs", notAllowed("GET, HEAD")},
		{"POST /console/orgs/new", form(cs.Form(cs.CreateOrg))}, // other methods: {id}'s 405
		// The OrgAdmin console: a system administrator, or an admin of organization {id} (OrgPage, OrgForm).
		{"GET /console/orgs/{id}", page(cs.OrgPage(cs.Org))},
		{"/console/orgs/{id}", notAllowed("GET, HEAD")},
		{"POST /console/orgs/{id}/members", form(cs.OrgForm(cs.PutMember))},
		{"/console/orgs/{id}/members", notAllowed("POST")},
		{"POST /console/orgs/{id}/member-invitations", form(cs.OrgForm(cs.InviteMember))},
		{"/console/orgs/{id}/member-invitations", notAllowed("POST")},
		{"POST /console/orgs/{id}/member-invitations/{member_invitation_id}/resend", form(cs.OrgForm(cs.ResendMemberInvitation))},
		{"/console/orgs/{id}/member-invitations/{member_invitation_id}/resend", notAllowed("POST")},
		{"GET /console/orgs/{id}/member-invitations/{member_invitation_id}/revoke", page(cs.OrgPage(cs.RevokeMemberInvitationForm))},
		{"POST /console/orgs/{id}/member-invitations/{member_invitation_id}/revoke", form(cs.OrgForm(cs.RevokeMemberInvitation))},
		{"/console/orgs/{id}/member-invitations/{member_invitation_id}/revoke", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/members/remove", page(cs.OrgPage(cs.RemoveMemberForm))},
		{"POST /console/orgs/{id}/members/remove", form(cs.OrgForm(cs.RemoveMember))},
		{"/console/orgs/{id}/members/remove", notAllowed("GET, HEAD, POST")},
		{"POST /console/orgs/{id}/groups", form(cs.OrgForm(cs.CreateGroup))},
		{"/console/orgs/{id}/groups", notAllowed("POST")},
		{"GET /console/orgs/{id}/groups/{group_id}", page(cs.OrgPage(cs.Group))},
		{"POST /console/orgs/{id}/groups/{group_id}", form(cs.OrgForm(cs.SaveGroup))},
		{"/console/orgs/{id}/groups/{group_id}", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/groups/{group_id}/delete", page(cs.OrgPage(cs.DeleteGroupForm))},
		{"POST /console/orgs/{id}/groups/{group_id}/delete", form(cs.OrgForm(cs.DeleteGroup))},
		{"/console/orgs/{id}/groups/{group_id}/delete", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/devices", page(cs.OrgPage(cs.Devices))},
		{"/console/orgs/{id}/devices", notAllowed("GET, HEAD")},
		{"GET /console/orgs/{id}/devices/{client_id}", page(cs.OrgPage(cs.Device))},
		{"/console/orgs/{id}/devices/{client_id}", notAllowed("GET, HEAD")},
		{"POST /console/orgs/{id}/devices/{client_id}/name", form(cs.OrgForm(cs.RenameDevice))},
		{"/console/orgs/{id}/devices/{client_id}/name", notAllowed("POST")},
		{"POST /console/orgs/{id}/devices/{client_id}/move", form(cs.OrgForm(cs.MoveDevice))},
		{"/console/orgs/{id}/devices/{client_id}/move", notAllowed("POST")},
		{"GET /console/orgs/{id}/devices/{client_id}/remove", page(cs.OrgPage(cs.RemoveDeviceForm))},
		{"POST /console/orgs/{id}/devices/{client_id}/remove", form(cs.OrgForm(cs.RemoveDevice))},
		{"/console/orgs/{id}/devices/{client_id}/remove", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/devices/{client_id}/revoke", page(cs.OrgPage(cs.RevokeDeviceTokensForm))},
		{"POST /console/orgs/{id}/devices/{client_id}/revoke", form(cs.OrgForm(cs.RevokeDeviceTokens))},
		{"/console/orgs/{id}/devices/{client_id}/revoke", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/devices/{client_id}/secret", page(cs.OrgPage(cs.RotateDeviceSecretForm))},
		{"POST /console/orgs/{id}/devices/{client_id}/secret", form(cs.OrgForm(cs.RotateDeviceSecret))},
		{"/console/orgs/{id}/devices/{client_id}/secret", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/invitations", page(cs.OrgPage(cs.OrgInvitations))},
		{"/console/orgs/{id}/invitations", notAllowed("GET, HEAD")},
		{"GET /console/orgs/{id}/invitations/new", page(cs.OrgPage(cs.NewInvitationForm))},
		{"POST /console/orgs/{id}/invitations/new", form(cs.OrgForm(cs.SendInvitation))},
		{"/console/orgs/{id}/invitations/new", notAllowed("GET, HEAD, POST")},
		{"POST /console/orgs/{id}/invitations/{invitation_id}/resend", form(cs.OrgForm(cs.ResendInvitation))},
		{"/console/orgs/{id}/invitations/{invitation_id}/resend", notAllowed("POST")},
		{"GET /console/orgs/{id}/invitations/{invitation_id}/revoke", page(cs.OrgPage(cs.RevokeOrgInvitationForm))},
		{"POST /console/orgs/{id}/invitations/{invitation_id}/revoke", form(cs.OrgForm(cs.RevokeOrgInvitation))},
		{"/console/orgs/{id}/invitations/{invitation_id}/revoke", notAllowed("GET, HEAD, POST")},
		{"GET /console/orgs/{id}/audit", page(cs.OrgPage(cs.OrgAudit))},
		{"/console/orgs/{id}/audit", notAllowed("GET, HEAD")},
		{"GET /console/orgs/{id}/delete", page(cs.Page(cs.DeleteOrgForm))}, // system administrators only
		{"POST /console/orgs/{id}/delete", form(cs.Form(cs.DeleteOrg))},
		{"/console/orgs/{id}/delete", notAllowed("GET, HEAD, POST")},
		{"GET /console/invitations", page(cs.Page(cs.Invitations))},
		{"/console/invitations", notAllowed("GET, HEAD")},
		{"GET /console/invitations/{id}/revoke", page(cs.Page(cs.RevokeInvitationForm))},
		{"POST /console/invitations/{id}/revoke", form(cs.Form(cs.RevokeInvitation))},
		{"/console/invitations/{id}/revoke", notAllowed("GET, HEAD, POST")},
		{"GET /console/keys", page(cs.Page(cs.SigningKeys))},
		{"/console/keys", notAllowed("GET, HEAD")},
		{"GET /console/keys/rotate", page(cs.Page(cs.RotateKeysForm))},
		{"POST /console/keys/rotate", form(cs.Form(cs.RotateKeys))},
		{"/console/keys/rotate", notAllowed("GET, HEAD, POST")},
		{"GET /console/audit", page(cs.Page(cs.AuditLog))},
		{"/console/audit", notAllowed("GET, HEAD")},

		// What every page loads, each with its own Cache-Control and ETag
		// (web/brand.go), and the operator's logo file (pages.logo).
		{"GET " + web.StylePath, http.HandlerFunc(p.Style)},
		{web.StylePath, notAllowed("GET, HEAD")},
		{"GET " + web.ScriptPath, http.HandlerFunc(p.Script)},
		{web.ScriptPath, notAllowed("GET, HEAD")},
		{"GET " + web.LogoPath, http.HandlerFunc(p.Logo)},
		{web.LogoPath, notAllowed("GET, HEAD")},

		// Device invitations (10Duke's Identity Management API), and the
		// page an invitation email links to.
		// The organization's paths take every method, as the protocol
		// endpoints do, for a JSON 405; and "send" is more specific than {id}
		// only while neither pattern names a method.
		{"/organizations/{organizationId}/client-group-invitations/send", api(e.orgs.Send)},
		{"/organizations/{organizationId}/client-group-invitations", api(e.orgs.ListHandler)},
		{"/organizations/{organizationId}/client-group-invitations/{id}", api(e.orgs.InvitationHandler)}, // the send's Location
		{"/organizations/{organizationId}/client-group-invitations/{id}/resend", api(e.orgs.ResendHandler)},
		{"/organizations/{organizationId}/client-group-invitations/{id}/revoke", api(e.orgs.RevokeHandler)},
		{"/client-group-invitations/accept", api(e.orgs.AcceptHandler)},
		{"/client-group-invitations/decline", api(e.orgs.DeclineHandler)},
		{"GET /invitations/{token}", invitation(e.invitation.Show)},
		// Invitations of people into an organization: the page its email
		// links to (anyone with the link), and joining (the signed-in
		// person with the invited address).
		{"GET /invitations/members/{token}", page(e.invitation.ShowMember)},
		{"POST /invitations/members/{token}", form(e.invitation.JoinMember)},
		{"/invitations/members/{token}", notAllowed("GET, HEAD, POST")},
		{"/invitations/", invitation(e.invitation.Unknown)},

		// Operations.
		{"GET /healthz", http.HandlerFunc(s.healthz)},
		{"GET /readyz", http.HandlerFunc(s.readyz)},

		// Whatever no route above takes: 404, or 405 naming the methods the
		// path takes; a page for a browser, JSON for a program.
		{"/", unmatched(e, mux)},
	}, append(serviceRoutes(e.service), adminRoutes(e.admin, mux)...)...)
}

// serviceRoutes are the service API's (Authlete's paths, package
// serviceapi): under /api/ for 2.x and /api/{serviceId}/ for 3.0, every
// method, so that a wrong one gets the API's JSON 405.
func serviceRoutes(a *serviceapi.API) []route {
	var rs []route
	for _, r := range a.Routes() {
		rs = append(rs, route{r.Pattern, r.Handler})
	}
	return rs
}

// adminRoutes are the admin API's routes, described by its OpenAPI
// document; every one checks the admin token (Guard).
func adminRoutes(a *admin.API, mux *http.ServeMux) []route {
	admin := a.Guard
	return []route{
		{"GET /admin/v1/openapi.json", admin(a.OpenAPI)},

		{"POST /admin/v1/clients", admin(a.CreateClient)},
		{"GET /admin/v1/clients", admin(a.ListClients)},
		{"GET /admin/v1/clients/{id}", admin(a.GetClient)},
		{"PUT /admin/v1/clients/{id}", admin(a.ReplaceClient)},
		{"PATCH /admin/v1/clients/{id}", admin(a.PatchClient)},
		{"DELETE /admin/v1/clients/{id}", admin(a.DeleteClient)},
		{"POST /admin/v1/clients/{id}/secret", admin(a.RotateSecret)},
		{"POST /admin/v1/clients/{id}/revoke-tokens", admin(a.RevokeClientTokens)},

		{"POST /admin/v1/registration-tokens", admin(a.CreateRegistrationToken)},
		{"GET /admin/v1/registration-tokens", admin(a.ListRegistrationTokens)},
		{"DELETE /admin/v1/registration-tokens/{id}", admin(a.DeleteRegistrationToken)},

		{"POST /admin/v1/users", admin(a.CreateUser)},
		{"GET /admin/v1/users", admin(a.ListUsers)},
		{"GET /admin/v1/users/{id}", admin(a.GetUser)},
		{"PATCH /admin/v1/users/{id}", admin(a.PatchUser)},
		{"DELETE /admin/v1/users/{id}", admin(a.DeleteUser)},

		{"POST /admin/v1/users/{id}/password-reset", admin(a.ResetPassword)},
		{"GET /admin/v1/users/{id}/grants", admin(a.ListUserGrants)},
		{"GET /admin/v1/grants/{id}", admin(a.GetGrant)},
		{"DELETE /admin/v1/grants/{id}", admin(a.RevokeGrant)},

		{"POST /admin/v1/organizations", admin(a.CreateOrg)},
		{"GET /admin/v1/organizations", admin(a.ListOrgs)},
		{"GET /admin/v1/organizations/{id}", admin(a.GetOrg)},
		{"PATCH /admin/v1/organizations/{id}", admin(a.PatchOrg)},
		{"DELETE /admin/v1/organizations/{id}", admin(a.DeleteOrg)},

		{"GET /admin/v1/organizations/{id}/members", admin(a.ListMembers)},
		{"PUT /admin/v1/organizations/{id}/members/{user_id}", admin(a.PutMember)},
		{"DELETE /admin/v1/organizations/{id}/members/{user_id}", admin(a.DeleteMember)},
		{"POST /admin/v1/organizations/{id}/member-invitations", admin(a.CreateMemberInvitation)},
		{"GET /admin/v1/organizations/{id}/member-invitations", admin(a.ListMemberInvitations)},
		{"POST /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/resend", admin(a.ResendMemberInvitation)},
		{"POST /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/revoke", admin(a.RevokeMemberInvitation)},

		{"POST /admin/v1/organizations/{id}/client-groups", admin(a.CreateGroup)},
		{"GET /admin/v1/organizations/{id}/client-groups", admin(a.ListGroups)},
		{"GET /admin/v1/organizations/{id}/client-groups/{group_id}", admin(a.GetGroup)},
		{"PATCH /admin/v1/organizations/{id}/client-groups/{group_id}", admin(a.PatchGroup)},
		{"DELETE /admin/v1/organizations/{id}/client-groups/{group_id}", admin(a.DeleteGroup)},
		{"GET /admin/v1/organizations/{id}/client-groups/{group_id}/clients", admin(a.ListGroupClients)},
		{"PUT /admin/v1/organizations/{id}/client-groups/{group_id}/clients/{client_id}", admin(a.AddGroupClient)},
		{"DELETE /admin/v1/organizations/{id}/client-groups/{group_id}/clients/{client_id}", admin(a.RemoveGroupClient)},

		{"POST /admin/v1/organizations/{id}/invitations", admin(a.CreateInvitation)},
		{"GET /admin/v1/organizations/{id}/invitations", admin(a.ListInvitations)},
		{"GET /admin/v1/invitations/{id}", admin(a.GetInvitation)},
		{"POST /admin/v1/invitations/{id}/revoke", admin(a.RevokeInvitation)},

		{"POST /admin/v1/api-keys", admin(a.CreateAPIKey)},
		{"GET /admin/v1/api-keys", admin(a.ListAPIKeys)},
		{"POST /admin/v1/api-keys/{id}/rotate", admin(a.RotateAPIKey)},
		{"DELETE /admin/v1/api-keys/{id}", admin(a.RevokeAPIKey)},
		{"GET /admin/v1/audit", admin(a.ListAudit)},

		{"/admin/v1/", admin(a.Unmatched(mux))}, // JSON 404, or 405 with Allow
	}
}

// AdminMux serves the admin API alone, under the routes the server gives
// it: for tools and tests that talk to the API without the rest.
func AdminMux(a *admin.API) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range adminRoutes(a, mux) {
		mux.Handle(rt.pattern, rt.handler)
	}
	return mux
}

// mux serves the route table of e.
func (s *Server) mux(e *endpoints) *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.routes(e, mux) {
		// Requests are counted under the pattern that took them, never
		// their path (package metrics); what the catch-all "/" answers
		// (unmatched) as metrics.Unmatched, like the mux's own 404s.
		h := rt.handler
		if rt.pattern != "/" {
			h = s.metrics.Route(rt.pattern, h)
		}
		mux.Handle(rt.pattern, h)
	}
	return mux
}

// apiPrefixes are the paths of programs, never of pages: what no route
// takes under them is answered in JSON, whatever the Accept header says.
var apiPrefixes = []string{"/oauth2/", "/api/", "/admin/", "/organizations/", "/client-group-invitations/",
	"/user/oauth20/", "/.well-known/", "/userinfo"}

// unmatched answers a request no route takes (the "/" pattern): 405 with
// Allow when the path is served with other methods (mux is asked, as the
// admin API's Unmatched does), else 404. A browser (Accept: text/html)
// gets a page with a way back; an API path, or anything else, JSON.
func unmatched(e *endpoints, mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 && allow[0] == http.MethodGet {
			allow = append([]string{http.MethodGet, http.MethodHead}, allow[1:]...)
		}
		if wantsPage(r) {
			if len(allow) > 0 {
				e.pages.NotAllowed(strings.Join(allow, ", ")).ServeHTTP(w, r)
			} else {
				e.pages.NotFound().ServeHTTP(w, r)
			}
			return
		}
		e.errs.Handle(func(w http.ResponseWriter, r *http.Request) error {
			if len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				return &oauth.Error{Code: "method_not_allowed", Description: "use " + strings.Join(allow, " or ") + " on this path",
					Status: http.StatusMethodNotAllowed}
			}
			return &oauth.Error{Code: "not_found", Description: "there is nothing at this path", Status: http.StatusNotFound}
		}).ServeHTTP(w, r)
	})
}

// wantsPage says whether r is a browser's, for a path that is not an API's.
func wantsPage(r *http.Request) bool {
	for _, p := range apiPrefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			return false
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(mt, "text/html") {
			return true
		}
	}
	return false
}
