package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/testenv"
)

// axeSource is Deque's axe-core, pinned in testdata/axe (scripts/test
// runs npm ci there).
func axeSource(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		testenv.Missing(t, "axe-core (npm ci in internal/server/testdata/axe)")
	}
	return string(src)
}

// checkAccessible runs axe-core's WCAG 2.1 A and AA rules on the page, in
// the light and the dark scheme, and fails on any violation.
func checkAccessible(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	// DevTools' evaluation is not the page's script: the CSP does not
	// stop it, and the page stays as strict as it is.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	for _, scheme := range []string{"light", "dark"} {
		mustDo(t, chromedp.Do(ctx, colorScheme(scheme)))
		type result struct {
			Violations []string
			Passes     int
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`axe.run(document, {
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		}).then(r => ({Passes: r.passes.length, Violations: r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at " +
			v.nodes.map(n => n.target.join(" ") + " " + (n.failureSummary || "").replace(/\s+/g, " ")).join("; "))}))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: axe-core: %v", page, err)
		}
		// A check that looked at nothing would pass every page.
		if res.Passes < 5 {
			t.Errorf("%s: axe-core passed only %d rules", page, res.Passes)
		}
		if testing.Verbose() {
			t.Logf("%s, %s scheme: axe-core: %d rules pass, %d violated", page, scheme, res.Passes, len(res.Violations))
		}
		for _, v := range res.Violations {
			t.Errorf("%s, %s scheme: %s", page, scheme, v)
		}
	}
	mustDo(t, chromedp.Do(ctx, colorScheme("light")))
}

// colorScheme has the browser prefer a light or a dark scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// brandShots saves the page at both widths in both schemes to
// LATCHKEY_SCREENSHOTS/brand-NAME-{light,dark}-{phone,desktop}.png when that
// is set, and leaves the browser light and phone-sized.
func brandShots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	schemeShots(t, ctx, "brand-"+name)
}

// checkBrand holds the page in the browser to the brand: its name in the
// title and the header, the logo loaded, the primary colour on the
// buttons and links, the footer's links, and no inline style.
func checkBrand(t *testing.T, ctx context.Context, page string, w walkWords) {
	t.Helper()
	type look struct {
		Title, Header, Footer  string
		LogoLoaded             bool
		Button, Link, LinkDark string
		ButtonFont, BodyFont   string
		Inline                 int
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`(() => {
		const img = document.querySelector("header.brand img");
		const button = document.querySelector("main button:not(.link):not(.secondary):not(.reveal):not(.danger)");
		const link = document.querySelector("main a:not(.button)");
		return {
			Title: document.title,
			Header: (document.querySelector("header.brand") || {}).textContent || "",
			Footer: (document.querySelector("footer.brand") || {}).textContent || "",
			LogoLoaded: !!img && img.complete && img.naturalWidth > 0,
			Button: button ? getComputedStyle(button).backgroundColor : "",
			Link: link ? getComputedStyle(link).color : "",
			ButtonFont: button ? getComputedStyle(button).fontFamily : "",
			BodyFont: getComputedStyle(document.body).fontFamily,
			Inline: document.querySelectorAll("style, [style], script:not([src])").length,
		};
	})()`))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	const purple = "rgb(122, 31, 162)"
	if !strings.HasSuffix(got.Title, " · Acme Home") || !strings.Contains(got.Header, "Acme Home") || !got.LogoLoaded {
		t.Errorf("%s: title %q, header %q, logo loaded %v", page, got.Title, got.Header, got.LogoLoaded)
	}
	for _, want := range w.footer {
		if !strings.Contains(got.Footer, want) {
			t.Errorf("%s: footer %q lacks %q", page, got.Footer, want)
		}
	}
	if got.Button != "" && got.Button != purple {
		t.Errorf("%s: button colour %s; want %s", page, got.Button, purple)
	}
	if got.Link != "" && got.Link != purple {
		t.Errorf("%s: link colour %s; want %s", page, got.Link, purple)
	}
	if got.Button != "" && got.ButtonFont != got.BodyFont {
		t.Errorf("%s: button font %q, text font %q", page, got.ButtonFont, got.BodyFont)
	}
	if got.Inline != 0 {
		t.Errorf("%s: %d inline styles or scripts", page, got.Inline)
	}
}

// walkWords are what the walk of the pages expects in one language.
type walkWords struct {
	lang      string
	signInFor string   // the sign-in page's heading in a device flow
	agent     string   // the confirm page's "from"
	justNow   string   // the confirm page's "when"
	otherNet  string   // words of the other-network warning, which must not show
	footer    []string // the brand's footer links
	axe       bool     // run axe-core on every page
}

var walkLanguages = []walkWords{
	{lang: "en", signInFor: "Sign in to connect Living Room TV",
		agent:   "Go-http-client, at the address 127.0.0.1",
		justNow: "less than a minute ago", otherNet: "another network",
		footer: []string{"Help and support", "Terms", "Privacy"}, axe: true},
	// Finnish, for its long words, and for the accessibility of a page in
	// another language.
	{lang: "fi", signInFor: "Kirjaudu sisään ja yhdistä Living Room TV",
		agent:   "Go-http-client, osoitteesta 127.0.0.1",
		justNow: "alle minuutti sitten", otherNet: "toisesta verkosta",
		footer: []string{"Ohjeet ja tuki", "Käyttöehdot", "Tietosuoja"}, axe: true},
	{lang: "de", signInFor: "Anmelden, um Living Room TV zu verbinden",
		agent:   "Go-http-client, unter der Adresse 127.0.0.1",
		justNow: "vor weniger als einer Minute", otherNet: "anderen Netzwerk",
		footer: []string{"Hilfe und Support", "Nutzungsbedingungen", "Datenschutz"}},
}

// overflowing is a script whose value lists the elements of the page
// whose content is wider than their box (and shows past it).
const overflowing = `[...document.querySelectorAll("main *, header *, footer *")]
	.filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible" && e.clientWidth > 0)
	.map(e => e.tagName + "." + e.className + ": " + e.textContent.slice(0, 60))`

// acceptLanguage has the browser ask for lang (Accept-Language, and
// navigator.language).
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ua, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: lang})
		return err
	})
}

// TestBrandedPagesInBrowser walks every page a person meets with a custom
// brand in headless Chromium, in English and in Finnish (the browser's
// Accept-Language), checks the brand and the language on each, runs
// axe-core's WCAG 2.1 AA rules on it (zero violations, light and dark), and
// saves screenshots at phone and desktop widths, light and dark. German is
// walked too when screenshots are asked for (LATCHKEY_SCREENSHOTS).
func TestBrandedPagesInBrowser(t *testing.T) {
	t.Parallel()
	for _, w := range walkLanguages {
		if !w.axe && os.Getenv("LATCHKEY_SCREENSHOTS") == "" {
			continue
		}
		t.Run(w.lang, func(t *testing.T) {
			t.Parallel()
			brandedWalk(t, w)
		})
	}
}

func brandedWalk(t *testing.T, w walkWords) {
	brand := acmeBrand(t, t.TempDir())
	s := newTestServer(t, false, func(c *config.Config) { c.Pages = brand })
	axe := axeSource(t)
	bctx := browserWithin(t, 300*time.Second) // a long walk, three at a time
	mustDo(t, chromedp.Do(bctx, acceptLanguage(w.lang)))
	ctx := t.Context()
	conf, _ := deviceConfig(t, ctx, s)
	nav := func(path string) {
		t.Helper()
		mustDo(t, chromedp.Do(bctx, chromedp.Navigate(s.URL+path)))
		waitFor(t, bctx, "main")
	}
	visit := func(name string) {
		t.Helper()
		checkBrand(t, bctx, name, w)
		if lang, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != w.lang {
			t.Errorf("%s: <html lang=%q>; want %q", name, lang, w.lang)
		}
		// No word runs out of its box: every element's content fits its
		// width (long Finnish and German words).
		if over, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
			t.Errorf("%s: text overflows its box: %v", name, over)
		}
		if w.axe {
			checkAccessible(t, bctx, axe, name)
		}
		brandShots(t, bctx, w.lang+"-"+name)
	}

	// The overflow check finds a word too long for the card (a line that
	// cannot wrap, put there for the check and taken away).
	nav("/register")
	over, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => {
		const pre = document.createElement("pre");
		pre.id = "too-long";
		pre.textContent = "Laitteenyhdistämisvahvistuskoodinsyöttökenttä".repeat(4);
		document.querySelector("main").append(pre);
		return `+overflowing+`;
	})()`))
	mustDo(t, err)
	if len(over) == 0 {
		t.Error("the overflow check does not see a line wider than the card")
	}

	for _, p := range []struct{ name, path string }{
		{"register", "/register"},
		{"forgot", "/forgot-password"},
		{"resend", "/verify-email/resend"},
		{"not-found", "/no/such/page"},
	} {
		nav(p.path)
		visit(p.name)
	}

	da, err := conf.DeviceAuth(ctx)
	mustDo(t, err)
	mustDo(t, chromedp.Do(bctx, chromedp.Navigate(da.VerificationURIComplete)))
	waitFor(t, bctx, `input[name=password]`)
	// The sign-in page says what it is for: the device, by its name.
	if h1, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("h1"))); h1 != w.signInFor {
		t.Errorf("sign-in heading during a device flow: %q", h1)
	}
	// The password field can be shown.
	click := func(sel string) { mustDo(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS(sel)))) }
	mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`input[name=password]`), "typed")))
	click(`button.reveal`)
	if typ, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("input[name=password]").type`)); typ != "text" {
		t.Errorf("after Show the password field is %q", typ)
	}
	click(`button.reveal`)
	visit("login")
	signIn(t, bctx, personEmail, personPassword)
	waitFor(t, bctx, `button[name=decision][value=approve]`)
	// Where and when, in words: the test's device is Go's HTTP client,
	// which uap-go names, on this machine's network.
	if text := pageText(t, bctx); !strings.Contains(text, w.agent) ||
		!strings.Contains(text, w.justNow) || strings.Contains(text, w.otherNet) {
		t.Errorf("confirm page: %s", text)
	}
	visit("device-confirm")
	submit(t, bctx, chromedp.Click(chromedp.CSS(`button[name=decision][value=approve]`)))
	waitFor(t, bctx, `.outcome.ok svg`)
	visit("device-done")

	nav("/device")
	if ph, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("input[name=user_code]").placeholder`)); ph != "XXXX-XXXX" {
		t.Errorf("code field placeholder %q", ph)
	}
	visit("device-entry")
	// A code that is not valid: the notice, tied to the field.
	mustDo(t, chromedp.Do(bctx, chromedp.SetValue(chromedp.CSS(`input[name=user_code]`), "ZZZZ-ZZZZ")))
	submit(t, bctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	waitFor(t, bctx, `#code-error`)
	visit("device-entry-refused")
	da2, err := conf.DeviceAuth(ctx)
	mustDo(t, err)
	mustDo(t, chromedp.Do(bctx, chromedp.Navigate(da2.VerificationURIComplete)))
	waitFor(t, bctx, `button[name=decision][value=deny]`)
	submit(t, bctx, chromedp.Click(chromedp.CSS(`button[name=decision][value=deny]`)))
	waitFor(t, bctx, `.outcome.bad svg`)
	visit("device-denied")
	mustDo(t, chromedp.Do(bctx, chromedp.Navigate(da2.VerificationURIComplete)))
	waitFor(t, bctx, `.outcome.bad svg`)
	visit("device-used")
	nav("/account")
	visit("account")
	nav("/logout")
	visit("logout")

	// A sign-in that failed: the notice, tied to the form.
	submit(t, bctx, chromedp.Click(chromedp.CSS(`button[name=confirm]`)))
	nav("/login")
	mustDo(t, chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`input[name=username]`), personEmail),
		chromedp.SetValue(chromedp.CSS(`input[name=password]`), "not the password")))
	submit(t, bctx, chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	waitFor(t, bctx, `.notice`)
	visit("login-refused")

	// The page an invitation email links to, on a server with the same brand.
	is := newInvServer(t, backends[0], func(c *config.Config) { c.Pages = brand })
	_, tok := is.invite(t, map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "ops@acme.example",
		"message": "For the boiler room."})
	mustDo(t, chromedp.Do(bctx, chromedp.Navigate(is.URL+"/invitations/"+tok)))
	waitFor(t, bctx, "#invitation-token")
	visit("invitation")
}
