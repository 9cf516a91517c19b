// Package workload drives a running Latchkey over HTTP with a mixed load:
// device flows approved on the verification pages by a signed-in person,
// refresh token rotations, invitations sent by an organization's admin and
// accepted by new devices (the mail arrives at a Mailbox), and those
// devices' client credentials grants. It keeps a Ledger of what every
// client was told, so the crash test (cmd/latchkey) can check what
// survived a SIGKILL, and Stats of answers and latencies for the soak
// (latchkey-bench soak). It speaks only HTTP: what it knows, a real client
// could know.
package workload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Names of what Provision creates.
const (
	DeviceClient  = "wl-device"  // public: device_code and refresh_token
	ServiceClient = "wl-service" // confidential: introspects what the others hold
	Org           = "wl-org"
	UserEmail     = "load@example.test"
	GroupScope    = "telemetry.write"
	deviceGrant   = "urn:ietf:params:oauth:grant-type:device_code"
	deviceScope   = "openid offline_access"
)

// ServerConfig is the part of a Latchkey configuration the load needs:
// no device authorization or invitation rate limits and large user code
// and sign-in budgets (every request comes from one address and one
// person; and each budget is spent before a code or password is judged
// and given back after, so a kill in between keeps the attempt spent),
// with user codes long enough for those budgets to keep the guessing odds
// the server requires, the shortest polling interval, device codes and
// access tokens that outlive a slow run on a loaded machine (the crash
// test introspects every access token a client got, and polls every
// redeemed code again at the end), and invitation mail to mailboxPort on
// loopback. A lifetime other than zero shortens what the sweeper deletes
// to it: refresh tokens (and so grants), device codes, the audit log and
// ended invitations (a soak reaches in
// minutes the steady state a server reaches in a year). The caller adds
// listen, database and admin_token.
func ServerConfig(mailboxPort int, lifetime time.Duration) string {
	tokens, deviceLifetime, audit, invitations := "access_token_lifetime: 1h", "30m", "", ""
	if lifetime > 0 {
		tokens += fmt.Sprintf(", refresh_lifetime: %s, refresh_idle_lifetime: %s", lifetime, lifetime)
		deviceLifetime = lifetime.String()
		audit = fmt.Sprintf("audit: {retention: %s}\n", lifetime)
		invitations = fmt.Sprintf(", retention: %s", lifetime)
	}
	return fmt.Sprintf(`device:
  interval: 1s
  lifetime: %s
  requests_per_client_per_minute: 0
  requests_per_ip_per_minute: 0
  user_code: {length: 12, group: 4}
  attempts_per_account: 10000
  attempts_per_ip: 10000
  attempts_global: 100000
login: {attempts_per_account: 10000, attempts_per_ip: 10000, account_ceiling: 10000}
invitations: {requests_per_ip_per_minute: 0, retry_interval: 1s, mails_per_organization_per_hour: 0, mails_per_sender_per_hour: 0%s}
tokens: {%s}
smtp: {host: 127.0.0.1, port: %d, tls: none, from: "Latchkey <noreply@latchkey.test>"}
%s`, deviceLifetime, invitations, tokens, mailboxPort, audit)
}

// Env is a provisioned Latchkey: where it is and the credentials Provision
// made. It survives restarts of the server (it lives in the database).
type Env struct {
	Base          string // http://host:port
	AdminToken    string
	Password      string // UserEmail's
	ServiceSecret string
	GroupID       string
	Mail          *Mailbox
	client        *http.Client
}

// NewEnv returns an Env for a server at base; Provision fills the rest.
func NewEnv(base, adminToken string, mail *Mailbox, workers int) *Env {
	return &Env{Base: base, AdminToken: adminToken, Mail: mail, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 4 * workers, MaxIdleConnsPerHost: 4 * workers, IdleConnTimeout: 30 * time.Second},
	}}
}

// Provision creates, through the admin API, the user, the device and
// service clients, the organization and its client group.
func (e *Env) Provision(ctx context.Context) error {
	e.Password = rand.Text()
	// The load's person approves devices on the pages: their address is
	// vouched for (accounts.require_verified_email).
	if _, err := e.admin(ctx, "users", map[string]any{"email": UserEmail, "name": "Load", "password": e.Password, "email_verified": true}); err != nil {
		return err
	}
	if _, err := e.admin(ctx, "clients", map[string]any{
		"client_id": DeviceClient, "client_name": "Load device", "token_endpoint_auth_method": "none",
		"grant_types": []string{deviceGrant, "refresh_token"}, "scope": deviceScope,
	}); err != nil {
		return err
	}
	svc, err := e.admin(ctx, "clients", map[string]any{
		"client_id": ServiceClient, "client_name": "Load service", "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"client_credentials"}, "scope": "load.read",
	})
	if err != nil {
		return err
	}
	e.ServiceSecret, _ = svc["client_secret"].(string)
	if _, err := e.admin(ctx, "organizations", map[string]any{"id": Org, "name": "Load Org"}); err != nil {
		return err
	}
	g, err := e.admin(ctx, "organizations/"+Org+"/client-groups", map[string]any{"name": "Sensors", "scope": GroupScope})
	if err != nil {
		return err
	}
	e.GroupID, _ = g["id"].(string)
	if e.ServiceSecret == "" || e.GroupID == "" {
		return errors.New("provision: no client secret or group id in the admin API's answers")
	}
	return nil
}

