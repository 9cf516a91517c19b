package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

const (
	adminToken = "lk_admin_example_token_0123456789abcdefghijkl"
	tvClient   = "tv-app"
)

// latchkey starts a Latchkey on st whose service API sends people to
// the front end at frontURL, with a public TV client, and returns its
// issuer and a new service key and secret made through the admin API.
func latchkey(t *testing.T, st store.Store, frontURL string) (issuer, key, secret string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + ts.Listener.Addr().String()
	cfg.Listen = ts.Listener.Addr().String()
	cfg.AdminToken = adminToken
	cfg.Device.Interval = config.Duration(time.Second)
	cfg.ServiceAPI.VerificationURI = frontURL + "/device"
	cfg.ServiceAPI.VerificationURIComplete = frontURL + "/device?user_code=USER_CODE"
	if err := server.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	now := time.Now()
	if err := st.CreateClient(t.Context(), &store.Client{ID: tvClient, Name: "Living Room TV", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "email", "offline_access"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.URL+"/admin/v1/api-keys", strings.NewReader(`{"name":"byo front end"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var k struct {
		Key    string `json:"api_key"`
		Secret string `json:"api_secret"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create API key: %s %v", resp.Status, err)
	}
	return ts.URL, k.Key, k.Secret
}

// TestByoFrontEnd is the whole story through the example: a TV runs
// golang.org/x/oauth2's device flow against the front end's own endpoints,
// a person in headless Chromium signs in on the front end's own page as its
// own user and allows it there, and the TV's ID token, verified with
// go-oidc against Latchkey's keys, names that user as the front end said,
// with its claims; on both backends, with Authlete 2.x's and 3.0's
// authentication.
func TestByoFrontEnd(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name   string
		open   func(testing.TB) store.Store
		bearer bool
	}{
		{"sqlite", func(t testing.TB) store.Store { return sqlitetest.Open(t) }, false},
		{"postgres", func(t testing.TB) store.Store { return pgtest.Open(t) }, true},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := b.open(t)
			front := httptest.NewUnstartedServer(nil)
			frontURL := "http://" + front.Listener.Addr().String()
			issuer, key, secret := latchkey(t, st, frontURL)
			api := issuer + "/api"
			if b.bearer {
				api = issuer + "/api/1"
			}
			fe, err := New(Config{API: api, Key: key, Secret: secret, Bearer: b.bearer, Users: DemoUsers})
			if err != nil {
				t.Fatal(err)
			}
			front.Config.Handler = fe
			front.Start()
			t.Cleanup(front.Close)

			conf := &oauth2.Config{ClientID: tvClient, Scopes: []string{"openid", "profile", "offline_access"},
				Endpoint: oauth2.Endpoint{DeviceAuthURL: frontURL + "/device_authorization", TokenURL: frontURL + "/token",
					AuthStyle: oauth2.AuthStyleInParams}}
			da, err := conf.DeviceAuth(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if da.VerificationURI != frontURL+"/device" || !strings.HasPrefix(da.VerificationURIComplete, frontURL+"/device?user_code=") {
				t.Fatalf("verification URIs %q %q: want the front end's page", da.VerificationURI, da.VerificationURIComplete)
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

			bctx := browser(t)
			do(t, bctx, chromedp.Navigate(da.VerificationURIComplete))
			waitFor(t, bctx, `input[name=username]`)
			screenshots(t, bctx, "byo-login")
			do(t, bctx, chromedp.SetValue(chromedp.CSS(`input[name=username]`), "ann"),
				chromedp.SetValue(chromedp.CSS(`input[name=password]`), "ann-password"))
			submit(t, bctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
			waitFor(t, bctx, `button[value=allow]`)
			screenshots(t, bctx, "byo-confirm")
			if text := pageText(t, bctx); !strings.Contains(text, "Living Room TV") || !strings.Contains(text, da.UserCode) ||
				!strings.Contains(text, "Ann Example") {
				t.Errorf("confirm page: %s", text)
			}
			submit(t, bctx, chromedp.Click(chromedp.CSS(`button[value=allow]`)))
			screenshots(t, bctx, "byo-done")
			if text := pageText(t, bctx); !strings.Contains(text, "connected") {
				t.Errorf("after Allow: %s", text)
			}

			var res result
			select {
			case res = <-polled:
			case <-time.After(30 * time.Second):
				t.Fatal("the device's polling did not finish after Allow")
			}
			if res.err != nil {
				t.Fatalf("DeviceAccessToken: %v", res.err)
			}
			provider, err := oidc.NewProvider(ctx, issuer)
			if err != nil {
				t.Fatal(err)
			}
			rawID, _ := res.tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: tvClient}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("the ID token does not verify: %v", err)
			}
			var claims struct {
				Name          string `json:"name"`
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != "ann-0001" || claims.Name != "Ann Example" || claims.Email != "ann@front.example" || !claims.EmailVerified {
				t.Errorf("ID token: sub %q, claims %+v", idt.Subject, claims)
			}
			if users, _ := st.ListUsers(ctx); len(users) != 0 {
				t.Errorf("Latchkey has users %v; the person is the front end's", users)
			}

			// The refresh token rotates through the front end's token endpoint.
			next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: res.tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
			if err != nil || next.RefreshToken == res.tok.RefreshToken {
				t.Fatalf("refresh through the front end: %v", err)
			}
			idt, err = provider.Verifier(&oidc.Config{ClientID: tvClient}).Verify(ctx, next.Extra("id_token").(string))
			if err != nil || idt.Subject != "ann-0001" {
				t.Fatalf("refreshed ID token: %v", err)
			}

			// The code is used: entering it again says so.
			do(t, bctx, chromedp.Navigate(da.VerificationURIComplete))
			waitFor(t, bctx, `body`)
			if text := pageText(t, bctx); !strings.Contains(text, "already used") {
				t.Errorf("a used code: %s", text)
			}
		})
	}
}

// TestByoFrontEndRelay: the front end's own endpoints pass the API's
// answers on with the status their action calls for.
func TestByoFrontEndRelay(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	front := httptest.NewUnstartedServer(nil)
	issuer, key, secret := latchkey(t, st, "http://"+front.Listener.Addr().String())
	fe, err := New(Config{API: issuer + "/api", Key: key, Secret: secret, Users: DemoUsers})
	if err != nil {
		t.Fatal(err)
	}
	front.Config.Handler = fe
	front.Start()
	t.Cleanup(front.Close)
	for _, tt := range []struct {
		path, body string
		status     int
		error      string
	}{
		{"/device_authorization", "client_id=nobody", 401, "invalid_client"},
		{"/device_authorization", "client_id=tv-app&scope=admin", 400, "invalid_scope"},
		{"/token", "grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=lk_dc_x&client_id=tv-app", 400, "invalid_grant"},
	} {
		resp, err := http.Post(front.URL+tt.path, "application/x-www-form-urlencoded", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || body["error"] != tt.error {
			t.Errorf("%s %s: %d %v", tt.path, tt.body, resp.StatusCode, body)
		}
	}
	// A front end with a wrong secret is refused by the API, and says so.
	bad, _ := New(Config{API: issuer + "/api", Key: key, Secret: secret + "x", Users: DemoUsers})
	if _, err := bad.call(t.Context(), "device/verification", map[string]string{"userCode": "X"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: %v", err)
	}
}

// browser starts a headless Chromium (Debian's chromium package).
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(testenv.Chromium(t)), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU, chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(412, 915),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	do(t, ctx)
	return ctx
}

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("wait for %s: %v", sel, err)
	}
}

func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// submit runs action, which submits a form, and waits for the answer.
func submit(t *testing.T, ctx context.Context, action chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__old = true`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, action)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__old !== true && document.readyState === "complete"`)); err == nil && fresh {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("the form's answer did not load within 15s")
}

// screenshots saves the page at 390 and 1280 px to LATCHKEY_SCREENSHOTS
// when that is set.
func screenshots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, w := range []struct {
		name  string
		width int64
	}{{"phone", 390}, {"desktop", 1280}} {
		do(t, ctx, chromedp.EmulateViewport(w.width, 800))
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+w.name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, chromedp.EmulateViewport(412, 915))
}
