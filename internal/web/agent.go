package web

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/ua-parser/uap-go/uaparser"
	"go.yaml.in/yaml/v3"
)

// The confirm page names the browser and system that made a device's
// request ("Chrome on Android"), and the account page each connected
// device's, by uap-go, the Go port of the ua-parser project's
// regexes.yaml (uap-core), which its ports in every language share and
// keep up to date, with a few expressions of ours in front where it
// names what a TV flow meets wrongly (agentCorrections). Only
// the user-agent and OS sections are compiled: the device section, about
// half of the expressions, names models the page does not show.
//
// Compiled, the two sections are 4.6 MB of heap in about 8,800 objects
// (BenchmarkAgentParserLoad). Held, they cost the token path nothing
// measurable (BENCHMARKS.md, "The pages' context"): a few large arrays,
// unlike go-useragent's trie of 166,000 small objects, which every
// garbage collection marked on every path ("Regression found on
// 2026-12-03"). Still, a server that shows neither page has no use for
// them: the parser is compiled on the first page that needs it, not at
// start, and let go agentIdle after the last parse, so an idle
// server's heap stays as it was. Answers are kept in a small cache, so
// the page reloaded, or the same app asking again, needs no parser. The
// lock is held through a compile (a tenth of a second or more) and a
// parse (milliseconds): these pages are opened by people, and an
// account's devices are few.

// agentIdle is how long the parser is kept after the last parse.
const agentIdle = 5 * time.Minute

// agentCacheSize bounds the answers kept: two generations of at most this
// many User-Agents each, at most 256 bytes each (device.start cuts them).
const agentCacheSize = 128

// agents is the process's parser, shared by every Pages.
var agents = &agentParser{idle: agentIdle}

// parseAgent returns the browser (or program) and the system a User-Agent
// names, in the words a person knows them by, each empty when it names
// none.
func parseAgent(ua string) (browser, os string) {
	n := agents.parse(ua)
	return n.browser, n.os
}

// agentNames is what a User-Agent names.
type agentNames struct{ browser, os string }

// agentParser holds uap-go's parser while confirm pages use it, and the
// answers it gave.
type agentParser struct {
	idle time.Duration

	mu     sync.Mutex
	parser *uaparser.Parser // nil until needed and after idle
	timer  *time.Timer      // lets parser go after idle
	loads  int              // how many times the parser was compiled

	// recent and older are the answers: a look-up in older moves the
	// answer to recent; when recent is full, older is dropped and recent
	// becomes older (least recently used, in two steps).
	recent, older map[string]agentNames
}

func (a *agentParser) parse(ua string) agentNames {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n, ok := a.recent[ua]; ok {
		return n
	}
	if n, ok := a.older[ua]; ok {
		a.keep(ua, n)
		return n
	}
	if a.parser == nil {
		a.parser = loadAgentParser()
		a.loads++
		if a.timer == nil {
			a.timer = time.AfterFunc(a.idle, a.release)
		}
	}
	a.timer.Reset(a.idle)
	n := agentNames{
		browser: renamed(agentBrowsers, a.parser.ParseUserAgent(ua).Family),
		os:      renamed(agentSystems, a.parser.ParseOs(ua).Family),
	}
	a.keep(ua, n)
	return n
}

// keep remembers an answer.
func (a *agentParser) keep(ua string, n agentNames) {
	if len(a.recent) >= agentCacheSize || a.recent == nil {
		a.older, a.recent = a.recent, make(map[string]agentNames, agentCacheSize)
	}
	a.recent[ua] = n
}

// release lets the parser go, for the garbage collector to take; the
// answers stay.
func (a *agentParser) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parser = nil
}

// loaded says whether the parser is in memory, and how many times it was
// compiled.
func (a *agentParser) loaded() (bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.parser != nil, a.loads
}

