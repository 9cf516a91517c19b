package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
)

type entryPage struct {
	base
	UserCode    string
	Placeholder string // the code's shape, "XXXX-XXXX"
}

type confirmPage struct {
	base
	UserCode   string // display form
	ClientName string
	Scopes     []string // in plain words
	When       string   // "2 minutes ago"
	WhenExact  string   // RFC 3339, for <time datetime>
	IP         string
	Agent      string // the request's User-Agent in words (agentWords)
	// OtherNetwork: the request came from another network than this
	// browser (otherNetwork), which the page warns about.
	OtherNetwork bool
}

// scopeWords says what each well-known scope lets the device do, so people
// approve something they can read (RFC 8628 §5.4). Other scopes are shown as
// their names.
var scopeWords = map[string]string{
	"openid":         "scope.openid",
	"profile":        "scope.profile",
	"email":          "scope.email",
	"offline_access": "scope.offline_access",
}

// appScopeWords are the words that differ for an application (the consent
// page), which is not a device the person holds.
var appScopeWords = map[string]string{
	"offline_access": "scope.app.offline_access",
}

// scopeText is scopes in words: for a device, or for an application.
func scopeText(scopes []string, device bool) []string {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if words, ok := appScopeWords[sc]; ok && !device {
			out = append(out, words)
		} else if words, ok := scopeWords[sc]; ok {
			out = append(out, words)
		} else {
			out = append(out, sc)
		}
	}
	return out
}

// DeviceForm serves GET /device, the verification_uri; with ?user_code= it
// is the verification_uri_complete (RFC 8628 §3.3.1). It takes 10Duke's
// options too (signInOptions).
func (p *Pages) DeviceForm(w http.ResponseWriter, r *http.Request) error {
	return p.showDevice(w, r, "user_code")
}

// DeviceFormAlias serves GET /user/device?userCode=, the page's path and
// parameter name in 10Duke's API.
func (p *Pages) DeviceFormAlias(w http.ResponseWriter, r *http.Request) error {
	return p.showDevice(w, r, "userCode")
}

// showDevice shows the entry form, or with a code (in the query parameter
// param) the confirm page. A GET only ever shows: even a prefilled code
// needs an explicit click to be approved (RFC 8628 §5.4, docs/security.md
// DF-16). A signed-out person is sent to sign in, or with flow=register to
// create an account, with the email from login_hint filled in, and comes
// back here with the code; neither option does anything for someone signed
// in already, and neither approves anything (DF-22).
func (p *Pages) showDevice(w http.ResponseWriter, r *http.Request, param string) error {
	code, err := query(r, param)
	if err != nil {
		return err
	}
	opts, err := signInOptionsFrom(r)
	if err != nil {
		return err
	}
	// With registration off, flow=register would lead to a page that
	// says so: sign-in, where someone with an account can go on.
	opts.Register = opts.Register && !p.Registration.Closed()
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if s == nil {
		return seeOther(w, opts.url(deviceURL(code)))
	}
	if stop, err := p.gates(w, r, u, deviceURL(code)); err != nil || stop {
		return err
	}
	b := base{Title: "device.heading", CSRF: p.csrfFor(w, r, s), User: u}
	if code == "" {
		return p.render(w, r, http.StatusOK, "device_entry", entryPage{Placeholder: p.CodePlaceholder, base: b})
	}
	pend, err := p.Verifier.Lookup(r.Context(), u.ID, p.clientIP(r), code)
	if err != nil {
		return p.deviceError(w, r, b, code, err)
	}
	return p.confirm(w, r, b, pend)
}

// DevicePost serves POST /device: a code typed into the entry form (shows
// the confirm page) or a decision on the confirm page.
func (p *Pages) DevicePost(w http.ResponseWriter, r *http.Request) error {
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	code := f.Get("user_code")
	s, u, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if s == nil {
		// Signed out (or the session expired, or the user was disabled)
		// since the form was shown: sign in again, then confirm again.
		// Nothing is decided without a signed-in, enabled user (DF-17).
		return seeOther(w, loginURL(deviceURL(code)))
	}
	// The token is bound to this session, so a confirm form from another
	// browser or from before sign-in cannot decide (UI-01, UI-06).
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	// Nothing is decided by someone who must set up a second factor, or
	// confirm their address, first. The code is kept for afterwards.
	if stop, err := p.gates(w, r, u, deviceURL(code)); err != nil || stop {
		return err
	}
	b := base{Title: "device.heading", CSRF: p.csrfFor(w, r, s), User: u}
	if code == "" {
		b.Notice = "device.enter_code"
		return p.render(w, r, http.StatusBadRequest, "device_entry", entryPage{Placeholder: p.CodePlaceholder, base: b})
	}
	var approve bool
	switch f.Get("decision") {
	case "":
		pend, err := p.Verifier.Lookup(r.Context(), u.ID, p.clientIP(r), code)
		if err != nil {
			return p.deviceError(w, r, b, code, err)
		}
		return p.confirm(w, r, b, pend)
	case "approve":
		approve = true
	case "deny":
	default:
		return errBadForm
	}
	pend, err := p.Verifier.Decide(r.Context(), s, p.clientIP(r), code, approve)
	if err != nil {
		return p.deviceError(w, r, b, code, err)
	}
	outcome := secevent.Denied
	if approve {
		outcome = secevent.Approved
	}
	secevent.Log(r.Context(), p.Log, secevent.Event{Name: secevent.DeviceDecision, Outcome: outcome, ClientID: pend.Auth.ClientID, UserID: s.UserID})
	page := messagePage{base: b, Heading: "device.denied.heading", Mark: markBad, Text: "device.denied.text"}
	if pend.Auth.Status == store.DeviceApproved {
		page.Heading = "device.connected.heading"
		page.Mark = markOK
		page.Text = "device.connected.text_unnamed"
		if name := pend.Client.Name; name != "" {
			page.Text, page.Args = "device.connected.text", []any{"client", name}
		}
	}
	page.Title = page.Heading
	return p.render(w, r, http.StatusOK, "message", page)
}

