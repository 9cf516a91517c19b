package server

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// jwtHeader is a JWT's protected header.
func jwtHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	mustDo(t, json.Unmarshal(raw, &h))
	return h
}

// setPolicy sets client id's token policy in the store.
func setPolicy(t *testing.T, s *testServer, id string, p store.TokenPolicy) {
	t.Helper()
	c, err := s.Store.GetClient(t.Context(), id)
	mustDo(t, err)
	c.Tokens = p
	mustDo(t, s.Store.UpdateClient(t.Context(), c))
}

// TestRS256WithGoOIDC: go-oidc, configured from discovery, verifies the
// RS256 ID token of a client registered for RS256 (and refuses it when it
// accepts only ES256), while another client keeps getting ES256; with
// tokens.signing_alg RS256 the access tokens are RS256 too, and go-oidc
// verifies them against the same JWKS.
func TestRS256WithGoOIDC(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, false, func(c *config.Config) { c.Tokens.SigningAlg = "RS256" })
		rsApp := newRP(t, s, "rs-app", false)
		setPolicy(t, s, "rs-app", store.TokenPolicy{IDTokenSigningAlg: "RS256"})
		esApp := newRP(t, s, webAppClient, false)
		ctx := t.Context()

		for _, tt := range []struct {
			app     *rp
			alg     string
			refused string // an algorithm whose verifier must refuse the ID token
		}{
			{rsApp, "RS256", "ES256"},
			{esApp, "ES256", "RS256"},
		} {
			conf, provider := tt.app.config(t, s)
			code, verifier := approvedCode(t, s, tt.app, conf)
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("%s: Exchange: %v", tt.app.ID, err)
			}
			raw, _ := tok.Extra("id_token").(string)
			if h := jwtHeader(t, raw); h["alg"] != tt.alg {
				t.Errorf("%s's ID token header %v; want alg %s", tt.app.ID, h, tt.alg)
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: tt.app.ID, SupportedSigningAlgs: []string{tt.alg}}).Verify(ctx, raw); err != nil {
				t.Errorf("go-oidc does not verify %s's %s ID token: %v", tt.app.ID, tt.alg, err)
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: tt.app.ID, SupportedSigningAlgs: []string{tt.refused}}).Verify(ctx, raw); err == nil {
				t.Errorf("a verifier for %s only accepted %s's %s ID token", tt.refused, tt.app.ID, tt.alg)
			}
			// The access token: RS256 whatever the client, an RFC 9068
			// at+jwt with the issuer as its audience.
			if h := jwtHeader(t, tok.AccessToken); h["alg"] != "RS256" || h["typ"] != "at+jwt" {
				t.Errorf("access token header %v; want RS256 at+jwt", h)
			}
			at, err := provider.Verifier(&oidc.Config{ClientID: s.URL, SupportedSigningAlgs: []string{"RS256"}}).Verify(ctx, tok.AccessToken)
			if err != nil {
				t.Errorf("go-oidc does not verify the RS256 access token: %v", err)
			} else if at.Subject != s.User.ID {
				t.Errorf("access token sub = %q", at.Subject)
			}
			// And the server's own endpoints take it.
			if u := s.bearerGet(t, "/userinfo", tok.AccessToken); u.Status != 200 || u.str("sub") != s.User.ID {
				t.Errorf("userinfo with the RS256 access token: %d %s", u.Status, u.Raw)
			}
			// A refresh keeps the client's algorithm.
			next, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if raw, _ := next.Extra("id_token").(string); jwtHeader(t, raw)["alg"] != tt.alg {
				t.Errorf("%s's refreshed ID token is %v; want %s", tt.app.ID, jwtHeader(t, raw)["alg"], tt.alg)
			}
		}
	})
}

func (s *testServer) bearerGet(t *testing.T, path, tok string) reply {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return do(t, req)
}

// lifetimes are a token response's lifetimes as its tokens state them.
type lifetimes struct {
	expiresIn, access, id, refreshable time.Duration
	refresh                            bool
}

func lifetimesOf(t *testing.T, r reply) lifetimes {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("token response: %d %s", r.Status, r.Raw)
	}
	secs := func(m map[string]any, k string) int64 { f, _ := m[k].(float64); return int64(f) }
	at := jwtClaims(t, r.str("access_token"))
	l := lifetimes{
		expiresIn: time.Duration(secs(r.Body, "expires_in")) * time.Second,
		access:    time.Duration(secs(at, "exp")-secs(at, "iat")) * time.Second,
		refresh:   r.str("refresh_token") != "",
	}
	if r.str("id_token") != "" {
		id := jwtClaims(t, r.str("id_token"))
		l.id = time.Duration(secs(id, "exp")-secs(id, "iat")) * time.Second
	}
	if ru := secs(r.Body, "refreshable_until"); ru != 0 {
		l.refreshable = time.Duration(ru-secs(r.Body, "issued_at")) * time.Second
	}
	return l
}

