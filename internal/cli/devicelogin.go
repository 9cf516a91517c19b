package cli

// latchkey device-login: what a CLI or TV app does to sign in with the OAuth
// 2.0 Device Authorization Grant (RFC 8628), built on golang.org/x/oauth2. It
// is a client of the server, not part of it: everything it knows comes from
// the discovery document and the token response.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/termqr"
)

const (
	defaultDeviceIssuer   = "http://127.0.0.1:8080"
	defaultDeviceClientID = "latchkey-dev-device"
	defaultDeviceScope    = "openid profile email offline_access"
)

const deviceLoginHelp = `
Signs in the way a CLI or TV app does, with the OAuth 2.0 device flow
(RFC 8628): shows a code and a QR code to open on another device, waits for
approval there, then prints what the token response holds. The refresh token
is never printed; the access token only with --json.

Example:
  latchkey serve --dev &
  latchkey device-login --issuer http://127.0.0.1:8080 --client-id latchkey-dev-device`

// deviceLoginOptions are the parsed flags of device-login.
type deviceLoginOptions struct {
	issuer           string
	clientID         string
	clientSecretFile string
	authMethod       string // with a secret: client_secret_basic or client_secret_post
	scopes           []string
	noQR             bool
	json             bool
	timeout          time.Duration // 0: until the code expires
	dpop             bool          // bind the tokens to a new P-256 key (RFC 9449)
}

// parseDeviceLoginFlags parses args, taking defaults from the environment
// for the flags that have a LATCHKEY_* twin; a flag on the command line
// wins. Like the other commands, it returns flag.ErrHelp after -h and
// errUsage after a mistake it has printed with the usage.
func (e *Env) parseDeviceLoginFlags(args []string) (deviceLoginOptions, error) {
	envOr := func(name, def string) string {
		return cmp.Or(e.Getenv(name), def)
	}
	var o deviceLoginOptions
	var scope string
	fs := e.newFlags("device-login", "device-login [--issuer URL] [--client-id ID] [flags]", deviceLoginHelp)
	fs.StringVar(&o.issuer, "issuer", envOr("LATCHKEY_ISSUER", defaultDeviceIssuer),
		"the server's issuer `URL` (env LATCHKEY_ISSUER)")
	fs.StringVar(&o.clientID, "client-id", envOr("LATCHKEY_CLIENT_ID", defaultDeviceClientID),
		"the client's `ID` (env LATCHKEY_CLIENT_ID)")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", envOr("LATCHKEY_CLIENT_SECRET_FILE", ""),
		"read a confidential client's secret from `FILE` (never from a flag, which\nother users can see in the process list) (env LATCHKEY_CLIENT_SECRET_FILE)")
	fs.StringVar(&o.authMethod, "auth-method", store.AuthClientSecretBasic,
		"how a confidential client sends its secret, as it is registered: `METHOD`\nclient_secret_basic (the Authorization header) or client_secret_post (the body)")
	fs.StringVar(&scope, "scope", envOr("LATCHKEY_SCOPE", defaultDeviceScope),
		"space-separated `SCOPES` to request (env LATCHKEY_SCOPE)")
	fs.BoolVar(&o.noQR, "no-qr", false, "do not draw the QR code")
	fs.BoolVar(&o.json, "json", false,
		"print the token response as JSON on stdout (refresh_token replaced by\n\"REDACTED\"); the instructions for the person go to stderr")
	fs.BoolVar(&o.dpop, "dpop", false,
		"bind the tokens to a new P-256 key with DPoP proofs (RFC 9449), as a device\nwould with a key it keeps; this key lives only as long as the command")
	fs.DurationVar(&o.timeout, "timeout", 0,
		"stop waiting for approval after this `DURATION` (default and maximum:\nuntil the code expires)")
	if _, err := e.parse(fs, args); err != nil {
		return deviceLoginOptions{}, err
	}
	if err := checkIssuerURL(o.issuer); err != nil {
		return deviceLoginOptions{}, fmt.Errorf("device-login: --issuer: %w", err)
	}
	if o.clientID == "" {
		return deviceLoginOptions{}, errors.New("device-login: --client-id is empty")
	}
	if o.timeout < 0 {
		return deviceLoginOptions{}, fmt.Errorf("device-login: --timeout %v is negative", o.timeout)
	}
	if o.authMethod != store.AuthClientSecretBasic && o.authMethod != store.AuthClientSecretPost {
		return deviceLoginOptions{}, fmt.Errorf("device-login: --auth-method %q: want client_secret_basic or client_secret_post", o.authMethod)
	}
	o.scopes = strings.Fields(scope)
	return o, nil
}

