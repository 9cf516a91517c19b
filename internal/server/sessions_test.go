package server

// End-to-end tests of what happens to tokens after they are issued:
// revocation (RFC 7009), introspection (RFC 7662), UserInfo (OIDC Core
// §5.3), sign-out (RP-Initiated Logout 1.0) with session attachment, and
// the browser session's idle timeout, on SQLite and PostgreSQL.

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

const (
	attachedClient = "tv-attached" // public, device_code + refresh_token, attached
	kioskClient    = "kiosk"       // confidential, device_code + refresh_token
	kioskSecret    = "lk_cs_kiosk-secret-for-tests-0123456789abcdef"
	byeURI         = "https://tv.example/signed-out"
)

// sessionClients adds the clients these tests need to s: an attached
// device client, a confidential one with refresh tokens, and a registered
// post-logout URI for tv-app.
func sessionClients(t *testing.T, s *testServer) {
	t.Helper()
	ctx := t.Context()
	now := s.Clock.Now()
	grants := []string{store.GrantDeviceCode, store.GrantRefreshToken}
	scopes := strings.Fields(scopesAll)
	mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: attachedClient, Name: "Hotel TV", AuthMethod: store.AuthNone,
		GrantTypes: grants, Scopes: scopes, SessionAttachment: store.SessionAttached, CreatedAt: now, UpdatedAt: now}))
	mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: kioskClient, Name: "Kiosk", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(kioskSecret), GrantTypes: grants, Scopes: scopes, CreatedAt: now, UpdatedAt: now}))
	tv, err := s.Store.GetClient(ctx, tvClient)
	mustDo(t, err)
	tv.PostLogoutRedirectURIs = []string{byeURI}
	mustDo(t, s.Store.UpdateClient(ctx, tv))
}

// deviceTokens runs a device flow for a public client, approved directly
// in the store (no browser session), and returns the token response.
func (s *testServer) deviceTokens(t *testing.T, clientID, scope string) reply {
	t.Helper()
	a := s.startDevice(t, clientID, scope)
	s.decide(t, a.str("user_code"), true)
	s.Clock.Advance(2 * time.Second)
	r := s.poll(t, clientID, a.str("device_code"))
	if r.Status != 200 {
		t.Fatalf("device flow for %s: %d %s", clientID, r.Status, r.Raw)
	}
	return r
}

// kioskTokens is deviceTokens for the confidential kiosk client.
func (s *testServer) kioskTokens(t *testing.T) reply {
	t.Helper()
	a := s.post(t, "/oauth2/device_authorization", url.Values{"scope": {scopesAll}}, kioskClient, kioskSecret)
	if a.Status != 200 {
		t.Fatalf("device authorization: %d %s", a.Status, a.Raw)
	}
	s.decide(t, a.str("user_code"), true)
	s.Clock.Advance(2 * time.Second)
	r := s.post(t, "/oauth2/token", url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {a.str("device_code")}}, kioskClient, kioskSecret)
	if r.Status != 200 {
		t.Fatalf("kiosk tokens: %d %s", r.Status, r.Raw)
	}
	return r
}

// introspect asks about tok as the confidential printer client (a
// resource server's view).
func (s *testServer) introspect(t *testing.T, tok string) reply {
	t.Helper()
	r := s.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, printerClient, printerSecret)
	if r.Status != 200 {
		t.Fatalf("introspect: %d %s", r.Status, r.Raw)
	}
	return r
}

func wantActive(t *testing.T, what string, r reply, want bool) {
	t.Helper()
	if got, _ := r.Body["active"].(bool); got != want {
		t.Errorf("%s: active = %v; want %v (%s)", what, got, want, r.Raw)
	}
	if !want && strings.TrimSpace(r.Raw) != `{"active":false}` {
		t.Errorf("%s: inactive answer %s; want exactly {\"active\":false} (IN-02)", what, r.Raw)
	}
}

