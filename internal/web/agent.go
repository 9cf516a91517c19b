package web

import "strings"

// The confirm page names the browser and system that made a device's
// request ("Chrome on Android"). A short list of each, matched by the
// product tokens browsers send, is enough for that: the first match in
// order wins, so that a browser is named before the engines it claims to
// be like (Edge and Opera send "Chrome/", Chrome sends "Safari/", every
// iPhone "like Mac OS X"). A parser of every agent ever seen, kept in
// memory, cost the whole server more CPU in garbage collection than the
// page would ever save (BENCHMARKS.md, "Regression found on 2026-12-03").

// agentBrowsers are the browsers named, each with the tokens that mark it.
var agentBrowsers = []struct {
	name   string
	tokens []string
}{
	{"Edge", []string{"Edg/", "EdgA/", "EdgiOS/", "Edge/"}},
	{"Opera Mini", []string{"Opera Mini/"}},
	{"Opera", []string{"OPR/", "OPT/", "OPiOS/", "Opera/"}},
	{"Samsung Browser", []string{"SamsungBrowser/"}},
	{"Yandex Browser", []string{"YaBrowser/"}},
	{"Vivaldi", []string{"Vivaldi/"}},
	{"Huawei Browser", []string{"HuaweiBrowser/"}},
	{"Amazon Silk", []string{"Silk/"}},
	{"Falkon", []string{"Falkon/"}},
	{"Nintendo Browser", []string{"NintendoBrowser/"}},
	{"Firefox", []string{"Firefox/", "FxiOS/"}},
	{"Chrome", []string{"CriOS/", "Chrome/"}},
	{"IE", []string{"MSIE ", "Trident/"}},
}

// agentSystems are the operating systems named, in the same way.
var agentSystems = []struct {
	name   string
	tokens []string
}{
	{"Windows", []string{"Windows NT", "Windows Phone", "Windows 10", "Win64", "WOW64"}},
	{"iOS", []string{"iPhone", "iPad", "iPod"}},
	{"Android", []string{"Android"}},
	{"ChromeOS", []string{"CrOS "}},
	{"macOS", []string{"Macintosh", "Mac OS X"}},
	{"FreeBSD", []string{"FreeBSD"}},
	{"OpenBSD", []string{"OpenBSD"}},
	{"Linux", []string{"Linux", "X11"}},
}

// agentBotWords mark a crawler or another program that says it is one,
// whatever browser it names; lower case.
var agentBotWords = []string{"bot/", "bot;", "bot)", "bot ", "crawler", "spider", "slurp", "+http"}

// parseAgent returns the browser and system a User-Agent names, empty when
// it names none, and whether it says it is a bot.
func parseAgent(ua string) (browser, os string, bot bool) {
	lower := strings.ToLower(ua)
	for _, w := range agentBotWords {
		if strings.Contains(lower, w) {
			return "", "", true
		}
	}
	browser = firstNamed(ua, agentBrowsers)
	if browser == "" && strings.Contains(ua, "Safari/") {
		// Safari names itself by its version; an old Android browser
		// looks the same without iOS or macOS around it.
		switch {
		case strings.Contains(ua, "Android") && strings.Contains(ua, "Version/"):
			browser = "Android Browser"
		case strings.Contains(ua, "Version/") || strings.Contains(ua, "Mac OS X"):
			browser = "Safari"
		}
	}
	return browser, firstNamed(ua, agentSystems), false
}

func firstNamed(ua string, list []struct {
	name   string
	tokens []string
}) string {
	for _, e := range list {
		for _, t := range e.tokens {
			if strings.Contains(ua, t) {
				return e.name
			}
		}
	}
	return ""
}
