package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

func TestDeviceAuthorizationResponse(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, path := range []string{"/oauth2/device_authorization", "/user/oauth20/device-authz", "/oauth2/v1/device"} {
		t.Run(path, func(t *testing.T) {
			form := url.Values{"client_id": {tvClient}, "scope": {"openid offline_access"}}
			if path == "/oauth2/v1/device" {
				form.Set("response_type", "device_code") // Oracle's dialect
			}
			r := s.post(t, path, form, "", "")
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(r.str("user_code")) {
				t.Errorf("user_code = %q", r.str("user_code"))
			}
			if dc := r.str("device_code"); !strings.HasPrefix(dc, oauth.PrefixDeviceCode) || len(dc) < len(oauth.PrefixDeviceCode)+43 {
				t.Errorf("device_code %q: want the lk_dc_ prefix and 256 random bits", dc)
			}
			// 10Duke's clients get 10Duke's page back (its device flow
			// documentation: /user/device?userCode=); the others ours.
			page, param := "/device", "user_code"
			if path == "/user/oauth20/device-authz" {
				page, param = "/user/device", "userCode"
			}
			if got, want := r.str("verification_uri"), s.URL+page; got != want {
				t.Errorf("verification_uri = %q; want %q", got, want)
			}
			if got, want := r.str("verification_uri_complete"), s.URL+page+"?"+param+"="+r.str("user_code"); got != want {
				t.Errorf("verification_uri_complete = %q; want %q", got, want)
			}
			if r.Body["expires_in"] != float64(600) || r.Body["interval"] != float64(1) {
				t.Errorf("expires_in %v interval %v; want 600 and 1", r.Body["expires_in"], r.Body["interval"])
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
			}
		})
	}
}

