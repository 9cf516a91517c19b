package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/testenv"
)

// sendJSON sends body (none when "") with a Bearer token (none when "").
func (s *testServer) sendJSON(t *testing.T, method, path, bearer, body string) reply {
	t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return do(t, req)
}

// registrationToken makes an initial access token through the admin API.
func (s *testServer) registrationToken(t *testing.T, uses int) string {
	t.Helper()
	r := s.sendJSON(t, "POST", "/admin/v1/registration-tokens", testAdminToken, `{"uses":`+itoa(uses)+`}`)
	if r.Status != 201 {
		t.Fatalf("registration token: %d %s", r.Status, r.Raw)
	}
	return r.str("token")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func withRegistration(c *config.Config) { c.Registration.Enabled = true }

// TestDynamicRegistration: off by default (404, not in discovery); on, a
// device registers itself with an initial access token, signs in through
// the device flow with x/oauth2, and manages and deletes its registration
// (RFC 7592), on both backends.
func TestDynamicRegistration(t *testing.T) {
	t.Parallel()
	off := newTestServer(t, false, nil)
	if r := off.sendJSON(t, "GET", "/.well-known/openid-configuration", "", ""); r.Body["registration_endpoint"] != nil {
		t.Errorf("discovery lists registration while it is off: %s", r.Raw)
	}
	wantOAuthError(t, off.sendJSON(t, "POST", "/oauth2/register", "lk_iat_x", `{}`), 404, "not_found")

	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := newTestServerOn(t, b, false, withRegistration)
		ctx := t.Context()
		disc := s.sendJSON(t, "GET", "/.well-known/openid-configuration", "", "")
		if disc.str("registration_endpoint") != s.URL+"/oauth2/register" {
			t.Errorf("registration_endpoint = %q", disc.str("registration_endpoint"))
		}
		iat := s.registrationToken(t, 2)
		r := s.sendJSON(t, "POST", "/oauth2/register", iat, `{"client_name":"Kitchen TV","token_endpoint_auth_method":"none",
			"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"scope":"openid offline_access"}`)
		if r.Status != 201 {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		id, rat, uri := r.str("client_id"), r.str("registration_access_token"), r.str("registration_client_uri")
		if uri != s.URL+"/oauth2/register/"+id || rat == "" {
			t.Fatalf("registration answer: %s", r.Raw)
		}

		// The new client signs in as any device would.
		cfg := &oauth2.Config{ClientID: id, Scopes: []string{"openid", "offline_access"},
			Endpoint: oauth2.Endpoint{DeviceAuthURL: s.URL + "/oauth2/device_authorization", TokenURL: s.URL + "/oauth2/token"}}
		da, err := cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("DeviceAuth: %v", err)
		}
		s.decide(t, da.UserCode, true)
		tok, err := cfg.DeviceAccessToken(ctx, da)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("DeviceAccessToken: %v, %+v", err, tok)
		}

		path := "/oauth2/register/" + id
		if r := s.sendJSON(t, "GET", path, rat, ""); r.Status != 200 || r.str("client_name") != "Kitchen TV" {
			t.Errorf("read: %d %s", r.Status, r.Raw)
		}
		// Another client's registration access token is the wrong caller.
		r = s.sendJSON(t, "POST", "/oauth2/register", iat, `{"grant_types":["client_credentials"],"scope":"openid"}`)
		other := r.str("registration_access_token")
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			wantOAuthError(t, s.sendJSON(t, m, path, other, `{"client_id":"`+id+`"}`), 401, "invalid_token")
			wantOAuthError(t, s.sendJSON(t, m, path, testAdminToken, `{"client_id":"`+id+`"}`), 401, "invalid_token")
		}
		// The token's two uses are spent.
		wantOAuthError(t, s.sendJSON(t, "POST", "/oauth2/register", iat, `{"grant_types":["client_credentials"]}`), 401, "invalid_token")

		r = s.sendJSON(t, "PUT", path, rat, `{"client_id":"`+id+`","client_name":"Kitchen TV 2","token_endpoint_auth_method":"none",
			"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"scope":"openid offline_access"}`)
		if r.Status != 200 || r.str("client_name") != "Kitchen TV 2" {
			t.Errorf("update: %d %s", r.Status, r.Raw)
		}
		// The update issued a new registration access token (RFC 7592
		// §2.2): the old one no longer manages the client.
		next := r.str("registration_access_token")
		if !strings.HasPrefix(next, "lk_rat_") || next == rat {
			t.Fatalf("update: registration_access_token %q, want a new one", next)
		}
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			wantOAuthError(t, s.sendJSON(t, m, path, rat, `{"client_id":"`+id+`"}`), 401, "invalid_token")
		}
		if r := s.sendJSON(t, "GET", path, next, ""); r.Status != 200 || r.str("client_name") != "Kitchen TV 2" || r.str("registration_access_token") != "" {
			t.Errorf("read with the new token: %d %s", r.Status, r.Raw)
		}
		rat = next
		if r := s.sendJSON(t, "DELETE", path, rat, ""); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Raw)
		}
		// Gone, with its grants: the refresh token is refused.
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a deleted client's refresh token still works")
		}
		if _, err := s.Store.GetClient(ctx, id); err == nil {
			t.Error("the client is still stored")
		}
	})
}

// TestOpenIDClientRegisters: panva's openid-client (node) registers a
// confidential client with an initial access token and gets a token with
// the secret the registration gave it. scripts/test installs it (npm ci).
func TestOpenIDClientRegisters(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "openid-client")
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		testenv.Missing(t, "openid-client (npm ci in "+dir+")")
	}
	s := newTestServer(t, false, withRegistration)
	iat := s.registrationToken(t, 1)
	cmd := exec.CommandContext(t.Context(), node, "register.mjs", s.URL, iat)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node register.mjs: %v\n%s", err, stderr)
	}
	var got struct {
		ClientID                string `json:"client_id"`
		ClientSecret            string `json:"client_secret"`
		RegistrationAccessToken string `json:"registration_access_token"`
		RegistrationClientURI   string `json:"registration_client_uri"`
		AccessToken             string `json:"access_token"`
		TokenType               string `json:"token_type"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("openid-client's output %s: %v", out, err)
	}
	c, err := s.Store.GetClient(t.Context(), got.ClientID)
	if err != nil || c.Name != "openid-client unit" || c.AuthMethod != store.AuthClientSecretBasic || !c.HasGrant(store.GrantClientCredentials) {
		t.Fatalf("the registered client: %+v, %v", c, err)
	}
	if got.AccessToken == "" || !strings.EqualFold(got.TokenType, "bearer") {
		t.Errorf("openid-client's grant: %s", out)
	}
	// The secret works with another library too, and the registration
	// access token reads the registration.
	if _, err := (&clientcredentials.Config{ClientID: got.ClientID, ClientSecret: got.ClientSecret, TokenURL: s.URL + "/oauth2/token"}).Token(t.Context()); err != nil {
		t.Errorf("x/oauth2 with the registered secret: %v", err)
	}
	if r := s.sendJSON(t, "GET", strings.TrimPrefix(got.RegistrationClientURI, s.URL), got.RegistrationAccessToken, ""); r.Status != 200 {
		t.Errorf("RFC 7592 read: %d %s", r.Status, r.Raw)
	}
}
