package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestLogoutHintInBrowser: in Chromium, a relying party's logout link with
// an ID token hint of this very session signs out at once and returns to
// the relying party; one with a hint of another session (the same person
// in another browser, or this browser's earlier sign-in) shows the "Sign
// out?" confirmation first, and confirming it signs this browser out only
// (docs/security.md ID-09).
func TestLogoutHintInBrowser(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	sessionClients(t, s)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>TV app</title><h1 id=bye>Signed out of the TV app</h1><p id=state>%s</p>",
			strings.ReplaceAll(r.URL.Query().Get("state"), "<", "&lt;"))
	}))
	t.Cleanup(rp.Close)
	bye := rp.URL + "/bye"
	tv, err := s.Store.GetClient(t.Context(), tvClient)
	mustDo(t, err)
	tv.PostLogoutRedirectURIs = []string{bye}
	mustDo(t, s.Store.UpdateClient(t.Context(), tv))
	s.Clock.Advance(3e9) // past the client cache

	// signInAndPair signs this browser in and approves a device in it: the
	// device's ID token is a hint of this browser's session.
	bctx := browser(t)
	signInAndPair := func() string {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/login")); err != nil {
			t.Fatal(err)
		}
		signIn(t, bctx, personEmail, personPassword)
		a := s.startDevice(t, tvClient, scopesAll)
		if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/device?user_code="+url.QueryEscape(a.str("user_code")))); err != nil {
			t.Fatal(err)
		}
		click(t, bctx, `button[name=decision][value=approve]`)
		s.Clock.Advance(2e9)
		return s.poll(t, tvClient, a.str("device_code")).str("id_token")
	}
	earlier := signInAndPair()
	// Another browser of the same person, and a hint of its session.
	other := newWebBrowser(t, s)
	other.signIn()
	foreign := pairedDevice(t, s, other, tvClient).str("id_token")

	logout := func(hint, state string) string {
		return s.URL + "/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {bye}, "state": {state}}.Encode()
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(logout(foreign, "other-session"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bctx, `form[action="/logout"] button[type=submit]`)
	text := pageText(t, bctx)
	if !strings.Contains(text, "Sign out?") || !strings.Contains(text, "Living Room TV asked to sign you out") || !strings.Contains(text, personEmail) {
		t.Errorf("the confirmation does not say who asks and who is signed in:\n%s", text)
	}
	for _, width := range []int64{390, 1280} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(width, 844)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, bctx, fmt.Sprintf("logout-other-session-%d", width))
	}
	if !other.signedIn() {
		t.Fatal("the other browser was signed out")
	}
	click(t, bctx, `form[action="/logout"] button[type=submit]`)
	waitFor(t, bctx, `#bye`)
	if text := pageText(t, bctx); !strings.Contains(text, "other-session") {
		t.Errorf("back at the relying party without its state:\n%s", text)
	}
	if !other.signedIn() {
		t.Error("confirming signed the other browser out")
	}

	// Signed in again: the hint of this browser's earlier session asks
	// first; the hint of the current one signs out at once.
	own := signInAndPair()
	if err := chromedp.Do(bctx, chromedp.Navigate(logout(earlier, "earlier-session"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bctx, `form[action="/logout"] button[type=submit]`)
	if text := pageText(t, bctx); !strings.Contains(text, "Sign out?") {
		t.Errorf("a hint of the earlier session: no confirmation:\n%s", text)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(logout(own, "this-session"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bctx, `#bye`)
	if text := pageText(t, bctx); !strings.Contains(text, "this-session") {
		t.Errorf("not straight back at the relying party:\n%s", text)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(s.URL+"/device")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bctx, `input[name=username]`) // signed out: the sign-in page
	if !other.signedIn() {
		t.Error("the other browser was signed out")
	}
}
