package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// rememberConsent stores what the person allowed clientID, as the consent
// page does when it approves (ApproveAuthRequest with consent).
func rememberConsent(t *testing.T, s *testServer, clientID string, scopes ...string) {
	t.Helper()
	ctx := t.Context()
	now := s.Clock.Now()
	id := "req-" + clientID
	mustDo(t, s.Store.CreateAuthRequest(ctx, &store.AuthRequest{IDHash: id, ClientID: clientID, RedirectURI: "https://app.example/cb",
		Scopes: scopes, Status: store.AuthRequestPending, MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	_, err := s.Store.BindAuthRequest(ctx, id, "sess-"+clientID, now)
	mustDo(t, err)
	mustDo(t, s.Store.ApproveAuthRequest(ctx, id, "sess-"+clientID,
		&store.AuthCode{Hash: "code-" + clientID, ClientID: clientID, UserID: s.User.ID, RedirectURI: "https://app.example/cb",
			Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
		&store.Consent{UserID: s.User.ID, ClientID: clientID, Scopes: scopes, CreatedAt: now}, now))
}

// pairedDeviceFrom is pairedDevice for a device whose request says it is
// userAgent.
func pairedDeviceFrom(t *testing.T, s *testServer, b *webBrowser, clientID, userAgent string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/oauth2/device_authorization",
		strings.NewReader(url.Values{"client_id": {clientID}, "scope": {scopesAll}}.Encode()))
	mustDo(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	a := do(t, req)
	if a.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", a.Status, a.Raw)
	}
	b.approve(a.str("user_code"))
	s.Clock.Advance(2 * time.Second)
	r := s.poll(t, clientID, a.str("device_code"))
	if r.Status != http.StatusOK {
		t.Fatalf("poll: %d %s", r.Status, r.Raw)
	}
	return r
}

// TestAccountPageInBrowser: the person sees the devices connected to the
// account, where each asked from (the browser and system in words, as the
// confirm page says them, or the address alone) and what it may do, revokes one, and that
// device's next refresh fails while the other's works; then forgets what
// they allowed an app. Both backends, headless Chromium.
func TestAccountPageInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, _ := accountServer(t, b, nil)
		sessionClients(t, s)
		phone := newWebBrowser(t, s)
		phone.signIn()
		tv := pairedDeviceFrom(t, s, phone, tvClient, samsungTV)
		kept := pairedDevice(t, s, phone, attachedClient)
		rememberConsent(t, s, webOnlyClient, "openid", "profile")

		bctx := browser(t)
		navigate(t, bctx, s.URL+"/account")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `#devices`)
		text := pageText(t, bctx)
		for _, want := range []string{"Pat Person", personEmail, "confirmed", "Living Room TV", "Hotel TV",
			"From 127.0.0.1 (Samsung Internet on Tizen)", "From 127.0.0.1 (Go-http-client)",
			"openid, profile, email, offline_access", "Web only", "Allowed: openid, profile"} {
			if !strings.Contains(text, want) {
				t.Errorf("the account page lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "Go-http-client/") || strings.Contains(text, "Mozilla") {
			t.Errorf("the account page shows a User-Agent as it came:\n%s", text)
		}
		screenshots(t, bctx, "account")

		click(t, bctx, `button[aria-label="Revoke Living Room TV"]`)
		text = pageText(t, bctx)
		if !strings.Contains(text, "Revoked") || strings.Contains(text, "Living Room TV") || !strings.Contains(text, "Hotel TV") {
			t.Errorf("after revoking:\n%s", text)
		}
		screenshots(t, bctx, "account-revoked")
		wantOAuthError(t, s.refresh(t, tvClient, tv.str("refresh_token")), 400, oauth.InvalidGrant)
		wantActive(t, "the revoked device's access token", s.introspect(t, tv.str("access_token")), false)
		if r := s.refresh(t, attachedClient, kept.str("refresh_token")); r.Status != 200 {
			t.Errorf("the other device's refresh: %d %s", r.Status, r.Raw)
		}

		click(t, bctx, `button[aria-label="Forget what you allowed Web only"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Forgotten") || strings.Contains(text, "Allowed: openid") {
			t.Errorf("after forgetting:\n%s", text)
		}
		if _, err := s.Store.GetConsent(t.Context(), s.User.ID, webOnlyClient); err == nil {
			t.Error("the consent is still stored")
		}
	})
}

// TestAccountPageForms: the account page's forms act only for the
// signed-in person, only with the form's CSRF token, and ask for the
// current password before changing it or the address.
func TestAccountPageForms(t *testing.T) {
	t.Parallel()
	s, mta := accountServer(t, backends[0], nil)
	other := &store.User{ID: "u-other", Email: "other@example.com", Name: "Olga Other", PasswordHash: s.User.PasswordHash,
		CreatedAt: s.Clock.Now(), UpdatedAt: s.Clock.Now()}
	mustDo(t, s.Store.CreateUser(t.Context(), other))
	othersGrant := &store.Grant{ID: "g-other", UserID: other.ID, ClientID: tvClient, Scopes: []string{"openid"},
		CreatedAt: s.Clock.Now(), ExpiresAt: s.Clock.Now().Add(time.Hour)}
	mustDo(t, s.Store.CreateGrant(t.Context(), othersGrant))

	if r := newWebBrowser(t, s).get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?return_to=%2Faccount" {
		t.Errorf("signed out: %d %q", r.Status, r.Header.Get("Location"))
	}
	br := newWebBrowser(t, s)
	br.signIn()
	second := newWebBrowser(t, s)
	second.signIn()
	csrf := func() string { return csrfOf(t, br.get("/account")) }

	// Another person's grant is not found, and stays.
	if r := br.post("/account/grants/revoke", url.Values{"grant_id": {othersGrant.ID}, "csrf_token": {csrf()}}); r.Status != http.StatusNotFound {
		t.Errorf("revoking another person's grant: %d", r.Status)
	}
	if g, _ := s.Store.GetGrant(t.Context(), othersGrant.ID); !g.RevokedAt.IsZero() {
		t.Error("another person's grant was revoked")
	}
	for _, path := range []string{"/account/grants/revoke", "/account/consents/forget", "/account/password", "/account/email"} {
		if r := br.post(path, url.Values{"grant_id": {othersGrant.ID}, "client_id": {tvClient}}); r.Status != http.StatusForbidden {
			t.Errorf("%s without csrf_token: %d", path, r.Status)
		}
	}

	// The password: the current one first, then not a common one.
	change := func(current, next string) reply {
		return br.post("/account/password", url.Values{"current_password": {current}, "new_password": {next}, "csrf_token": {csrf()}})
	}
	if r := change("not my password", "a fresh long passphrase"); r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "current password is wrong") {
		t.Errorf("wrong current password: %d", r.Status)
	}
	if r := change(personPassword, "1234567890"); r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "common passwords") {
		t.Errorf("a common new password: %d", r.Status)
	}
	if r := change(personPassword, "a fresh long passphrase"); r.Status != http.StatusSeeOther {
		t.Fatalf("change password: %d %s", r.Status, r.Raw)
	}
	if !br.signedIn() || second.signedIn() {
		t.Errorf("after the change: this browser signed in %v (want true), the other %v (want false)", br.signedIn(), second.signedIn())
	}
	if subject, _ := mta.mailTo(t, personEmail, 1); subject != "Your password was changed" {
		t.Errorf("notice: %q", subject)
	}

	// The address: a link to the new one, which replaces the old once used.
	email := func(addr, current string) reply {
		return br.post("/account/email", url.Values{"email": {addr}, "current_password": {current}, "csrf_token": {csrf()}})
	}
	if r := email("new@example.com", personPassword); r.Status != http.StatusBadRequest {
		t.Errorf("address change with the old password: %d", r.Status)
	}
	taken := email(other.Email, "a fresh long passphrase")
	free := email("pat@example.net", "a fresh long passphrase")
	if taken.Status != http.StatusSeeOther || taken.Status != free.Status || taken.Header.Get("Location") != free.Header.Get("Location") {
		t.Errorf("a taken and a free address answer differently: %d %q, %d %q", taken.Status, taken.Header.Get("Location"),
			free.Status, free.Header.Get("Location"))
	}
	if subject, _ := mta.mailTo(t, other.Email, 1); subject != "Someone tried to use your address" {
		t.Errorf("mail to the taken address: %q", subject)
	}
	subject, text := mta.mailTo(t, "pat@example.net", 1)
	if subject != "Confirm your new email address" {
		t.Errorf("mail to the new address: %q", subject)
	}
	if u := mustGetUser(t, s, s.User.ID); u.Email != personEmail {
		t.Fatalf("the address changed before the link was used: %q", u.Email)
	}
	form := linkForm(t, br, linkIn(t, verifyLink, text))
	if r := br.post("/verify-email", form); r.Status != http.StatusOK {
		t.Fatalf("verify the new address: %d %s", r.Status, r.Raw)
	}
	if u := mustGetUser(t, s, s.User.ID); u.Email != "pat@example.net" || !u.EmailVerified {
		t.Errorf("after the link: %q verified %v", u.Email, u.EmailVerified)
	}
	if subject, _ := mta.mailTo(t, personEmail, 2); subject != "Your email address was changed" {
		t.Errorf("notice to the old address: %q", subject)
	}
}

// TestAdminPasswordEndsSessions: a password an admin sets through the admin
// API signs the person out everywhere and revokes the attached device's
// grant, as a reset does; the detached device stays.
func TestAdminPasswordEndsSessions(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, backends[0], true, nil)
	sessionClients(t, s)
	br := newWebBrowser(t, s)
	br.signIn()
	attached := pairedDevice(t, s, br, attachedClient)
	detached := pairedDevice(t, s, br, tvClient)
	req, err := http.NewRequestWithContext(t.Context(), "PATCH", s.URL+"/admin/v1/users/"+s.User.ID,
		strings.NewReader(`{"password":"an admin's new passphrase"}`))
	mustDo(t, err)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	if r := do(t, req); r.Status != http.StatusOK {
		t.Fatalf("PATCH password: %d %s", r.Status, r.Raw)
	}
	if br.signedIn() {
		t.Error("still signed in after the admin set a password")
	}
	wantOAuthError(t, s.refresh(t, attachedClient, attached.str("refresh_token")), 400, oauth.InvalidGrant)
	if r := s.refresh(t, tvClient, detached.str("refresh_token")); r.Status != 200 {
		t.Errorf("the detached device's refresh: %d %s", r.Status, r.Raw)
	}
}
