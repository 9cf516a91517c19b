// Package authorize implements the authorization endpoint of the
// authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636) and the
// OpenID Connect parameters (OpenID Connect Core §3.1.2): it validates
// requests and matches redirect URIs, keeps a request on the server while
// the person signs in and decides, remembers consent, and issues
// authorization codes. The pages the person sees belong to package web;
// redeeming a code at the token endpoint to package grant.
package authorize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// Default lifetimes.
const (
	// DefaultCodeLifetime: RFC 6749 §4.1.2 recommends at most ten minutes;
	// 60 seconds is what a client that redeems at once needs
	// (docs/security.md AC-06).
	DefaultCodeLifetime = 60 * time.Second
	// DefaultRequestLifetime is how long a person has to sign in, or create
	// an account, and decide.
	DefaultRequestLifetime = 30 * time.Minute
)

// Clients reads registered clients.
type Clients interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// Store is what the authorization endpoint reads and keeps. The token
// endpoint redeems the codes (package grant).
type Store interface {
	Clients
	store.AuthRequestStore
	GetConsent(ctx context.Context, userID, clientID string) (*store.Consent, error)
	CreateAuthCode(ctx context.Context, c *store.AuthCode) error
}

// Authorizer runs authorization requests from the first redirect to the
// answer at the client's redirect URI.
type Authorizer struct {
	Store  Store
	Issuer string           // sent as iss with every response (RFC 9207)
	Now    func() time.Time // time.Now in production, a fixed clock in tests
	Rand   io.Reader        // crypto/rand.Reader in production
	Log    *slog.Logger
	// CodeLifetime and RequestLifetime default to DefaultCodeLifetime and
	// DefaultRequestLifetime when zero.
	CodeLifetime    time.Duration
	RequestLifetime time.Duration
}

// Next is what the browser does after a step.
type Next int

const (
	// Redirect: go to Step.Location, the client's redirect URI with the
	// response (a code or an error).
	Redirect Next = iota + 1
	// Login: sign in (again), then continue request Step.RequestID.
	Login
	// Register: create an account, then continue request Step.RequestID.
	Register
	// Consent: ask the person whether Step.Client may have Step.Request's
	// scopes; the answer goes to Decide with Step.RequestID.
	Consent
)

// Step is where a request stands after the server did what it could.
type Step struct {
	Next      Next
	Location  string
	RequestID string // the id the browser carries; only its hash is stored
	LoginHint string
	Request   *store.AuthRequest
	Client    *store.Client
}

var (
	errExpired  = &PageError{Key: "authorize.err.expired", Reason: "This sign-in request has expired or is not known. Go back to the application and start again."}
	errAnswered = &PageError{Status: http.StatusConflict, Key: "authorize.err.answered",
		Reason: "This request was answered already. Go back to the application and start again if you need to."}
	errOtherSession = &PageError{Status: http.StatusForbidden, Key: "authorize.err.other_session",
		Reason: "This request was started in another browser, or before you signed in again. Go back to the application and start again."}
)

// Start takes a new authorization request for the browser with session s
// (nil when signed out). It answers a *PageError when the client or redirect
// URI is wrong.
func (a *Authorizer) Start(ctx context.Context, q url.Values, s *store.Session) (*Step, error) {
	now := a.now()
	req, err := Parse(ctx, a.Store, q)
	var oe *oauth.Error
	if errors.As(err, &oe) && req != nil {
		// RFC 6749 §4.1.2.1: the error goes back to the client, but only
		// once the person is signed in, so a link to us cannot bounce
		// someone straight to whatever a client registered
		// (RFC 9700 §4.11.2; docs/security.md AC-22). prompt=none asks
		// for an answer without any page, so it gets one at once.
		if s != nil || slices.Contains(strings.Split(q.Get("prompt"), " "), "none") {
			return a.errorStep(req.RedirectURI, req.State, oe.Code, oe.Description), nil
		}
		rec := a.record(req, now)
		rec.ErrorCode, rec.ErrorDescription = oe.Code, oauth.Description(oe.Description)
		id, err := a.create(ctx, rec)
		if err != nil {
			return nil, err
		}
		return &Step{Next: Login, RequestID: id, LoginHint: rec.LoginHint}, nil
	}
	if err != nil {
		return nil, err
	}
	rec := a.record(req, now)
	if req.Register && s == nil && !req.Prompt.None {
		id, err := a.create(ctx, rec)
		if err != nil {
			return nil, err
		}
		return &Step{Next: Register, RequestID: id, LoginHint: rec.LoginHint}, nil
	}
	return a.advance(ctx, rec, "", s, now)
}

// Continue picks up a stored request after the person signed in or
// created an account, or came back to it.
func (a *Authorizer) Continue(ctx context.Context, id string, s *store.Session) (*Step, error) {
	now := a.now()
	rec, err := a.Store.GetAuthRequest(ctx, oauth.HashSecret(id), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errExpired
	}
	if err != nil {
		return nil, fmt.Errorf("get authorization request: %w", err)
	}
	if rec.Status != store.AuthRequestPending {
		return nil, errAnswered
	}
	return a.advance(ctx, rec, id, s, now)
}