// checkIssuerURL accepts what OIDC Discovery §3 allows as an issuer: an
// absolute http(s) URL with no query or fragment.
func checkIssuerURL(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment; an issuer has neither", issuer)
	}
	return nil
}

// readClientSecret reads a client secret from path, without surrounding
// white space; "" when path is "" (a public client).
func readClientSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("device-login: --client-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", fmt.Errorf("device-login: --client-secret-file %s is empty", path)
	}
	return secret, nil
}

// runDeviceLogin runs `latchkey device-login`. When the flow does not end
// with a token, the error's text is meant for the person at the terminal.
func runDeviceLogin(ctx context.Context, e *Env, args []string) error {
	stdout, stderr := e.Stdout, e.Stderr
	o, err := e.parseDeviceLoginFlags(args)
	if err != nil {
		return err
	}
	secret, err := readClientSecret(o.clientSecretFile)
	if err != nil {
		return err
	}

	const requestTimeout = 30 * time.Second // per HTTP request, not for the whole flow
	meta, err := discover(ctx, &http.Client{Transport: e.transport(nil), Timeout: requestTimeout}, o.issuer)
	if err != nil {
		return err
	}

	basic := secret != "" && o.authMethod == store.AuthClientSecretBasic
	conf := &oauth2.Config{
		ClientID:     o.clientID,
		ClientSecret: secret,
		Scopes:       o.scopes,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: meta.DeviceAuthorizationEndpoint,
			TokenURL:      meta.TokenEndpoint,
			// Not the zero value, AuthStyleAutoDetect: while the probe has not
			// yet succeeded, x/oauth2 answers every failed token request
			// (authorization_pending included) by sending it again with the
			// other style at once, so each poll would be two requests and the
			// second would earn slow_down. The server takes a secret only the
			// way the client registered (--auth-method); in the body,
			// client_id identifies a public client without an empty Basic
			// password.
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	if basic {
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	var progress io.Writer // one dot per poll, on a terminal only
	if isTerminal(stderr) {
		progress = stderr
	}
	tokenURL, _ := url.Parse(meta.TokenEndpoint) // checked by discover
	polls := &pollTransport{base: e.transport(nil), tokenURL: tokenURL.String(), progress: progress}
	var dpopKey string
	if o.dpop {
		// Every request gets a proof; the token endpoint binds the tokens
		// to the key, and its nonces are followed (dpop.Transport).
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		prove, err := dpop.ES256Prover(key, nil, nil)
		if err != nil {
			return err
		}
		polls.base = &dpop.Transport{Base: e.transport(nil), Prove: prove}
		if dpopKey, err = dpop.Thumbprint(&key.PublicKey); err != nil {
			return err
		}
	}
	if basic {
		deviceURL, _ := url.Parse(meta.DeviceAuthorizationEndpoint) // checked by discover
		polls.basicURL, polls.basicID, polls.basicSecret = deviceURL.String(), o.clientID, secret
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: polls, Timeout: requestTimeout})

	// x/oauth2's DeviceAuth sends client_id only; a confidential client also
	// authenticates at the device authorization endpoint (RFC 8628 §3.1), the
	// same way as at the token endpoint above: in the body here, or in the
	// Authorization header that pollTransport adds.
	var authOpts []oauth2.AuthCodeOption
	if secret != "" && !basic {
		authOpts = append(authOpts, oauth2.SetAuthURLParam("client_secret", secret))
	}
	da, err := conf.DeviceAuth(ctx, authOpts...)
	if err != nil {
		return explainOAuthError("device authorization", err, o.clientID, o.clientSecretFile)
	}

	// With --json, stdout carries the token response alone, so it can be piped.
	human := stdout
	if o.json {
		human = stderr
	}
	if err := writePrompt(human, da, !o.noQR); err != nil {
		return err
	}
	fmt.Fprint(stderr, waitingLine(da.Expiry, time.Now()))
	if progress == nil {
		fmt.Fprintln(stderr)
	}

	// DeviceAccessToken (x/oauth2 v0.37.0, deviceauth.go) polls on a ticker:
	// the first poll comes one interval after the start (5 s when the server
	// sent no interval, RFC 8628 §3.2); authorization_pending keeps polling;
	// slow_down adds 5 s to the interval for this and every later poll and
	// resets the ticker (RFC 8628 §3.5), ignoring any interval in the error
	// response; any other error code (access_denied, expired_token, ...) or a
	// transport error ends it. It also bounds the whole loop by a context
	// deadline at the code's expiry, so --timeout can only shorten the wait.
	pollCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithTimeoutCause(ctx, o.timeout, &loginError{
			Msg: fmt.Sprintf("Gave up waiting for approval after %v (--timeout).", o.timeout),
			Err: context.DeadlineExceeded,
		})
		defer cancel()
	}
	tok, err := conf.DeviceAccessToken(pollCtx, da)
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return explainPollError(err, context.Cause(pollCtx), o.clientID, o.clientSecretFile)
	}

	if o.json {
		out, err := redactTokenResponse(polls.body)
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	s := newSummary(tok, o.scopes, meta.JWKSURI)
	s.DPoPKey = dpopKey
	return writeSummary(stdout, s, time.Now(), time.Local)
}