// TestClientTokenPolicy: a client's own lifetimes and refresh token policy
// hold in every grant: device, authorization code, refresh (its idle
// lifetime too) and client credentials; a client without a policy gets
// the server's, as before.
func TestClientTokenPolicy(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		sessionClients(t, s)
		ctx := t.Context()
		policy := store.TokenPolicy{AccessTokenLifetime: 2 * time.Minute, IDTokenLifetime: 5 * time.Minute,
			RefreshLifetime: 48 * time.Hour, RefreshIdleLifetime: time.Hour, RefreshTokens: store.RefreshAlways}
		setPolicy(t, s, tvClient, policy)
		server := lifetimes{expiresIn: 10 * time.Minute, access: 10 * time.Minute, id: time.Hour, refreshable: 30 * 24 * time.Hour, refresh: true}
		own := lifetimes{expiresIn: 2 * time.Minute, access: 2 * time.Minute, id: 5 * time.Minute, refreshable: 48 * time.Hour, refresh: true}

		t.Run("device grant", func(t *testing.T) {
			// Without offline_access: the policy says always.
			got := lifetimesOf(t, s.deviceTokens(t, tvClient, "openid profile"))
			if got != own {
				t.Errorf("tv-app (own policy): %+v; want %+v", got, own)
			}
			want := server
			want.refresh, want.refreshable = false, 0 // offline_access was not asked for (OIDC Core §11)
			if got := lifetimesOf(t, s.deviceTokens(t, attachedClient, "openid profile")); got != want {
				t.Errorf("hotel-tv (the server's): %+v; want %+v", got, want)
			}
			if got := lifetimesOf(t, s.deviceTokens(t, attachedClient, scopesAll)); got != server {
				t.Errorf("hotel-tv with offline_access: %+v; want %+v", got, server)
			}
		})

		t.Run("refresh grant, idle lifetime", func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, "openid")
			s.Clock.Advance(59 * time.Minute)
			next := s.refresh(t, tvClient, tok.str("refresh_token"))
			got := lifetimesOf(t, next)
			want := own
			want.refreshable = 48*time.Hour - 59*time.Minute // the grant's, fixed when it was made
			if got != want {
				t.Errorf("refreshed: %+v; want %+v", got, want)
			}
			// An hour unused: the client's idle lifetime, not the server's 14 days.
			s.Clock.Advance(time.Hour)
			wantOAuthError(t, s.refresh(t, tvClient, next.str("refresh_token")), 400, oauth.InvalidGrant)
		})

		t.Run("a changed policy applies to the next tokens", func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, "openid")
			changed := policy
			changed.AccessTokenLifetime = 7 * time.Minute
			setPolicy(t, s, tvClient, changed)
			s.Clock.Advance(3 * time.Second) // past the client cache
			if got := lifetimesOf(t, s.refresh(t, tvClient, tok.str("refresh_token"))); got.expiresIn != 7*time.Minute || got.access != 7*time.Minute {
				t.Errorf("after the change: %+v; want 7m access tokens", got)
			}
			setPolicy(t, s, tvClient, policy)
			s.Clock.Advance(3 * time.Second)
		})

		t.Run("client credentials", func(t *testing.T) {
			now := s.Clock.Now()
			const secret = "lk_cs_service-secret-0123456789"
			mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "svc", AuthMethod: store.AuthClientSecretPost,
				SecretHash: oauth.HashSecret(secret), GrantTypes: []string{store.GrantClientCredentials}, Scopes: []string{"read"},
				Tokens:    store.TokenPolicy{AccessTokenLifetime: 30 * time.Minute, RefreshTokens: store.RefreshWithOfflineAccess},
				CreatedAt: now, UpdatedAt: now}))
			cc := &clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c := jwtClaims(t, tok.AccessToken)
			if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 1800 || tok.RefreshToken != "" {
				t.Errorf("client credentials: exp-iat %v, refresh token %q; want 1800 s and none (RFC 6749 §4.4.3)", exp-iat, tok.RefreshToken)
			}
		})
	})
}

// TestAuthCodeTokenPolicy: the authorization code grant honours a web
// app's lifetimes, and always gives it a refresh token when its policy
// says so, though it asked for openid and profile only.
func TestAuthCodeTokenPolicy(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	app := newRP(t, s, webAppClient, false)
	setPolicy(t, s, webAppClient, store.TokenPolicy{AccessTokenLifetime: 3 * time.Minute, IDTokenLifetime: 4 * time.Minute,
		RefreshLifetime: 72 * time.Hour, RefreshTokens: store.RefreshAlways})
	conf, _ := app.config(t, s)
	conf.Scopes = []string{"openid", "profile"}
	code, verifier := approvedCode(t, s, app, conf)
	got := lifetimesOf(t, s.redeemCode(t, app, code, verifier))
	want := lifetimes{expiresIn: 3 * time.Minute, access: 3 * time.Minute, id: 4 * time.Minute, refreshable: 72 * time.Hour, refresh: true}
	if got != want {
		t.Errorf("authorization code: %+v; want %+v", got, want)
	}
}