// confirm renders the confirm page for a pending request, with what RFC 8628
// §5.4 asks for against remote phishing: which application, what access, and
// when and from where the request was made.
func (p *Pages) confirm(w http.ResponseWriter, r *http.Request, b base, pend *device.Pending) error {
	name := pend.Client.Name
	if name == "" {
		name = pend.Client.ID
	}
	loc := p.locale(r)
	scopes := scopeText(pend.Auth.Scopes, true)
	ip := pend.Auth.RequestIP
	if ip == "" {
		ip = loc.T("confirm.unknown_address")
	}
	b.Title, b.TitleArgs = "confirm.heading", []any{"client", name}
	return p.render(w, r, http.StatusOK, "device_confirm", confirmPage{
		base:         b,
		UserCode:     displayCode(pend.UserCode, pend.Client.UserCode.Group),
		ClientName:   name,
		Scopes:       scopes,
		When:         loc.Ago(p.Now().Sub(pend.Auth.CreatedAt)),
		WhenExact:    pend.Auth.CreatedAt.UTC().Format(time.RFC3339),
		IP:           ip,
		Agent:        agentWords(loc, pend.Auth.RequestUserAgent),
		OtherNetwork: otherNetwork(pend.Auth.RequestIP, p.clientIP(r)),
	})
}

// deviceError turns a Verifier error into the page a person can act on.
func (p *Pages) deviceError(w http.ResponseWriter, r *http.Request, b base, typed string, err error) error {
	switch {
	case errors.Is(err, device.ErrInvalidCode):
		b.Notice = "device.invalid_code"
		if len(typed) > 4*device.MaxUserCodeLength {
			typed = "" // not worth showing back
		}
		return p.render(w, r, http.StatusBadRequest, "device_entry", entryPage{Placeholder: p.CodePlaceholder, base: b, UserCode: typed})
	case errors.Is(err, device.ErrExpired):
		return p.message(w, r, http.StatusBadRequest, b, "device.expired.heading", "device.expired.text")
	case errors.Is(err, device.ErrUsed):
		return p.message(w, r, http.StatusBadRequest, b, "device.used.heading", "device.used.text")
	case errors.Is(err, device.ErrThrottled):
		e := secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: "user code attempts"}
		if b.User != nil {
			e.UserID = b.User.ID
		}
		secevent.Log(r.Context(), p.Log, e)
		retryAfter(w, throttle.Window{Length: p.Verifier.Window}.RetryAfter(p.Now()))
		return p.message(w, r, http.StatusTooManyRequests, b, "device.too_many.heading", "device.too_many.text")
	}
	return fmt.Errorf("device verification: %w", err)
}

func (p *Pages) message(w http.ResponseWriter, r *http.Request, status int, b base, heading, text string) error {
	b.Title = heading
	return p.render(w, r, status, "message", messagePage{base: b, Heading: heading, Text: text, Mark: markBad,
		Link: "/device", LinkText: "device.another_code"})
}

// deviceURL is the verification page for code, to come back to after
// sign-in. Input that cannot be a user code is left out rather than carried
// through the sign-in redirect.
func deviceURL(code string) string {
	if _, ok := device.NormalizeUserCode(code); !ok {
		return "/device"
	}
	return "/device?" + url.Values{"user_code": {code}}.Encode()
}

// displayCode groups a normalised code the way devices show it. A client
// may set its own grouping; otherwise the server default of groups of four
// is assumed.
func displayCode(code string, group int) string {
	switch {
	case group < 0:
		return code
	case group == 0:
		group = 4
	}
	return device.CodePolicy{Group: group}.Format(code)
}
