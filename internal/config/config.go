// Package config owns Latchkey's settings: defaults, the YAML file (where an
// unknown key is an error, not a silent no-op), LATCHKEY_* environment
// overrides, and Validate, which reports every problem at once. Flags are
// applied by the command line on top of what Load returns. It imports no
// other Latchkey package: settings that another package judges (the user
// code policy, package device) are plain values here, checked by
// server.Validate.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Config is everything `latchkey serve` needs.
type Config struct {
	Issuer   string `yaml:"issuer"` // defaults to http:// + Listen
	Listen   string `yaml:"listen"`
	Database string `yaml:"database"` // sqlite:PATH or postgres://...
	// Postgres tunes the PostgreSQL connection pool; ignored for SQLite.
	Postgres   Postgres `yaml:"postgres"`
	AdminToken string   `yaml:"admin_token"`
	// SecretsKeys are the keys that seal private signing keys, the mail
	// outbox and the server's secrets in the database (package seal): the
	// first seals, every one opens. serve needs one outside --dev.
	SecretsKeys []string `yaml:"secrets_keys"`
	Log         Log      `yaml:"log"`
	Tokens      Tokens   `yaml:"tokens"`
	Device      Device   `yaml:"device"`
	Login       Login    `yaml:"login"`
	Accounts    Accounts `yaml:"accounts"`
	Session     Sess     `yaml:"session"`
	Keys        Keys     `yaml:"keys"`
	// Limits are the per-caller limits of the client-authenticating
	// endpoints (docs/security.md CA-05, IN-04).
	Limits Limits `yaml:"limits"`
	// SMTP is the mail server invitations go through; without a host they
	// wait in the outbox (see smtp.go).
	SMTP        SMTP        `yaml:"smtp"`
	Invitations Invitations `yaml:"invitations"`
	// ServiceAPI is the Authlete-compatible API for front ends of their own.
	ServiceAPI ServiceAPI `yaml:"service_api"`
	// Registration is dynamic client registration (RFC 7591, RFC 7592).
	Registration Registration `yaml:"registration"`
	// DPoP is proof of possession (RFC 9449).
	DPoP DPoP `yaml:"dpop"`
	// TrustProxy takes the client address from X-Forwarded-For: set it only
	// behind a proxy that sets that header itself.
	TrustProxy bool `yaml:"trust_proxy"`
	// SweepInterval is how often expired rows are deleted.
	SweepInterval Duration `yaml:"sweep_interval"`
	Audit         Audit    `yaml:"audit"`
	// Pages is the operator's brand on the pages and in emails, and their
	// own templates (pages.go).
	Pages Pages `yaml:"pages"`
	// Metrics is the Prometheus metrics listener (off by default).
	Metrics Metrics `yaml:"metrics"`
	// Dev is set by `serve --dev`, never by the file.
	Dev bool `yaml:"-"`
}

// Audit says how long the audit log keeps what it records.
type Audit struct {
	// Retention is how long an entry is kept; the sweeper deletes older ones.
	Retention Duration `yaml:"retention"`
}

// Postgres tunes the PostgreSQL backend.
type Postgres struct {
	// MaxConns bounds this instance's connections; with N instances the
	// server needs N x MaxConns plus headroom under max_connections.
	MaxConns int `yaml:"max_conns"`
	MinConns int `yaml:"min_conns"`
	// StatementTimeout ends a stuck statement, so the request answers 503
	// instead of hanging.
	StatementTimeout Duration `yaml:"statement_timeout"`
	// Schema holds Latchkey's tables (created if missing); "public" by default.
	Schema string `yaml:"schema"`
}