// TestDeviceAuthorizationUILocales: a device's ui_locales goes into its
// verification_uri_complete, well-formed tags only, and the page it opens,
// and the sign-in after it, are in that language.
func TestDeviceAuthorizationUILocales(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, tt := range []struct{ ui, want string }{
		{"fi", "&ui_locales=fi"},
		{"xx <b> fi-FI", "&ui_locales=xx+fi-FI"},
		{"<script>", ""},
		{"", ""},
	} {
		r := s.post(t, "/oauth2/device_authorization", url.Values{"client_id": {tvClient}, "ui_locales": {tt.ui}}, "", "")
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		if got, want := r.str("verification_uri_complete"), s.URL+"/device?user_code="+r.str("user_code")+tt.want; got != want {
			t.Errorf("ui_locales %q: verification_uri_complete = %q; want %q", tt.ui, got, want)
		}
		if tt.ui != "fi" {
			continue
		}
		br := newWebBrowser(t, s)
		page := br.get(strings.TrimPrefix(r.str("verification_uri_complete"), s.URL))
		if page.Status == http.StatusSeeOther { // to sign-in, which carries the language on
			page = br.get(page.Header.Get("Location"))
		}
		if !strings.Contains(page.Raw, `<html lang="fi"`) || !strings.Contains(page.Raw, "Kirjaudu sisään ja yhdistä") {
			t.Errorf("the device's page with ui_locales=fi: %d %s", page.Status, page.Raw)
		}
	}
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, tt := range []struct {
		name       string
		form       url.Values
		user, pass string
		wantStatus int
		wantCode   string
	}{
		{"unknown client", url.Values{"client_id": {"nope"}}, "", "", 401, oauth.InvalidClient},
		{"confidential client without secret", url.Values{"client_id": {printerClient}}, "", "", 401, oauth.InvalidClient},
		{"confidential client, wrong secret", url.Values{}, printerClient, "wrong", 401, oauth.InvalidClient},
		{"public client sending a secret", url.Values{}, tvClient, "anything", 401, oauth.InvalidClient},
		{"client without the device grant", url.Values{"client_id": {webOnlyClient}}, "", "", 400, oauth.UnauthorizedClient},
		{"scope not allowed", url.Values{"client_id": {tvClient}, "scope": {"openid admin"}}, "", "", 400, oauth.InvalidScope},
		{"malformed scope", url.Values{"client_id": {tvClient}, "scope": {"openid  profile"}}, "", "", 400, oauth.InvalidScope},
		{"duplicated client_id", url.Values{"client_id": {tvClient, tvClient}}, "", "", 400, oauth.InvalidRequest},
		{"NUL in client_id", url.Values{"client_id": {"tv\x00"}}, "", "", 400, oauth.InvalidRequest},
		{"wrong response_type", url.Values{"client_id": {tvClient}, "response_type": {"code"}}, "", "", 400, oauth.UnsupportedResponseType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.post(t, "/oauth2/device_authorization", tt.form, tt.user, tt.pass)
			wantOAuthError(t, r, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("confidential client with its secret", func(t *testing.T) {
		r := s.post(t, "/oauth2/device_authorization", url.Values{"scope": {"print"}}, printerClient, printerSecret)
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})
}

// TestSlowDown walks docs/security.md DF-10 with interval 5 s: each
// too-early poll adds 5 s, and a client that then waits the new interval
// is answered normally.
func TestSlowDown(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) { c.Device.Interval = config.Duration(5 * time.Second) })
		a := s.startDevice(t, tvClient, "")
		other := s.startDevice(t, tvClient, "")
		start := s.Clock.Now()
		for _, step := range []struct {
			at   time.Duration
			want string
		}{
			{0, oauth.AuthorizationPending},
			{1 * time.Second, oauth.SlowDown}, // interval -> 10
			{11 * time.Second, oauth.AuthorizationPending},
			{16 * time.Second, oauth.SlowDown}, // interval -> 15
			{31 * time.Second, oauth.AuthorizationPending},
			{46 * time.Second, oauth.AuthorizationPending},
			// Within the 1 s tolerance of the interval is on time...
			{60500 * time.Millisecond, oauth.AuthorizationPending},
			// ...and more than 1 s early is not: 15 s interval, 13.5 s later.
			{74 * time.Second, oauth.SlowDown},                                    // interval -> 20
			{92500 * time.Millisecond, oauth.SlowDown},                            // 18.5 s < 20 - 1: interval -> 25
			{92500*time.Millisecond + 24*time.Second, oauth.AuthorizationPending}, // waited the new interval
		} {
			s.Clock.Set(start.Add(step.at))
			r := s.poll(t, tvClient, a.str("device_code"))
			if got := r.str("error"); got != step.want {
				t.Fatalf("poll at t=%s: %s; want %s", step.at, got, step.want)
			}
		}
		// Another device's polls are unaffected.
		r := s.poll(t, tvClient, other.str("device_code"))
		wantOAuthError(t, r, 400, oauth.AuthorizationPending)
	})
}

