package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

// passkeyServer is a test server whose issuer is http://localhost:port:
// browsers take no IP address as a WebAuthn relying party. It returns the
// server and its base URL.
func passkeyServer(t *testing.T, b backend) (*testServer, string) {
	t.Helper()
	s, _ := accountServer(t, b, func(c *config.Config) {
		c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
	})
	return s, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
}

// virtualAuthenticator gives the browser a platform authenticator that
// keeps discoverable credentials and verifies its user at once, as a phone
// with a fingerprint would (the DevTools protocol's WebAuthn domain).
func virtualAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentialToAdd is what WebAuthn.addCredential takes of a credential:
// cdproto's type always sends the CMTG extension's fields, which an
// authenticator without that extension refuses.
type credentialToAdd struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle"`
	SignCount            float64 `json:"signCount"`
	BackupEligibility    bool    `json:"backupEligibility"`
	BackupState          bool    `json:"backupState"`
}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      credentialToAdd          `json:"credential"`
}

var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

func addedCredential(c *webauthn.Credential) credentialToAdd {
	return credentialToAdd{CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential, RpID: c.RpID,
		PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount,
		BackupEligibility: c.BackupEligibility, BackupState: c.BackupState}
}

// captureSubmit makes the page keep a copy of the fields of the next form
// the script submits, in sessionStorage under "latchkey-submitted".
func captureSubmit(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const submit = HTMLFormElement.prototype.submit;
		HTMLFormElement.prototype.submit = function () {
			sessionStorage.setItem("latchkey-submitted", JSON.stringify(Object.fromEntries(new FormData(this))));
			return submit.call(this);
		};
		return true;
	})()`))
	mustDo(t, err)
}

// TestPasskeyInBrowser is the passkey story on both backends, in headless
// Chromium with a virtual authenticator: a person signed in with a
// password adds a passkey on the account page and renames it, signs out,
// and approves a TV's device flow (golang.org/x/oauth2) after signing in
// with the passkey alone; the TV gets tokens for that person. Then what
// must fail does: a ceremony whose state expired, the very same answer
// replayed, and a passkey whose user handle names another account.
func TestPasskeyInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s, base := passkeyServer(t, b)
		ctx := t.Context()
		bctx := browserWithin(t, 4*time.Minute)
		navigate(t, bctx, base+"/account")
		auth := virtualAuthenticator(t, bctx)
		// Chromium's virtual authenticator answers the email field's
		// conditional request at once, as a person would by picking the
		// passkey from the autofill; until the last step the browser is
		// one without conditional UI, so that the button is what signs in.
		noConditional, err := chromedp.Call(bctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
			Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`})
		mustDo(t, err)
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `#passkey-add`)
		if text := pageText(t, bctx); !strings.Contains(text, "You have no passkey yet") {
			t.Errorf("the account page before a passkey:\n%s", text)
		}

		// Add a passkey, named.
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#passkey_name`), "Test phone")))
		click(t, bctx, `#passkey-add button[type=submit]`)
		text := pageText(t, bctx)
		if !strings.Contains(text, "Your passkey is added") || !strings.Contains(text, "Test phone") {
			t.Fatalf("after adding a passkey:\n%s", text)
		}
		keys, err := s.Store.ListPasskeys(ctx, s.User.ID)
		mustDo(t, err)
		if len(keys) != 1 || keys[0].Name != "Test phone" || len(keys[0].PublicKey) == 0 || !keys[0].LastUsedAt.IsZero() {
			t.Fatalf("stored passkeys: %+v", keys)
		}
		screenshots(t, bctx, "account-passkeys")

		// Rename it.
		mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`#rename-`+keys[0].ID), "Pat's phone")))
		click(t, bctx, `button[aria-label="Rename Test phone"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Your passkey is renamed") || !strings.Contains(text, "Pat's phone") {
			t.Errorf("after renaming:\n%s", text)
		}

		// Sign out; the sign-in page offers the passkey.
		click(t, bctx, `.who button`)
		navigate(t, bctx, base+"/login")
		waitFor(t, bctx, `#passkey-login button`)
		autocomplete, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("username").autocomplete`))
		mustDo(t, err)
		if autocomplete != "username webauthn" {
			t.Errorf("the email field's autocomplete = %q, want conditional UI's %q", autocomplete, "username webauthn")
		}
		screenshots(t, bctx, "login-passkey")

		// A ceremony begun more than five minutes ago is refused.
		s.Clock.Set(time.Now())
		navigate(t, bctx, base+"/login")
		waitFor(t, bctx, `#passkey-login button`)
		s.Clock.Advance(6 * time.Minute)
		click(t, bctx, `#passkey-login button`)
		if text := pageText(t, bctx); !strings.Contains(text, "could not sign you in") {
			t.Errorf("an expired ceremony:\n%s", text)
		}
		s.Clock.Set(time.Time{}) // back to the real time

		// The TV asks; the person opens the link on the phone and signs in
		// with the passkey, typing no password.
		provider, err := oidc.NewProvider(ctx, base)
		mustDo(t, err)
		conf := &oauth2.Config{ClientID: tvClient, Endpoint: provider.Endpoint(), Scopes: strings.Fields(scopesAll)}
		da, err := conf.DeviceAuth(ctx)
		mustDo(t, err)
		waitTokens := pollInBackground(t, ctx, conf, da)
		navigate(t, bctx, da.VerificationURIComplete)
		waitFor(t, bctx, `#passkey-login button`)
		captureSubmit(t, bctx)
		click(t, bctx, `#passkey-login button`)
		waitFor(t, bctx, `button[name=decision][value=approve]`)
		if text := pageText(t, bctx); !strings.Contains(text, da.UserCode) || !strings.Contains(text, personEmail) {
			t.Errorf("the confirm page after a passkey sign-in:\n%s", text)
		}
		submitted, err := chromedp.Run(bctx, chromedp.Evaluate[string](`sessionStorage.getItem("latchkey-submitted") || ""`))
		mustDo(t, err)
		click(t, bctx, `button[name=decision][value=approve]`)
		tok := waitTokens()
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: tvClient}).Verify(ctx, rawID)
		mustDo(t, err)
		if idt.Subject != s.User.ID {
			t.Errorf("the TV's ID token is for %q, want %q", idt.Subject, s.User.ID)
		}
		used, err := s.Store.GetPasskey(ctx, keys[0].ID)
		mustDo(t, err)
		if used.LastUsedAt.IsZero() || used.SignCount == 0 {
			t.Errorf("after the sign-in the passkey's last use is %v and count %d", used.LastUsedAt, used.SignCount)
		}

		// The same answer again, from the same browser binding, is refused:
		// its challenge was spent.
		var fields map[string]string
		if err := json.Unmarshal([]byte(submitted), &fields); err != nil || fields["credential"] == "" {
			t.Fatalf("the submitted passkey form was not captured: %q", submitted)
		}
		cookies, err := chromedp.Call(bctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
		mustDo(t, err)
		form := url.Values{}
		for k, v := range fields {
			form.Set(k, v)
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/login/passkey", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies.Cookies {
			if c.Name == "latchkey_csrf" { // the binding the form was made for, without the session
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
		}
		replay := newWebBrowser(t, s).do(req)
		if replay.Status != http.StatusBadRequest || !strings.Contains(replay.Raw, "could not sign you in") ||
			strings.Contains(strings.Join(replay.Header.Values("Set-Cookie"), " "), "latchkey_session=lk") {
			t.Errorf("a replayed passkey answer: %d %v\n%s", replay.Status, replay.Header.Values("Set-Cookie"), replay.Raw)
		}

		// A passkey whose user handle names another account signs no one in:
		// the same key, handed to another user's id.
		other := &store.User{ID: "u-other", Email: "other@example.com", Name: "Olga Other", PasswordHash: s.User.PasswordHash,
			CreatedAt: time.Now(), UpdatedAt: time.Now()}
		mustDo(t, s.Store.CreateUser(ctx, other))
		creds, err := chromedp.Call(bctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
		mustDo(t, err)
		if len(creds.Credentials) != 1 || base64.RawURLEncoding.EncodeToString(creds.Credentials[0].CredentialID) != keys[0].ID {
			t.Fatalf("the authenticator holds %d credentials", len(creds.Credentials))
		}
		owned := addedCredential(creds.Credentials[0])
		forged := owned
		forged.UserHandle = []byte(other.ID)
		_, err = chromedp.Call(bctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: forged.CredentialID})
		mustDo(t, err)
		_, err = chromedp.Call(bctx, addCredential, addCredentialParams{AuthenticatorID: auth, Credential: forged})
		mustDo(t, err)
		click(t, bctx, `.who button`)
		navigate(t, bctx, base+"/login")
		click(t, bctx, `#passkey-login button`)
		if text := pageText(t, bctx); !strings.Contains(text, "could not sign you in") || strings.Contains(text, "Signed in as") {
			t.Errorf("a passkey handed to another account:\n%s", text)
		}

		// Conditional UI: with the key given back to its owner, opening the
		// sign-in page in a browser that has it signs in from the email
		// field's autofill, no button.
		_, err = chromedp.Call(bctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: auth, CredentialID: forged.CredentialID})
		mustDo(t, err)
		_, err = chromedp.Call(bctx, addCredential, addCredentialParams{AuthenticatorID: auth, Credential: owned})
		mustDo(t, err)
		_, err = chromedp.Call(bctx, cdppage.RemoveScriptToEvaluateOnNewDocument, cdppage.RemoveScriptToEvaluateOnNewDocumentParams(noConditional))
		mustDo(t, err)
		_ = chromedp.Do(bctx, chromedp.Navigate(base+"/login?return_to=%2Faccount")) // the autofill's submit may cut the load short
		eventually(t, "a sign-in through conditional UI", func() bool {
			text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			return err == nil && strings.Contains(text, "Your account") && strings.Contains(text, "Signed in as")
		})
	})
}