func (s *testServer) refresh(t *testing.T, clientID, rt string) reply {
	t.Helper()
	return s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}, "", "")
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		sessionClients(t, s)

		t.Run("refresh token revokes the grant, its access token at once (RV-03)", func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, scopesAll)
			wantActive(t, "before", s.introspect(t, tok.str("access_token")), true)
			for range 2 { // RV-01: revoking twice is 200 twice
				r := s.post(t, "/oauth2/revoke", url.Values{"token": {tok.str("refresh_token")}, "client_id": {tvClient}}, "", "")
				if r.Status != 200 || r.Raw != "" {
					t.Fatalf("revoke: %d %q; want 200 and no body", r.Status, r.Raw)
				}
			}
			wantActive(t, "access token after revoking its refresh token", s.introspect(t, tok.str("access_token")), false)
			wantOAuthError(t, s.refresh(t, tvClient, tok.str("refresh_token")), 400, oauth.InvalidGrant)
		})

		t.Run("access token with the wrong hint (RV-04)", func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, scopesAll)
			r := s.post(t, "/oauth2/revoke", url.Values{"token": {tok.str("access_token")}, "token_type_hint": {"refresh_token"}, "client_id": {tvClient}}, "", "")
			if r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			wantActive(t, "revoked access token", s.introspect(t, tok.str("access_token")), false)
			wantOAuthError(t, s.refresh(t, tvClient, tok.str("refresh_token")), 400, oauth.InvalidGrant)
		})

		t.Run("another client's token: no effect (RV-02)", func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, scopesAll)
			for _, tokName := range []string{"refresh_token", "access_token"} {
				r := s.post(t, "/oauth2/revoke", url.Values{"token": {tok.str(tokName)}}, printerClient, printerSecret)
				if r.Status != 200 {
					t.Fatalf("revoke by another client: %d %s", r.Status, r.Raw)
				}
			}
			wantActive(t, "the owner's access token", s.introspect(t, tok.str("access_token")), true)
			if r := s.refresh(t, tvClient, tok.str("refresh_token")); r.Status != 200 {
				t.Errorf("the owner's refresh token after another client revoked it: %d %s", r.Status, r.Raw)
			}
		})

		t.Run("unknown tokens and bad requests", func(t *testing.T) {
			for _, tt := range []struct {
				name       string
				form       url.Values
				user, pass string
				wantStatus int
				wantCode   string
			}{
				{"garbage", url.Values{"token": {"garbage"}, "client_id": {tvClient}}, "", "", 200, ""},
				{"unknown refresh token", url.Values{"token": {"lk_rt_unknown"}, "client_id": {tvClient}}, "", "", 200, ""},
				{"no token", url.Values{"client_id": {tvClient}}, "", "", 400, oauth.InvalidRequest},
				{"no client", url.Values{"token": {"garbage"}}, "", "", 401, oauth.InvalidClient},
				{"wrong secret", url.Values{"token": {"garbage"}}, printerClient, "wrong", 401, oauth.InvalidClient},
				{"token twice", url.Values{"token": {"a", "b"}, "client_id": {tvClient}}, "", "", 400, oauth.InvalidRequest},
			} {
				t.Run(tt.name, func(t *testing.T) {
					r := s.post(t, "/oauth2/revoke", tt.form, tt.user, tt.pass)
					if tt.wantStatus == 200 {
						if r.Status != 200 || r.Raw != "" {
							t.Errorf("%d %q; want 200 and no body", r.Status, r.Raw)
						}
						return
					}
					wantOAuthError(t, r, tt.wantStatus, tt.wantCode)
				})
			}
			req, _ := http.NewRequest("GET", s.URL+"/oauth2/revoke?token=x", nil)
			wantOAuthError(t, do(t, req), 405, oauth.InvalidRequest)
		})
	})
}

