package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Error codes of OpenID Connect Core §3.1.2.6 and §6 beside RFC 6749's.
const (
	LoginRequired            = "login_required"
	ConsentRequired          = "consent_required"
	RequestNotSupported      = "request_not_supported"
	RequestURINotSupported   = "request_uri_not_supported"
	RegistrationNotSupported = "registration_not_supported"
)

// maxLoginHint bounds a login_hint worth carrying to the sign-in page: an
// email address (RFC 5321 §4.5.3.1 paths are at most 256 octets).
const maxLoginHint = 320

// maxMaxAge bounds max_age (seconds) to something a duration holds.
const maxMaxAge = 1 << 31

// Request is a validated authorization request (RFC 6749 §4.1.1, RFC 7636
// §4.3, OpenID Connect Core §3.1.2.1).
type Request struct {
	Client          *store.Client
	RedirectURI     string // where the response goes: registered, matched exactly
	RedirectURISent bool   // the request named it (RFC 6749 §4.1.3 then wants it again)
	State           string
	Scopes          []string
	Nonce           string
	CodeChallenge   string // "" when a confidential client sent none
	ChallengeMethod string // MethodS256 with a challenge
	Prompt          Prompt
	MaxAge          time.Duration // negative when max_age was not sent
	LoginHint       string
	Register        bool // flow=register: a signed-out person creates an account rather than signs in
	// DPoPJKT is dpop_jkt (RFC 9449 §10): the JWK SHA-256 thumbprint of
	// the DPoP key the code must be redeemed with; "" when not sent.
	DPoPJKT string
}

// Prompt is the prompt parameter (OpenID Connect Core §3.1.2.1).
type Prompt struct {
	None    bool // show nothing: answer login_required or consent_required instead
	Login   bool // sign in again, even with a session (also select_account)
	Consent bool // ask for consent, even when it was given before
}

// String is the prompt as stored: its values, space-separated.
func (p Prompt) String() string {
	var vs []string
	for _, v := range []struct {
		on   bool
		name string
	}{{p.None, "none"}, {p.Login, "login"}, {p.Consent, "consent"}} {
		if v.on {
			vs = append(vs, v.name)
		}
	}
	return strings.Join(vs, " ")
}

// ParsePrompt reads a prompt parameter. Values are space-separated; none
// with any other is invalid (OpenID Connect Core §3.1.2.1), and so is a
// value we do not know.
func ParsePrompt(s string) (Prompt, error) {
	var p Prompt
	if s == "" {
		return p, nil
	}
	for _, v := range strings.Split(s, " ") {
		switch v {
		case "none":
			p.None = true
		case "login", "select_account":
			// One account per browser session: choosing an account is
			// signing in as it.
			p.Login = true
		case "consent":
			p.Consent = true
		default:
			return Prompt{}, oauth.BadRequest("prompt " + strconv.Quote(short(v)) + " is not none, login, consent or select_account")
		}
	}
	if p.None && (p.Login || p.Consent) {
		return Prompt{}, oauth.BadRequest("prompt none must not be combined with other values")
	}
	return p, nil
}

// PageError is a problem we must show the person instead of sending to the
// client: the client is unknown, or the redirect URI is missing, repeated
// or not one the client registered, so there is no address we may trust
// (RFC 6749 §4.1.2.1, §3.1.2.4; RFC 9700 §4.11.2). Also an authorization
// request that expired or was answered already, or belongs to another
// browser session.
type PageError struct {
	Status int    // 400 when zero
	Reason string // what went wrong, for the person or the app's developer, in English
	// Key names Reason in the pages' message catalogs (package i18n),
	// with Args its values, so that the page says it in the person's
	// language.
	Key  string
	Args []any
}

func (e *PageError) Error() string { return "authorization request: " + e.Reason }

