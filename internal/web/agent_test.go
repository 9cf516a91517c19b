package web

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"
)

// agentCases are real User-Agents and what a person calls what sent them:
// the browsers people confirm a device with, and what a TV flow meets on
// the device's side (TV and console browsers, the HTTP libraries of
// Android and of command-line programs). An empty browser is an app the
// parser does not name; a program is named as itself.
var agentCases = []struct {
	name, ua, browser, os string
}{
	{"Chrome, Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "Windows"},
	{"Edge, Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51", "Edge", "Windows"},
	{"Firefox, Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", "Windows"},
	{"IE 11", "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", "IE", "Windows"},
	{"Safari, macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "Safari", "macOS"},
	{"Chrome, macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "macOS"},
	{"Chrome, iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", "Chrome", "iOS"},
	{"Firefox, iPad", "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15", "Firefox", "iOS"},
	{"Safari, iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "Safari", "iOS"},
	{"Chrome, Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Chrome", "Android"},
	{"Samsung Internet, Android", "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android"},
	{"old Android browser", "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30", "Android Browser", "Android"},
	{"Android WebView", "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36", "Chrome", "Android"},
	{"Silk, Fire tablet", "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/122.3.1 like Chrome/122.0.6261.119 Safari/537.36", "Amazon Silk", "Android"},
	{"Opera, Linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0", "Opera", "Linux"},
	{"Firefox, Ubuntu", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", "Ubuntu"},
	{"Chrome, ChromeOS", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", "ChromeOS"},
	{"Googlebot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Android"},
	{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", ""},
	// The device's side.
	{"a device's own program", "SmartTV/2.1 (Linux; Tizen 7.0)", "", "Tizen"},
	{"Android TV app", "Dalvik/2.1.0 (Linux; U; Android 11; SHIELD Android TV Build/RQ1A.210105.003)", "", "Android"},
	{"Google TV WebView", "Mozilla/5.0 (Linux; Android 12; Chromecast Build/STTL.240206.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36", "Chrome", "Android"},
	{"Fire TV, Silk", "Mozilla/5.0 (Linux; Android 9; AFTKA Build/PS7633.3445N; wv) AppleWebKit/537.36 (KHTML, like Gecko) Silk/128.3.2 like Chrome/128.0.6613.146 Safari/537.36", "Amazon Silk", "Android"},
	{"Fire TV app", "Dalvik/2.1.0 (Linux; U; Android 9; AFTMM Build/PS7633.3445N)", "", "Android"},
	{"Samsung TV browser (Tizen)", "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36", "Samsung Internet", "Tizen"},
	{"LG TV (webOS)", "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 Safari/537.36 WebAppManager", "", "webOS"},
	{"PlayStation 5", "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15", "", "PlayStation"},
	{"Xbox", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.51", "Edge", "Windows"},
	{"PlayStation 4", "Mozilla/5.0 (PlayStation 4 11.00) AppleWebKit/605.1.15 (KHTML, like Gecko)", "", "PlayStation"},
	{"Samsung TV app (Tizen)", "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36", "", "Tizen"},
	{"Roku app", "Roku/DVP-13.0 (13.0.0.4136-C3)", "", "Roku"},
	{"Apple TV app", "AppleCoreMedia/1.0.0.21J354 (Apple TV; U; CPU OS 17_0 like Mac OS X; en_us)", "", "tvOS"},
	{"okhttp", "okhttp/4.12.0", "okhttp", ""},
	{"curl", "curl/8.5.0", "curl", ""},
	{"Wget", "Wget/1.21.4", "Wget", ""},
	{"Go-http-client", "Go-http-client/1.1", "Go-http-client", ""},
	{"python-requests", "python-requests/2.32.3", "Python Requests", ""},
}

func TestParseAgent(t *testing.T) {
	t.Parallel()
	for _, tt := range agentCases {
		browser, os := parseAgent(tt.ua)
		if browser != tt.browser || os != tt.os {
			t.Errorf("%s: parseAgent = %q, %q; want %q, %q", tt.name, browser, os, tt.browser, tt.os)
		}
	}
}

func agentCase(t *testing.T, name string) struct{ name, ua, browser, os string } {
	t.Helper()
	for _, c := range agentCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no agent case %q", name)
	panic("unreachable")
}

// TestAgentParserIdle: the parser is compiled on the first parse, let go
// after the idle time, and compiled again only for a User-Agent whose
// answer is not kept; kept answers need none.
func TestAgentParserIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a := &agentParser{idle: time.Minute}
		if on, n := a.loaded(); on || n != 0 {
			t.Fatalf("before a parse: loaded %v, %d times", on, n)
		}
		chrome, curl := agentCase(t, "Chrome, Windows"), agentCase(t, "curl")
		if n := a.parse(chrome.ua); n.browser != chrome.browser {
			t.Errorf("parse(%s) = %+v", chrome.name, n)
		}
		time.Sleep(59 * time.Second)
		a.parse(chrome.ua) // kept: does not hold the parser longer
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if on, n := a.loaded(); on || n != 1 {
			t.Errorf("a minute after the last parse: loaded %v, %d times; want let go, compiled once", on, n)
		}
		if n := a.parse(chrome.ua); n.browser != chrome.browser {
			t.Errorf("parse(%s) from the kept answers = %+v", chrome.name, n)
		}
		if on, n := a.loaded(); on || n != 1 {
			t.Errorf("a kept answer: loaded %v, %d times; want not compiled again", on, n)
		}
		if n := a.parse(curl.ua); n.browser != curl.browser {
			t.Errorf("parse(%s) = %+v", curl.name, n)
		}
		if on, n := a.loaded(); !on || n != 2 {
			t.Errorf("a new User-Agent after the idle time: loaded %v, %d times; want compiled again", on, n)
		}
		a.timer.Stop()
	})
}

// TestAgentAnswersBounded: however many User-Agents are parsed, at most
// two generations of answers are kept, and the most recently used stay.
func TestAgentAnswersBounded(t *testing.T) {
	t.Parallel()
	a := &agentParser{idle: time.Hour}
	t.Cleanup(func() { a.timer.Stop() })
	first := agentCases[0].ua
	a.parse(first)
	for i := range 3 * agentCacheSize {
		a.parse("program/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
		if i%50 == 0 {
			a.parse(first) // used again and again: stays
		}
	}
	if n := len(a.recent) + len(a.older); n > 2*agentCacheSize {
		t.Errorf("%d answers kept; want at most %d", n, 2*agentCacheSize)
	}
	if _, ok := a.recent[first]; !ok {
		if _, ok := a.older[first]; !ok {
			t.Error("an answer used again and again was dropped")
		}
	}
}

// BenchmarkAgentParserLoad is what compiling the parser costs, and what it
// keeps on the heap: heap-B and heap-objects are the live heap's growth
// while it is held, which every garbage collection marks.
func BenchmarkAgentParserLoad(b *testing.B) {
	var before, after runtime.MemStats
	var p any
	for b.Loop() {
		b.StopTimer()
		p = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		p = loadAgentParser()
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.StartTimer()
	}
	runtime.KeepAlive(p)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc), "heap-B")
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects), "heap-objects")
}

// BenchmarkAgentParse is a parse the answers do not hold: every
// expression tried in order, until one matches, for the browser and again
// for the system.
func BenchmarkAgentParse(b *testing.B) {
	p := loadAgentParser()
	i := 0
	for b.Loop() {
		ua := agentCases[i%len(agentCases)].ua // uap-go's own cache holds one
		p.ParseUserAgent(ua)
		p.ParseOs(ua)
		i++
	}
}