// TestPasskeyForms: the account page's passkey forms act only for the
// signed-in person, on their own passkeys, with the page's CSRF token;
// the sign-in answer needs a state this browser was given; the script is
// ours and only the pages that run it may.
func TestPasskeyForms(t *testing.T) {
	t.Parallel()
	s, _ := passkeyServer(t, backends[0])
	ctx := t.Context()
	now := s.Clock.Now()
	mustDo(t, s.Store.CreatePasskey(ctx, &store.Passkey{ID: "pats-key", UserID: s.User.ID, PublicKey: []byte{1}, AAGUID: []byte{},
		AttestationFormat: "none", Name: "Pat's phone", CreatedAt: now}))
	other := &store.User{ID: "u-other", Email: "other@example.com", Name: "Olga Other", PasswordHash: s.User.PasswordHash,
		CreatedAt: now, UpdatedAt: now}
	mustDo(t, s.Store.CreateUser(ctx, other))

	// Olga, signed in, with her own page's token, cannot touch Pat's passkey.
	olga := newWebBrowser(t, s)
	r := olga.post("/login", url.Values{"username": {other.Email}, "password": {personPassword}, "csrf_token": {csrfOf(t, olga.get("/login"))}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("Olga signs in: %d", r.Status)
	}
	csrf := csrfOf(t, olga.get("/account"))
	for _, path := range []string{"/account/passkeys/remove", "/account/passkeys/rename"} {
		if r := olga.post(path, url.Values{"passkey_id": {"pats-key"}, "name": {"Olga's now"}, "csrf_token": {csrf}}); r.Status != http.StatusNotFound {
			t.Errorf("%s of another person's passkey: %d", path, r.Status)
		}
	}
	if k, err := s.Store.GetPasskey(ctx, "pats-key"); err != nil || k.Name != "Pat's phone" {
		t.Errorf("Pat's passkey after Olga's tries: %+v, %v", k, err)
	}

	// Pat's forms need the page's token; signed out, nothing changes.
	pat := newWebBrowser(t, s)
	pat.signIn()
	for _, path := range []string{"/account/passkeys", "/account/passkeys/remove", "/account/passkeys/rename"} {
		if r := pat.post(path, url.Values{"passkey_id": {"pats-key"}, "name": {"x"}}); r.Status != http.StatusForbidden {
			t.Errorf("%s without csrf_token: %d", path, r.Status)
		}
		if r := newWebBrowser(t, s).post(path, url.Values{"passkey_id": {"pats-key"}, "name": {"x"}}); r.Status != http.StatusForbidden {
			t.Errorf("%s signed out: %d", path, r.Status)
		}
	}
	page := pat.get("/account")
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("the account page's CSP: %q", csp)
	}
	csrf = csrfOf(t, page)
	if r := pat.post("/account/passkeys/rename", url.Values{"passkey_id": {"pats-key"}, "name": {"  "}, "csrf_token": {csrf}}); r.Status != http.StatusBadRequest {
		t.Errorf("an empty name: %d", r.Status)
	}
	if r := pat.post("/account/passkeys", url.Values{"name": {"Laptop"}, "state": {"forged.state"}, "credential": {"{}"}, "csrf_token": {csrf}}); r.Status != http.StatusBadRequest ||
		!strings.Contains(r.Raw, "expired") {
		t.Errorf("a forged registration state: %d", r.Status)
	}
	if r := pat.post("/account/passkeys/remove", url.Values{"passkey_id": {"pats-key"}, "csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
		t.Errorf("removing Pat's own passkey: %d %s", r.Status, r.Raw)
	}
	if _, err := s.Store.GetPasskey(ctx, "pats-key"); err == nil {
		t.Error("the passkey is still there after its removal")
	}

	// A sign-in answer with a state this browser was not given is refused
	// as any failed passkey is, and signs no one in.
	anon := newWebBrowser(t, s)
	login := anon.get("/login")
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the sign-in page's CSP: %q", csp)
	}
	if !strings.Contains(login.Raw, `autocomplete="username webauthn"`) || !strings.Contains(login.Raw, `src="/assets/passkey.js"`) {
		t.Error("the sign-in page lacks conditional UI or the script")
	}
	r = anon.post("/login/passkey", url.Values{"state": {"abc.def"}, "credential": {"{}"}, "csrf_token": {csrfOf(t, login)}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Raw, "could not sign you in") || anon.signedIn() {
		t.Errorf("a forged sign-in state: %d", r.Status)
	}
	if r := anon.post("/login/passkey", url.Values{"state": {"abc.def"}}); r.Status != http.StatusForbidden {
		t.Errorf("a sign-in answer without csrf_token: %d", r.Status)
	}

	// The pages' policy stays as strict as every other page's.
	if csp, other := login.Header.Get("Content-Security-Policy"), anon.get("/register").Header.Get("Content-Security-Policy"); csp != other || strings.Contains(csp, "unsafe") {
		t.Errorf("the sign-in page's CSP %q, the registration page's %q", csp, other)
	}
	js := anon.get("/assets/passkey.js")
	if js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.Raw, "navigator.credentials.get") {
		t.Errorf("the script: %d %q", js.Status, js.Header.Get("Content-Type"))
	}
}