// Log says how the server logs.
type Log struct {
	Format string `yaml:"format"` // text or json
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// Tokens sets token lifetimes.
type Tokens struct {
	AccessTokenLifetime Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime     Duration `yaml:"id_token_lifetime"`
	// RefreshLifetime is the absolute life of a grant: refreshable_until.
	RefreshLifetime Duration `yaml:"refresh_lifetime"`
	// RefreshIdleLifetime is how long a refresh token may go unused; each
	// rotation starts it again, within RefreshLifetime.
	RefreshIdleLifetime Duration `yaml:"refresh_idle_lifetime"`
	// Audience is the aud of access tokens (RFC 9068 §2.2); the issuer when empty.
	Audience string `yaml:"audience"`
	// SigningAlg is the JWS algorithm of access tokens: ES256 or RS256.
	SigningAlg string `yaml:"signing_alg"`
	// IDTokenSigningAlg is the algorithm of the ID tokens of clients that
	// registered no id_token_signed_response_alg: ES256 or RS256.
	IDTokenSigningAlg string `yaml:"id_token_signing_alg"`
}

// Device sets the device authorization grant (RFC 8628).
type Device struct {
	UserCode UserCode `yaml:"user_code"`
	Lifetime Duration `yaml:"lifetime"` // expires_in of device and user codes
	Interval Duration `yaml:"interval"` // the polling interval announced and enforced
	// ExpectedLiveCodes is how many unexpired codes the operator expects at
	// once; a guess can hit any of them (docs/security.md, multi-target).
	ExpectedLiveCodes int `yaml:"expected_live_codes"`
	// Wrong user-code entries allowed per window (the code lifetime).
	AttemptsPerAccount int `yaml:"attempts_per_account"`
	AttemptsPerIP      int `yaml:"attempts_per_ip"`
	AttemptsGlobal     int `yaml:"attempts_global"`
	// Device authorization requests allowed per minute from one client id
	// and from one IP address (0: no limit). A TV app's one client id is
	// shared by every TV, so the per-client limit is generous.
	RequestsPerClientPerMinute int `yaml:"requests_per_client_per_minute"`
	RequestsPerIPPerMinute     int `yaml:"requests_per_ip_per_minute"`
}

// UserCode is the server-wide user code policy, as written; package device
// resolves and checks it (server.Validate).
type UserCode struct {
	Alphabet string `yaml:"alphabet"` // base20, digits, or the characters
	Length   int    `yaml:"length"`
	Group    int    `yaml:"group"` // characters between dashes; 0 for none
}

// Login sets the sign-in throttle (docs/security.md UI-05).
type Login struct {
	// AttemptsPerAccount is the wrong passwords allowed for one account
	// from one network (IPv4 /24, IPv6 /64), and from one known browser
	// (signed in there before) on its own, in each Window.
	AttemptsPerAccount int `yaml:"attempts_per_account"`
	// AttemptsPerIP is the wrong passwords allowed from one address,
	// whatever the account.
	AttemptsPerIP int      `yaml:"attempts_per_ip"`
	Window        Duration `yaml:"window"`
	// AccountCeiling is the wrong passwords allowed for one account from
	// every network together: it stops guessing spread over many
	// networks, and holds no known browser of the account.
	AccountCeiling int `yaml:"account_ceiling"`
}

// Accounts sets what people may do with their accounts: the links mailed to
// them and who may register.
type Accounts struct {
	// VerifyLinkLifetime and ResetLinkLifetime are how long the links of
	// verification and password reset emails work.
	VerifyLinkLifetime Duration `yaml:"verify_link_lifetime"`
	ResetLinkLifetime  Duration `yaml:"reset_link_lifetime"`
	// LinksPerAddress and LinksPerIP bound the links asked for ("forgot
	// password", "resend") per address and per client IP in an hour.
	LinksPerAddress int `yaml:"links_per_address"`
	LinksPerIP      int `yaml:"links_per_ip"`
	// SecondFactor is who must sign in with a second factor (TOTP or a
	// passkey): "off", "admins" (system and organization admins) or
	// "all". Empty: admins, or off under --dev.
	SecondFactor string `yaml:"second_factor"`
	// RequireVerifiedEmail is whether a person must have confirmed their
	// email address before approving a device or consenting to an
	// application: "on" or "off". Empty: on, or off under --dev.
	RequireVerifiedEmail string `yaml:"require_verified_email"`
	// Registration is who may create an account on the registration page:
	// "open" (anyone; the default), "domains" (addresses at one of
	// RegistrationDomains, matched exactly, in any case) or "off".
	// Administrators create accounts whatever it says. Not the top-level
	// registration, which is dynamic client registration.
	Registration        string   `yaml:"registration"`
	RegistrationDomains []string `yaml:"registration_domains"`
}

// RegistrationMode is Registration with its default filled in: open, in
// development and outside it (README, "Accounts": Latchkey's first use is
// people connecting their own devices, who create their account from the
// device's QR code).
func (a Accounts) RegistrationMode() string {
	if a.Registration == "" {
		return "open"
	}
	return a.Registration
}

// SecondFactorPolicy is SecondFactor with its default filled in.
func (a Accounts) SecondFactorPolicy(dev bool) string {
	switch {
	case a.SecondFactor != "":
		return a.SecondFactor
	case dev:
		return "off"
	}
	return "admins"
}

// VerifiedEmailRequired is RequireVerifiedEmail with its default filled
// in: on, but off under --dev, whose people have no mail to read.
func (a Accounts) VerifiedEmailRequired(dev bool) bool {
	switch a.RequireVerifiedEmail {
	case "on":
		return true
	case "off":
		return false
	}
	return !dev
}

// Keys sets signing key rotation across instances.
type Keys struct {
	// CacheRefresh is how long an instance trusts its cached key set.
	CacheRefresh Duration `yaml:"cache_refresh"`
	// PublishDelay is how long a rotated-in key is only published before
	// any instance signs with it; it must exceed CacheRefresh so that every
	// instance knows the key before it meets a token signed with it.
	PublishDelay Duration `yaml:"publish_delay"`
	// RSABits is the size of new RSA (RS256) keys: 2048 or 3072.
	RSABits int `yaml:"rsa_bits"`
}

// Limits bound what one caller of the token, device authorization,
// revocation and introspection endpoints may do. Zero is no limit.
type Limits struct {
	// TokenPerClientPerMinute: token requests of one confidential client,
	// counted once it has authenticated.
	TokenPerClientPerMinute int `yaml:"token_per_client_per_minute"`
	// IntrospectionPerClientPerMinute: introspection requests of one caller.
	IntrospectionPerClientPerMinute int `yaml:"introspection_per_client_per_minute"`
	// Failed client authentications (a secret presented, and wrong) per
	// address and per client id in AuthFailureWindow (sliding); over
	// either, 429 before the secret is looked at. The per-client budget
	// holds only addresses that have failed themselves.
	AuthFailuresPerIP     int      `yaml:"auth_failures_per_ip"`
	AuthFailuresPerClient int      `yaml:"auth_failures_per_client"`
	AuthFailureWindow     Duration `yaml:"auth_failure_window"`
}

// Sess sets browser sessions.
type Sess struct {
	Lifetime Duration `yaml:"lifetime"` // absolute: sign in again after this
	// IdleTimeout ends a session not used for this long (OWASP session
	// management: idle and absolute timeouts both).
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// ServiceAPI sets the service API (/api/…, Authlete's API: a company's own
// front end drives the device flow through it). Its credentials are
// service keys in the database (latchkey api-keys); the code duration,
// polling interval and user code policy are device's, with each client's
// overrides.
type ServiceAPI struct {
	// ServiceID is the {serviceId} of the Authlete 3.0 paths, digits.
	ServiceID string `yaml:"service_id"`
	// VerificationURI is the front end's verification page, the
	// verification_uri devices get through the API; "" is Latchkey's own.
	VerificationURI string `yaml:"verification_uri"`
	// VerificationURIComplete is the same with USER_CODE where the user
	// code goes (Authlete's "Verification URI with Placeholder").
	VerificationURIComplete string `yaml:"verification_uri_complete"`
}

// Default returns the settings used where nothing else is said.
func Default() Config {
	return Config{
		Listen:   "127.0.0.1:8080",
		Database: "sqlite:latchkey.db",
		Log:      Log{Format: "text", Level: "info"},
		Postgres: Postgres{MaxConns: 20, MinConns: 2, StatementTimeout: Duration(5 * time.Second), Schema: "public"},
		Tokens: Tokens{
			AccessTokenLifetime: Duration(10 * time.Minute),
			IDTokenLifetime:     Duration(time.Hour),
			RefreshLifetime:     Duration(30 * 24 * time.Hour),
			RefreshIdleLifetime: Duration(14 * 24 * time.Hour),
			SigningAlg:          "ES256",
			IDTokenSigningAlg:   "ES256",
		},
		Device: Device{
			UserCode:           UserCode{Alphabet: "base20", Length: 8, Group: 4},
			Lifetime:           Duration(10 * time.Minute),
			Interval:           Duration(5 * time.Second),
			ExpectedLiveCodes:  1000,
			AttemptsPerAccount: 5,
			AttemptsPerIP:      20,
			AttemptsGlobal:     1000,

			RequestsPerClientPerMinute: 10000,
			RequestsPerIPPerMinute:     60,
		},
		Login: Login{AttemptsPerAccount: 10, AttemptsPerIP: 100, Window: Duration(15 * time.Minute), AccountCeiling: 100},
		Accounts: Accounts{VerifyLinkLifetime: Duration(24 * time.Hour), ResetLinkLifetime: Duration(time.Hour),
			LinksPerAddress: 3, LinksPerIP: 20},
		Session: Sess{Lifetime: Duration(24 * time.Hour), IdleTimeout: Duration(2 * time.Hour)},
		Limits: Limits{
			TokenPerClientPerMinute:         60000,
			IntrospectionPerClientPerMinute: 60000,
			AuthFailuresPerIP:               20,
			AuthFailuresPerClient:           20,
			AuthFailureWindow:               Duration(10 * time.Minute),
		},
		Keys:          Keys{CacheRefresh: Duration(30 * time.Second), PublishDelay: Duration(time.Minute), RSABits: 2048},
		SweepInterval: Duration(time.Minute),
		Invitations:   defaultInvitations(),
		ServiceAPI:    ServiceAPI{ServiceID: "1"},
		Audit:         Audit{Retention: Duration(365 * 24 * time.Hour)},
		Registration:  defaultRegistration(),
		DPoP:          defaultDPoP(),
		Pages:         defaultPages(),
	}
}

// Env lists the environment variables Load reads, for help texts.
var Env = []string{
	"LATCHKEY_CONFIG", "LATCHKEY_ISSUER", "LATCHKEY_LISTEN", "LATCHKEY_DB", "LATCHKEY_ADMIN_TOKEN",
	"LATCHKEY_LOG_FORMAT", "LATCHKEY_LOG_LEVEL", "LATCHKEY_SMTP_PASSWORD", "LATCHKEY_SECRETS_KEY",
	"LATCHKEY_METRICS_TOKEN",
}

func (c *Config) applyEnv(getenv func(string) string) {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("LATCHKEY_ISSUER", &c.Issuer)
	set("LATCHKEY_LISTEN", &c.Listen)
	set("LATCHKEY_DB", &c.Database)
	set("LATCHKEY_ADMIN_TOKEN", &c.AdminToken)
	set("LATCHKEY_LOG_FORMAT", &c.Log.Format)
	set("LATCHKEY_LOG_LEVEL", &c.Log.Level)
	set("LATCHKEY_SMTP_PASSWORD", &c.SMTP.Password)
	set("LATCHKEY_METRICS_TOKEN", &c.Metrics.Token)
	// Several keys, for rotation: comma-separated, the sealing one first.
	if v := getenv("LATCHKEY_SECRETS_KEY"); v != "" {
		c.SecretsKeys = nil
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.SecretsKeys = append(c.SecretsKeys, k)
			}
		}
	}
}