func TestIntrospection(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		sessionClients(t, s)
		tok := s.deviceTokens(t, tvClient, scopesAll)

		r := s.introspect(t, tok.str("access_token"))
		wantActive(t, "fresh access token", r, true)
		claims := jwtClaims(t, tok.str("access_token"))
		for k, want := range map[string]any{
			"scope": scopesAll, "client_id": tvClient, "sub": s.User.ID, "token_type": "Bearer", "iss": s.URL, "aud": s.URL,
			"exp": claims["exp"], "iat": claims["iat"], "nbf": claims["nbf"], "jti": claims["jti"], "grant_id": claims["grant_id"],
		} {
			if r.Body[k] != want {
				t.Errorf("introspection %s = %v; want %v", k, r.Body[k], want)
			}
		}

		kiosk := s.kioskTokens(t)
		rt := s.post(t, "/oauth2/introspect", url.Values{"token": {kiosk.str("refresh_token")}, "token_type_hint": {"refresh_token"}}, kioskClient, kioskSecret)
		wantActive(t, "refresh token, asked by its client", rt, true)
		if rt.str("token_type") != "refresh_token" || rt.str("client_id") != kioskClient || rt.str("sub") != s.User.ID {
			t.Errorf("refresh token introspection: %s", rt.Raw)
		}
		wantActive(t, "refresh token, asked by another client", s.introspect(t, kiosk.str("refresh_token")), false)

		for _, tt := range []struct {
			name string
			tok  string
		}{
			{"garbage", "garbage"},
			{"ID token", tok.str("id_token")},
			{"unknown refresh token", "lk_rt_unknown"},
		} {
			wantActive(t, tt.name, s.introspect(t, tt.tok), false)
		}

		// A public client may not introspect (IN-01); nor may nobody.
		wantOAuthError(t, s.post(t, "/oauth2/introspect", url.Values{"token": {tok.str("access_token")}, "client_id": {tvClient}}, "", ""), 401, oauth.InvalidClient)
		wantOAuthError(t, s.post(t, "/oauth2/introspect", url.Values{"token": {tok.str("access_token")}}, "", ""), 401, oauth.InvalidClient)

		// Rotating the kiosk's refresh token makes the old one inactive.
		next := s.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {kiosk.str("refresh_token")}}, kioskClient, kioskSecret)
		if next.Status != 200 {
			t.Fatalf("refresh: %d %s", next.Status, next.Raw)
		}
		used := s.post(t, "/oauth2/introspect", url.Values{"token": {kiosk.str("refresh_token")}}, kioskClient, kioskSecret)
		wantActive(t, "rotated refresh token", used, false)

		// Expiry (IN-03): the access token lives 10 minutes.
		s.Clock.Advance(10 * time.Minute)
		wantActive(t, "expired access token", s.introspect(t, tok.str("access_token")), false)

		// Revocation through the admin API.
		fresh := s.deviceTokens(t, tvClient, scopesAll)
		req, _ := http.NewRequest("DELETE", s.URL+"/admin/v1/grants/"+jwtClaims(t, fresh.str("access_token"))["grant_id"].(string), nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		if r := do(t, req); r.Status != 204 {
			t.Fatalf("admin revoke: %d %s", r.Status, r.Raw)
		}
		wantActive(t, "access token of a grant the admin revoked", s.introspect(t, fresh.str("access_token")), false)
	})
}

