package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/authorize"
	"github.com/latchkey/latchkey/internal/clientauth"
	"github.com/latchkey/latchkey/internal/console"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/grant"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/serviceapi"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
	"github.com/latchkey/latchkey/internal/token"
	"github.com/latchkey/latchkey/internal/web"
)

// endpoints are the handlers the route table (routes.go) serves, built
// from the configuration. Each gets the store as the narrow interface its
// package declares; the caching store (clientcache.go) stands in for all.
type endpoints struct {
	errs       oauth.ErrorWriter // writes the protocol endpoints' and admin API's errors
	device     *device.Handler   // device authorization (RFC 8628 §3.1)
	token      *grant.Handler    // the token endpoint, every grant
	tokens     *token.Handler    // revocation, introspection, UserInfo
	pages      *web.Pages
	invitation *web.InvitationPage
	orgs       *org.Service // the public invitation endpoints
	admin      *admin.API
	service    *serviceapi.API     // the Authlete-compatible service API
	register   *admin.Registration // dynamic client registration (RFC 7591, RFC 7592)
	console    *console.Console    // the SysAdmin console, through the admin API's operations
}

// endpoints builds every endpoint from the configuration, and starts the
// invitation outbox's sender, which lives as long as ctx.
func (s *Server) endpoints(ctx context.Context) (*endpoints, error) {
	cfg := s.cfg
	rules, err := codeRules(cfg)
	if err != nil {
		return nil, err
	}
	langs, err := languages(cfg.Pages)
	if err != nil {
		return nil, err
	}
	pageTheme, err := theme(cfg.Pages)
	if err != nil {
		return nil, err
	}
	// The CSRF key lives in the store so every instance checks the tokens
	// every other one issued.
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	csrfKey, err := s.store.ServerSecret(ctx, "csrf", fresh)
	if err != nil {
		return nil, fmt.Errorf("csrf key: %w", err)
	}

	// One guard against client-secret guessing for every endpoint that
	// authenticates clients (docs/security.md CA-05).
	guard := &clientauth.Guard{
		Store:     s.store,
		Now:       s.now,
		Window:    cfg.Limits.AuthFailureWindow.D(),
		PerClient: cfg.Limits.AuthFailuresPerClient,
		PerIP:     cfg.Limits.AuthFailuresPerIP,
		Log:       s.log,
		// An address's failures read from the store are trusted for a
		// second, its own failures counted at once (CA-05).
		Fresh: time.Second,
	}
	deviceAuthz := &device.Handler{
		Store:              s.store,
		Clients:            s.store,
		Guard:              guard,
		Issuer:             s.issuer,
		Now:                s.now,
		Rand:               s.rand,
		Log:                s.log,
		Policy:             rules.Policy,
		Lifetime:           cfg.Device.Lifetime.D(),
		Interval:           cfg.Device.Interval.D(),
		PerClientPerMinute: cfg.Device.RequestsPerClientPerMinute,
		PerIPPerMinute:     cfg.Device.RequestsPerIPPerMinute,
		TrustProxy:         cfg.TrustProxy,
		Metrics:            s.metrics,
	}
	// The per-client rate limits count on each instance and add to the
	// store every throttle.FlushEvery, or at once near the limit
	// (docs/security.md TH-02); their flushers live as long as ctx.
	tokenLimit := &throttle.PerMinute{Store: s.store, Limit: cfg.Limits.TokenPerClientPerMinute, Log: s.log}
	introspectLimit := &throttle.PerMinute{Store: s.store, Limit: cfg.Limits.IntrospectionPerClientPerMinute, Log: s.log}
	go tokenLimit.Run(ctx, s.now)
	go introspectLimit.Run(ctx, s.now)
	deps := &grant.Deps{
		Clients:    s.store,
		Guard:      guard,
		TokenLimit: tokenLimit,
		Users:      s.store,
		Minter: &token.Minter{
			Keys:      s.keys,
			Issuer:    s.issuer,
			Audience:  cfg.Tokens.Audience,
			Now:       s.now,
			Rand:      s.rand,
			AccessTTL: cfg.Tokens.AccessTokenLifetime.D(),
			IDTTL:     cfg.Tokens.IDTokenLifetime.D(),
			AccessAlg: cfg.Tokens.SigningAlg,
			IDAlg:     cfg.Tokens.IDTokenSigningAlg,
		},
		Now:             s.now,
		Rand:            s.rand,
		Log:             s.log,
		RefreshLifetime: cfg.Tokens.RefreshLifetime.D(),
		RefreshIdle:     cfg.Tokens.RefreshIdleLifetime.D(),
		Metrics:         s.metrics,
	}
	dpopChecker := &dpop.Checker{Replays: s.store, Now: s.now, Window: cfg.DPoP.ProofWindow.D()}
	if cfg.DPoP.RequireNonce {
		// Every instance makes and checks the same nonces from one stored
		// key, and keeps nothing per nonce.
		key, err := s.store.ServerSecret(ctx, "dpop-nonce", fresh32())
		if err != nil {
			return nil, fmt.Errorf("dpop nonce key: %w", err)
		}
		dpopChecker.Nonces = &dpop.Nonces{Key: key, Period: cfg.DPoP.NoncePeriod.D()}
	}
	tokenEndpoint := &grant.Handler{
		Metrics: s.metrics,
		Log:     s.log,
		DPoP:    dpopChecker,
		Issuer:  s.issuer,
		Grants: []grant.Grant{
			device.Grant{Deps: deps, Store: s.store},
			grant.Refresh{Deps: deps, Store: s.store, SessionIdleTimeout: cfg.Session.IdleTimeout.D()},
			grant.AuthorizationCode{Deps: deps, Store: s.store},
			grant.ClientCredentials{Deps: deps, Store: s.store},
		},
	}
	verifier := &token.Verifier{Keys: s.keys, Issuer: s.issuer, Audience: cfg.Tokens.Audience, Now: s.now}
	tokenState := &token.Handler{Store: s.store, Clients: s.store, Guard: guard, Tokens: verifier, Now: s.now, Log: s.log,
		IntrospectLimit: introspectLimit,
		DPoP:            dpopChecker, Issuer: s.issuer}
	sessions := &session.Manager{
		Store:       s.store,
		Users:       s.store,
		Now:         s.now,
		Rand:        s.rand,
		Lifetime:    cfg.Session.Lifetime.D(),
		IdleTimeout: cfg.Session.IdleTimeout.D(),
		Secure:      strings.HasPrefix(s.issuer, "https://"),
		Log:         s.log,
	}
	pages := &web.Pages{
		Issuer:   s.issuer,
		Store:    s.store,
		Sessions: sessions,
		Tokens:   verifier,
		Verifier: &device.Verifier{
			Store:      s.store,
			Now:        s.now,
			Window:     cfg.Device.Lifetime.D(),
			PerAccount: cfg.Device.AttemptsPerAccount,
			PerIP:      cfg.Device.AttemptsPerIP,
			Global:     cfg.Device.AttemptsGlobal,
			Metrics:    s.metrics,
		},
		Now:                 s.now,
		Log:                 s.log,
		CSRFKey:             csrfKey,
		LoginPerAccount:     cfg.Login.AttemptsPerAccount,
		LoginPerIP:          cfg.Login.AttemptsPerIP,
		LoginAccountCeiling: cfg.Login.AccountCeiling,
		LoginWindow:         cfg.Login.Window.D(),
		TrustProxy:          cfg.TrustProxy,
		Authorizer: &authorize.Authorizer{
			Store: s.store, Issuer: s.issuer, Now: s.now, Rand: s.rand, Log: s.log,
		},
		Rand:            s.rand,
		Metrics:         s.metrics,
		Theme:           pageTheme,
		Languages:       langs,
		CodePlaceholder: rules.Policy.Placeholder(),
	}
	// Every change through the admin API, the invitation API and the
	// consoles is recorded (package audit).
	auditLog := &audit.Log{Store: s.store, Now: s.now, Rand: s.rand, Log: s.log}
	adminAPI := &admin.API{
		Store:      s.store,
		Token:      cfg.AdminToken,
		Now:        s.now,
		Rand:       s.rand,
		Log:        s.log,
		Audit:      auditLog,
		TrustProxy: cfg.TrustProxy,
		// A client's override is checked as it will be used: merged
		// with the server's policy.
		CheckCodePolicy: rules.CheckClient,
	}

	// Device client invitations (package org), and the outbox that mails
	// them: through the configured mail server, or nowhere (they wait in the
	// outbox, and `serve --dev` logs their links).
	var mailer org.Mailer
	if cfg.SMTP.Enabled() {
		mailer = &org.SMTP{Host: cfg.SMTP.Host, Port: cfg.SMTP.PortOrDefault(), TLS: cfg.SMTP.Mode(),
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password, From: cfg.SMTP.From}
	} else {
		s.log.Info("no mail server configured (smtp.host): invitation emails wait in the outbox; `latchkey invitations show ID` prints their links")
	}
	outbox := &org.Sender{Store: s.store, Mailer: mailer, Now: s.now, Log: s.log, Interval: cfg.Invitations.RetryInterval.D(),
		Metrics: s.metrics}
	// Account mail (verification and reset links, notices) goes through
	// the same outbox.
	pages.Accounts = s.store
	pages.Passkeys = s.store
	pages.TOTP = s.store
	pages.SecondFactor = cfg.Accounts.SecondFactorPolicy(cfg.Dev)
	pages.RequireVerifiedEmail = cfg.Accounts.VerifiedEmailRequired(cfg.Dev)
	pages.Registration = account.Registration{Mode: cfg.Accounts.RegistrationMode()}
	for _, d := range cfg.Accounts.RegistrationDomains {
		pages.Registration.Domains = append(pages.Registration.Domains, strings.ToLower(d))
	}
	pages.Links = &account.Links{
		Store: s.store, Issuer: s.issuer, Now: s.now, Rand: s.rand, Log: s.log, Kick: outbox.Kick,
		VerifyLifetime: cfg.Accounts.VerifyLinkLifetime.D(), ResetLifetime: cfg.Accounts.ResetLinkLifetime.D(),
		LogLinks: cfg.Dev && !cfg.SMTP.Enabled(),
		Service:  cfg.Pages.ServiceName, Support: cfg.Pages.SupportURL,
	}
	adminAPI.Links = pages.Links // an admin's "send a reset link" (admin.API.SendPasswordReset)
	pages.LinksPerAddress = cfg.Accounts.LinksPerAddress
	pages.LinksPerIP = cfg.Accounts.LinksPerIP
	orgs := &org.Service{
		Store: s.store, Clients: s.store, Keys: s.keys, Issuer: s.issuer, Audience: cfg.Tokens.Audience, AdminToken: cfg.AdminToken,
		Now: s.now, Rand: s.rand, Log: s.log, Lifetime: cfg.Invitations.Lifetime.D(),
		PerIPPerMinute: cfg.Invitations.RequestsPerIPPerMinute, TrustProxy: cfg.TrustProxy,
		SendLimits: org.SendLimits{PerOrg: cfg.Invitations.MailsPerOrgPerHour, PerSender: cfg.Invitations.MailsPerSenderPerHour},
		LogLinks:   cfg.Dev && !cfg.SMTP.Enabled(), Outbox: outbox, Audit: auditLog,
		ServiceName: cfg.Pages.ServiceName, Support: cfg.Pages.SupportURL, Languages: langs,
	}
	adminAPI.Orgs = orgs
	pages.InvitedEmail = orgs.InvitedEmail // an invited address may register (accounts.registration: domains)
	// The sender lives as long as the context the server was built with (serve's
	// runs until shutdown), as the sweeper does; on several instances each runs
	// one, and ClaimMail keeps them from sending a mail twice.
	go outbox.Run(ctx)

	// The service API is another front for the same engine: the device
	// handler, the token endpoint's grants and introspection above, and a
	// verifier whose callers are service keys, not accounts: the global
	// wrong-code budget, shared with the hosted pages, binds them all.
	verificationURI, verificationURIComplete := cfg.ServiceAPI.VerificationURI, cfg.ServiceAPI.VerificationURIComplete
	if verificationURI == "" {
		verificationURI = s.issuer + device.DefaultPage.Path
		verificationURIComplete = verificationURI + "?" + device.DefaultPage.CodeParam + "=" + serviceapi.UserCodePlaceholder
	}
	service := &serviceapi.API{
		Store:  s.store,
		Device: deviceAuthz,
		Verifier: &device.Verifier{
			Store:      s.store,
			Now:        s.now,
			Window:     cfg.Device.Lifetime.D(),
			PerAccount: cfg.Device.AttemptsGlobal,
			PerIP:      cfg.Device.AttemptsGlobal,
			Global:     cfg.Device.AttemptsGlobal,
			Metrics:    s.metrics,
		},
		Token:                   tokenEndpoint,
		Tokens:                  tokenState,
		DPoP:                    dpopChecker,
		ServiceID:               cfg.ServiceAPI.ServiceID,
		VerificationURI:         verificationURI,
		VerificationURIComplete: verificationURIComplete,
		Now:                     s.now,
		Log:                     s.log,
		Unavailable:             store.ErrUnavailable,
		Metrics:                 s.metrics,
		Audit:                   auditLog,
	}

	return &endpoints{
		service:    service,
		errs:       oauth.ErrorWriter{Log: s.log, Unavailable: store.ErrUnavailable, Observe: s.observeError},
		device:     deviceAuthz,
		token:      tokenEndpoint,
		tokens:     tokenState,
		pages:      pages,
		invitation: &web.InvitationPage{Pages: pages, Invitations: orgs},
		orgs:       orgs,
		admin:      adminAPI,
		console: &console.Console{
			Pages: pages, Roles: &web.Roles{Sessions: sessions, Members: s.store}, Admin: adminAPI,
			Keys: s.keys, Audit: auditLog, Store: s.store, Now: s.now, Log: s.log,
		},
		register: &admin.Registration{
			Store: s.store, Issuer: s.issuer, Enabled: cfg.Registration.Enabled,
			Scopes: cfg.Registration.Scopes, GrantTypes: cfg.Registration.GrantTypes,
			PerIPPerMinute: cfg.Registration.RequestsPerIPPerMinute, TrustProxy: cfg.TrustProxy,
			Now: s.now, Rand: s.rand, Log: s.log,
		},
	}, nil
}

// observeError writes a security event for a limit that refused a request
// at a JSON endpoint (429): which route, from which address (package audit),
// unless the limit logged its own (secevent.ErrLogged: the invitation
// mails', which names the limit and the sender).
func (s *Server) observeError(r *http.Request, oe *oauth.Error) {
	if oe.StatusCode() == http.StatusTooManyRequests {
		s.metrics.Throttled(metrics.ThrottleRequest)
		if !errors.Is(oe, secevent.ErrLogged) {
			secevent.Log(r.Context(), s.log, secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: oauth.Route(r)})
		}
	}
}

// fresh32 is 32 new random bytes, offered as a server secret's first value.
func fresh32() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail (Go 1.24+)
	}
	return b
}