// forge re-signs a JWT with the server's own current key of its algorithm,
// through go-jose, with its claims edited by claims and extra header
// members: what someone holding the key, or an instance with a broken
// clock, could send.
func forge(t *testing.T, s *testServer, jwt string, header map[jose.HeaderKey]any, claims func(map[string]any)) string {
	t.Helper()
	h := jwtHeader(t, jwt)
	ks, err := s.Store.ListSigningKeys(t.Context())
	mustDo(t, err)
	var priv any
	for _, k := range ks {
		if k.ID == h["kid"] {
			if priv, err = x509.ParsePKCS8PrivateKey(k.PrivateKey); err != nil {
				t.Fatal(err)
			}
		}
	}
	if priv == nil {
		t.Fatalf("no key %v", h["kid"])
	}
	opts := (&jose.SignerOptions{}).WithHeader("kid", h["kid"]).WithType(jose.ContentType(h["typ"].(string)))
	for k, v := range header {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(h["alg"].(string)), Key: priv}, opts)
	mustDo(t, err)
	c := jwtClaims(t, jwt)
	claims(c)
	payload, err := json.Marshal(c)
	mustDo(t, err)
	obj, err := signer.Sign(payload)
	mustDo(t, err)
	out, err := obj.CompactSerialize()
	mustDo(t, err)
	return out
}

// TestForgedJWTsRefused: an access token or ID token hint signed with our
// own key is refused everywhere we verify one (UserInfo, introspection, an
// organization's bearer, logout's id_token_hint) when its header has crit
// or its iat is more than the clock skew ahead; the same token without the
// defect, or 20 s ahead, is taken (docs/security.md TE-09).
func TestForgedJWTsRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, true, func(c *config.Config) { c.Tokens.SigningAlg, c.Tokens.IDTokenSigningAlg = alg, alg })
			sessionClients(t, s)
			ahead := func(d time.Duration) func(map[string]any) {
				return func(c map[string]any) { c["iat"] = s.Clock.Now().Add(d).Unix() }
			}
			br := newWebBrowser(t, s)
			br.signIn()
			tok := pairedDevice(t, s, br, tvClient)
			keep := func(map[string]any) {}
			for _, tt := range []struct {
				name   string
				header map[jose.HeaderKey]any
				claims func(map[string]any)
				ok     bool
			}{
				{"re-signed as it was", nil, keep, true},
				{"iat 20 s ahead", nil, ahead(20 * time.Second), true},
				{"iat an hour ahead", nil, ahead(time.Hour), false},
				{"iat 31 s ahead", nil, ahead(31 * time.Second), false},
				{"crit with an unknown member", map[jose.HeaderKey]any{"crit": []string{"urn:example:x"}, "urn:example:x": true}, keep, false},
				{"crit empty", map[jose.HeaderKey]any{"crit": []string{}}, keep, false},
			} {
				t.Run(tt.name, func(t *testing.T) {
					at := forge(t, s, tok.str("access_token"), tt.header, tt.claims)
					if r := s.bearerGet(t, "/userinfo", at); (r.Status == 200) != tt.ok {
						t.Errorf("userinfo: %d %s; want accepted %v", r.Status, r.Raw, tt.ok)
					}
					r := s.post(t, "/oauth2/introspect", url.Values{"token": {at}}, printerClient, printerSecret)
					if active, _ := r.Body["active"].(bool); active != tt.ok {
						t.Errorf("introspection: %s; want active %v", r.Raw, tt.ok)
					}
					// An organization's bearer: a good user token lacks the
					// invitations scope (403); a refused one is invalid_token.
					want := http.StatusUnauthorized
					if tt.ok {
						want = http.StatusForbidden
					}
					if r := s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", at,
						map[string]any{"email": "x@example.com", "clientGroupIds": []string{"g"}}); r.Status != want {
						t.Errorf("send invitations: %d %s; want %d", r.Status, r.Raw, want)
					}
					// Logout: a good hint of this session signs out at once;
					// a refused one asks first.
					b := newWebBrowser(t, s)
					b.signIn()
					hint := forge(t, s, pairedDevice(t, s, b, tvClient).str("id_token"), tt.header, tt.claims)
					r = b.get("/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}}.Encode())
					if signedOut := r.Status == http.StatusSeeOther; signedOut != tt.ok {
						t.Errorf("logout with the hint: %d %q; want signed out at once %v", r.Status, r.Header.Get("Location"), tt.ok)
					}
				})
			}
		})
	}
}