// IssuerURL is the issuer, defaulting to http:// + the listen address.
func (c *Config) IssuerURL() string {
	if c.Issuer != "" {
		return strings.TrimSuffix(c.Issuer, "/")
	}
	return "http://" + c.Listen
}

// Validate reports every problem with c's own settings at once. The user
// code policy (device.user_code) is package device's to judge, against the
// guessing budget set here: server.Validate runs both, and is what `serve`
// calls.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if host, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: want host:port", c.Listen)
	} else if c.Issuer == "" && !isLoopback(host) {
		// The issuer defaults to http:// and the listen address, which is
		// right on a developer's loopback and wrong anywhere else: 0.0.0.0
		// is no address a browser can open, and the issuer is in every
		// token, discovery document and verification_uri.
		bad("listen %q takes connections from other machines, so the issuer cannot default to http://%s: "+
			"set it to the https address people and devices reach this server at, as in --issuer https://auth.example.com "+
			"(or LATCHKEY_ISSUER, or issuer: in the configuration file)", c.Listen, c.Listen)
	}
	if c.Issuer != "" {
		u, err := url.Parse(c.Issuer)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("issuer %q: want an absolute http(s) URL", c.Issuer)
		case u.RawQuery != "" || u.Fragment != "":
			bad("issuer %q: must have no query or fragment (OpenID Connect Discovery §3)", c.Issuer)
		case u.Scheme == "http" && !isLoopback(u.Hostname()) && !c.Dev:
			bad("issuer %q: must be https unless it is a loopback address", c.Issuer)
		}
	}
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		bad("database %q: want sqlite:PATH or postgres://...", c.Database)
	}
	if c.Postgres.MaxConns < 1 || c.Postgres.MinConns < 0 || c.Postgres.MinConns > c.Postgres.MaxConns {
		bad("postgres: want 0 <= min_conns <= max_conns and max_conns >= 1")
	}
	if c.Postgres.StatementTimeout < 0 {
		bad("postgres.statement_timeout: must not be negative")
	}
	if !validIdent(c.Postgres.Schema) {
		bad("postgres.schema %q: want a plain identifier (letters, digits, _)", c.Postgres.Schema)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		bad("admin_token: must have at least 32 characters")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: want text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	positive := func(name string, d Duration) {
		if d <= 0 {
			bad("%s: must be positive", name)
		}
	}
	positive("tokens.access_token_lifetime", c.Tokens.AccessTokenLifetime)
	positive("tokens.id_token_lifetime", c.Tokens.IDTokenLifetime)
	positive("tokens.refresh_lifetime", c.Tokens.RefreshLifetime)
	positive("tokens.refresh_idle_lifetime", c.Tokens.RefreshIdleLifetime)
	if c.Tokens.RefreshIdleLifetime > c.Tokens.RefreshLifetime {
		bad("tokens.refresh_idle_lifetime %s: at most tokens.refresh_lifetime %s", c.Tokens.RefreshIdleLifetime, c.Tokens.RefreshLifetime)
	}
	for _, s := range []struct{ name, alg string }{
		{"tokens.signing_alg", c.Tokens.SigningAlg},
		{"tokens.id_token_signing_alg", c.Tokens.IDTokenSigningAlg},
	} {
		if s.alg != "ES256" && s.alg != "RS256" {
			bad("%s %q: want ES256 or RS256", s.name, s.alg)
		}
	}
	if c.Keys.RSABits != 2048 && c.Keys.RSABits != 3072 {
		bad("keys.rsa_bits %d: want 2048 or 3072", c.Keys.RSABits)
	}
	c.validateServiceAPI(bad)
	positive("device.lifetime", c.Device.Lifetime)
	positive("login.window", c.Login.Window)
	positive("accounts.verify_link_lifetime", c.Accounts.VerifyLinkLifetime)
	positive("accounts.reset_link_lifetime", c.Accounts.ResetLinkLifetime)
	if c.Accounts.ResetLinkLifetime > Duration(24*time.Hour) {
		bad("accounts.reset_link_lifetime %s: at most 24h; a reset link is a password while it works", c.Accounts.ResetLinkLifetime)
	}
	positive("session.lifetime", c.Session.Lifetime)
	positive("session.idle_timeout", c.Session.IdleTimeout)
	positive("sweep_interval", c.SweepInterval)
	if c.Limits.AuthFailureWindow < Duration(time.Second) {
		bad("limits.auth_failure_window %s: at least 1s", c.Limits.AuthFailureWindow)
	}
	for name, n := range map[string]int{
		"limits.token_per_client_per_minute":         c.Limits.TokenPerClientPerMinute,
		"limits.introspection_per_client_per_minute": c.Limits.IntrospectionPerClientPerMinute,
		"limits.auth_failures_per_ip":                c.Limits.AuthFailuresPerIP,
		"limits.auth_failures_per_client":            c.Limits.AuthFailuresPerClient,
	} {
		if n < 0 {
			bad("%s: must be 0 (no limit) or more", name)
		}
	}
	positive("audit.retention", c.Audit.Retention)
	positive("keys.cache_refresh", c.Keys.CacheRefresh)
	if c.Keys.PublishDelay <= c.Keys.CacheRefresh {
		bad("keys.publish_delay %s: must exceed keys.cache_refresh %s, or an instance could meet a token signed with a key it has not loaded", c.Keys.PublishDelay, c.Keys.CacheRefresh)
	}
	if c.Device.Lifetime > Duration(30*time.Minute) {
		bad("device.lifetime %s: at most 30m; a user code is typed within minutes, and a long life invites guessing", c.Device.Lifetime)
	}
	if c.Device.Interval < Duration(time.Second) {
		bad("device.interval %s: at least 1s", c.Device.Interval)
	}
	for name, n := range map[string]int{
		"device.attempts_per_account": c.Device.AttemptsPerAccount,
		"device.attempts_per_ip":      c.Device.AttemptsPerIP,
		"device.attempts_global":      c.Device.AttemptsGlobal,
		"device.expected_live_codes":  c.Device.ExpectedLiveCodes,
		"login.attempts_per_account":  c.Login.AttemptsPerAccount,
		"login.attempts_per_ip":       c.Login.AttemptsPerIP,
		"login.account_ceiling":       c.Login.AccountCeiling,
		"accounts.links_per_address":  c.Accounts.LinksPerAddress,
		"accounts.links_per_ip":       c.Accounts.LinksPerIP,
	} {
		if n < 1 {
			bad("%s: must be at least 1", name)
		}
	}
	switch c.Accounts.SecondFactor {
	case "", "off", "admins", "all":
	default:
		bad("accounts.second_factor %q: one of off, admins, all", c.Accounts.SecondFactor)
	}
	switch c.Accounts.RequireVerifiedEmail {
	case "", "on", "off":
	default:
		bad("accounts.require_verified_email %q: on or off", c.Accounts.RequireVerifiedEmail)
	}
	c.checkRegistrationDomains(bad)
	if c.Login.AccountCeiling < c.Login.AttemptsPerAccount {
		bad("login.account_ceiling %d: at least login.attempts_per_account %d (it sums every network's attempts)", c.Login.AccountCeiling, c.Login.AttemptsPerAccount)
	}
	errs = append(errs, c.checkMail()...)
	errs = append(errs, c.Registration.check()...)
	errs = append(errs, c.DPoP.check()...)
	errs = append(errs, c.Pages.check()...)
	errs = append(errs, c.checkMetrics()...)
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Duration is a time.Duration written as "90s", "10m" or "720h" in YAML.
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseDays(s)
	if err != nil {
		// Bare integers are seconds, which is what RFC 8628 counts in.
		secs, err2 := strconv.Atoi(s)
		if err2 != nil {
			return fmt.Errorf("%q is not a duration like 90s, 10m or 7d", s)
		}
		v = time.Duration(secs) * time.Second
	}
	*d = Duration(v)
	return nil
}

