package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/i18n"
	"github.com/latchkey/latchkey/internal/store"
)

// Context on every step: the sign-in and registration pages say what they
// are for ("Sign in to connect Living-room TV"), and the confirm page says
// where and when the device's request came from in words, with a warning
// when that was another network than the person's browser. A person
// scanning a QR code decides in seconds whether a page is genuine; these
// are what let them spot a code someone else sent them (RFC 8628 §5.4).

// purpose says what signing in (or creating an account) is for, from
// where the browser returns to afterwards: "connect Living-room TV",
// "continue to Acme Notes", or "" when it is for nothing in particular.
// A device's name is found with device.Verifier.Peek, which spends the
// same wrong-code budgets as the verification page, so this page is no
// way round them; an authorization request's by its id, the request's
// secret, which the browser was sent.
func (p *Pages) purpose(r *http.Request, returnTo string) purpose {
	if returnTo == "" {
		return purpose{}
	}
	u, err := url.Parse(returnTo)
	if err != nil {
		return purpose{}
	}
	q := u.Query()
	switch u.Path {
	case "/device", "/user/device":
		code := q.Get("user_code")
		if u.Path == "/user/device" {
			code = q.Get("userCode")
		}
		if code == "" || p.Verifier == nil {
			return purpose{Kind: "a_device"}
		}
		pend, err := p.Verifier.Peek(r.Context(), p.clientIP(r), code)
		if err != nil {
			if !errors.Is(err, device.ErrInvalidCode) && !errors.Is(err, device.ErrExpired) &&
				!errors.Is(err, device.ErrUsed) && !errors.Is(err, device.ErrThrottled) {
				p.log().WarnContext(r.Context(), "name the device on the sign-in page", "err", err)
			}
			return purpose{Kind: "a_device"}
		}
		return purpose{Kind: "device", Name: clientName(pend.Client)}
	case "/consent":
		if p.Authorizer == nil {
			return purpose{}
		}
		c, err := p.Authorizer.ClientOf(r.Context(), q.Get("request"))
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				p.log().WarnContext(r.Context(), "name the client on the sign-in page", "err", err)
			}
			return purpose{}
		}
		return purpose{Kind: "app", Name: clientName(c)}
	}
	return purpose{}
}

// purpose is what signing in or creating an account is for: Kind
// "device" (connect Name), "a_device" (an unnamed one), "app" (continue
// to Name), or "" for nothing in particular.
type purpose struct{ Kind, Name string }

// heading is the page's heading key: prefix ("login.heading") for
// nothing in particular, else prefix and the kind.
func (pp purpose) heading(prefix string) string {
	if pp.Kind == "" {
		return prefix
	}
	return prefix + "." + pp.Kind
}

func clientName(c *store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// agentWords says in words what made a request, from its User-Agent:
// "Chrome on Android", or for a device's own program, which no parser
// knows, the name it gives itself: "an app that calls itself SmartTV".
func agentWords(loc *i18n.Locale, ua string) string {
	if ua == "" {
		return ""
	}
	browser, os := parseAgent(ua)
	switch {
	case browser != "" && os != "":
		return loc.T("agent.on", "browser", browser, "os", os)
	case browser != "":
		return browser
	case os != "":
		return loc.T("agent.app_on", "os", os)
	}
	// The first product token (RFC 9110 §10.1.5), printable and short.
	product, _, _ := strings.Cut(strings.TrimSpace(ua), "/")
	product, _, _ = strings.Cut(product, " ")
	product = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, product)
	if len(product) > 40 {
		product = product[:40] + "…"
	}
	if product == "" {
		return loc.T("agent.unknown")
	}
	return loc.T("agent.self_named", "product", product)
}

// otherNetwork says whether the device's request came from another
// network than the browser deciding on it (clientip.SameNetwork). An
// unknown address is not called another network.
func otherNetwork(requestIP, browserIP string) bool {
	if requestIP == "" || browserIP == "" {
		return false
	}
	return !clientip.SameNetwork(requestIP, browserIP)
}