func TestDevicePollOutcomes(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		tick := func() { s.Clock.Advance(2 * time.Second) }

		t.Run("approve then tokens once", func(t *testing.T) {
			a := s.startDevice(t, tvClient, scopesAll)
			wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, oauth.AuthorizationPending)
			s.decide(t, a.str("user_code"), true)
			tick()
			r := s.poll(t, tvClient, a.str("device_code"))
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			for _, k := range []string{"access_token", "id_token", "refresh_token", "scope", "token_type"} {
				if r.str(k) == "" {
					t.Errorf("token response lacks %s: %s", k, r.Raw)
				}
			}
			if r.Body["issued_at"] == nil || r.Body["refreshable_until"] == nil || r.Body["expires_in"] != float64(600) {
				t.Errorf("issued_at/refreshable_until/expires_in: %s", r.Raw)
			}
			if !strings.HasPrefix(r.str("refresh_token"), oauth.PrefixRefreshToken) {
				t.Errorf("refresh_token lacks its prefix")
			}
			claims := jwtClaims(t, r.str("access_token"))
			for k, want := range map[string]any{"iss": s.URL, "sub": s.User.ID, "client_id": tvClient, "scope": scopesAll, "aud": s.URL} {
				if claims[k] != want {
					t.Errorf("access token %s = %v; want %v", k, claims[k], want)
				}
			}
			if claims["jti"] == nil || claims["grant_id"] == nil {
				t.Errorf("access token lacks jti or grant_id: %v", claims)
			}
			// A second redemption fails and revokes what the first one got (DF-13).
			tick()
			wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, oauth.InvalidGrant)
			g, err := s.Store.GetGrant(t.Context(), claims["grant_id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if g.RevokedAt.IsZero() {
				t.Error("replaying the device code did not revoke the first grant")
			}
			rr := s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "client_id": {tvClient}}, "", "")
			wantOAuthError(t, rr, 400, oauth.InvalidGrant)
		})

		t.Run("deny", func(t *testing.T) {
			a := s.startDevice(t, tvClient, "")
			s.decide(t, a.str("user_code"), false)
			tick()
			wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, oauth.AccessDenied)
			tick()
			wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, oauth.AccessDenied)
		})

		t.Run("expired", func(t *testing.T) {
			a := s.startDevice(t, tvClient, "")
			s.Clock.Advance(601 * time.Second)
			wantOAuthError(t, s.poll(t, tvClient, a.str("device_code")), 400, oauth.ExpiredToken)
		})

		t.Run("another client's device code", func(t *testing.T) {
			a := s.startDevice(t, tvClient, "")
			r := s.post(t, "/oauth2/token", url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {a.str("device_code")}}, printerClient, printerSecret)
			wantOAuthError(t, r, 400, oauth.InvalidGrant)
			// The owner's flow still completes (DF-14).
			s.decide(t, a.str("user_code"), true)
			tick()
			if r := s.poll(t, tvClient, a.str("device_code")); r.Status != 200 {
				t.Fatalf("owner's poll: %d %s", r.Status, r.Raw)
			}
		})

		t.Run("unknown device code", func(t *testing.T) {
			wantOAuthError(t, s.poll(t, tvClient, "lk_dc_nope"), 400, oauth.InvalidGrant)
		})

		t.Run("confidential client polls with its secret", func(t *testing.T) {
			a := s.post(t, "/oauth2/device_authorization", url.Values{"scope": {"openid print"}}, printerClient, printerSecret)
			s.decide(t, a.str("user_code"), true)
			tick()
			form := url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {a.str("device_code")}}
			wantOAuthError(t, s.post(t, "/oauth2/token", url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {a.str("device_code")}, "client_id": {printerClient}}, "", ""), 401, oauth.InvalidClient)
			r := s.post(t, "/oauth2/token", form, printerClient, printerSecret)
			if r.Status != 200 || r.str("refresh_token") != "" {
				t.Fatalf("%d %s (want tokens without a refresh token)", r.Status, r.Raw)
			}
		})

		t.Run("client without the grant polls", func(t *testing.T) {
			wantOAuthError(t, s.poll(t, webOnlyClient, "lk_dc_x"), 400, oauth.UnauthorizedClient)
		})

		t.Run("disabled user after approval", func(t *testing.T) {
			a := s.startDevice(t, tvClient, "")
			s.decide(t, a.str("user_code"), true)
			u := *s.User
			u.Disabled = true
			mustDo(t, s.Store.UpdateUser(t.Context(), &u))
			defer func() { mustDo(t, s.Store.UpdateUser(context.Background(), s.User)) }()
			tick()
			r := s.poll(t, tvClient, a.str("device_code"))
			if r.Status == 200 {
				t.Fatal("tokens issued for a disabled user (DF-17)")
			}
		})
	})
}

