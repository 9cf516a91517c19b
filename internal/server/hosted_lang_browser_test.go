package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/i18n"
)

// TestHostedPagesInLanguagesInBrowser walks the pages the branded walk
// does not reach — consent, setting up two-step sign-in and its recovery
// codes, the second step, the password reset and email verification
// pages of mailed links — in a German and a Finnish browser: each in its
// language (<html lang>, its words, no message key), no text out of its
// box at either width, axe-core's WCAG 2.1 AA rules in Finnish, and
// screenshots at both widths when LATCHKEY_SCREENSHOTS is set.
func TestHostedPagesInLanguagesInBrowser(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lang  string
		axe   bool
		words map[string]string // page → words it must show
	}{
		{"de", false, map[string]string{"consent": "Photo App", "totp-setup": "Zweistufige Anmeldung", "totp-second-step": "Wiederherstellungscode",
			"reset-password": "Neues Passwort", "verify-email": "E-Mail-Adresse"}},
		{"fi", true, map[string]string{"consent": "Photo App", "totp-setup": "kaksivaiheinen", "totp-second-step": "varakoodi",
			"reset-password": "uusi salasana", "verify-email": "sähköpostiosoitteesi"}},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			t.Parallel()
			keys := i18n.Builtin().Catalogs()[0].Keys()
			axe := ""
			if tt.axe {
				axe = axeSource(t)
			}
			newBrowser := func() context.Context {
				bctx := browserWithin(t, 3*time.Minute)
				mustDo(t, chromedp.Do(bctx, acceptLanguage(tt.lang)))
				return bctx
			}
			check := func(bctx context.Context, name string) {
				t.Helper()
				if lang, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != tt.lang {
					t.Errorf("%s: <html lang=%q>; want %q", name, lang, tt.lang)
				}
				if w := tt.words[name]; w != "" && !strings.Contains(strings.ToLower(pageText(t, bctx)), strings.ToLower(w)) {
					t.Errorf("%s in %s lacks %q:\n%s", name, tt.lang, w, pageText(t, bctx))
				}
				html := pageHTML(t, bctx)
				for _, k := range keys {
					if strings.Contains(html, k) {
						t.Errorf("%s: the message key %q shows", name, k)
					}
				}
				for _, sw := range screenWidths {
					mustDo(t, chromedp.Do(bctx, chromedp.EmulateViewport(sw.width, 800)))
					if over, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
						t.Errorf("%s at %d px: text overflows its box: %v", name, sw.width, over)
					}
				}
				mustDo(t, chromedp.Do(bctx, chromedp.EmulateViewport(412, 915)))
				if tt.axe {
					checkAccessible(t, bctx, axe, name)
				}
				screenshots(t, bctx, "hosted-"+tt.lang+"-"+name)
			}

			// Consent: a web app asks.
			s1 := newTestServerOn(t, backends[0], false, noSecondFactor)
			app := newRP(t, s1, webAppClient, false)
			conf, _ := app.config(t, s1)
			b1 := newBrowser()
			navigate(t, b1, conf.AuthCodeURL("state-l", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oidc.Nonce("nonce-l")))
			signIn(t, b1, personEmail, personPassword)
			waitFor(t, b1, `button[name=decision][value=approve]`)
			check(b1, "consent")

			// Two-step sign-in: set up, recovery codes, the second step.
			s, mta := accountServer(t, backends[0], func(c *config.Config) { c.Accounts.SecondFactor = "all" })
			b2 := newBrowser()
			navigate(t, b2, s.URL+"/login")
			signIn(t, b2, personEmail, personPassword)
			waitFor(t, b2, `#second-factor-h`)
			click(t, b2, `form[action="/account/totp"] button`)
			waitFor(t, b2, `#totp-secret`)
			check(b2, "totp-setup")
			secret, err := chromedp.Run(b2, chromedp.Text(chromedp.CSS(`#totp-secret`)))
			mustDo(t, err)
			code, err := totp.GenerateCode(strings.ReplaceAll(strings.TrimSpace(secret), " ", ""), s.Clock.Now())
			mustDo(t, err)
			mustDo(t, chromedp.Do(b2, chromedp.SetValue(chromedp.CSS(`#code`), code)))
			click(t, b2, `form[action="/account/totp/confirm"] button`)
			waitFor(t, b2, `ul.codes`)
			check(b2, "totp-codes")
			click(t, b2, `.who button`)
			navigate(t, b2, s.URL+"/login")
			signIn(t, b2, personEmail, personPassword)
			waitFor(t, b2, `#recovery_code`)
			check(b2, "totp-second-step")

			// The pages of mailed links: a password reset, and the
			// verification of a new account's address.
			b3 := newBrowser()
			navigate(t, b3, s.URL+"/forgot-password")
			waitFor(t, b3, `form[action="/forgot-password"] #email`)
			mustDo(t, chromedp.Do(b3, chromedp.SetValue(chromedp.CSS(`#email`), personEmail)))
			click(t, b3, `form[action="/forgot-password"] button`)
			var link string
			eventually(t, "the reset mail", func() bool {
				for _, msg := range mta.received() {
					if _, text := readInvitationMail(t, msg); resetLink.MatchString(text) {
						link = linkIn(t, resetLink, text)
						return true
					}
				}
				return false
			})
			navigate(t, b3, s.URL+link)
			waitFor(t, b3, `form[action="/reset-password"] #password`)
			check(b3, "reset-password")
			navigate(t, b3, s.URL+"/register")
			register(t, b3, "Nia Newcomer", "nia@example.com", "a quiet orange lighthouse")
			waitFor(t, b3, `main a[href^="/login"]`)
			s.Srv.Wait()
			_, text := mta.mailTo(t, "nia@example.com", 1)
			navigate(t, b3, s.URL+linkIn(t, verifyLink, text))
			waitFor(t, b3, `form[action="/verify-email"] button`)
			check(b3, "verify-email")
		})
	}
}