// loadAgentParser compiles the user-agent and OS sections of uap-go's copy
// of regexes.yaml, after agentCorrections. The documents are built into
// the binary, so a failure is a broken build and panics, as uap-go's
// NewFromSaved does.
func loadAgentParser() *uaparser.Parser {
	doc := uaparser.DefinitionYaml
	if i := bytes.Index(doc, []byte("\ndevice_parsers:")); i >= 0 {
		doc = doc[:i+1] // not even decoded
	}
	var def, ours uaparser.RegexDefinitions
	if err := yaml.Unmarshal(doc, &def); err != nil {
		panic(fmt.Errorf("uap-go's regexes.yaml: %w", err))
	}
	if err := yaml.Unmarshal([]byte(agentCorrections), &ours); err != nil {
		panic(fmt.Errorf("agentCorrections: %w", err))
	}
	if len(def.UA) == 0 || len(def.OS) == 0 {
		panic(fmt.Errorf("uap-go's regexes.yaml: %d user-agent and %d OS expressions", len(def.UA), len(def.OS)))
	}
	def.UA = append(ours.UA, def.UA...)
	def.OS = append(ours.OS, def.OS...)
	def.Device = nil
	p, err := uaparser.New(uaparser.WithRegexDefinitions(def),
		uaparser.WithMode(uaparser.EUserAgentLookUpMode|uaparser.EOsLookUpMode),
		uaparser.WithCacheSize(1)) // the answers are kept by agentParser
	if err != nil {
		panic(fmt.Errorf("uap-go: %w", err))
	}
	return p
}

// agentCorrections go before uap-core's expressions, in its format, for
// what a TV flow meets and uap-core names wrongly (each with its real
// User-Agent in agentCases; worth sending upstream). A family "Other" is
// no browser: the words become "an app on" the system.
const agentCorrections = `
user_agent_parsers:
  # Android's own HTTP stack, which Android TV and Fire TV apps use:
  # uap-core calls it the Android browser.
  - regex: '^Dalvik/'
    family_replacement: 'Other'
  # The web engine of Sony's consoles: uap-core says Safari, or Apple Mail.
  - regex: '\(PlayStation[ ;]'
    family_replacement: 'Other'
  # TV web app runtimes, not browsers: Samsung's (its engine's version
  # where a browser's name would be; uap-core says Safari) and LG's.
  - regex: '\(SMART-TV; [^)]*Tizen[^)]*\) AppleWebKit/[\d.]+ \(KHTML, like Gecko\) [\d.]+/[\d.]+ TV Safari/'
    family_replacement: 'Other'
  - regex: ' WebAppManager$'
    family_replacement: 'Other'
  # Roku's HTTP stack, which Roku apps use.
  - regex: '^Roku/'
    family_replacement: 'Other'
os_parsers:
  # uap-core names neither; for Roku it says macOS.
  - regex: '\((PlayStation)[ ;]'
  - regex: '^(Roku)/'
`

// agentBrowsers and agentSystems rename uap-core's families to the words a
// person knows them by: a browser's mobile and embedded variants by the
// browser's name, Apple's and LG's systems by their names of today.
// "Other" is no name.
var agentBrowsers = map[string]string{
	"Other":                      "",
	"Android":                    "Android Browser",
	"Mobile Safari":              "Safari",
	"Mobile Safari UI/WKWebView": "", // an iOS app's web view: an app
	"Chrome Mobile":              "Chrome",
	"Chrome Mobile iOS":          "Chrome",
	"Chrome Mobile WebView":      "Chrome",
	"Firefox iOS":                "Firefox",
	"Firefox Mobile":             "Firefox",
	"Edge Mobile":                "Edge",
	"Opera Mobile":               "Opera",
}

var agentSystems = map[string]string{
	"Other":     "",
	"Mac OS X":  "macOS",
	"Chrome OS": "ChromeOS",
	"ATV OS X":  "tvOS",
	"Web0S":     "webOS",
}

// renamed is family as names renames it.
func renamed(names map[string]string, family string) string {
	if n, ok := names[family]; ok {
		return n
	}
	return family
}