func TestUserInfoEndpoint(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		tok := s.deviceTokens(t, tvClient, scopesAll)
		at := tok.str("access_token")
		noOpenID := s.deviceTokens(t, tvClient, "profile offline_access").str("access_token")
		revoked := s.deviceTokens(t, tvClient, scopesAll)
		mustDo(t, s.Store.RevokeGrant(t.Context(), jwtClaims(t, revoked.str("access_token"))["grant_id"].(string), s.Clock.Now()))

		get := func(header string) *http.Request {
			req, _ := http.NewRequest("GET", s.URL+"/userinfo", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			return req
		}
		postForm := func(form url.Values, header string) *http.Request {
			req, _ := http.NewRequest("POST", s.URL+"/userinfo", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			return req
		}
		for _, tt := range []struct {
			name          string
			req           *http.Request
			wantStatus    int
			wantChallenge string
		}{
			{"header", get("Bearer " + at), 200, ""},
			{"form body", postForm(url.Values{"access_token": {at}}, ""), 200, ""},
			{"header on POST", postForm(url.Values{}, "Bearer "+at), 200, ""},
			{"header and body", postForm(url.Values{"access_token": {at}}, "Bearer "+at), 400, `error="invalid_request"`},
			{"query", func() *http.Request {
				req, _ := http.NewRequest("GET", s.URL+"/userinfo?access_token="+url.QueryEscape(at), nil)
				return req
			}(), 400, `error="invalid_request"`},
			{"no token", get(""), 401, `Bearer realm="latchkey"`},
			{"revoked", get("Bearer " + revoked.str("access_token")), 401, `error="invalid_token"`},
			{"ID token", get("Bearer " + tok.str("id_token")), 401, `error="invalid_token"`},
			{"without openid", get("Bearer " + noOpenID), 403, `error="insufficient_scope"`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := do(t, tt.req)
				if r.Status != tt.wantStatus {
					t.Fatalf("%d %s; want %d", r.Status, r.Raw, tt.wantStatus)
				}
				if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.wantChallenge) || (tt.wantChallenge == "") != (ch == "") {
					t.Errorf("WWW-Authenticate = %q; want it to hold %q", ch, tt.wantChallenge)
				}
				if r.Status != 200 {
					return
				}
				// ID-08: sub is the ID token's.
				id := jwtClaims(t, tok.str("id_token"))
				if r.str("sub") != id["sub"] || r.str("email") != personEmail || r.str("name") != "Pat Person" {
					t.Errorf("userinfo %s; want sub %v, email and name", r.Raw, id["sub"])
				}
			})
		}
		s.Clock.Advance(10 * time.Minute)
		r := do(t, get("Bearer "+at))
		if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("expired token: %d %s %q", r.Status, r.Raw, r.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestConcurrentRefresh: twenty refreshes of one refresh token at once get
// exactly one token response and no server error, and the refresh token
// that one got still works: the others lost a race, which is not reuse and
// revokes nothing (RT-04). A second later the same replay is reuse, and
// revokes the grant (RFC 9700 §4.14.2).
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		tok := s.deviceTokens(t, tvClient, scopesAll)
		winner := onlyOneWins(t, "refreshes", 20, func() reply { return s.refresh(t, tvClient, tok.str("refresh_token")) }, oauth.InvalidGrant)
		next := s.refresh(t, tvClient, winner.str("refresh_token"))
		if next.Status != 200 {
			t.Fatalf("the winner's refresh token after the race: %d %s; want 200", next.Status, next.Raw)
		}
		// The first token again, now behind two rotations: reuse.
		s.Clock.Advance(2 * time.Second)
		wantOAuthError(t, s.refresh(t, tvClient, tok.str("refresh_token")), 400, oauth.InvalidGrant)
		wantOAuthError(t, s.refresh(t, tvClient, next.str("refresh_token")), 400, oauth.InvalidGrant)
	})
}

// webBrowser is a browser without JavaScript: a cookie jar that does not
// follow redirects, for driving the pages from tests.
type webBrowser struct {
	t    *testing.T
	s    *testServer
	http *http.Client
}

func newWebBrowser(t *testing.T, s *testServer) *webBrowser {
	jar, err := cookiejar.New(nil)
	mustDo(t, err)
	return &webBrowser{t: t, s: s, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *webBrowser) do(req *http.Request) reply {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
}

func (b *webBrowser) get(path string) reply {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), "GET", b.s.URL+path, nil)
	return b.do(req)
}

func (b *webBrowser) post(path string, form url.Values) reply {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), "POST", b.s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, page reply) string {
	t.Helper()
	m := csrfInPage.FindStringSubmatch(page.Raw)
	if m == nil {
		t.Fatalf("no csrf_token in the page (%d):\n%s", page.Status, page.Raw)
	}
	return m[1]
}

func (b *webBrowser) signIn() {
	b.t.Helper()
	r := b.post("/login", url.Values{"username": {personEmail}, "password": {personPassword}, "csrf_token": {csrfOf(b.t, b.get("/login"))}})
	if r.Status != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d %s", r.Status, r.Raw)
	}
}

func (b *webBrowser) signedIn() bool {
	b.t.Helper()
	return b.get("/device").Status == http.StatusOK
}

