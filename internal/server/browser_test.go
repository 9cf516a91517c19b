package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/testenv"
)

// browser gives t a tab of its own in the package's headless Chromium
// (Debian's chromium package), for a story of up to three minutes.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWithin(t, 180*time.Second)
}

// browserWithin is browser for a story that takes longer than most: the
// whole conversation with the browser ends after d.
//
// The page tests share one Chromium process (starting one costs about a
// second of both cores, and there are dozens of stories); each test gets a
// browser context of its own in it: its own cookies, storage, cache and
// tab, as a fresh profile would have, disposed of when the test ends.
func browserWithin(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	root := sharedChromium(t)
	ctx, cancelB := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	ctx, cancelC := context.WithTimeout(ctx, d)
	t.Cleanup(func() { cancelC(); cancelB() })
	if err := chromedp.Do(ctx, phoneWindow); err != nil {
		t.Fatalf("open a tab in chromium: %v", err)
	}
	return ctx
}

// phoneWindow sizes the tab's window as a phone's screen (the page is
// opened from a QR code): a new window of a browser context is not the
// size of the browser's first.
var phoneWindow = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	w, err := cdp.Call(ctx, t, cdpbrowser.GetWindowForTarget, cdpbrowser.GetWindowForTargetParams{})
	if err != nil {
		return err
	}
	_, err = cdp.Call(ctx, t, cdpbrowser.SetWindowBounds, cdpbrowser.SetWindowBoundsParams{
		WindowID: w.WindowID, Bounds: &cdpbrowser.Bounds{Width: 412, Height: 915}})
	return err
})

// chromium is the headless Chromium the package's page tests share,
// started by the first test that needs it and stopped by TestMain.
var chromium struct {
	mu   sync.Mutex
	ctx  context.Context // the browser's first tab; tests' contexts are its children
	stop func()
	err  error
}

// sharedChromium returns the first tab of the shared Chromium, starting
// the browser with the flags this sandbox needs (no background
// networking, no sandbox as root) when no test has yet.
func sharedChromium(t *testing.T) context.Context {
	t.Helper()
	exec := testenv.Chromium(t)
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.ctx == nil && chromium.err == nil {
		chromium.ctx, chromium.stop, chromium.err = startChromium(exec)
	}
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	return chromium.ctx
}

func startChromium(exec string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "latchkey-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(exec),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(412, 915), // a phone: the page is opened from a QR code
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	stop := func() { cancelB(); cancelA(); os.RemoveAll(dir) }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// TestMain stops the shared Chromium after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	chromium.mu.Lock()
	if chromium.stop != nil {
		chromium.stop()
	}
	chromium.mu.Unlock()
	os.Exit(code)
}

// pageText returns the visible text of the page.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// screenshot saves the page to LATCHKEY_SCREENSHOTS/name.png when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
}

// screenWidths are the widths pages are looked at in: a phone (the page is
// often opened from a QR code) and a desktop.
var screenWidths = []struct {
	name  string
	width int64
}{{"phone", 390}, {"desktop", 1280}}

// screenshots saves the page at every screenWidths width to
// LATCHKEY_SCREENSHOTS/name-phone.png and name-desktop.png when that is
// set, and puts the window back to the phone size browser starts with.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, sw := range screenWidths {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(sw.width, 800)); err != nil {
			t.Fatalf("viewport %d: %v", sw.width, err)
		}
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s at %d: %v", name, sw.width, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+sw.name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(412, 915)); err != nil {
		t.Fatal(err)
	}
}

// submit runs action, which submits a form, and waits until the browser
// shows the document that came back: the old one is marked first, so a
// page that merely has not unloaded yet is not mistaken for the answer.
func submit(t *testing.T, ctx context.Context, action chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__latchkeyOld = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, action); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__latchkeyOld !== true && document.readyState === "complete"`))
		if err == nil && fresh {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("the form's answer did not load within 15s")
}

func signIn(t *testing.T, ctx context.Context, email, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=username]`), email),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), password),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
}

// click clicks a submit button and waits for the answer.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("wait for %s: %v", sel, err)
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(sel)))
}

func waitFor(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("wait for %s: %v (page: %s)", sel, err, pageText(t, ctx))
	}
}

