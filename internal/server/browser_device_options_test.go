package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// tenDukeDevice is the device side of 10Duke's device flow, through
// golang.org/x/oauth2 configured with 10Duke's paths (its device flow
// documentation) rather than from discovery.
func tenDukeDevice(s *testServer) *oauth2.Config {
	return &oauth2.Config{ClientID: tvClient, Scopes: strings.Fields(scopesAll), Endpoint: oauth2.Endpoint{
		DeviceAuthURL: s.URL + "/user/oauth20/device-authz",
		TokenURL:      s.URL + "/user/oauth20/token",
		AuthStyle:     oauth2.AuthStyleInParams,
	}}
}

// samsungTV is the User-Agent of a Samsung TV's web engine (Tizen 7).
const samsungTV = "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36"

// userAgentTransport sends every request with its User-Agent, as a
// device's own HTTP stack does.
type userAgentTransport string

func (ua userAgentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", string(ua))
	return http.DefaultTransport.RoundTrip(r)
}

// inputValue is the value of the form field sel.
func inputValue(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// TestDeviceFlowOptionsInBrowser: a device asks on 10Duke's path and gets
// 10Duke's verification URIs; the person opens verification_uri_complete
// with 10Duke's flow=register and login_hint, lands on the registration
// page with the email filled in, creates an account, and comes to the
// confirm page of the device's code, which names what asked ("Samsung
// Internet on Tizen", by uap-go) and where only the click approves. Then
// a second device's link with login_hint alone opens sign-in with the
// email filled in.
func TestDeviceFlowOptionsInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	// The device is a Samsung TV's app, whose requests carry its browser
	// engine's User-Agent: the confirm page names it.
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: userAgentTransport(samsungTV)})
	conf := tenDukeDevice(s)
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURI != s.URL+"/user/device" || da.VerificationURIComplete != s.URL+"/user/device?userCode="+da.UserCode {
		t.Fatalf("10Duke's path answered %q and %q; want its /user/device?userCode=", da.VerificationURI, da.VerificationURIComplete)
	}

	bctx := browser(t)
	const email = "a@example.com"
	navigate(t, bctx, da.VerificationURIComplete+"&flow=register&login_hint="+url.QueryEscape(email))
	waitFor(t, bctx, `input[name=email]`)
	if got := inputValue(t, bctx, `input[name=email]`); got != email {
		t.Errorf("registration page's email = %q; want the hint %q (page: %s)", got, email, pageText(t, bctx))
	}
	screenshots(t, bctx, "register-from-device-link")
	err = chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), "Ann Example"),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), "a long enough password"),
	)
	if err != nil {
		t.Fatal(err)
	}
	submit(t, bctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	waitFor(t, bctx, `main a[href^="/login"]`)
	screenshots(t, bctx, "register-check-email")
	s.Srv.Wait()
	confirmAddress(t, s, email)
	submit(t, bctx, chromedp.Click(chromedp.CSS(`main a[href^="/login"]`)))
	signIn(t, bctx, email, "a long enough password")
	waitFor(t, bctx, `button[name=decision][value=approve]`)
	screenshots(t, bctx, "confirm-after-register")
	text := pageText(t, bctx)
	for _, want := range []string{da.UserCode, "Living Room TV", email, "Samsung Internet on Tizen"} {
		if !strings.Contains(text, want) {
			t.Errorf("confirm page after registering lacks %q:\n%s", want, text)
		}
	}
	if got := inputValue(t, bctx, `input[name=user_code]`); got != da.UserCode {
		t.Errorf("confirm form's user_code = %q; want %q", got, da.UserCode)
	}
	// Registering approved nothing: the device is still waiting.
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	if _, err := conf.DeviceAccessToken(short, da); err == nil {
		t.Fatal("the device got a token before the person clicked Allow")
	}
	cancel()
	click(t, bctx, `button[name=decision][value=approve]`)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := conf.DeviceAccessToken(tctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken on 10Duke's token path: %v", err)
	}
	u, err := s.Store.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if sub := jwtPayload(t, tok.AccessToken)["sub"]; sub != u.ID {
		t.Errorf("access token sub = %v; want the new account %s", sub, u.ID)
	}

	// Sign-in with the hint, in a browser with no session.
	da2, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bctx = browser(t)
	navigate(t, bctx, da2.VerificationURIComplete+"&login_hint="+url.QueryEscape(personEmail))
	waitFor(t, bctx, `input[name=username]`)
	if got := inputValue(t, bctx, `input[name=username]`); got != personEmail {
		t.Errorf("sign-in page's email = %q; want the hint %q", got, personEmail)
	}
	screenshots(t, bctx, "signin-from-device-link")
	if err := chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`input[name=password]`), personPassword)); err != nil {
		t.Fatal(err)
	}
	submit(t, bctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	waitFor(t, bctx, `button[name=decision][value=deny]`)
	if text := pageText(t, bctx); !strings.Contains(text, da2.UserCode) || !strings.Contains(text, personEmail) {
		t.Errorf("confirm page after sign-in:\n%s", text)
	}
}
