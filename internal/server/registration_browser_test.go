package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/config"
)

// schemeShots saves the page at both widths in both colour schemes to
// LATCHKEY_SCREENSHOTS/NAME-{light,dark}-{phone,desktop}.png when that is
// set, and leaves the browser light and phone-sized.
func schemeShots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, scheme := range []string{"light", "dark"} {
		mustDo(t, chromedp.Do(ctx, colorScheme(scheme)))
		for _, sw := range screenWidths {
			mustDo(t, chromedp.Do(ctx, chromedp.EmulateViewport(sw.width, 800)))
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			mustDo(t, err)
			mustDo(t, os.WriteFile(filepath.Join(dir, name+"-"+scheme+"-"+sw.name+".png"), buf, 0o644))
		}
	}
	mustDo(t, chromedp.Do(ctx, colorScheme("light"), chromedp.EmulateViewport(412, 915)))
}

// TestRegistrationSettingsInBrowser: with accounts.registration off the
// sign-in page offers no account, /register explains itself and leads to
// sign-in, where the person who has an account signs in; with domains the
// page names them, an address elsewhere is told so, and one at a listed
// domain registers.
func TestRegistrationSettingsInBrowser(t *testing.T) {
	t.Parallel()
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false, func(c *config.Config) { c.Accounts.Registration = "off" })
		bctx := browser(t)
		navigate(t, bctx, s.URL+"/login")
		waitFor(t, bctx, `input[name=username]`)
		if text := pageText(t, bctx); strings.Contains(text, "Create an account") {
			t.Errorf("sign-in page offers an account with registration off:\n%s", text)
		}
		schemeShots(t, bctx, "login-registration-off")
		navigate(t, bctx, s.URL+"/register?login_hint="+strings.ReplaceAll(personEmail, "@", "%40"))
		waitFor(t, bctx, `main a`)
		text := pageText(t, bctx)
		if !strings.Contains(text, "Accounts are not open") || !strings.Contains(text, "ask your administrator for an account") {
			t.Errorf("/register with registration off:\n%s", text)
		}
		checkAccessible(t, bctx, axeSource(t), "registration closed")
		schemeShots(t, bctx, "register-off")
		submit(t, bctx, chromedp.Click(chromedp.CSS(`main p a`)))
		waitFor(t, bctx, `input[name=password]`)
		if got := inputValue(t, bctx, `input[name=username]`); got != personEmail {
			t.Errorf("sign-in after the closed page: email %q; want %q", got, personEmail)
		}
		signIn(t, bctx, personEmail, personPassword)
		waitFor(t, bctx, `input[name=user_code]`)
	})
	t.Run("domains", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, false, func(c *config.Config) {
			c.Accounts.Registration = "domains"
			c.Accounts.RegistrationDomains = []string{"Example.org", "corp.example"}
		})
		bctx := browser(t)
		navigate(t, bctx, s.URL+"/register")
		waitFor(t, bctx, `#registration-domains`)
		if text := pageText(t, bctx); !strings.Contains(text, "Accounts here are for email addresses at example.org or corp.example.") {
			t.Errorf("registration page does not name the domains:\n%s", text)
		}
		checkAccessible(t, bctx, axeSource(t), "registration by domain")
		schemeShots(t, bctx, "register-domains")
		register(t, bctx, "Grace Hopper", "grace@mail.example.org", "a long enough password")
		waitFor(t, bctx, `.notice`)
		if text := pageText(t, bctx); !strings.Contains(text, "only for email addresses at example.org or corp.example") {
			t.Errorf("a subdomain was not refused with the domains named:\n%s", text)
		}
		schemeShots(t, bctx, "register-domains-refused")
		registerAndSignIn(t, bctx, s, "Grace Hopper", "Grace@EXAMPLE.org", "a long enough password")
		waitFor(t, bctx, `input[name=user_code]`)
		if _, err := s.Store.GetUserByEmail(t.Context(), "grace@example.org"); err != nil {
			t.Errorf("the listed domain's account: %v", err)
		}
	})
}