// CloseIdle drops kept-alive connections, which a killed server broke.
func (e *Env) CloseIdle() { e.client.CloseIdleConnections() }

func (e *Env) admin(ctx context.Context, path string, body any) (map[string]any, error) {
	a := e.do(ctx, http.MethodPost, "/admin/v1/"+path, jsonBody(body), map[string]string{
		"Authorization": "Bearer " + e.AdminToken, "Content-Type": "application/json"})
	if a.Status != http.StatusCreated {
		return nil, fmt.Errorf("POST /admin/v1/%s: %s", path, a)
	}
	return a.Body, nil
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own maps and structs
	}
	return b
}

// Answer is what one request got: Status 0 and Err when no answer came.
type Answer struct {
	Status  int
	Body    map[string]any
	Raw     string
	Err     error
	Elapsed time.Duration
}

// Lost reports that no answer came: the request may or may not have
// taken effect.
func (a Answer) Lost() bool { return a.Status == 0 }

func (a Answer) str(k string) string { s, _ := a.Body[k].(string); return s }

// Error is the OAuth error code of the answer, if any.
func (a Answer) Error() string { return a.str("error") }

func (a Answer) String() string {
	if a.Lost() {
		return fmt.Sprintf("no answer: %v", a.Err)
	}
	raw := a.Raw
	if len(raw) > 300 {
		raw = raw[:300] + "…"
	}
	return fmt.Sprintf("%d %s", a.Status, raw)
}

// do sends one request and reads the JSON answer.
func (e *Env) do(ctx context.Context, method, path string, body []byte, header map[string]string) Answer {
	return doWith(ctx, e.client, method, e.Base+path, body, header)
}

func doWith(ctx context.Context, c *http.Client, method, u string, body []byte, header map[string]string) Answer {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return Answer{Err: err}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return Answer{Err: err, Elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := Answer{Status: resp.StatusCode, Raw: string(raw), Elapsed: time.Since(start)}
	if err != nil {
		return Answer{Err: err, Elapsed: a.Elapsed} // a cut answer is no answer
	}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func form(v url.Values) ([]byte, map[string]string) {
	return []byte(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
}

// Token calls the token endpoint with form; a non-empty clientID and
// secret go in HTTP Basic authentication.
func (e *Env) Token(ctx context.Context, v url.Values, clientID, secret string) Answer {
	body, h := form(v)
	if secret != "" {
		req := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
		h["Authorization"] = "Basic " + basic(req)
	}
	return e.do(ctx, http.MethodPost, "/oauth2/token", body, h)
}

// Introspect asks, as the service client, whether tok is active.
func (e *Env) Introspect(ctx context.Context, tok string) (bool, error) {
	body, h := form(url.Values{"token": {tok}})
	h["Authorization"] = "Basic " + basic(url.QueryEscape(ServiceClient)+":"+url.QueryEscape(e.ServiceSecret))
	a := e.do(ctx, http.MethodPost, "/oauth2/introspect", body, h)
	if a.Status != http.StatusOK {
		return false, fmt.Errorf("introspect: %s", a)
	}
	active, _ := a.Body["active"].(bool)
	return active, nil
}

// Accept accepts an invitation as a new device.
func (e *Env) Accept(ctx context.Context, token string) Answer {
	return e.do(ctx, http.MethodPut, "/client-group-invitations/accept", jsonBody(map[string]string{"token": token}),
		map[string]string{"Content-Type": "application/json"})
}

// Poll polls a device code as DeviceClient.
func (e *Env) Poll(ctx context.Context, deviceCode string) Answer {
	return e.Token(ctx, url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}, "client_id": {DeviceClient}}, "", "")
}

// PollAgain polls a device code polled before, waiting out slow_down
// (PostgreSQL remembers the last poll across a restart; SQLite does not)
// as RFC 8628 §3.5 asks: each slow_down adds 5 seconds to the interval.
// Polling on at the old interval would earn slow_down for ever.
func (e *Env) PollAgain(ctx context.Context, deviceCode string) Answer {
	wait := time.Second
	for {
		p := e.Poll(ctx, deviceCode)
		if p.Error() != "slow_down" {
			return p
		}
		wait += 5 * time.Second
		select {
		case <-ctx.Done():
			return Answer{Err: ctx.Err()}
		case <-time.After(wait):
		}
	}
}

// Refresh rotates a refresh token of DeviceClient.
func (e *Env) Refresh(ctx context.Context, rt string) Answer {
	return e.Token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {DeviceClient}}, "", "")
}

func basic(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