// TestConcurrentPolls: twenty polls of one approved code at once get
// exactly one token response and no server errors (DF-15).
func TestConcurrentPolls(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		a := s.startDevice(t, tvClient, "")
		s.decide(t, a.str("user_code"), true)
		s.Clock.Advance(2 * time.Second)
		won := onlyOneWins(t, "polls", 20, func() reply { return s.poll(t, tvClient, a.str("device_code")) }, oauth.InvalidGrant, oauth.SlowDown)
		// The other polls came at the same instant as the one that got the
		// tokens: retries of one client, not a second redemption, so they
		// revoked nothing (DF-15) and the tokens of the one 200 keep working.
		if r := s.bearerGet(t, "/userinfo", won.str("access_token")); r.Status != 200 || r.str("sub") != s.User.ID {
			t.Errorf("userinfo with the winner's access token: %d %s", r.Status, r.Raw)
		}
		rr := s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {won.str("refresh_token")}, "client_id": {tvClient}}, "", "")
		if rr.Status != 200 {
			t.Errorf("refresh with the winner's refresh token: %d %s", rr.Status, rr.Raw)
		}
	})
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		a := s.startDevice(t, tvClient, scopesAll)
		s.decide(t, a.str("user_code"), true)
		s.Clock.Advance(2 * time.Second)
		first := s.poll(t, tvClient, a.str("device_code"))
		refresh := func(rt, scope string) reply {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {tvClient}}
			if scope != "" {
				f.Set("scope", scope)
			}
			return s.post(t, "/oauth2/token", f, "", "")
		}
		second := refresh(first.str("refresh_token"), "openid offline_access")
		if second.Status != 200 || second.str("refresh_token") == first.str("refresh_token") {
			t.Fatalf("refresh: %d %s", second.Status, second.Raw)
		}
		if second.str("scope") != "openid offline_access" {
			t.Errorf("narrowed scope = %q", second.str("scope"))
		}
		wantOAuthError(t, refresh(second.str("refresh_token"), "openid admin"), 400, oauth.InvalidScope)
		// Narrowing narrows that one response, not the grant: the refresh
		// token it returned still carries every scope (docs/security.md
		// RT-09, RFC 6749 §6).
		third := refresh(second.str("refresh_token"), "")
		if third.Status != 200 || third.str("scope") != scopesAll {
			t.Fatalf("refresh with the narrowed response's token: %d %s; want 200, scope %q", third.Status, third.Raw, scopesAll)
		}
		// Reusing the first (rotated) token revokes the grant: the newest one
		// dies too. (Within a second of its use, and with its successor
		// unused, it would count as a concurrent request: TestConcurrentRefresh.)
		s.Clock.Advance(2 * time.Second)
		wantOAuthError(t, refresh(first.str("refresh_token"), ""), 400, oauth.InvalidGrant)
		wantOAuthError(t, refresh(third.str("refresh_token"), ""), 400, oauth.InvalidGrant)
	})
}

// TestRefreshOtherClient: a refresh token is bound to the client it was
// issued to (RFC 6749 §6, docs/security.md RT-01). Another client that
// presents it, public or confidential, gets invalid_grant, and the refusal
// spends nothing: the token still refreshes for its own client afterwards.
func TestRefreshOtherClient(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		ctx, now := t.Context(), s.Clock.Now()
		mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "other-tv", Name: "Other TV", AuthMethod: store.AuthNone,
			GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken}, Scopes: strings.Fields(scopesAll),
			CreatedAt: now, UpdatedAt: now}))
		const otherSecret = "lk_cs_other-secret-for-tests-0123456789abcdef"
		mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "other-box", Name: "Other box", AuthMethod: store.AuthClientSecretBasic,
			SecretHash: oauth.HashSecret(otherSecret), GrantTypes: []string{store.GrantRefreshToken}, Scopes: strings.Fields(scopesAll),
			CreatedAt: now, UpdatedAt: now}))

		a := s.startDevice(t, tvClient, scopesAll)
		s.decide(t, a.str("user_code"), true)
		s.Clock.Advance(2 * time.Second)
		rt := s.poll(t, tvClient, a.str("device_code")).str("refresh_token")
		if rt == "" {
			t.Fatal("no refresh token from the device flow")
		}
		form := func(clientID string) url.Values {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if clientID != "" {
				f.Set("client_id", clientID)
			}
			return f
		}
		wantOAuthError(t, s.post(t, "/oauth2/token", form("other-tv"), "", ""), 400, oauth.InvalidGrant)
		wantOAuthError(t, s.post(t, "/oauth2/token", form(""), "other-box", otherSecret), 400, oauth.InvalidGrant)

		s.Clock.Advance(2 * time.Second) // past the concurrent-refresh window: a spent token would now be reuse
		if r := s.post(t, "/oauth2/token", form(tvClient), "", ""); r.Status != 200 || r.str("refresh_token") == "" {
			t.Fatalf("refresh by its own client after the refusals: %d %s; want 200 with a new refresh token", r.Status, r.Raw)
		}
	})
}

