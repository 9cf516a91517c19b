package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAdminResetInBrowser: a system administrator presses "Send a reset
// link" on a user's console page; the user gets the "Forgot password?"
// mail (a real SMTP conversation), sets a new password with it, and every
// session of theirs ends with the grants of attached clients; the audit
// log names the administrator. A person who is not a system administrator
// cannot send one. Both backends, headless Chromium.
func TestAdminResetInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, mta := accountServer(t, b, func(c *config.Config) { noSecondFactor(c) })
		makeSysadmin(t, s, true)
		sessionClients(t, s)
		ctx := t.Context()
		hash, err := account.HashPassword("robin's long pass phrase")
		mustDo(t, err)
		now := s.Clock.Now()
		robin := &store.User{ID: "u-robin", Email: "robin@example.com", Name: "Robin", PasswordHash: hash, EmailVerified: true, CreatedAt: now, UpdatedAt: now}
		mustDo(t, s.Store.CreateUser(ctx, robin))

		// Robin is signed in, with an attached and a detached device.
		rb := newWebBrowser(t, s)
		if r := rb.post("/login", url.Values{"username": {robin.Email}, "password": {"robin's long pass phrase"}, "csrf_token": {csrfOf(t, rb.get("/login"))}}); r.Status != http.StatusSeeOther {
			t.Fatalf("robin signs in: %d", r.Status)
		}
		attached := pairedDevice(t, s, rb, attachedClient)
		detached := pairedDevice(t, s, rb, tvClient)

		// Robin, not a system administrator, cannot send one to anyone.
		if r := rb.post("/console/users/"+s.User.ID+"/password-reset", url.Values{"csrf_token": {csrfOf(t, rb.get("/account"))}}); r.Status != http.StatusForbidden {
			t.Errorf("a non-administrator's reset: %d", r.Status)
		}

		bctx := browser(t)
		navigate(t, bctx, s.URL+"/console/users/"+robin.ID)
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `form[action$="/password-reset"] button`)
		schemeShots(t, bctx, "console-user-reset")
		click(t, bctx, `form[action$="/password-reset"] button`)
		if text := pageText(t, bctx); !strings.Contains(text, "A password reset link is on its way") {
			t.Fatalf("after sending:\n%s", text)
		}
		schemeShots(t, bctx, "console-user-reset-sent")
		if !rb.signedIn() {
			t.Error("sending the link already signed robin out")
		}

		subject, text := mta.mailTo(t, robin.Email, 1)
		if subject != "Reset your password" || !strings.Contains(text, "Hello Robin") {
			t.Errorf("reset mail %q:\n%s", subject, text)
		}
		form := linkForm(t, newWebBrowser(t, s), linkIn(t, resetLink, text))
		form.Set("password", "robin's new long phrase")
		other := newWebBrowser(t, s)
		form.Set("csrf_token", csrfOf(t, other.get("/forgot-password")))
		if r := other.post("/reset-password", form); r.Status != http.StatusOK || !strings.Contains(r.Raw, "Password changed") {
			t.Fatalf("reset: %d %s", r.Status, r.Raw)
		}
		if rb.signedIn() {
			t.Error("robin's session outlived the reset")
		}
		wantOAuthError(t, s.refresh(t, attachedClient, attached.str("refresh_token")), 400, oauth.InvalidGrant)
		if r := s.refresh(t, tvClient, detached.str("refresh_token")); r.Status != 200 {
			t.Errorf("the detached device's refresh: %d %s", r.Status, r.Raw)
		}
		entries, err := s.Store.QueryAudit(ctx, store.AuditQuery{Kind: audit.UserPasswordReset, Limit: 5})
		if err != nil || len(entries) != 1 || entries[0].TargetID != robin.ID || entries[0].ActorKind != store.ActorUser || entries[0].ActorID != s.User.ID {
			t.Errorf("audit: %+v, %v", entries, err)
		}
	})
}