// Parse validates the parameters of an authorization request, given once
// each (RFC 6749 §3.1), in the query of a GET (or the form of a POST).
//
// When client_id or redirect_uri is wrong it returns a *PageError and no
// Request: nothing may be sent to that redirect URI. Otherwise any other
// problem is an *oauth.Error returned with a Request holding the client,
// redirect URI and state, to be sent back to the client at its redirect URI
// (RFC 6749 §4.1.2.1). Any other error is the store's.
func Parse(ctx context.Context, clients Clients, q url.Values) (*Request, error) {
	clientID, err := oauth.QueryValue(q, "client_id")
	switch {
	case err != nil:
		return nil, &PageError{Key: "authorize.err.client_id_bad", Reason: "The application's client_id is repeated or is not valid text."}
	case clientID == "":
		return nil, &PageError{Key: "authorize.err.client_id_missing", Reason: "The request does not say which application is asking (client_id is missing)."}
	}
	asked, err := oauth.QueryValue(q, "redirect_uri")
	if err != nil {
		return nil, &PageError{Key: "authorize.err.redirect_uri_bad", Reason: "The request's redirect_uri is repeated or is not valid text."}
	}
	c, err := clients.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &PageError{Key: "authorize.err.unknown_client", Args: []any{"client_id", strconv.Quote(short(clientID))},
			Reason: "The application asking (client_id " + strconv.Quote(short(clientID)) + ") is not registered here."}
	}
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	req := &Request{Client: c, MaxAge: -1}
	switch {
	case asked != "":
		uri, ok := MatchRedirectURI(c.RedirectURIs, asked)
		if !ok {
			return nil, &PageError{Key: "authorize.err.redirect_uri_unregistered", Reason: "The address the application asked to return to (redirect_uri) is not one it registered."}
		}
		req.RedirectURI, req.RedirectURISent = uri, true
	case len(c.RedirectURIs) == 1 && safeRedirectURI(c.RedirectURIs[0]):
		// RFC 6749 §3.1.2.3: with one registered URI the request may omit it.
		req.RedirectURI = c.RedirectURIs[0]
	case len(c.RedirectURIs) == 0:
		return nil, &PageError{Key: "authorize.err.no_redirect_uri", Reason: "The application has no registered address to return to (redirect_uri)."}
	default:
		return nil, &PageError{Key: "authorize.err.redirect_uri_missing", Reason: "The application registered several addresses to return to, and the request does not say which (redirect_uri is missing)."}
	}

	// From here on the redirect URI is the client's own: problems go back
	// to it, with the state when we could read it.
	state, err := oauth.QueryValue(q, "state")
	if err != nil {
		return req, oauth.BadRequest("state is repeated or is not valid text")
	}
	req.State = state
	for name := range q {
		if _, err := oauth.QueryValue(q, name); err != nil {
			return req, err // RFC 6749 §3.1: no parameter may be repeated
		}
	}
	if err := req.parse(q); err != nil {
		return req, err
	}
	return req, nil
}

// parse reads the parameters after client_id, redirect_uri and state, each
// given at most once; an empty one counts as absent (RFC 6749 §3.1).
func (req *Request) parse(q url.Values) error {
	c := req.Client
	if !c.HasGrant(store.GrantAuthorizationCode) {
		return &oauth.Error{Code: oauth.UnauthorizedClient, Description: "the client is not registered for the authorization_code grant"}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return oauth.BadRequest("response_type is required")
	default:
		// RFC 9700 §2.1.2: no implicit or hybrid flows.
		return &oauth.Error{Code: oauth.UnsupportedResponseType, Description: "only response_type code is supported"}
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return oauth.BadRequest("only response_mode query is supported")
	}
	for _, unsupported := range []struct{ param, code string }{
		{"request", RequestNotSupported},
		{"request_uri", RequestURINotSupported},
		{"registration", RegistrationNotSupported},
	} {
		if q.Get(unsupported.param) != "" {
			return &oauth.Error{Code: unsupported.code, Description: unsupported.param + " is not supported"}
		}
	}

	scopes, err := oauth.ParseScope(q.Get("scope"))
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		// RFC 6749 §3.3: without a scope the server uses a default; ours
		// is what the client is registered for, as for the device grant.
		scopes = c.Scopes
	}
	if missing, ok := oauth.ScopeSubset(scopes, c.Scopes); !ok {
		return &oauth.Error{Code: oauth.InvalidScope, Description: "the client may not ask for scope " + missing}
	}
	req.Scopes = scopes

	if err := req.parsePKCE(q.Get("code_challenge"), q.Get("code_challenge_method")); err != nil {
		return err
	}
	if req.Prompt, err = ParsePrompt(q.Get("prompt")); err != nil {
		return err
	}
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxMaxAge || strings.TrimLeft(s, "0123456789") != "" {
			return oauth.BadRequest("max_age must be a number of seconds")
		}
		req.MaxAge = time.Duration(n) * time.Second
	}
	req.Nonce = q.Get("nonce")
	if hint := q.Get("login_hint"); len(hint) <= maxLoginHint {
		req.LoginHint = hint // a hint too long to be an address is dropped, not an error
	}
	req.Register = q.Get("flow") == "register"
	if jkt := q.Get("dpop_jkt"); jkt != "" {
		// A JWK SHA-256 thumbprint (RFC 7638) in base64url: 43 characters,
		// the shape of an S256 challenge.
		if !ValidChallenge(jkt) {
			return oauth.BadRequest("dpop_jkt must be 43 characters of base64url: the SHA-256 thumbprint of a DPoP key (RFC 9449 §10)")
		}
		req.DPoPJKT = jkt
	}
	return nil
}

// parsePKCE checks the code challenge (RFC 7636 §4.3, §4.4.1): public
// clients must send one (RFC 9700 §2.1.1), and only S256 is accepted; a
// missing method means plain (RFC 7636 §4.3), which we refuse.
func (req *Request) parsePKCE(challenge, method string) error {
	switch {
	case challenge == "" && method != "":
		return oauth.BadRequest("code_challenge_method was sent without code_challenge")
	case challenge == "" && req.Client.Public():
		return oauth.BadRequest("code_challenge is required: a public client must use PKCE with S256")
	case challenge == "":
		return nil
	case method == "":
		return oauth.BadRequest("code_challenge_method is required and must be S256 (plain is not supported)")
	case method != MethodS256:
		return oauth.BadRequest("code_challenge_method must be S256")
	case !ValidChallenge(challenge):
		return oauth.BadRequest("code_challenge must be 43 characters of base64url: an S256 challenge")
	}
	req.CodeChallenge, req.ChallengeMethod = challenge, method
	return nil
}

// short cuts s for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