// TestTokenEndpointBadInput: every bad request is an OAuth JSON error with
// no-store, never a 5xx (docs/security.md TE-*, BI-*).
func TestTokenEndpointBadInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	const form = "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name       string
		method     string
		path       string
		ct         string
		body       string
		header     map[string]string
		wantStatus int
		wantCode   string
	}{
		{"GET", "GET", "/oauth2/token", "", "", nil, 405, oauth.InvalidRequest},
		{"PUT", "PUT", "/oauth2/token", form, "grant_type=x", nil, 405, oauth.InvalidRequest},
		{"JSON body", "POST", "/oauth2/token", "application/json", `{"grant_type":"x"}`, nil, 400, oauth.InvalidRequest},
		{"no content type", "POST", "/oauth2/token", "", "grant_type=x", nil, 400, oauth.InvalidRequest},
		{"empty body", "POST", "/oauth2/token", form, "", nil, 400, oauth.InvalidRequest},
		{"oversized body", "POST", "/oauth2/token", form, "grant_type=" + strings.Repeat("a", 70<<10), nil, 413, oauth.InvalidRequest},
		{"duplicate grant_type", "POST", "/oauth2/token", form, "grant_type=a&grant_type=a", nil, 400, oauth.InvalidRequest},
		{"duplicate device_code", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&client_id=tv-app&device_code=a&device_code=b", nil, 400, oauth.InvalidRequest},
		{"unknown grant type", "POST", "/oauth2/token", form, "grant_type=password&client_id=tv-app", nil, 400, oauth.UnsupportedGrantType},
		{"missing device_code", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&client_id=tv-app", nil, 400, oauth.InvalidRequest},
		{"NUL in device_code", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&client_id=tv-app&device_code=a%00b", nil, 400, oauth.InvalidRequest},
		{"invalid UTF-8", "POST", "/oauth2/token", form, "grant_type=%FF%FE", nil, 400, oauth.InvalidRequest},
		{"device_code in the query only", "POST", "/oauth2/token?device_code=x", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&client_id=tv-app", nil, 400, oauth.InvalidRequest},
		{"malformed basic", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&device_code=x", map[string]string{"Authorization": "Basic !!!"}, 401, oauth.InvalidClient},
		{"bearer at the token endpoint", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&device_code=x", map[string]string{"Authorization": "Bearer x"}, 401, oauth.InvalidClient},
		{"basic and post at once", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&device_code=x&client_secret=y", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("printer:y"))}, 400, oauth.InvalidRequest},
		{"NUL in basic user", "POST", "/oauth2/token", form, "grant_type=" + url.QueryEscape(store.GrantDeviceCode) + "&device_code=x", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin%00:x"))}, 401, oauth.InvalidClient},
		{"alias path", "POST", "/user/oauth20/token", form, "grant_type=password", nil, 400, oauth.UnsupportedGrantType},
		{"oracle alias", "POST", "/oauth2/v1/token", form, "grant_type=password", nil, 400, oauth.UnsupportedGrantType},
		{"GET device authorization", "GET", "/oauth2/device_authorization", "", "", nil, 405, oauth.InvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			r := do(t, req)
			wantOAuthError(t, r, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 405 && r.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q; want POST", r.Header.Get("Allow"))
			}
		})
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		r := do(t, req)
		if r.Status != 200 || r.str("issuer") != s.URL {
			t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
		}
		for k, want := range map[string]string{
			"token_endpoint":                s.URL + "/oauth2/token",
			"device_authorization_endpoint": s.URL + "/oauth2/device_authorization",
			"authorization_endpoint":        s.URL + "/oauth2/authorize",
			"jwks_uri":                      s.URL + "/oauth2/jwks",
		} {
			if r.str(k) != want {
				t.Errorf("%s = %q; want %q", k, r.str(k), want)
			}
		}
		// The authorization code flow with PKCE S256 only, iss in every
		// answer (RFC 9207 §3; docs/security.md AC-09, AC-16).
		for k, want := range map[string]string{
			"response_types_supported":                       `["code"]`,
			"response_modes_supported":                       `["query"]`,
			"code_challenge_methods_supported":               `["S256"]`,
			"authorization_response_iss_parameter_supported": `true`,
		} {
			if got, _ := json.Marshal(r.Body[k]); string(got) != want {
				t.Errorf("%s = %s; want %s", k, got, want)
			}
		}
		if gts, _ := json.Marshal(r.Body["grant_types_supported"]); !strings.Contains(string(gts), `"authorization_code"`) {
			t.Errorf("grant_types_supported = %s; want authorization_code among them", gts)
		}
	}
	req, _ := http.NewRequest("GET", s.URL+"/.well-known/openid-configuration", nil)
	if got, _ := json.Marshal(do(t, req).Body["id_token_signing_alg_values_supported"]); string(got) != `["ES256","RS256"]` {
		t.Errorf("id_token_signing_alg_values_supported = %s; want the default ES256, and RS256 (OIDC Discovery §3)", got)
	}
	req, _ = http.NewRequest("GET", s.URL+"/oauth2/jwks", nil)
	r := do(t, req)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("jwks: %v %s; want an EC and an RSA key", err, r.Raw)
	}
	algs := map[string]bool{}
	for _, k := range set.Keys {
		algs[k["alg"].(string)] = true
		switch k["alg"] {
		case "ES256":
			if k["kty"] != "EC" || k["crv"] != "P-256" || k["x"] == nil || k["y"] == nil {
				t.Errorf("EC jwk = %v", k)
			}
		case "RS256":
			if k["kty"] != "RSA" || k["e"] != "AQAB" || k["n"] == nil || k["crv"] != nil {
				t.Errorf("RSA jwk = %v", k)
			}
		}
		if k["kid"] == "" || k["use"] != "sig" {
			t.Errorf("jwk = %v; want a kid and use sig", k)
		}
		// RFC 7518 §6.2.2, §6.3.2: the private members of either kind.
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS publishes private member %q", private)
			}
		}
	}
	if !algs["ES256"] || !algs["RS256"] {
		t.Errorf("JWKS algorithms %v; want ES256 and RS256", algs)
	}

	// A server whose clients default to RS256 says so first.
	s = newTestServer(t, true, func(c *config.Config) { c.Tokens.IDTokenSigningAlg = "RS256" })
	req, _ = http.NewRequest("GET", s.URL+"/.well-known/openid-configuration", nil)
	if got, _ := json.Marshal(do(t, req).Body["id_token_signing_alg_values_supported"]); string(got) != `["RS256","ES256"]` {
		t.Errorf("id_token_signing_alg_values_supported = %s; want RS256 first", got)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		if r := do(t, req); r.Status != 200 {
			t.Errorf("%s: %d %s", path, r.Status, r.Raw)
		}
	}
}

func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientCodePolicy: a client's overrides of the user code alphabet,
// length, grouping, lifetime and interval reach its device authorizations.
func TestClientCodePolicy(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, func(c *config.Config) {
		c.Device.AttemptsPerIP, c.Device.AttemptsPerAccount, c.Device.ExpectedLiveCodes = 5, 5, 100
	})
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateClient(t.Context(), &store.Client{
		ID: "keypad", Name: "Keypad thermostat", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid"},
		UserCode:           store.UserCodePolicy{Alphabet: "digits", Length: 9, Group: 3},
		DeviceCodeLifetime: 5 * time.Minute, PollInterval: 7 * time.Second,
		CreatedAt: now, UpdatedAt: now,
	}))
	r := s.startDevice(t, "keypad", "")
	if !regexp.MustCompile(`^\d{3}-\d{3}-\d{3}$`).MatchString(r.str("user_code")) {
		t.Errorf("user_code = %q; want ddd-ddd-ddd", r.str("user_code"))
	}
	if r.Body["expires_in"] != float64(300) || r.Body["interval"] != float64(7) {
		t.Errorf("expires_in %v interval %v; want 300 and 7", r.Body["expires_in"], r.Body["interval"])
	}
	s.decide(t, r.str("user_code"), true)
	s.Clock.Advance(8 * time.Second)
	if got := s.poll(t, "keypad", r.str("device_code")); got.Status != 200 {
		t.Errorf("poll: %d %s", got.Status, got.Raw)
	}
}

// TestReadyzFailsWithoutDatabase: /readyz turns 503 when the store fails,
// while /healthz (the process is alive) stays 200.
func TestReadyzFailsWithoutDatabase(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	mustDo(t, s.Store.Close())
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200} {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		if r := do(t, req); r.Status != want {
			t.Errorf("%s = %d; want %d", path, r.Status, want)
		}
	}
}