// approve approves a device's user code on the verification page.
func (b *webBrowser) approve(userCode string) {
	b.t.Helper()
	page := b.get("/device?user_code=" + url.QueryEscape(userCode))
	r := b.post("/device", url.Values{"user_code": {userCode}, "decision": {"approve"}, "csrf_token": {csrfOf(b.t, page)}})
	if r.Status != 200 || !strings.Contains(r.Raw, "Device connected") {
		b.t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
}

// pairedDevice runs a device flow for clientID that b approves on the page.
func pairedDevice(t *testing.T, s *testServer, b *webBrowser, clientID string) reply {
	t.Helper()
	a := s.startDevice(t, clientID, scopesAll)
	b.approve(a.str("user_code"))
	s.Clock.Advance(2 * time.Second)
	r := s.poll(t, clientID, a.str("device_code"))
	if r.Status != 200 {
		t.Fatalf("poll: %d %s", r.Status, r.Raw)
	}
	return r
}

// TestSignOutRevokesAttachedGrants: the person approves an attached and a
// detached device in one browser session and signs out from the page: the
// attached device's tokens turn inactive at once, the detached one's stay.
func TestSignOutRevokesAttachedGrants(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		sessionClients(t, s)
		br := newWebBrowser(t, s)
		br.signIn()
		attached := pairedDevice(t, s, br, attachedClient)
		detached := pairedDevice(t, s, br, tvClient)
		wantActive(t, "attached device before sign-out", s.introspect(t, attached.str("access_token")), true)

		// Another browser session of the same person: its sign-out does
		// not touch grants approved in the first.
		other := newWebBrowser(t, s)
		other.signIn()
		if r := other.post("/logout", url.Values{"csrf_token": {csrfOf(t, other.get("/device"))}}); r.Status != http.StatusSeeOther {
			t.Fatalf("other browser's sign-out: %d %s", r.Status, r.Raw)
		}
		wantActive(t, "attached device after another browser signed out", s.introspect(t, attached.str("access_token")), true)

		// The page's own sign-out button.
		r := br.post("/logout", url.Values{"csrf_token": {csrfOf(t, br.get("/device"))}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Fatalf("sign-out: %d %q", r.Status, r.Header.Get("Location"))
		}
		if br.signedIn() {
			t.Fatal("still signed in")
		}
		wantActive(t, "attached device after sign-out", s.introspect(t, attached.str("access_token")), false)
		wantOAuthError(t, s.refresh(t, attachedClient, attached.str("refresh_token")), 400, oauth.InvalidGrant)
		wantActive(t, "detached device after sign-out", s.introspect(t, detached.str("access_token")), true)
		if r := s.refresh(t, tvClient, detached.str("refresh_token")); r.Status != 200 {
			t.Errorf("detached device's refresh after sign-out: %d %s", r.Status, r.Raw)
		}
	})
}

// TestAttachedGrantEndsWithSession: an attached client's grant stops
// refreshing when the browser session it was approved in ends for any
// reason, not only at sign-out (10Duke's meaning of attached; G-9 closed):
// its lifetime runs out, it goes unused past the idle timeout (whether or not
// the browser comes back and finds it over), or the browser signs in again.
// The refusal revokes the grant; a detached device approved in the same
// session keeps refreshing, and so does the attached one while the session
// lives, however long ago the pairing was.
func TestAttachedGrantEndsWithSession(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) {
			c.Session.Lifetime = config.Duration(5 * time.Hour)
			c.Session.IdleTimeout = config.Duration(2 * time.Hour)
		})
		sessionClients(t, s)
		// refreshes refreshes both devices' tokens, which must work or not
		// as want says for the attached one; the detached one always does.
		type device struct{ attached, detached reply }
		pair := func(t *testing.T, br *webBrowser) *device {
			return &device{pairedDevice(t, s, br, attachedClient), pairedDevice(t, s, br, tvClient)}
		}
		refreshes := func(t *testing.T, what string, d *device, want bool) {
			t.Helper()
			r := s.refresh(t, attachedClient, d.attached.str("refresh_token"))
			switch {
			case want && r.Status == 200:
				d.attached = r
			case want:
				t.Errorf("%s: attached device's refresh: %d %s; want 200", what, r.Status, r.Raw)
			default:
				wantOAuthError(t, r, 400, oauth.InvalidGrant)
				gid, _ := jwtClaims(t, d.attached.str("access_token"))["grant_id"].(string)
				if g, err := s.Store.GetGrant(t.Context(), gid); err != nil || g.RevokedAt.IsZero() {
					t.Errorf("%s: attached grant = %+v, %v; want it revoked", what, g, err)
				}
			}
			if r := s.refresh(t, tvClient, d.detached.str("refresh_token")); r.Status != 200 {
				t.Errorf("%s: detached device's refresh: %d %s", what, r.Status, r.Raw)
			} else {
				d.detached = r
			}
		}

		t.Run("idle, the browser never back", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			d := pair(t, br)
			s.Clock.Advance(90 * time.Minute)
			refreshes(t, "90 minutes on", d, true)
			br.get("/device") // the person uses the session: its idle clock starts again
			s.Clock.Advance(90 * time.Minute)
			refreshes(t, "90 minutes after the browser's last use", d, true)
			s.Clock.Advance(31 * time.Minute)
			refreshes(t, "past the idle timeout", d, false)
		})
		t.Run("idle, the browser back later", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			d := pair(t, br)
			s.Clock.Advance(2*time.Hour + time.Minute)
			if br.signedIn() {
				t.Fatal("still signed in after the idle timeout")
			}
			refreshes(t, "after the browser found its session over", d, false)
		})
		t.Run("lifetime", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			d := pair(t, br)
			for range 3 {
				s.Clock.Advance(75 * time.Minute)
				br.get("/device")
				refreshes(t, "within the session's lifetime", d, true)
			}
			s.Clock.Advance(90 * time.Minute) // 5 h 15 min since sign-in, 90 min since the last use
			refreshes(t, "past the session's lifetime", d, false)
		})
		t.Run("signed in again", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			d := pair(t, br)
			br.signIn()
			refreshes(t, "after a new sign-in on the browser", d, false)
		})
	})
}