// providerMetadata is the part of the discovery document device-login uses
// (OpenID Connect Discovery 1.0 §3, RFC 8628 §4).
type providerMetadata struct {
	Issuer                      string `json:"issuer"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	TokenEndpoint               string `json:"token_endpoint"`
	JWKSURI                     string `json:"jwks_uri"`
}

// discover fetches and checks issuer's discovery document.
func discover(ctx context.Context, client *http.Client, issuer string) (*providerMetadata, error) {
	// OIDC Discovery §4.1: the issuer with any trailing slash removed, then
	// the well-known path.
	where := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: is `latchkey serve` running? (%w)", issuer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("discovery: reading %s: %w", where, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s answered %s; is %s the issuer?", where, resp.Status, issuer)
	}
	var m providerMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("discovery: %s is not a JSON discovery document: %w", where, err)
	}
	if err := m.check(issuer); err != nil {
		return nil, fmt.Errorf("discovery: %s: %w", where, err)
	}
	return &m, nil
}

// check validates what device-login relies on.
func (m *providerMetadata) check(issuer string) error {
	// OIDC Discovery §4.3: the issuer in the document MUST be identical to
	// the one used to find it, or an attacker's document could name another.
	if m.Issuer != issuer {
		return fmt.Errorf("the document names issuer %q, not %q (OIDC Discovery §4.3); use --issuer %s", m.Issuer, issuer, m.Issuer)
	}
	for _, e := range []struct{ name, value string }{
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
	} {
		if e.value == "" {
			return fmt.Errorf("no %s: the server does not offer the device flow", e.name)
		}
		if u, err := url.Parse(e.value); err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Errorf("%s %q is not an absolute URL", e.name, e.value)
		}
	}
	return nil
}

// pollTransport prints a dot per token request to progress (when not nil) and
// keeps the last token response body, so --json can print the response as the
// server sent it: x/oauth2's Token does not expose it.
type pollTransport struct {
	base     http.RoundTripper
	tokenURL string // as url.URL.String writes it, to compare with requests
	progress io.Writer
	body     []byte
	// basicURL, when set, is the device authorization endpoint, to which a
	// client_secret_basic client sends basicID and basicSecret in the
	// Authorization header: x/oauth2's DeviceAuth sends no credentials.
	basicURL, basicID, basicSecret string
}

func (t *pollTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.basicURL != "" && req.URL.String() == t.basicURL {
		// RFC 6749 §2.3.1: both parts form-encoded before base64, as
		// x/oauth2 does at the token endpoint. A RoundTripper must not
		// change the request it was given, so a copy carries the header.
		req = req.Clone(req.Context())
		req.SetBasicAuth(url.QueryEscape(t.basicID), url.QueryEscape(t.basicSecret))
	}
	if req.URL.String() != t.tokenURL {
		return t.base.RoundTrip(req)
	}
	if t.progress != nil {
		fmt.Fprint(t.progress, ".")
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20)) // x/oauth2's own limit
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	t.body = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// writePrompt tells the person what to open and which code to enter
// (RFC 8628 §3.3), and draws verification_uri_complete as a QR code when the
// server sent one and qr is set (§3.3.1).
func writePrompt(w io.Writer, da *oauth2.DeviceAuthResponse, qr bool) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "To sign in, open %s and enter the code\n\n    %s\n\n", da.VerificationURI, da.UserCode)
	if link := da.VerificationURIComplete; link != "" {
		if qr {
			b.WriteString("Or scan this QR code:\n\n")
			if err := termqr.Render(&b, link); err != nil {
				return fmt.Errorf("drawing the QR code: %w", err)
			}
			fmt.Fprintf(&b, "\n%s\n\n", link)
		} else {
			fmt.Fprintf(&b, "Or open this link, which fills in the code:\n\n    %s\n\n", link)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// waitingLine is the progress line's start, without a newline.
func waitingLine(expiry, now time.Time) string {
	if expiry.IsZero() {
		return "Waiting for approval…"
	}
	left := max(expiry.Sub(now).Truncate(time.Second), 0)
	return fmt.Sprintf("Waiting for approval (code expires in %v)…", left)
}

// loginError is an error meant for the person at the terminal; Err is the
// cause, kept for errors.Is and errors.As.
type loginError struct {
	Msg string
	Err error
}

func (e *loginError) Error() string { return e.Msg }
func (e *loginError) Unwrap() error { return e.Err }

// explainOAuthError turns an OAuth error response (RFC 6749 §5.2,
// RFC 8628 §3.5) from step into a message for a person. clientID is the
// client device-login was, and secretFile where its secret came from ("":
// it sent none).
func explainOAuthError(step string, err error, clientID, secretFile string) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", step, err)
	}
	switch re.ErrorCode {
	case "access_denied":
		return &loginError{"The request was denied.", err}
	case "expired_token":
		return &loginError{"The code expired before it was approved; run device-login again.", err}
	case "":
		status := "no response"
		if re.Response != nil {
			status = re.Response.Status
		}
		return &loginError{fmt.Sprintf("%s failed: the server answered %s without an OAuth error code", step, status), err}
	}
	if re.ErrorCode == "invalid_client" {
		// The right secret sent the wrong way is the one failure the
		// server names, with the method the client registered.
		for _, m := range []string{store.AuthClientSecretBasic, store.AuthClientSecretPost} {
			if secretFile != "" && strings.Contains(re.ErrorDescription, "registered for "+m) {
				return &loginError{fmt.Sprintf("the server refused client %q: it is registered for %s; run device-login with --auth-method %s", clientID, m, m), err}
			}
		}
		// The server answers an unknown client as it answers one that failed
		// to authenticate, so that it does not tell which client ids exist:
		// say what either could mean.
		if secretFile == "" {
			return &loginError{fmt.Sprintf("the server refused client %q (invalid_client): it is unknown, "+
				"or it is a confidential client and needs --client-secret-file", clientID), err}
		}
		return &loginError{fmt.Sprintf("the server refused client %q with the secret in %s (invalid_client): the client is unknown, "+
			"the secret is not its own, or it is a public client and needs no --client-secret-file", clientID, secretFile), err}
	}
	msg := fmt.Sprintf("%s failed: %s", step, re.ErrorCode)
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	if re.Response != nil {
		msg = tryAgain(msg, retryAfter(re.Response.Header, time.Now()))
	}
	return &loginError{msg, err}
}

// explainPollError explains why polling the token endpoint ended without a
// token. cause is context.Cause of the polling context: the --timeout
// *loginError, the caller's cancellation, or nil while that context is live.
func explainPollError(err, cause error, clientID, secretFile string) error {
	if le, ok := cause.(*loginError); ok {
		return le // --timeout
	}
	if cause != nil {
		return fmt.Errorf("stopped waiting for approval: %w", cause) // interrupted
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// x/oauth2's own deadline at the code's expiry: the server never got
		// to answer expired_token.
		return &loginError{"The code expired before it was approved; run device-login again.", err}
	}
	return explainOAuthError("token request", err, clientID, secretFile)
}

// redactTokenResponse returns the token response body as indented JSON,
// with the refresh token's value replaced.
func redactTokenResponse(body []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("token response is not a JSON object: %w", err)
	}
	if _, ok := fields["refresh_token"]; ok {
		fields["refresh_token"] = json.RawMessage(`"REDACTED"`)
	}
	out, err := json.MarshalIndent(fields, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// decodeClaims returns the payload of the JWT token, indented, without
// verifying anything: the header and signature are only counted.
func decodeClaims(token string) ([]byte, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT (%d dot-separated parts, want 3)", len(parts))
	}
	// RFC 7515 §2: base64url without padding; tolerate padding anyway.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("payload is not base64url: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, payload, "", "  "); err != nil { // keeps the server's order
		return nil, err
	}
	return out.Bytes(), nil
}

// summary is what device-login reports about a token response.
type summary struct {
	TokenType      string
	Scope          string // as granted; "" when the response has none
	RequestedScope string
	Expiry         time.Time // zero when the response has no expires_in
	Refresh        bool      // a refresh token was issued
	Access         claims
	ID             claims // Token "" when no ID token was issued
	JWKSURI        string
	DPoPKey        string // the thumbprint of the DPoP key the tokens are bound to; "" for none
}

// claims is one token's decoded payload, or why it could not be decoded.
type claims struct {
	Token string
	JSON  []byte
	Err   error
}

func decodedClaims(token string) claims {
	c := claims{Token: token}
	if token != "" {
		c.JSON, c.Err = decodeClaims(token)
	}
	return c
}

func newSummary(tok *oauth2.Token, requested []string, jwksURI string) summary {
	scope, _ := tok.Extra("scope").(string)
	idToken, _ := tok.Extra("id_token").(string)
	return summary{
		TokenType:      tok.Type(),
		Scope:          scope,
		RequestedScope: strings.Join(requested, " "),
		Expiry:         tok.Expiry,
		Refresh:        tok.RefreshToken != "",
		Access:         decodedClaims(tok.AccessToken),
		ID:             decodedClaims(idToken),
		JWKSURI:        jwksURI,
	}
}

// writeSummary writes s for a person; now and loc make the expiry readable.
func writeSummary(w io.Writer, s summary, now time.Time, loc *time.Location) error {
	var b bytes.Buffer
	b.WriteString("Signed in.\n\n")
	fmt.Fprintf(&b, "  token type:     %s\n", s.TokenType)
	scope := s.Scope
	if scope == "" {
		// RFC 6749 §5.1: an omitted scope is the scope requested.
		scope = s.RequestedScope + " (not in the response: as requested)"
	}
	fmt.Fprintf(&b, "  scopes:         %s\n", scope)
	if s.Expiry.IsZero() {
		b.WriteString("  expires at:     not stated\n")
	} else {
		fmt.Fprintf(&b, "  expires at:     %s (%s)\n", s.Expiry.In(loc).Format("2006-01-02 15:04:05 MST"), relative(s.Expiry.Sub(now)))
	}
	if s.DPoPKey != "" {
		fmt.Fprintf(&b, "  DPoP key:       %s (the tokens are bound to it)\n", s.DPoPKey)
	}
	if s.Refresh {
		b.WriteString("  refresh token:  issued (not shown)\n")
	} else {
		b.WriteString("  refresh token:  not issued\n")
	}
	jwks := "the server's JWKS"
	if s.JWKSURI != "" {
		jwks += " at " + s.JWKSURI
	}
	for _, t := range []struct {
		name string
		c    claims
	}{{"Access token", s.Access}, {"ID token", s.ID}} {
		b.WriteString("\n")
		switch {
		case t.c.Token == "":
			fmt.Fprintf(&b, "%s: none issued\n", t.name)
		case t.c.Err != nil:
			fmt.Fprintf(&b, "%s claims: cannot decode: %v\n", t.name, t.c.Err)
		default:
			fmt.Fprintf(&b, "%s claims (not verified here; %s verifies them):\n%s\n", t.name, jwks, t.c.JSON)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// relative says how far away a moment d from now is, to the second.
func relative(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d > 0:
		return "in " + d.String()
	case d < 0:
		return (-d).String() + " ago"
	default:
		return "now"
	}
}
