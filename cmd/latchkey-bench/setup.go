package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	deviceClientID  = "bench-device"
	serviceClientID = "bench-service"
	grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// setupClient makes the requests of the setup, which are not measured.
var setupClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 10 * time.Second},
}

// provision creates, through the admin API, a user, a public device client
// and a confidential service client, and signs the user in on the pages.
func (b *bench) provision(ctx context.Context) error {
	b.user = "bench@example.com"
	b.password = rand.Text()
	if err := b.admin(ctx, "users", map[string]any{
		// Vouched for, as an admin may: with accounts.require_verified_email
		// on (the default) an unconfirmed address could not approve the
		// device flows the refresh scenarios start from.
		"email": b.user, "name": "Bench User", "password": b.password, "email_verified": true,
	}, nil); err != nil {
		return err
	}
	if err := b.admin(ctx, "clients", map[string]any{
		"client_id":                    deviceClientID,
		"client_name":                  "Bench device",
		"grant_types":                  []string{grantDeviceCode, "refresh_token"},
		"token_endpoint_auth_method":   "none",
		"scope":                        deviceScope,
		"id_token_signed_response_alg": b.alg,
	}, nil); err != nil {
		return err
	}
	var service struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := b.admin(ctx, "clients", map[string]any{
		"client_id":                    serviceClientID,
		"client_name":                  "Bench service",
		"grant_types":                  []string{"client_credentials"},
		"token_endpoint_auth_method":   "client_secret_basic",
		"scope":                        "bench.read",
		"id_token_signed_response_alg": b.alg,
	}, &service); err != nil {
		return err
	}
	b.serviceID, b.serviceSecret = serviceClientID, service.ClientSecret
	var key struct {
		Key    string `json:"api_key"`
		Secret string `json:"api_secret"`
	}
	if err := b.admin(ctx, "api-keys", map[string]any{"name": "bench front end"}, &key); err != nil {
		return err
	}
	b.apiKey, b.apiSecret = key.Key, key.Secret
	var err error
	b.browser, err = signIn(ctx, b.latchkey.url, b.user, b.password)
	return err
}

// admin creates a resource with POST /admin/v1/{kind}.
func (b *bench) admin(ctx context.Context, kind string, body any, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.latchkey.url+"/admin/v1/"+kind, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.adminToken)
	req.Header.Set("Content-Type", "application/json")
	_, err = doJSON(req, http.StatusCreated, out)
	return err
}

// doJSON sends req, checks the status and decodes the answer into out.
func doJSON(req *http.Request, want int, out any) ([]byte, error) {
	resp, err := setupClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return body, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, shorten(string(body), 300))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return body, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return body, nil
}

// deviceAuth is the part of a device authorization response we use.
type deviceAuth struct {
	DeviceCode string `json:"device_code"`
	UserCode   string `json:"user_code"`
	Interval   int64  `json:"interval"`
}

// startDeviceFlow asks for a device code as a device would.
func (b *bench) startDeviceFlow(ctx context.Context) (*deviceAuth, error) {
	req, err := postForm(ctx, b.latchkey.url+"/oauth2/device_authorization",
		url.Values{"client_id": {deviceClientID}, "scope": {deviceScope}}.Encode())
	if err != nil {
		return nil, err
	}
	var a deviceAuth
	if _, err := doJSON(req, http.StatusOK, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// deviceCodes starts n device flows, with --concurrency at once.
func (b *bench) deviceCodes(ctx context.Context, n int) (codes []string, interval time.Duration, err error) {
	codes = make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range min(b.opts.concurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				a, err := b.startDeviceFlow(ctx)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				codes[i] = a.DeviceCode
				interval = time.Duration(a.Interval) * time.Second
				mu.Unlock()
			}
		})
	}
	// Many codes take minutes: say how far it got every ten seconds.
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				b.progress("%s: %d of %d device codes started", b.backend, min(int(next.Load()), n), n)
			}
		}
	}()
	wg.Wait()
	close(done)
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, 0, err
	}
	return codes, interval, nil
}

// probeClientCredentials skips the scenario while the token endpoint does
// not know the grant.
func probeClientCredentials(ctx context.Context, b *bench) (string, error) {
	req, err := postForm(ctx, b.latchkey.url+"/oauth2/token", "grant_type=client_credentials")
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(b.serviceID), url.QueryEscape(b.serviceSecret))
	body, err := doJSON(req, http.StatusOK, nil)
	if err == nil {
		return "", nil
	}
	if jsonString(body, "error") == "unsupported_grant_type" {
		return "not implemented yet", nil
	}
	return "", fmt.Errorf("probe: %w", err)
}