// TestRPInitiatedLogout drives GET /logout as relying parties do.
func TestRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		sessionClients(t, s)
		logout := func(q url.Values) string { return "/logout?" + q.Encode() }
		// A hint issued for an approval in the browser's own session.
		sessionHint := func(br *webBrowser) string {
			t.Helper()
			return pairedDevice(t, s, br, tvClient).str("id_token")
		}

		t.Run("hint and registered URI: back with state", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			idToken := sessionHint(br)
			r := br.get(logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {byeURI}, "state": {"af0ifjsldkj"}}))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != byeURI+"?state=af0ifjsldkj" {
				t.Fatalf("%d, Location %q; want 303 to %s?state=af0ifjsldkj", r.Status, r.Header.Get("Location"), byeURI)
			}
			if br.signedIn() {
				t.Error("still signed in")
			}
		})
		t.Run("unregistered URI: signed out, no redirect", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			idToken := sessionHint(br)
			r := br.get(logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"x"}}))
			if r.Status != 200 || r.Header.Get("Location") != "" || !strings.Contains(r.Raw, "signed out") {
				t.Fatalf("%d, Location %q: %s", r.Status, r.Header.Get("Location"), r.Raw)
			}
			if br.signedIn() {
				t.Error("still signed in")
			}
		})
		t.Run("hint of another session: confirm first, the other session untouched", func(t *testing.T) {
			br, other := newWebBrowser(t, s), newWebBrowser(t, s)
			br.signIn()
			other.signIn()
			for name, hint := range map[string]string{
				"another browser's session":     sessionHint(other),
				"no session (approved without)": s.deviceTokens(t, tvClient, scopesAll).str("id_token"),
			} {
				r := br.get(logout(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {byeURI}, "state": {"x"}}))
				if r.Status != 200 || r.Header.Get("Location") != "" || !strings.Contains(r.Raw, "Sign out?") {
					t.Fatalf("%s: %d, Location %q; want the confirmation: %s", name, r.Status, r.Header.Get("Location"), r.Raw)
				}
				if !br.signedIn() || !other.signedIn() {
					t.Fatalf("%s: signed in %v, the other browser %v; want both", name, br.signedIn(), other.signedIn())
				}
			}
		})
		t.Run("no hint: confirm first (logout CSRF)", func(t *testing.T) {
			br := newWebBrowser(t, s)
			br.signIn()
			r := br.get(logout(url.Values{"post_logout_redirect_uri": {byeURI}, "state": {"x"}}))
			if r.Status != 200 || r.Header.Get("Location") != "" || !strings.Contains(r.Raw, "Sign out?") {
				t.Fatalf("%d, Location %q: %s", r.Status, r.Header.Get("Location"), r.Raw)
			}
			if !br.signedIn() {
				t.Fatal("a GET without a hint signed the browser out")
			}
			// Confirming signs out; without a valid hint, no redirect.
			form := url.Values{"csrf_token": {csrfOf(t, r)}, "post_logout_redirect_uri": {byeURI}, "state": {"x"}}
			if r := br.post("/logout", form); r.Status != 200 || r.Header.Get("Location") != "" {
				t.Errorf("confirm: %d, Location %q", r.Status, r.Header.Get("Location"))
			}
			if br.signedIn() {
				t.Error("still signed in after confirming")
			}
		})
	})
}

