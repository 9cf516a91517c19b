package server

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestTokenEndpointAuthMethod: a client registered client_secret_basic
// cannot send its secret in the body, nor a client_secret_post one in the
// header, at any endpoint that authenticates clients; each gets
// invalid_client saying how to send it, and the registered way works.
// golang.org/x/oauth2's auto-detection (header first, then the body)
// finds the way for either.
func TestTokenEndpointAuthMethod(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	ctx := t.Context()
	now := s.Clock.Now()
	const secret = "lk_cs_poster-secret-0123456789"
	mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "poster", AuthMethod: store.AuthClientSecretPost,
		SecretHash: oauth.HashSecret(secret), GrantTypes: []string{store.GrantDeviceCode, store.GrantClientCredentials},
		Scopes: []string{"openid", "read"}, CreatedAt: now, UpdatedAt: now}))
	at := s.deviceTokens(t, tvClient, scopesAll).str("access_token")
	for _, tt := range []struct {
		client, secret string
		registered     string
	}{
		{printerClient, printerSecret, store.AuthClientSecretBasic},
		{"poster", secret, store.AuthClientSecretPost},
	} {
		for _, ep := range []struct {
			path string
			form url.Values
		}{
			{"/oauth2/device_authorization", url.Values{"scope": {"openid"}}},
			{"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}},
			{"/oauth2/introspect", url.Values{"token": {at}}},
			{"/oauth2/revoke", url.Values{"token": {"lk_rt_unknown"}}},
		} {
			basic := func() reply { return s.post(t, ep.path, ep.form, tt.client, tt.secret) }
			inBody := func() reply {
				f := url.Values{"client_id": {tt.client}, "client_secret": {tt.secret}}
				for k, v := range ep.form {
					f[k] = v
				}
				return s.post(t, ep.path, f, "", "")
			}
			right, wrong := basic, inBody
			if tt.registered == store.AuthClientSecretPost {
				right, wrong = inBody, basic
			}
			r := wrong()
			wantOAuthError(t, r, 401, oauth.InvalidClient)
			if !strings.Contains(r.str("error_description"), "registered for "+tt.registered) {
				t.Errorf("%s at %s the wrong way: %s", tt.client, ep.path, r.Raw)
			}
			if r := right(); r.Status == 401 || r.Status >= 500 {
				// client_credentials is not printer's grant: 400 is its answer.
				t.Errorf("%s at %s the registered way: %d %s", tt.client, ep.path, r.Status, r.Raw)
			}
		}
	}
	// x/oauth2's auto-detection: Basic first, the body after invalid_client.
	tok, err := (&clientcredentials.Config{ClientID: "poster", ClientSecret: secret, TokenURL: s.URL + "/oauth2/token"}).Token(ctx)
	if err != nil || tok.AccessToken == "" {
		t.Errorf("auto-detected client_secret_post: %v", err)
	}
}