func preparePendingCodes(ctx context.Context, b *bench) (string, error) {
	if b.pending != nil {
		return "", nil
	}
	start := time.Now()
	codes, interval, err := b.deviceCodes(ctx, b.opts.liveCodes)
	if err != nil {
		return "", err
	}
	b.pending = newCodeRing(codes, interval)
	b.progress("%s pending_poll: %d live device codes in %s; at most %.0f on-time polls/s",
		b.backend, len(codes), time.Since(start).Round(time.Millisecond), float64(len(codes))/interval.Seconds())
	return "", nil
}

func prepareFastCodes(ctx context.Context, b *bench) (string, error) {
	if b.fast != nil {
		return "", nil
	}
	codes, interval, err := b.deviceCodes(ctx, fastCodes)
	if err != nil {
		return "", err
	}
	b.fast = newCodeRing(codes, interval)
	return "", nil
}

// prepareRefreshChains runs one whole device flow per worker, and a few
// spare ones: start, approve as the signed-in user, poll for the tokens.
func prepareRefreshChains(ctx context.Context, b *bench) (string, error) {
	if b.chains != nil {
		return "", nil
	}
	n := b.opts.concurrency + spareChains
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range min(4, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				rt, err := b.refreshToken(ctx)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				tokens[i] = rt
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return "", err
	}
	for _, t := range tokens[:b.opts.concurrency] {
		b.chains = append(b.chains, &chain{token: t})
	}
	b.spares = make(chan string, spareChains)
	for _, t := range tokens[b.opts.concurrency:] {
		b.spares <- t
	}
	return "", nil
}

// refreshToken runs a device flow to the end and returns its refresh token.
func (b *bench) refreshToken(ctx context.Context) (string, error) {
	a, err := b.startDeviceFlow(ctx)
	if err != nil {
		return "", err
	}
	if err := b.browser.approve(ctx, a.UserCode); err != nil {
		return "", err
	}
	// The first poll of a code is never too early.
	req, err := postForm(ctx, b.latchkey.url+"/oauth2/token", url.Values{
		"grant_type": {grantDeviceCode}, "device_code": {a.DeviceCode}, "client_id": {deviceClientID},
	}.Encode())
	if err != nil {
		return "", err
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if _, err := doJSON(req, http.StatusOK, &tok); err != nil {
		return "", err
	}
	if tok.RefreshToken == "" {
		return "", errors.New("device flow: no refresh_token in the token response")
	}
	return tok.RefreshToken, nil
}

// browser is a person's browser on the verification pages, signed in.
type browser struct {
	base   string
	client *http.Client
	csrf   string // bound to the session, so good for every form
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn signs in on /login the way a browser submits the form.
func signIn(ctx context.Context, base, email, password string) (*browser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	br := &browser{base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: setupClient.Transport}}
	page, err := br.page(ctx, http.MethodGet, "/login", nil)
	if err != nil {
		return nil, err
	}
	page, err = br.page(ctx, http.MethodPost, "/login", url.Values{
		"username": {email}, "password": {password}, "csrf_token": {page.csrf}, "return_to": {"/device"},
	})
	if err != nil {
		return nil, err
	}
	br.csrf = page.csrf
	return br, nil
}

// approve approves userCode: the confirm page, then its Allow button.
func (br *browser) approve(ctx context.Context, userCode string) error {
	page, err := br.page(ctx, http.MethodGet, "/device?user_code="+url.QueryEscape(userCode), nil)
	if err != nil {
		return err
	}
	if !strings.Contains(page.body, `value="approve"`) {
		return fmt.Errorf("approve %s: no approve button on the confirm page", userCode)
	}
	page, err = br.page(ctx, http.MethodPost, "/device", url.Values{
		"user_code": {userCode}, "decision": {"approve"}, "csrf_token": {page.csrf},
	})
	if err != nil {
		return err
	}
	if !strings.Contains(strings.ToLower(page.body), "connected") {
		return fmt.Errorf("approve %s: the answer does not say connected:\n%s", userCode, shorten(page.body, 500))
	}
	return nil
}

type page struct {
	body string
	csrf string
}

// page loads a page (following redirects) and expects a 200 with a form.
func (br *browser) page(ctx context.Context, method, path string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, br.base+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := br.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d\n%s", method, path, resp.StatusCode, shorten(string(b), 500))
	}
	p := &page{body: string(b)}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		p.csrf = m[1]
	}
	return p, nil
}
