package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAccountNamesTheAgent: the account page says what each device asked
// from in the confirm page's words ("Chrome on Windows"); a User-Agent
// the parser names nothing in leaves the address alone. The User-Agent
// itself, which the device chose, is never shown.
func TestAccountNamesTheAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living room TV")
	e.pages.Accounts = e.st
	ctx := t.Context()
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/538.1 (KHTML, like Gecko) Version/6.0 TV Safari/538.1 SamsungBrowser/4.0",
		"SmartTV/2.1 <b>",
	}
	for i, ua := range agents {
		code := fmt.Sprintf("AGENT%03d", i)
		a := &store.DeviceAuth{
			DeviceCodeHash: oauth.HashSecret("dc-" + code), UserCodeHash: oauth.HashSecret(code),
			ClientID: "tv", ClientPublic: true, Scopes: []string{"openid"}, Status: store.DevicePending,
			Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
			RequestIP: fmt.Sprintf("198.51.100.%d", 10+i), RequestUserAgent: ua,
		}
		if err := e.st.CreateDeviceAuth(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.DecideDeviceAuth(ctx, a.UserCodeHash, e.user.ID, "", true, e.now); err != nil {
			t.Fatal(err)
		}
		g := &store.Grant{ID: fmt.Sprintf("g%d", i), UserID: e.user.ID, ClientID: "tv", Scopes: []string{"openid"},
			AuthTime: e.now, CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}
		rt := &store.RefreshToken{Hash: fmt.Sprintf("rt%d", i), GrantID: g.ID, ClientID: "tv", Scopes: g.Scopes,
			CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}
		if err := e.st.RedeemDeviceAuth(ctx, a.DeviceCodeHash, g, rt, e.now); err != nil {
			t.Fatal(err)
		}
	}

	b := e.browser(t)
	b.login(testEmail)
	w := b.get("/account")
	page := w.Body.String()
	for _, want := range []string{
		"From 198.51.100.10 (Chrome on Windows)",
		"From 198.51.100.11 (Samsung Internet on Tizen)",
		"From 198.51.100.12</div>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the account page lacks %q", want)
		}
	}
	for _, raw := range []string{"Chrome/124", "SmartTV", "Mozilla"} {
		if strings.Contains(page, raw) {
			t.Errorf("the account page shows the User-Agent's %q", raw)
		}
	}
	if t.Failed() {
		t.Logf("%d\n%s", w.Code, page)
	}
}
