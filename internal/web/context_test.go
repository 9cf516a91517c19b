package web

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/throttle"
)

func TestAgentWords(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox on Windows"},
		{"Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36", "Samsung Internet on Tizen"},
		{"Dalvik/2.1.0 (Linux; U; Android 11; SHIELD Android TV Build/RQ1A.210105.003)", "an app on Android"},
		{"curl/8.5.0", "curl"},
		{"Go-http-client/1.1", "Go-http-client"},
		{"SmartTV/2.1 <b>", "an app that calls itself “SmartTV”"},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"},
		{"\x01\x02/1", "an unknown program"},
		{"", ""},
		{strings.Repeat("A", 300), "an app that calls itself “" + strings.Repeat("A", 40) + "…”"},
	} {
		if got := agentWords(i18n.English(), tt.ua); got != tt.want {
			t.Errorf("agentWords(%.60q) = %q; want %q", tt.ua, got, tt.want)
		}
	}
}

// TestConfirmNetwork: the confirm page warns when the device asked from
// another network than the browser, and not from the same /24.
func TestConfirmNetwork(t *testing.T) {
	t.Parallel()
	const warning = "This request came from another network"
	e := newEnv(t, "Living room TV") // the device asked from 198.51.100.9
	away := e.browser(t)
	away.login(testEmail)
	if body := away.get("/device?user_code=WDJB-MJHT").Body.String(); !strings.Contains(body, warning) {
		t.Errorf("another network, no warning:\n%s", body)
	}
	home := e.browser(t)
	home.ip = "198.51.100.77"
	home.login(testEmail)
	if body := home.get("/device?user_code=WDJB-MJHT").Body.String(); strings.Contains(body, warning) {
		t.Errorf("same network, a warning:\n%s", body)
	}
}

// TestLoginNamesTheDevice: signing in on the way to a device's code, the
// page says which device; an unknown code says only "a device", and costs
// the address a wrong entry as the verification page would.
func TestLoginNamesTheDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "Living-room TV")
	b := e.browser(t)
	for _, tt := range []struct{ target, want string }{
		{"/login?return_to=" + "%2Fdevice%3Fuser_code%3DWDJB-MJHT", "<h1>Sign in to connect Living-room TV</h1>"},
		{"/login?return_to=" + "%2Fuser%2Fdevice%3FuserCode%3Dwdjbmjht", "<h1>Sign in to connect Living-room TV</h1>"},
		{"/register?return_to=" + "%2Fdevice%3Fuser_code%3DWDJB-MJHT", "<h1>Create an account to connect Living-room TV</h1>"},
		{"/login?return_to=" + "%2Fdevice%3Fuser_code%3DBBBB-BBBB", "<h1>Sign in to connect a device</h1>"},
		{"/login?return_to=" + "%2Fdevice", "<h1>Sign in to connect a device</h1>"},
		{"/login", "<h1>Sign in</h1>"},
	} {
		if body := b.get(tt.target).Body.String(); !strings.Contains(body, tt.want) {
			t.Errorf("GET %s lacks %q:\n%s", tt.target, tt.want, body)
		}
	}
	if got := e.count(t, "usercode:ip:"+b.ip); got != 1 {
		t.Errorf("wrong entries counted for the address: %d; want 1 (the unknown code)", got)
	}
}

// count is the wrong-entry counter key's count now.
func (e *env) count(t *testing.T, key string) int {
	t.Helper()
	n, err := throttle.Window{Length: e.pages.Verifier.Window}.Count(t.Context(), e.st, key, e.now)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// BenchmarkAgentWords is the confirm page's cost of saying what made a
// request, a browser's User-Agent and a device's.
func BenchmarkAgentWords(b *testing.B) {
	for _, ua := range []string{
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		"SmartTV/2.1",
	} {
		name, _, _ := strings.Cut(ua, "/")
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				agentWords(i18n.English(), ua)
			}
		})
	}
}