// Decide records the person's answer on the consent page. Only the session
// the request is bound to may answer, once: a denial is final, and a
// replayed approval after it changes nothing (docs/security.md UI-08).
func (a *Authorizer) Decide(ctx context.Context, id string, s *store.Session, approve bool) (*Step, error) {
	now := a.now()
	rec, err := a.Store.GetAuthRequest(ctx, oauth.HashSecret(id), now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errExpired
	case err != nil:
		return nil, fmt.Errorf("get authorization request: %w", err)
	case rec.Status != store.AuthRequestPending:
		return nil, errAnswered
	case rec.SessionHash == "" || rec.SessionHash != s.Hash:
		// Consent is bound to the browser session it was asked in
		// (docs/security.md UI-06).
		return nil, errOtherSession
	}
	if !approve {
		if err := a.decided(a.Store.DenyAuthRequest(ctx, rec.IDHash, s.Hash, now)); err != nil {
			return nil, err
		}
		secevent.Log(ctx, a.log(), secevent.Event{Name: secevent.Consent, Outcome: secevent.Denied, ClientID: rec.ClientID, UserID: s.UserID})
		return a.errorStep(rec.RedirectURI, rec.State, oauth.AccessDenied, "the user denied the request"), nil
	}
	consent := &store.Consent{UserID: s.UserID, ClientID: rec.ClientID, Scopes: rec.Scopes, CreatedAt: now}
	step, err := a.issue(ctx, rec, id, s, consent, now)
	if err == nil {
		secevent.Log(ctx, a.log(), secevent.Event{Name: secevent.Consent, Outcome: secevent.Approved, ClientID: rec.ClientID, UserID: s.UserID})
	}
	return step, err
}

// advance does what can be done for request rec for the browser with
// session s: sign in, consent, or the code. id is "" while rec is not
// stored: a request that needs no page is never stored.
func (a *Authorizer) advance(ctx context.Context, rec *store.AuthRequest, id string, s *store.Session, now time.Time) (*Step, error) {
	prompt, _ := ParsePrompt(rec.Prompt) // stored as ParsePrompt wrote it
	if needsLogin(rec, prompt, s, now) {
		if prompt.None {
			// OpenID Connect Core §3.1.2.6.
			return a.end(ctx, rec, id, s, LoginRequired, "the user is not signed in, or not recently enough")
		}
		if id == "" {
			var err error
			if id, err = a.create(ctx, rec); err != nil {
				return nil, err
			}
		}
		return &Step{Next: Login, RequestID: id, LoginHint: rec.LoginHint}, nil
	}
	if id != "" {
		if rec.SessionHash != "" && rec.SessionHash != s.Hash {
			return nil, errOtherSession
		}
		// The first session to continue a request is the only one that
		// may answer it.
		bound, err := a.Store.BindAuthRequest(ctx, rec.IDHash, s.Hash, now)
		if err := a.decided(err); err != nil {
			return nil, err
		}
		rec = bound
	}
	if rec.ErrorCode != "" {
		return a.end(ctx, rec, id, s, rec.ErrorCode, rec.ErrorDescription)
	}
	consent, err := a.Store.GetConsent(ctx, s.UserID, rec.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("get consent: %w", err)
	}
	if prompt.Consent || !covers(consent, rec.Scopes) {
		if prompt.None {
			return a.end(ctx, rec, id, s, ConsentRequired, "the user has not allowed this client these scopes")
		}
		c, err := a.Store.GetClient(ctx, rec.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errExpired // deleted since the request came in
		}
		if err != nil {
			return nil, fmt.Errorf("load client: %w", err)
		}
		if id == "" {
			rec.SessionHash = s.Hash
			if id, err = a.create(ctx, rec); err != nil {
				return nil, err
			}
		}
		return &Step{Next: Consent, RequestID: id, Request: rec, Client: c}, nil
	}
	return a.issue(ctx, rec, id, s, nil, now)
}

// needsLogin reports whether the person must sign in (again) first: when
// signed out, and, unless they signed in after the request came in, when
// the client asked for prompt=login or its max_age has passed since they
// last signed in (OpenID Connect Core §3.1.2.1).
func needsLogin(rec *store.AuthRequest, prompt Prompt, s *store.Session, now time.Time) bool {
	switch {
	case s == nil:
		return true
	case !s.AuthTime.Before(rec.CreatedAt):
		return false
	case prompt.Login:
		return true
	case rec.MaxAge >= 0 && now.Sub(s.AuthTime) > rec.MaxAge:
		return true
	}
	return false
}

// covers reports whether c allows every one of scopes. Nothing remembered
// covers nothing, even no scopes.
func covers(c *store.Consent, scopes []string) bool {
	if c == nil {
		return false
	}
	_, ok := oauth.ScopeSubset(scopes, c.Scopes)
	return ok
}

