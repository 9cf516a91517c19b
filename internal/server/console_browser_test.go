package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// setValue fills in a form field.
func setValue(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	js, _ := json.Marshal([]string{sel, value})
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`((a) => { const e = document.querySelector(a[0]); if (!e) return false; e.value = a[1]; return true })(` + string(js) + `)`))
	if err != nil || !ok {
		t.Fatalf("set %s: %v (found: %v)", sel, err, ok)
	}
}

// textOf returns the visible text of the element sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestConsoleClientsInBrowser: an operator signs in to the console,
// creates a confidential device client, and a device completes the device
// flow with it through golang.org/x/oauth2; the secret is shown once and
// never again; the operator edits the client's settings, rotates its
// secret (the old one stops working) and deletes it; the audit log has
// each change with the operator as the actor. Both backends, headless
// Chromium, screenshots of each page.
func TestConsoleClientsInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		makeSysadmin(t, s, true)
		bctx := browser(t)
		ctx := t.Context()

		// Signed out, the console sends to sign-in and back.
		navigate(t, bctx, s.URL+"/console/clients")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `a[href="/console/clients/new"]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Living Room TV") || !strings.Contains(text, "Office Printer") {
			t.Fatalf("the clients list:\n%s", text)
		}
		screenshots(t, bctx, "console-clients")
		navigate(t, bctx, s.URL+"/console")
		waitFor(t, bctx, `nav.console-nav`)
		screenshots(t, bctx, "console-overview")

		// Server-side search.
		navigate(t, bctx, s.URL+"/console/clients")
		setValue(t, bctx, `#q`, "printer")
		click(t, bctx, `form.search button`)
		if text := pageText(t, bctx); !strings.Contains(text, "Office Printer") || strings.Contains(text, "Living Room TV") {
			t.Errorf("searching for printer:\n%s", text)
		}

		// Create a confidential device client.
		navigate(t, bctx, s.URL+"/console/clients/new")
		waitFor(t, bctx, `#client_name`)
		screenshots(t, bctx, "console-client-new")
		setValue(t, bctx, `#client_name`, "Kitchen Radio")
		setValue(t, bctx, `#client_id`, "kitchen-radio")
		setValue(t, bctx, `#token_endpoint_auth_method`, store.AuthClientSecretPost)
		setValue(t, bctx, `#scope`, scopesAll)
		click(t, bctx, `form[action="/console/clients/new"] button[type=submit]`)
		waitFor(t, bctx, `#client-secret`)
		screenshots(t, bctx, "console-client-created")
		secret := textOf(t, bctx, `#client-secret`)
		if !strings.HasPrefix(secret, oauth.PrefixClientSecret) || textOf(t, bctx, `#client-id`) != "kitchen-radio" {
			t.Fatalf("the created client's page:\n%s", pageText(t, bctx))
		}
		cl, err := s.Store.GetClient(ctx, "kitchen-radio")
		mustDo(t, err)
		if cl.Name != "Kitchen Radio" || cl.AuthMethod != store.AuthClientSecretPost || !cl.HasGrant(store.GrantDeviceCode) ||
			!cl.HasGrant(store.GrantRefreshToken) || cl.SecretHash != oauth.HashSecret(secret) {
			t.Fatalf("the stored client: %+v", cl)
		}

		// A device completes the device flow with it; the operator approves.
		// x/oauth2 sends no secret to the device authorization endpoint on
		// its own: client_secret_post, with the secret as a parameter.
		endpoint := mustProvider(t, s).Endpoint()
		endpoint.AuthStyle = oauth2.AuthStyleInParams
		conf := &oauth2.Config{ClientID: "kitchen-radio", ClientSecret: secret, Endpoint: endpoint, Scopes: strings.Fields(scopesAll)}
		tok := deviceFlowInBrowser(t, bctx, conf, oauth2.SetAuthURLParam("client_secret", secret))
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}

		// The secret is never shown again.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio")
		waitFor(t, bctx, `#client_name`)
		if html := pageHTML(t, bctx); strings.Contains(html, secret) {
			t.Error("the client's page shows its secret")
		}
		screenshots(t, bctx, "console-client-edit")

		// Edit settings.
		setValue(t, bctx, `#access_token_lifetime`, "300")
		setValue(t, bctx, `#session_attachment`, store.SessionAttached)
		setValue(t, bctx, `#redirect_uris`, "https://radio.example.com/cb")
		click(t, bctx, `form[action="/console/clients/kitchen-radio"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Redirect URIs are used only by the authorization_code grant") {
			t.Errorf("a redirect URI without the code grant was not refused with the API's rule:\n%s", text)
		}
		screenshots(t, bctx, "console-client-refused")
		setValue(t, bctx, `#redirect_uris`, "")
		click(t, bctx, `form[action="/console/clients/kitchen-radio"] button[type=submit]`)
		if text := pageText(t, bctx); !strings.Contains(text, "The client is saved") {
			t.Fatalf("after saving:\n%s", text)
		}
		cl, err = s.Store.GetClient(ctx, "kitchen-radio")
		mustDo(t, err)
		if cl.Tokens.AccessTokenLifetime != 300*time.Second || cl.SessionAttachment != store.SessionAttached {
			t.Errorf("after the edit: %+v", cl)
		}

		// Rotate the secret: confirmed, shown once, the old one refused.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio/secret")
		waitFor(t, bctx, `form[action="/console/clients/kitchen-radio/secret"] button`)
		screenshots(t, bctx, "console-client-rotate")
		click(t, bctx, `form[action="/console/clients/kitchen-radio/secret"] button`)
		waitFor(t, bctx, `#client-secret`)
		fresh := textOf(t, bctx, `#client-secret`)
		if fresh == secret || !strings.HasPrefix(fresh, oauth.PrefixClientSecret) {
			t.Fatalf("the rotated secret %q", fresh)
		}
		refresh := func(secret string) reply {
			return s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
				"client_id": {"kitchen-radio"}, "client_secret": {secret}}, "", "")
		}
		wantOAuthError(t, refresh(secret), http.StatusUnauthorized, oauth.InvalidClient)
		if r := refresh(fresh); r.Status != http.StatusOK {
			t.Errorf("refresh with the new secret: %d %s", r.Status, r.Raw)
		}

		// Delete: a confirmation page, then the client is gone.
		navigate(t, bctx, s.URL+"/console/clients/kitchen-radio/delete")
		waitFor(t, bctx, `form[action="/console/clients/kitchen-radio/delete"] button`)
		screenshots(t, bctx, "console-client-delete")
		click(t, bctx, `form[action="/console/clients/kitchen-radio/delete"] button`)
		if text := pageText(t, bctx); !strings.Contains(text, "The client is deleted") || strings.Contains(text, "Kitchen Radio") {
			t.Errorf("after deleting:\n%s", text)
		}
		if _, err := s.Store.GetClient(ctx, "kitchen-radio"); err == nil {
			t.Error("the client is still stored")
		}

		// The audit log has every change, by the operator, without a secret.
		es, err := s.Store.QueryAudit(ctx, store.AuditQuery{ActorID: s.User.ID, Limit: 100})
		mustDo(t, err)
		var kinds []string
		for _, e := range es {
			if e.ActorKind != store.ActorUser || e.TargetID != "kitchen-radio" {
				t.Errorf("entry %+v", e)
			}
			if strings.Contains(e.Before+e.After, secret) || strings.Contains(e.Before+e.After, fresh) {
				t.Errorf("a secret in the audit log: %+v", e)
			}
			kinds = append([]string{e.Kind}, kinds...)
		}
		if got, want := strings.Join(kinds, " "), "client.create client.update client.rotate-secret client.delete"; got != want {
			t.Errorf("audit kinds %q; want %q", got, want)
		}
	})
}

// deviceFlowInBrowser runs the device flow of conf: the device asks for
// codes, the browser (signed in) approves, and the device's polling gets
// the tokens.
func deviceFlowInBrowser(t *testing.T, bctx context.Context, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	ctx := t.Context()
	da, err := conf.DeviceAuth(ctx, opts...)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()
	navigate(t, bctx, da.VerificationURIComplete)
	click(t, bctx, `button[name=decision][value=approve]`)
	select {
	case res := <-polled:
		if res.err != nil {
			t.Fatalf("DeviceAccessToken: %v", res.err)
		}
		return res.tok
	case <-time.After(30 * time.Second):
		t.Fatal("polling did not finish after approval")
	}
	return nil
}

// pageHTML returns the page's whole markup, hidden fields and all.
func pageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// mustProvider reads s's discovery document, as an integrator's library
// would.
func mustProvider(t *testing.T, s *testServer) *oidc.Provider {
	t.Helper()
	p, err := oidc.NewProvider(t.Context(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