// pollInBackground has the device poll for da's tokens, as a device does
// while its person approves in the browser; wait returns the tokens, and
// fails the test when polling fails or has not finished 30 s after wait
// was called.
func pollInBackground(t *testing.T, ctx context.Context, conf *oauth2.Config, da *oauth2.DeviceAuthResponse) (wait func() *oauth2.Token) {
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()
	return func() *oauth2.Token {
		t.Helper()
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
}

// deviceConfig is the device side, configured the way an integrator would:
// from the discovery document, through golang.org/x/oauth2.
func deviceConfig(t *testing.T, ctx context.Context, s *testServer) (*oauth2.Config, *oidc.Provider) {
	t.Helper()
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &oauth2.Config{ClientID: tvClient, Endpoint: provider.Endpoint(), Scopes: strings.Fields(scopesAll)}, provider
}

// TestDeviceFlowInBrowser is the whole story: a TV asks for codes, a person
// opens verification_uri_complete on a phone, signs in, sees what is asking
// and approves; the TV's polling gets tokens whose ID token verifies against
// the JWKS, and the refresh token works.
func TestDeviceFlowInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, nil)
		bctx := browser(t)
		ctx := t.Context()
		conf, provider := deviceConfig(t, ctx, s)

		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitTokens := pollInBackground(t, ctx, conf, da)

		if err := chromedp.Do(bctx, chromedp.Navigate(da.VerificationURIComplete)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, bctx, "login")
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `button[name=decision][value=approve]`)
		screenshot(t, bctx, "confirm")
		text := pageText(t, bctx)
		for _, want := range []string{da.UserCode, "Living Room TV"} {
			if !strings.Contains(text, want) {
				t.Errorf("confirm page lacks %q:\n%s", want, text)
			}
		}
		click(t, bctx, `button[name=decision][value=approve]`)
		waitFor(t, bctx, `body`)

		tok := waitTokens()
		screenshot(t, bctx, "approved")
		if !strings.Contains(strings.ToLower(pageText(t, bctx)), "connected") {
			t.Errorf("after approval the page says: %s", pageText(t, bctx))
		}

		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: tvClient}).Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token does not verify against the JWKS: %v", err)
		}
		var claims struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != s.User.ID || claims.Email != personEmail || claims.Name != "Pat Person" {
			t.Errorf("ID token sub %q email %q name %q", idt.Subject, claims.Email, claims.Name)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}

		// The refresh token rotates through x/oauth2's TokenSource.
		expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		next, err := conf.TokenSource(ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
			t.Error("refresh did not rotate the tokens")
		}

		// The person's code is now used: entering it again says so.
		if err := chromedp.Do(bctx, chromedp.Navigate(da.VerificationURIComplete)); err != nil {
			t.Fatal(err)
		}
		if text := strings.ToLower(pageText(t, bctx)); !strings.Contains(text, "already") {
			t.Errorf("re-opening a used code: %s", text)
		}
	})
}

func TestDeviceFlowInBrowserTypedAndDenied(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	bctx := browser(t)
	ctx := t.Context()
	conf, _ := deviceConfig(t, ctx, s)

	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The person types the code by hand, lower case and without the dash.
	if err := chromedp.Do(bctx, chromedp.Navigate(da.VerificationURI)); err != nil {
		t.Fatal(err)
	}
	signIn(t, bctx, personEmail, personPassword)
	typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))
	if err := chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`input[name=user_code]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=user_code]`), typed),
	); err != nil {
		t.Fatal(err)
	}
	submit(t, bctx, chromedp.Submit(chromedp.CSS(`input[name=user_code]`)))
	click(t, bctx, `button[name=decision][value=deny]`)
	waitFor(t, bctx, `body`)

	_, err = conf.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("DeviceAccessToken after deny = %v; want access_denied", err)
	}
}

// TestGuessingIsThrottledInBrowser: five wrong codes, and the sixth entry is
// refused even though it is right (docs/security.md DF-07).
func TestGuessingIsThrottledInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	bctx := browser(t)
	a := s.startDevice(t, tvClient, "")
	if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/device")); err != nil {
		t.Fatal(err)
	}
	signIn(t, bctx, personEmail, personPassword)
	enter := func(code string) string {
		if err := chromedp.Do(bctx,
			chromedp.Navigate(s.URL+"/device"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=user_code]`)),
			chromedp.SetValue(chromedp.CSS(`input[name=user_code]`), code),
		); err != nil {
			t.Fatal(err)
		}
		submit(t, bctx, chromedp.Submit(chromedp.CSS(`input[name=user_code]`)))
		return strings.ToLower(pageText(t, bctx))
	}
	for i := range 5 {
		if text := enter("BBBB-BBB" + string("BCDFG"[i])); strings.Contains(text, "too many") {
			t.Fatalf("throttled after %d wrong codes", i)
		}
	}
	if text := enter(a.str("user_code")); !strings.Contains(text, "too many") {
		t.Errorf("sixth entry was not refused: %s", text)
	}
	screenshot(t, bctx, "throttled")
}

func TestExpiredCodeInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	bctx := browser(t)
	a := s.startDevice(t, tvClient, "")
	if err := chromedp.Do(bctx, chromedp.Navigate(a.str("verification_uri_complete"))); err != nil {
		t.Fatal(err)
	}
	signIn(t, bctx, personEmail, personPassword)
	waitFor(t, bctx, `button[name=decision][value=approve]`)
	s.Clock.Advance(11 * time.Minute)
	click(t, bctx, `button[name=decision][value=approve]`)
	waitFor(t, bctx, `body`)
	if text := strings.ToLower(pageText(t, bctx)); !strings.Contains(text, "expired") {
		t.Errorf("approving an expired code: %s", text)
	}
	wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, "expired_token")
}