// issue draws a code for rec, approved by the person of session s, stores
// it (ending rec, if stored, in the same transaction, and remembering
// consent when not nil) and answers with the redirect that carries it.
func (a *Authorizer) issue(ctx context.Context, rec *store.AuthRequest, id string, s *store.Session, consent *store.Consent, now time.Time) (*Step, error) {
	code, err := oauth.NewSecret(a.Rand, oauth.PrefixAuthCode)
	if err != nil {
		return nil, err
	}
	life := a.CodeLifetime
	if life <= 0 {
		life = DefaultCodeLifetime
	}
	ac := &store.AuthCode{
		Hash:                oauth.HashSecret(code),
		ClientID:            rec.ClientID,
		UserID:              s.UserID,
		RedirectURI:         rec.RedirectURI,
		RedirectURISent:     rec.RedirectURISent,
		Scopes:              rec.Scopes,
		Nonce:               rec.Nonce,
		CodeChallenge:       rec.CodeChallenge,
		CodeChallengeMethod: rec.CodeChallengeMethod,
		DPoPJKT:             rec.DPoPJKT,
		AuthTime:            s.AuthTime,
		SessionHash:         s.Hash,
		CreatedAt:           now,
		ExpiresAt:           now.Add(life),
	}
	if id == "" {
		if err := a.Store.CreateAuthCode(ctx, ac); err != nil {
			return nil, fmt.Errorf("create authorization code: %w", err)
		}
	} else if err := a.decided(a.Store.ApproveAuthRequest(ctx, rec.IDHash, s.Hash, ac, consent, now)); err != nil {
		return nil, err
	}
	a.log().InfoContext(ctx, "authorization code issued", "client_id", rec.ClientID, "user_id", s.UserID)
	return &Step{Next: Redirect, Location: responseURL(rec.RedirectURI,
		param{"code", code}, param{"state", rec.State}, param{"iss", a.Issuer})}, nil
}

// end answers rec with an error at the client's redirect URI, ending rec
// first if it is stored, so it cannot be answered again.
func (a *Authorizer) end(ctx context.Context, rec *store.AuthRequest, id string, s *store.Session, code, description string) (*Step, error) {
	if id != "" && s != nil {
		if err := a.decided(a.Store.DenyAuthRequest(ctx, rec.IDHash, s.Hash, a.now())); err != nil {
			return nil, err
		}
	}
	return a.errorStep(rec.RedirectURI, rec.State, code, description), nil
}

// decided turns the store's answer to a decision on a stored request into
// the page a person sees when it was not theirs to make.
func (a *Authorizer) decided(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errExpired
	case errors.Is(err, store.ErrConflict):
		return errAnswered
	}
	return fmt.Errorf("authorization request: %w", err)
}

// errorStep is the redirect that carries an error response (RFC 6749
// §4.1.2.1) with the issuer (RFC 9207 §2).
func (a *Authorizer) errorStep(redirect, state, code, description string) *Step {
	return &Step{Next: Redirect, Location: responseURL(redirect,
		param{"error", code}, param{"error_description", oauth.Description(description)},
		param{"state", state}, param{"iss", a.Issuer})}
}

// record is the stored form of req, received at now.
func (a *Authorizer) record(req *Request, now time.Time) *store.AuthRequest {
	life := a.RequestLifetime
	if life <= 0 {
		life = DefaultRequestLifetime
	}
	now = now.Truncate(time.Millisecond) // as the store keeps it, so session times compare alike
	return &store.AuthRequest{
		ClientID:            req.Client.ID,
		RedirectURI:         req.RedirectURI,
		RedirectURISent:     req.RedirectURISent,
		Scopes:              req.Scopes,
		State:               req.State,
		Nonce:               req.Nonce,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.ChallengeMethod,
		Prompt:              req.Prompt.String(),
		MaxAge:              req.MaxAge,
		LoginHint:           req.LoginHint,
		DPoPJKT:             req.DPoPJKT,
		Status:              store.AuthRequestPending,
		CreatedAt:           now,
		ExpiresAt:           now.Add(life),
	}
}

// create stores rec under a new random id and returns the id.
func (a *Authorizer) create(ctx context.Context, rec *store.AuthRequest) (string, error) {
	id, err := oauth.NewSecret(a.Rand, "")
	if err != nil {
		return "", err
	}
	rec.IDHash = oauth.HashSecret(id)
	if err := a.Store.CreateAuthRequest(ctx, rec); err != nil {
		return "", fmt.Errorf("create authorization request: %w", err)
	}
	return id, nil
}

func (a *Authorizer) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Authorizer) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// ClientOf is the client a stored, pending request is for, so that the
// sign-in page can name it. It changes nothing; the id is the request's
// secret, so it tells a browser only about a request it was sent to.
func (a *Authorizer) ClientOf(ctx context.Context, id string) (*store.Client, error) {
	rec, err := a.Store.GetAuthRequest(ctx, oauth.HashSecret(id), a.now())
	if err != nil {
		return nil, err
	}
	if rec.Status != store.AuthRequestPending {
		return nil, store.ErrNotFound
	}
	return a.Store.GetClient(ctx, rec.ClientID)
}