// TestDeviceAuthorizationRateLimit: requests per IP per minute are bounded,
// which bounds the live codes guessing can aim at (DF-19); codes already
// issued keep working, and the next minute is open again.
func TestDeviceAuthorizationRateLimit(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) { c.Device.RequestsPerIPPerMinute = 3 })
		s.Clock.Set(s.Clock.Now().Truncate(time.Minute))
		var first reply
		for i := range 3 {
			r := s.startDevice(t, tvClient, "")
			if i == 0 {
				first = r
			}
		}
		r := s.post(t, "/oauth2/device_authorization", url.Values{"client_id": {tvClient}}, "", "")
		wantOAuthError(t, r, 429, oauth.SlowDown)
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		s.Clock.Advance(2 * time.Second)
		wantOAuthError(t, s.poll(t, tvClient, first.str("device_code")), 400, oauth.AuthorizationPending)
		s.Clock.Advance(time.Minute)
		s.startDevice(t, tvClient, "")
	})
}

// TestDeviceAuthorizationRateLimitIPv6: behind a trusted proxy, the
// addresses of one IPv6 /64 share one budget (clientip.ThrottleKey), and
// another /64 has its own.
func TestDeviceAuthorizationRateLimitIPv6(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, func(c *config.Config) {
		c.Device.RequestsPerIPPerMinute = 2
		c.TrustProxy = true
	})
	s.Clock.Set(s.Clock.Now().Truncate(time.Minute))
	from := func(addr string) reply {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/oauth2/device_authorization",
			strings.NewReader(url.Values{"client_id": {tvClient}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		return do(t, req)
	}
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::7"} {
		if r := from(addr); r.Status != 200 {
			t.Fatalf("device authorization from %s = %d %s", addr, r.Status, r.Raw)
		}
	}
	wantOAuthError(t, from("2001:db8:1:2:ffff:ffff:ffff:ffff"), 429, oauth.SlowDown)
	if r := from("2001:db8:1:3::1"); r.Status != 200 {
		t.Errorf("device authorization from another /64 = %d %s", r.Status, r.Raw)
	}
}

