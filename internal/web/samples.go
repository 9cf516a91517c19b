package web

import (
	"time"

	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// samplePages are data of every built-in page, each with its optional
// parts shown: NewTheme runs an operator's override on them, so that one
// that names a field its page does not have (the sign-in page's .For,
// which became .Heading and .ForName) stops `serve` rather than a
// person's sign-in; the tests render each in every language.
func samplePages() map[string]any {
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	user := &store.User{ID: "u1", Email: "ada@example.com", Name: "Ada"}
	return map[string]any{
		"login": loginPage{base: base{Notice: "login.wrong"}, Heading: "login.heading.device", ForName: "Living-room TV",
			Passkey: &passkeyView{Options: "{}", State: "s"}, CanRegister: true},
		"register": registerPage{base: base{Notice: "register.name_invalid", NoticeArgs: []any{"n", 200}}, Heading: "register.heading.app",
			ForName: "Notes", Domains: "example.com", MinPassword: 10},
		"device_entry":   entryPage{base: base{Title: "device.heading", Notice: "device.invalid_code"}, Placeholder: "XXXX-XXXX"},
		"device_confirm": confirmPage{base: base{Title: "confirm.heading", TitleArgs: []any{"client", "TV"}, User: user}, ClientName: "TV", Scopes: []string{"scope.openid", "telemetry:write"}, When: "x", IP: "192.0.2.1", Agent: "y", OtherNetwork: true},
		"consent":        consentPage{base: base{Title: "consent.heading", TitleArgs: []any{"client", "Notes"}}, ClientName: "Notes", Destination: "notes.example"},
		"message":        messagePage{base: base{Title: "err.not_found.heading"}, Heading: "err.not_found.heading", Text: "err.not_found.text", Back: true, Link: "/device", LinkText: "device.another_code", Mark: markBad},
		"logout":         logoutPage{base: base{Title: "layout.sign_out", User: user}, Email: user.Email, ClientName: "Notes"},
		"forgot":         emailPage{base: base{Title: "forgot.heading", Notice: "notice.email_invalid"}},
		"resend":         emailPage{base: base{Title: "verify.heading"}},
		"verify":         tokenPage{base: base{Title: "verify.heading"}, Email: user.Email},
		"reset":          tokenPage{base: base{Title: "reset.heading"}, Email: user.Email, MinPassword: 10},
		"second_factor":  secondFactorPage{base: base{Title: "totp.heading", Notice: "second.wrong_code"}},
		"totp_setup":     totpSetupPage{base: base{Title: "setup.heading", Notice: "setup.wrong_code"}, Secret: "ABC"},
		"totp_codes":     totpCodesPage{base: base{Title: "codes.heading"}, Codes: []string{"a-b"}, Continue: "/device"},
		"verify_required": gatePage{base: base{Title: "gate.heading", User: user, Notice: "gate.not_yet"}, Email: user.Email,
			ReturnTo: "/device", Done: "gate.sent"},
		"invitation": invitationPage{base: base{Title: "device.heading"}, AppLink: "app://x",
			Landing: &org.Landing{OrgName: "Acme", Groups: []string{"Readers", "Writers"}, Message: "Hi", DeviceName: "Boiler", ExpiresAt: at}},
		"member_invitation": memberInvitationPage{base: base{Title: "member_invitation.heading", TitleArgs: []any{"org", "Acme"}, User: user},
			MemberLanding: &org.MemberLanding{OrgID: "acme", OrgName: "Acme", Email: "grace@example.com", Role: store.RoleAdmin, ExpiresAt: at},
			Action:        "/invitations/members/lk_minv_x", Expires: "x", SignIn: "/login", Register: "/register", Wrong: true},
		"account": accountPage{base: base{Title: "account.heading", User: user, Notice: "account.totp_required", Wide: true}, Done: "account.done.password",
			Account: user, Console: true, MinPassword: 10, Continue: "/device",
			Grants: []grantView{{GrantInfo: &store.GrantInfo{Grant: &store.Grant{ID: "g", Scopes: []string{"openid"}, CreatedAt: at}, ClientName: "TV",
				LastUsedAt: at, OriginIP: "192.0.2.1", OriginUserAgent: "x"}, Agent: "Chrome on Android"}},
			Consents: []consentView{{Consent: &store.Consent{ClientID: "n", Scopes: []string{"openid"}, CreatedAt: at}, Name: "Notes"}},
			Passkeys: &accountPasskeys{List: []*store.Passkey{{ID: "k", Name: "Phone", CreatedAt: at}}, Register: &passkeyView{}, Max: 10, MaxName: 64},
			TOTP:     &accountTOTP{On: true, Since: at, Recovery: 1}},
	}
}
