package server

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestInvitationPageInBrowser: the page an invitation email links to, as a
// phone's browser shows it: who invites, into what, a link into the
// device app's own scheme, and the token to type in; then, once used, the
// one page every dead invitation gets.
func TestInvitationPageInBrowser(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)
		bctx := browser(t)
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead, groupWrite},
			"message": "Please connect the <boiler> sensor.", "deviceName": "Boiler sensor"})

		if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/invitations/"+tok)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, bctx, `#invitation-token`)
		screenshot(t, bctx, "invitation")
		text := pageText(t, bctx)
		for _, want := range []string{"Acme Sensors", "Boiler sensor", "Readers", "Writers", "Please connect the <boiler> sensor."} {
			if !strings.Contains(text, want) {
				t.Errorf("page lacks %q:\n%s", want, text)
			}
		}
		shown, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#invitation-token`)))
		mustDo(t, err)
		if strings.TrimSpace(shown) != tok {
			t.Errorf("token shown = %q, want %q", shown, tok)
		}
		href, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`#app-link`), "href"))
		mustDo(t, err)
		if want := acmeAppLink + "?token=" + tok; href.Value != want {
			t.Errorf("app link = %q, want %q", href.Value, want)
		}
		// What the browser will tell the next site: nothing.
		policy, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('meta[name=referrer]').content`))
		mustDo(t, err)
		if policy != "no-referrer" {
			t.Errorf("referrer meta = %q", policy)
		}
		// Nothing but our own script and sheet, no images, no frames.
		foreign, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.scripts, ...document.images, ...document.querySelectorAll("link")]
			.filter(e => new URL(e.src || e.href).origin !== location.origin).length + window.frames.length`))
		mustDo(t, err)
		if foreign != 0 {
			t.Errorf("the page has %d scripts, images or frames from elsewhere", foreign)
		}

		// Opening the page accepted nothing; the device does.
		if r := s.accept(t, tok, "", nil); r.Status != 201 {
			t.Fatalf("accept: %d %s", r.Status, r.Raw)
		}
		if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/invitations/"+tok)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, bctx, `h1`)
		screenshot(t, bctx, "invitation-used")
		if text := pageText(t, bctx); !strings.Contains(text, "This invitation cannot be used") || strings.Contains(text, tok) {
			t.Errorf("used invitation's page:\n%s", text)
		}
	})
}