// validateServiceAPI checks the service API's settings.
func (c *Config) validateServiceAPI(bad func(string, ...any)) {
	s := c.ServiceAPI
	if s.ServiceID == "" || len(s.ServiceID) > 19 || strings.Trim(s.ServiceID, "0123456789") != "" {
		bad("service_api.service_id %q: want digits, as Authlete's service ids", s.ServiceID)
	}
	if (s.VerificationURI == "") != (s.VerificationURIComplete == "") {
		bad("service_api: set verification_uri and verification_uri_complete together")
		return
	}
	for _, u := range []struct{ name, v string }{
		{"service_api.verification_uri", s.VerificationURI},
		{"service_api.verification_uri_complete", s.VerificationURIComplete},
	} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") || p.Fragment != "" {
			bad("%s %q: want an absolute http(s) URL without a fragment", u.name, u.v)
		}
	}
	if s.VerificationURIComplete != "" && !strings.Contains(s.VerificationURIComplete, "USER_CODE") {
		bad("service_api.verification_uri_complete %q: must hold USER_CODE where the user code goes", s.VerificationURIComplete)
	}
}

// checkRegistrationDomains checks accounts.registration and its domains:
// "domains" needs at least one, and a list given with another mode would
// be ignored, which is refused rather than left to surprise.
func (c *Config) checkRegistrationDomains(bad func(string, ...any)) {
	a := c.Accounts
	switch a.Registration {
	case "", "open", "domains", "off":
	default:
		bad("accounts.registration %q: one of open, domains, off", a.Registration)
		return
	}
	if a.Registration == "domains" && len(a.RegistrationDomains) == 0 {
		bad("accounts.registration domains: list the email domains in accounts.registration_domains")
	}
	if a.Registration != "domains" && len(a.RegistrationDomains) > 0 {
		bad("accounts.registration_domains: used only with accounts.registration: domains (it is %q)", a.RegistrationMode())
	}
	for _, d := range a.RegistrationDomains {
		if !validDomain(d) {
			bad("accounts.registration_domains %q: a domain name such as example.com (no @, no wildcard; a subdomain is listed on its own)", d)
		}
	}
}

// validDomain reports whether d is a dotted host name of letters (any
// script), digits and hyphens, as an email address's domain is.
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}
