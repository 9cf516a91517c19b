package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestSignOutInBrowserEndsAttachedDevice: a person pairs a hotel TV (an
// attached client) from a phone, then taps "Sign out" on the page; the
// TV's access token turns inactive at once, and its refresh token stops
// working (docs/architecture.md, "Session attachment").
func TestSignOutInBrowserEndsAttachedDevice(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		sessionClients(t, s)
		bctx := browser(t)
		ctx := t.Context()
		provider, err := oidc.NewProvider(ctx, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		conf := &oauth2.Config{ClientID: attachedClient, Endpoint: provider.Endpoint(), Scopes: strings.Fields(scopesAll)}
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitTokens := pollInBackground(t, ctx, conf, da)

		if err := chromedp.Do(bctx, chromedp.Navigate(da.VerificationURIComplete)); err != nil {
			t.Fatal(err)
		}
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `button[name=decision][value=approve]`)
		if text := pageText(t, bctx); !strings.Contains(text, "Hotel TV") {
			t.Errorf("confirm page does not name the client:\n%s", text)
		}
		click(t, bctx, `button[name=decision][value=approve]`)

		tok := waitTokens()
		wantActive(t, "the TV's token after pairing", s.introspect(t, tok.AccessToken), true)
		screenshot(t, bctx, "attached-connected")

		// The "Sign out" button every page shows a signed-in person.
		click(t, bctx, `form[action="/logout"] button[type=submit]`)
		waitFor(t, bctx, `input[name=username]`) // back at sign-in
		screenshot(t, bctx, "attached-signed-out")

		wantActive(t, "the TV's token after sign-out", s.introspect(t, tok.AccessToken), false)
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		if _, err := conf.TokenSource(ctx, expired).Token(); err == nil {
			t.Error("the TV's refresh token still works after sign-out")
		}
	})
}