// TestSessionIdleTimeout: a session unused for session.idle_timeout is
// over, while one in use lasts until its absolute lifetime.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil) // idle 2h, lifetime 24h by default
	br := newWebBrowser(t, s)
	br.signIn()
	for i, step := range []struct {
		advance time.Duration
		want    bool
	}{
		{90 * time.Minute, true},
		{119 * time.Minute, true}, // 119 minutes after the last use
		{119 * time.Minute, true},
		{2 * time.Hour, false}, // idle for the timeout
	} {
		s.Clock.Advance(step.advance)
		if got := br.signedIn(); got != step.want {
			t.Fatalf("step %d (+%s): signed in %v; want %v", i, step.advance, got, step.want)
		}
	}

	// In constant use, the absolute lifetime still ends it.
	br.signIn()
	for elapsed := time.Duration(0); elapsed < 24*time.Hour-time.Hour; elapsed += time.Hour {
		s.Clock.Advance(time.Hour)
		if !br.signedIn() {
			t.Fatalf("signed out %s after sign-in, in constant use", elapsed+time.Hour)
		}
	}
	s.Clock.Advance(time.Hour)
	if br.signedIn() {
		t.Error("still signed in 24h after sign-in")
	}
}

func TestDiscoveryListsSessionEndpoints(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	req, _ := http.NewRequest("GET", s.URL+"/.well-known/openid-configuration", nil)
	r := do(t, req)
	for k, want := range map[string]string{
		"revocation_endpoint":    s.URL + "/oauth2/revoke",
		"introspection_endpoint": s.URL + "/oauth2/introspect",
		"userinfo_endpoint":      s.URL + "/userinfo",
		"end_session_endpoint":   s.URL + "/logout",
	} {
		if r.str(k) != want {
			t.Errorf("%s = %q; want %q", k, r.str(k), want)
		}
	}
	for k, want := range map[string]string{
		"revocation_endpoint_auth_methods_supported":    "client_secret_basic client_secret_post none",
		"introspection_endpoint_auth_methods_supported": "client_secret_basic client_secret_post",
	} {
		var got []string
		list, _ := r.Body[k].([]any)
		for _, v := range list {
			got = append(got, v.(string))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s = %v; want %s", k, got, want)
		}
	}
}

// TestIDTokenSessionID: ID tokens carry sid (OpenID Connect Front-Channel
// Logout 1.0 §3), the same for every approval in one browser session and
// after refresh, another for another session, and neither the session
// cookie nor its stored hash (docs/security.md ID-09).
func TestIDTokenSessionID(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	sessionClients(t, s)
	br, other := newWebBrowser(t, s), newWebBrowser(t, s)
	br.signIn()
	other.signIn()
	first := pairedDevice(t, s, br, tvClient)
	second := pairedDevice(t, s, br, attachedClient)
	elsewhere := pairedDevice(t, s, other, tvClient)
	sid := func(r reply) string {
		t.Helper()
		v, _ := jwtClaims(t, r.str("id_token"))["sid"].(string)
		return v
	}
	if sid(first) == "" || sid(first) != sid(second) {
		t.Errorf("sids of two approvals in one session: %q, %q; want one, the same", sid(first), sid(second))
	}
	if sid(elsewhere) == "" || sid(elsewhere) == sid(first) {
		t.Errorf("sid of another session %q; want one of its own, not %q", sid(elsewhere), sid(first))
	}
	s.Clock.Advance(time.Minute)
	if r := s.refresh(t, tvClient, first.str("refresh_token")); r.Status != 200 || sid(r) != sid(first) {
		t.Errorf("refreshed ID token: %d, sid %q; want %q", r.Status, sid(r), sid(first))
	}
	base, _ := url.Parse(s.URL)
	for _, c := range br.http.Jar.Cookies(base) {
		if c.Value == sid(first) || oauth.HashSecret(c.Value) == sid(first) || strings.Contains(sid(first), oauth.HashSecret(c.Value)[:16]) {
			t.Errorf("sid %q gives away cookie %s", sid(first), c.Name)
		}
	}
	// No browser session, no sid.
	if got := sid(s.deviceTokens(t, tvClient, scopesAll)); got != "" {
		t.Errorf("sid of an approval without a browser session: %q; want none", got)
	}
}