// TestRefreshIdleLifetime: a refresh token unused for longer than the idle
// lifetime is refused, even before refreshable_until; using it in time
// starts the idle period again.
func TestRefreshIdleLifetime(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, func(c *config.Config) { c.Tokens.RefreshIdleLifetime = config.Duration(time.Hour) })
	a := s.startDevice(t, tvClient, scopesAll)
	s.decide(t, a.str("user_code"), true)
	s.Clock.Advance(2 * time.Second)
	tok := s.poll(t, tvClient, a.str("device_code"))
	refresh := func(rt string) reply {
		return s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {tvClient}}, "", "")
	}
	s.Clock.Advance(50 * time.Minute)
	next := refresh(tok.str("refresh_token"))
	if next.Status != 200 {
		t.Fatalf("refresh within the idle lifetime: %d %s", next.Status, next.Raw)
	}
	if next.Body["refreshable_until"] != tok.Body["refreshable_until"] {
		t.Errorf("refreshable_until moved: %v -> %v", tok.Body["refreshable_until"], next.Body["refreshable_until"])
	}
	s.Clock.Advance(50 * time.Minute) // 100 min after the first token, 50 after the rotation
	later := refresh(next.str("refresh_token"))
	if later.Status != 200 {
		t.Fatalf("refresh 50 min after the last rotation: %d %s", later.Status, later.Raw)
	}
	s.Clock.Advance(61 * time.Minute)
	wantOAuthError(t, refresh(later.str("refresh_token")), 400, oauth.InvalidGrant)
}
