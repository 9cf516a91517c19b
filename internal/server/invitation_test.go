package server

// End-to-end tests of device clients: an organization admin invites a
// device into device client groups, the device accepts (as a new client or
// as one that exists), and gets tokens with the client credentials grant
// that carry its organization and groups; on SQLite and PostgreSQL.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/token"
)

const (
	acmeOrg     = "acme"
	globexOrg   = "globex"
	acmeAppLink = "com.example.sensor://invitation"
	groupRead   = "g-read"   // acme: read status
	groupWrite  = "g-write"  // acme: write
	groupGlobex = "g-globex" // globex: read
	memberUser  = "u-member" // a member, not an admin, of acme
	globexAdmin = "u-globex" // an admin of globex only
)

// invServer is a test server with two organizations: acme, whose admin is
// the test person (s.User), and globex.
type invServer struct {
	*testServer
	adminAT  string // the test person's access token: an admin of acme
	memberAT string // u-member's: a member of acme
	globexAT string // u-globex's: an admin of globex
}

func newInvServer(t *testing.T, b backend, edit func(*config.Config)) *invServer {
	t.Helper()
	return newInvServerLogging(t, b, edit, nil)
}

// newInvServerLogging is newInvServer logging to logTo when it is set
// (newTestServerLogging).
func newInvServerLogging(t *testing.T, b backend, edit func(*config.Config), logTo io.Writer) *invServer {
	t.Helper()
	s := newTestServerLogging(t, b, true, func(c *config.Config) {
		c.Invitations.RequestsPerIPPerMinute = 0 // the rate limit has its own test
		c.Invitations.RetryInterval = config.Duration(50 * time.Millisecond)
		if edit != nil {
			edit(c)
		}
	}, logTo)
	ctx := t.Context()
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: acmeOrg, Name: "Acme Sensors", AppLink: acmeAppLink, CreatedAt: now, UpdatedAt: now}))
	mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: globexOrg, Name: "Globex", CreatedAt: now, UpdatedAt: now}))
	for _, g := range []*store.ClientGroup{
		{ID: groupRead, OrgID: acmeOrg, Name: "Readers", Scopes: []string{"read", "status"}},
		{ID: groupWrite, OrgID: acmeOrg, Name: "Writers", Scopes: []string{"write"}},
		{ID: groupGlobex, OrgID: globexOrg, Name: "Globex devices", Scopes: []string{"read"}},
	} {
		mustDo(t, s.Store.CreateClientGroup(ctx, g))
	}
	for _, id := range []string{memberUser, globexAdmin} {
		mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.com", CreatedAt: now, UpdatedAt: now}))
	}
	for _, m := range []*store.OrgMember{
		{OrgID: acmeOrg, UserID: s.User.ID, Role: store.RoleAdmin},
		{OrgID: acmeOrg, UserID: memberUser, Role: store.RoleMember},
		{OrgID: globexOrg, UserID: globexAdmin, Role: store.RoleAdmin},
	} {
		mustDo(t, s.Store.PutOrgMember(ctx, m))
	}
	// The organization admins' app: it may ask for the invitations scope.
	mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: adminApp, Name: "Acme Console", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid", org.ScopeInvitations}, CreatedAt: now, UpdatedAt: now}))
	is := &invServer{testServer: s}
	is.adminAT = s.userAccessToken(t, s.User.ID)
	is.memberAT = s.userAccessToken(t, memberUser)
	is.globexAT = s.userAccessToken(t, globexAdmin)
	return is
}

// adminApp is the client organization admins send invitations with.
const adminApp = "acme-console"

// userAccessToken runs a device flow of adminApp that userID approves, and
// returns the access token, with the invitations scope: the bearer an
// organization admin's app would send.
func (s *testServer) userAccessToken(t *testing.T, userID string) string {
	t.Helper()
	return s.userAccessTokenFor(t, userID, adminApp, "openid "+org.ScopeInvitations)
}

// userAccessTokenFor is userAccessToken through clientID's device flow,
// asking for scope.
func (s *testServer) userAccessTokenFor(t *testing.T, userID, clientID, scope string) string {
	t.Helper()
	a := s.startDevice(t, clientID, scope)
	norm, ok := device.NormalizeUserCode(a.str("user_code"))
	if !ok {
		t.Fatalf("bad user code %q", a.str("user_code"))
	}
	if _, err := s.Store.DecideDeviceAuth(t.Context(), oauth.HashSecret(norm), userID, "", true, s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * time.Second)
	r := s.poll(t, clientID, a.str("device_code"))
	if r.Status != 200 {
		t.Fatalf("device flow for %s: %d %s", userID, r.Status, r.Raw)
	}
	return r.str("access_token")
}

// jsonRequest sends body (a string as it is, anything else as JSON) with
// bearer as the access token when not empty, and checks what every answer
// must have: no 5xx, no-store.
func (s *testServer) jsonRequest(t *testing.T, method, path, bearer string, body any) reply {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	r := do(t, req)
	if r.Status >= 500 {
		t.Errorf("%s %s: %d %s", method, path, r.Status, r.Raw)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, cc)
	}
	return r
}

// invite sends an invitation into acme's groups as the acme admin and
// returns its id and token, read from the outbox as a mail server would.
// With a mail server configured use send: the outbox forgets the token
// once the mail is out, which may be before invite could read it.
func (s *invServer) invite(t *testing.T, body map[string]any) (id, tok string) {
	t.Helper()
	id = s.send(t, body)
	return id, s.tokenFromOutbox(t, id)
}

// send sends an invitation into acme's groups as the acme admin and
// returns its id.
func (s *invServer) send(t *testing.T, body map[string]any) (id string) {
	t.Helper()
	if body["recipientEmail"] == nil {
		body["recipientEmail"] = "devices@acme.example"
	}
	r := s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", s.adminAT, body)
	if r.Status != 201 {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	if strings.Contains(r.Raw, oauth.PrefixInvitation) {
		t.Errorf("the send answer holds a token: %s", r.Raw)
	}
	return r.str("id")
}

// tokenFromOutbox reads the invitation link from its email in the outbox.
func (s *testServer) tokenFromOutbox(t *testing.T, id string) string {
	t.Helper()
	ms, err := s.Store.ListMail(t.Context(), id)
	if err != nil || len(ms) != 1 {
		t.Fatalf("outbox of %s: %d mails, %v", id, len(ms), err)
	}
	link := ms[0].Link
	if !strings.Contains(ms[0].Body, link) || ms[0].Recipient == "" {
		t.Errorf("mail body does not carry the link %s:\n%s", link, ms[0].Body)
	}
	tok, ok := strings.CutPrefix(link, s.URL+"/invitations/")
	if !ok || !strings.HasPrefix(tok, oauth.PrefixInvitation) || len(tok) < len(oauth.PrefixInvitation)+43 {
		t.Fatalf("invitation link %q: want %s/invitations/lk_inv_ and 256 random bits", link, s.URL)
	}
	return tok
}

func (s *testServer) accept(t *testing.T, tok, bearer string, extra map[string]any) reply {
	t.Helper()
	body := map[string]any{"token": tok}
	for k, v := range extra {
		body[k] = v
	}
	return s.jsonRequest(t, "PUT", "/client-group-invitations/accept", bearer, body)
}

// deviceToken gets an access token with the client credentials grant, as
// a device does, through golang.org/x/oauth2/clientcredentials.
func (s *testServer) deviceToken(t *testing.T, clientID, secret string, scopes ...string) (*oauth2.Token, token.AccessClaims) {
	t.Helper()
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: s.URL + "/oauth2/token", Scopes: scopes}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatalf("client credentials for %s: %v", clientID, err)
	}
	if tok.RefreshToken != "" {
		t.Error("client credentials issued a refresh token (RFC 6749 §4.4.3)")
	}
	typ, payload, err := s.Srv.Keys().Verify(t.Context(), tok.AccessToken)
	if err != nil || typ != "at+jwt" {
		t.Fatalf("access token does not verify: typ %q, %v", typ, err)
	}
	var c token.AccessClaims
	mustDo(t, json.Unmarshal(payload, &c))
	return tok, c
}

func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)
		ctx := t.Context()

		// The acme admin invites a device into the readers.
		id, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}, "message": "For the boiler room.",
			"allowRename": true, "validForSeconds": 3600})
		inv, err := s.Store.GetInvitation(ctx, id)
		mustDo(t, err)
		if inv.TokenHash != oauth.HashSecret(tok) || inv.InvitedBy != s.User.ID || !inv.ExpiresAt.Equal(s.Clock.Now().Add(time.Hour)) {
			t.Errorf("stored invitation: %+v", inv)
		}

		// A new device accepts: a client owned by acme, with a secret shown once.
		r := s.accept(t, tok, "", map[string]any{"deviceName": "Boiler sensor"})
		if r.Status != 201 {
			t.Fatalf("accept: %d %s", r.Status, r.Raw)
		}
		clientID, secret := r.str("clientId"), r.str("clientSecret")
		if r.str("id") != clientID || !strings.HasPrefix(secret, oauth.PrefixClientSecret) || len(secret) < len(oauth.PrefixClientSecret)+43 ||
			r.str("organizationId") != acmeOrg || r.str("name") != "Boiler sensor" {
			t.Errorf("accept answer: %s", r.Raw)
		}
		c, err := s.Store.GetClient(ctx, clientID)
		mustDo(t, err)
		if c.OrgID != acmeOrg || c.SecretHash != oauth.HashSecret(secret) || !c.HasGrant(store.GrantClientCredentials) || c.Public() {
			t.Errorf("new client: %+v", c)
		}
		if ms, _ := s.Store.ListMail(ctx, id); ms[0].Body != "" || ms[0].Link != "" {
			t.Error("the accepted invitation's mail still holds the link")
		}

		// It gets tokens that carry its organization and groups.
		_, claims := s.deviceToken(t, clientID, secret)
		if claims.Subject != clientID || claims.ClientID != clientID || claims.OrgID != acmeOrg ||
			!slices.Equal(claims.Groups, []string{groupRead}) || claims.Scope != "read status" {
			t.Errorf("device token claims: %+v", claims)
		}
		if _, err := (&clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: s.URL + "/oauth2/token",
			Scopes: []string{"write"}}).Token(ctx); err == nil {
			t.Error("a scope none of its groups grants was issued")
		}

		// Replay: used, and said so in the one uniform answer.
		used := s.accept(t, tok, "", nil)
		wantOAuthError(t, used, 410, org.CodeInvalidInvitation)

		// The existing device joins the writers with its own access token.
		_, tok2 := s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}})
		devAT, _ := s.deviceToken(t, clientID, secret)
		r = s.accept(t, tok2, devAT.AccessToken, nil)
		if r.Status != 200 || r.str("clientId") != clientID || r.str("clientSecret") != "" {
			t.Fatalf("existing device accepts: %d %s", r.Status, r.Raw)
		}
		_, claims = s.deviceToken(t, clientID, secret)
		if !slices.Equal(claims.Groups, []string{groupRead, groupWrite}) || claims.Scope != "read status write" || claims.OrgID != acmeOrg {
			t.Errorf("claims after joining the writers: groups %v scope %q org %q", claims.Groups, claims.Scope, claims.OrgID)
		}

		// Decline: the invitation is over, with the same answer as any other.
		id3, tok3 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		r = s.jsonRequest(t, "PUT", "/client-group-invitations/decline", "", map[string]any{"token": tok3})
		if r.Status != 204 {
			t.Fatalf("decline: %d %s", r.Status, r.Raw)
		}
		if got, _ := s.Store.GetInvitation(ctx, id3); got.Status != store.InvitationDeclined {
			t.Errorf("declined invitation is %q", got.Status)
		}
		declined := s.accept(t, tok3, "", nil)
		wantOAuthError(t, declined, 410, org.CodeInvalidInvitation)
		wantOAuthError(t, s.jsonRequest(t, "PUT", "/client-group-invitations/decline", "", map[string]any{"token": tok3}),
			410, org.CodeInvalidInvitation)

		// Revoked (admin API) and expired ones, and a token nobody issued:
		// all answer exactly alike (docs/security.md INV-07).
		id4, tok4 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		if r := s.jsonRequest(t, "POST", "/admin/v1/invitations/"+id4+"/revoke", testAdminToken, nil); r.Status != 200 || r.str("state") != "revoked" {
			t.Fatalf("admin revoke: %d %s", r.Status, r.Raw)
		}
		revoked := s.accept(t, tok4, "", nil)
		_, tok5 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}, "validForSeconds": 60})
		s.Clock.Advance(61 * time.Second)
		expired := s.accept(t, tok5, "", nil)
		unknown := s.accept(t, oauth.PrefixInvitation+strings.Repeat("A", 43), "", nil)
		for name, got := range map[string]reply{"declined": declined, "revoked": revoked, "expired": expired, "unknown": unknown} {
			if got.Status != used.Status || got.Raw != used.Raw {
				t.Errorf("%s invitation: %d %s; want the same answer as a used one: %d %s", name, got.Status, got.Raw, used.Status, used.Raw)
			}
		}

		// Exactly the clients that accepted exist for acme.
		all, err := s.Store.ListClients(ctx)
		mustDo(t, err)
		n := 0
		for _, c := range all {
			if c.OrgID == acmeOrg {
				n++
			}
		}
		if n != 1 {
			t.Errorf("acme owns %d clients, want 1", n)
		}
	})
}

// TestInvitationRestrictions: every restriction the sender can set, and
// who may send.
func TestInvitationRestrictions(t *testing.T) {
	t.Parallel()
	s := newInvServer(t, backends[0], nil)
	ctx := t.Context()

	// Two devices enrolled the plain way.
	enrol := func(name string) (string, string) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}, "deviceName": name})
		r := s.accept(t, tok, "", nil)
		if r.Status != 201 || r.str("name") != name {
			t.Fatalf("enrol %s: %d %s", name, r.Status, r.Raw)
		}
		return r.str("clientId"), r.str("clientSecret")
	}
	dev1, secret1 := enrol("Sensor 1")
	dev2, secret2 := enrol("Sensor 2")
	at1, _ := s.deviceToken(t, dev1, secret1)
	at2, _ := s.deviceToken(t, dev2, secret2)

	t.Run("existing clients only", func(t *testing.T) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}, "existingClientsOnly": true})
		wantOAuthError(t, s.accept(t, tok, "", nil), 403, oauth.AccessDenied)
		if r := s.accept(t, tok, at1.AccessToken, nil); r.Status != 200 {
			t.Errorf("existing device: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("one client", func(t *testing.T) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}, "clientId": dev2})
		wantOAuthError(t, s.accept(t, tok, "", nil), 403, oauth.AccessDenied)
		wantOAuthError(t, s.accept(t, tok, at1.AccessToken, nil), 403, oauth.AccessDenied)
		if r := s.accept(t, tok, at2.AccessToken, nil); r.Status != 200 || r.str("clientId") != dev2 {
			t.Errorf("the named device: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("rename", func(t *testing.T) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}})
		wantOAuthError(t, s.accept(t, tok, at1.AccessToken, map[string]any{"deviceName": "Mine"}), 403, oauth.AccessDenied)
		_, tok = s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}, "allowRename": true})
		if r := s.accept(t, tok, at1.AccessToken, map[string]any{"deviceName": "Hall sensor"}); r.Status != 200 || r.str("name") != "Hall sensor" {
			t.Errorf("rename: %d %s", r.Status, r.Raw)
		}
		if c, _ := s.Store.GetClient(ctx, dev1); c.Name != "Hall sensor" {
			t.Errorf("name after a rename = %q", c.Name)
		}
	})
	t.Run("device of another organization", func(t *testing.T) {
		// A globex device, enrolled by the globex admin.
		r := s.jsonRequest(t, "POST", "/organizations/globex/client-group-invitations/send", s.globexAT,
			map[string]any{"clientGroupIds": []string{groupGlobex}, "recipientEmail": "it@globex.example"})
		if r.Status != 201 {
			t.Fatalf("globex send: %d %s", r.Status, r.Raw)
		}
		g := s.accept(t, s.tokenFromOutbox(t, r.str("id")), "", nil)
		gat, _ := s.deviceToken(t, g.str("clientId"), g.str("clientSecret"))
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		wantOAuthError(t, s.accept(t, tok, gat.AccessToken, nil), 403, oauth.AccessDenied)
		if groups, _ := s.Store.ListClientGroupsOf(ctx, g.str("clientId")); len(groups) != 1 {
			t.Errorf("the globex device is in %d groups, want 1", len(groups))
		}
		// The invitation is still there for the right device.
		if r := s.accept(t, tok, at2.AccessToken, nil); r.Status != 200 {
			t.Errorf("after a refused device: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("not a device's token", func(t *testing.T) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		r := s.accept(t, tok, s.adminAT, nil) // a user's token speaks for the user
		wantOAuthError(t, r, 401, oauth.InvalidToken)
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
		wantOAuthError(t, s.accept(t, tok, "not-a-token", nil), 401, oauth.InvalidToken)
		wantOAuthError(t, s.accept(t, tok, at1.AccessToken+"x", nil), 401, oauth.InvalidToken)
	})
	t.Run("who may send", func(t *testing.T) {
		body := map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@example.com"}
		for _, tt := range []struct {
			name, org, bearer string
			status            int
			code              string
		}{
			{"no token", acmeOrg, "", 401, oauth.InvalidToken},
			{"garbage", acmeOrg, "garbage", 401, oauth.InvalidToken},
			{"a member, not an admin", acmeOrg, s.memberAT, 403, oauth.AccessDenied},
			{"an admin's token without the invitations scope", acmeOrg,
				s.userAccessTokenFor(t, s.User.ID, tvClient, "openid"), 403, oauth.InsufficientScope},
			{"an admin of org A into org B", globexOrg, s.adminAT, 403, oauth.AccessDenied},
			{"another org's admin", acmeOrg, s.globexAT, 403, oauth.AccessDenied},
			{"a device", acmeOrg, at1.AccessToken, 403, oauth.AccessDenied},
			{"an unknown organization", "nope", s.adminAT, 403, oauth.AccessDenied},
			{"admin token, unknown organization", "nope", testAdminToken, 404, "not_found"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := s.jsonRequest(t, "POST", "/organizations/"+tt.org+"/client-group-invitations/send", tt.bearer, body)
				wantOAuthError(t, r, tt.status, tt.code)
			})
		}
		if r := s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", testAdminToken, body); r.Status != 201 {
			t.Errorf("admin token: %d %s", r.Status, r.Raw)
		}
		// A revoked grant's token stops working at once.
		tok := s.userAccessToken(t, s.User.ID)
		claims := jwtPayload(t, tok)
		mustDo(t, s.Store.RevokeGrant(ctx, claims["grant_id"].(string), s.Clock.Now()))
		wantOAuthError(t, s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", tok, body), 401, oauth.InvalidToken)
	})
	t.Run("bad sends", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			body any
		}{
			{"another organization's group", map[string]any{"clientGroupIds": []string{groupGlobex}, "recipientEmail": "x@example.com"}},
			{"no group", map[string]any{"clientGroupIds": []string{}, "recipientEmail": "x@example.com"}},
			{"a group twice", map[string]any{"clientGroupIds": []string{groupRead, groupRead}, "recipientEmail": "x@example.com"}},
			{"no email", map[string]any{"clientGroupIds": []string{groupRead}}},
			{"two addresses", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "a@example.com, b@example.com"}},
			{"header injection", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "a@example.com\r\nBcc: evil@example.com"}},
			{"lifetime too long", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@example.com", "validForSeconds": 365 * 86400}},
			{"javascript app link", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@example.com", "appLink": "javascript:alert(1)"}},
			{"unknown client", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@example.com", "clientId": "nobody"}},
			{"unknown member", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@example.com", "scopes": []string{"admin"}}},
			{"repeated member", `{"clientGroupIds":["g-read"],"recipientEmail":"x@example.com","recipientEmail":"y@example.com"}`},
			{"malformed", `{"clientGroupIds":`},
			{"not an object", `[]`},
			{"NUL in the email", map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x\u0000@example.com"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := s.jsonRequest(t, "POST", "/organizations/acme/client-group-invitations/send", s.adminAT, tt.body)
				wantOAuthError(t, r, 400, oauth.InvalidRequest)
			})
		}
	})
	t.Run("bad accepts", func(t *testing.T) {
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		big := `{"token":"` + strings.Repeat("a", 70<<10) + `"}`
		for _, tt := range []struct {
			name   string
			method string
			ctype  string
			body   string
			status int
		}{
			{"oversized", "PUT", "application/json", big, 413},
			{"malformed", "PUT", "application/json", `{"token":`, 400},
			{"widening member", "PUT", "application/json", `{"token":"` + tok + `","organizationId":"globex","clientGroupIds":["g-globex"]}`, 400},
			{"token twice", "PUT", "application/json", `{"token":"x","token":"` + tok + `"}`, 400},
			{"form body", "PUT", "application/x-www-form-urlencoded", "token=" + tok, 400},
			{"GET", "GET", "", "", 405},
			{"POST", "POST", "application/json", `{"token":"` + tok + `"}`, 405},
			{"invalid UTF-8", "PUT", "application/json", "{\"token\":\"\xff\xfe\"}", 400},
		} {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequestWithContext(ctx, tt.method, s.URL+"/client-group-invitations/accept", strings.NewReader(tt.body))
				if tt.ctype != "" {
					req.Header.Set("Content-Type", tt.ctype)
				}
				r := do(t, req)
				if r.Status != tt.status || r.str("error") == "" {
					t.Errorf("got %d %s; want %d", r.Status, r.Raw, tt.status)
				}
			})
		}
		// After all that, the invitation is still good.
		if r := s.accept(t, tok, "", nil); r.Status != 201 {
			t.Errorf("accept after bad requests: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("client authentication", func(t *testing.T) {
		for _, tt := range []struct {
			name, user, pass string
		}{
			{"wrong secret", dev1, secret1 + "x"},
			{"another client's secret", dev1, secret2},
			{"unknown client", "nobody", secret1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := s.post(t, "/oauth2/token", map[string][]string{"grant_type": {store.GrantClientCredentials}}, tt.user, tt.pass)
				wantOAuthError(t, r, 401, oauth.InvalidClient)
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
		// An enrolled device is registered client_secret_basic: its secret
		// in the body is refused, and the answer says how to send it
		// (docs/security.md CA-02).
		r := s.post(t, "/oauth2/token", map[string][]string{"grant_type": {store.GrantClientCredentials},
			"client_id": {dev1}, "client_secret": {secret1}}, "", "")
		wantOAuthError(t, r, 401, oauth.InvalidClient)
		if !strings.Contains(r.str("error_description"), "registered for client_secret_basic") {
			t.Errorf("client_secret_post for a client_secret_basic device: %s", r.Raw)
		}
		if r := s.post(t, "/oauth2/token", map[string][]string{"grant_type": {store.GrantClientCredentials}}, dev1, secret1); r.Status != 200 || r.str("refresh_token") != "" {
			t.Errorf("client_secret_basic: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("deleting a group revokes its invitations", func(t *testing.T) {
		now := s.Clock.Now()
		mustDo(t, s.Store.CreateClientGroup(ctx, &store.ClientGroup{ID: "g-temp", OrgID: acmeOrg, Name: "Temporary", CreatedAt: now}))
		_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{"g-temp"}})
		if r := s.jsonRequest(t, "DELETE", "/admin/v1/organizations/acme/client-groups/g-temp", testAdminToken, nil); r.Status != 204 {
			t.Fatalf("delete group: %d %s", r.Status, r.Raw)
		}
		wantOAuthError(t, s.accept(t, tok, "", nil), 410, org.CodeInvalidInvitation)
	})
}

// jwtPayload decodes a JWT's claims without checking them.
func jwtPayload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	mustDo(t, json.Unmarshal(raw, &m))
	return m
}

// TestConcurrentAccepts: 20 devices accept one invitation at once; exactly
// one gets a client, the others the uniform 410, nobody a 5xx
// (docs/security.md INV-03).
func TestConcurrentAccepts(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)
		for round := range 3 {
			id, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead, groupWrite}})
			const racers = 20
			replies := make([]reply, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					req, _ := http.NewRequestWithContext(t.Context(), "PUT", s.URL+"/client-group-invitations/accept",
						strings.NewReader(`{"token":"`+tok+`"}`))
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					raw, _ := io.ReadAll(resp.Body)
					replies[i] = reply{Status: resp.StatusCode, Raw: string(raw)}
					_ = json.Unmarshal(raw, &replies[i].Body)
				})
			}
			close(start)
			wg.Wait()
			count := map[int]int{}
			winner := ""
			for _, r := range replies {
				count[r.Status]++
				if r.Status == 201 {
					winner = r.str("clientId")
				}
			}
			if count[201] != 1 || count[410] != racers-1 {
				t.Fatalf("round %d: statuses %v; want one 201 and %d × 410", round, count, racers-1)
			}
			inv, err := s.Store.GetInvitation(t.Context(), id)
			mustDo(t, err)
			if inv.ClientID != winner || inv.Status != store.InvitationAccepted {
				t.Errorf("invitation: client %q status %q; want the winner %q", inv.ClientID, inv.Status, winner)
			}
			for _, g := range []string{groupRead, groupWrite} {
				ids, err := s.Store.ListGroupClients(t.Context(), g)
				mustDo(t, err)
				if len(ids) != round+1 || !slices.Contains(ids, winner) {
					t.Errorf("round %d: group %s has %v", round, g, ids)
				}
			}
		}
		all, err := s.Store.ListClients(t.Context())
		mustDo(t, err)
		owned := 0
		for _, c := range all {
			if c.OrgID == acmeOrg {
				owned++
			}
		}
		if owned != 3 {
			t.Errorf("acme owns %d clients after 3 races, want 3", owned)
		}
	})
}

func TestInvitationRateLimit(t *testing.T) {
	t.Parallel()
	s := newInvServer(t, backends[0], func(c *config.Config) { c.Invitations.RequestsPerIPPerMinute = 5 })
	for i := range 5 {
		if r := s.accept(t, oauth.PrefixInvitation+fmt.Sprint(i), "", nil); r.Status != 410 {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Raw)
		}
	}
	r := s.accept(t, oauth.PrefixInvitation+"x", "", nil)
	wantOAuthError(t, r, 429, "too_many_requests")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/invitations/"+oauth.PrefixInvitation+"x", nil)
	if r := do(t, req); r.Status != 429 {
		t.Errorf("landing page past the limit: %d", r.Status)
	}
	s.Clock.Advance(time.Minute)
	if r := s.accept(t, oauth.PrefixInvitation+"y", "", nil); r.Status != 410 {
		t.Errorf("a minute later: %d %s", r.Status, r.Raw)
	}
}

// TestInvitationPageHeadersAndLogs: the landing page keeps the token out of
// Referer headers, caches and logs; the invitation link is logged only by
// a development server without a mail server.
func TestInvitationPageHeadersAndLogs(t *testing.T) {
	t.Parallel()
	s := newInvServer(t, backends[0], nil)
	var logs lockedBuffer
	logged := s.instance(t, &logs, false)
	_, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead, groupWrite}, "message": "Hi <b>there</b>"})

	get := func(base, path string) reply {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
		return do(t, req)
	}
	r := get(logged, "/invitations/"+tok)
	if r.Status != 200 {
		t.Fatalf("landing page: %d %s", r.Status, r.Raw)
	}
	for h, want := range map[string]string{
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	wantApp := acmeAppLink + "?token=" + tok
	for _, want := range []string{tok, "Acme Sensors", "Readers", "Writers", `href="` + wantApp + `"`, "Hi &lt;b&gt;there&lt;/b&gt;"} {
		if !strings.Contains(r.Raw, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	// It loads only our own style sheet and script (web.StylePath, web.ScriptPath).
	for _, m := range regexp.MustCompile(`(?i)<(script|img|iframe|link)\b[^>]*>`).FindAllString(r.Raw, -1) {
		if !regexp.MustCompile(`^<(script src|link rel="stylesheet" href)="/assets/(page\.js|style\.css)\?v=[0-9a-f]+"`).MatchString(m) {
			t.Errorf("the landing page loads %s", m)
		}
	}
	for _, p := range []string{"/invitations/" + oauth.PrefixInvitation + "unknown", "/invitations/not-a-token"} {
		if r := get(logged, p); r.Status != 410 || !strings.Contains(r.Raw, "cannot be used") || r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", logged+"/invitations/"+tok, nil)
	if r := do(t, req); r.Status != 405 || r.Header.Get("Allow") == "" {
		t.Errorf("POST to the landing page: %d", r.Status)
	}
	// The device accepts through the logged instance too.
	a := s.jsonRequestTo(t, logged, "PUT", "/client-group-invitations/accept", "", map[string]any{"token": tok})
	if a.Status != 201 {
		t.Fatalf("accept: %d %s", a.Status, a.Raw)
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), a.str("clientSecret")) {
		t.Errorf("the log holds the token or the secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "no mail server configured") {
		t.Errorf("the log does not say where invitations go:\n%s", logs.String())
	}

	// A development server without a mail server logs the link, at info.
	var devLogs lockedBuffer
	dev := s.instance(t, &devLogs, true)
	r = s.jsonRequestTo(t, dev, "POST", "/organizations/acme/client-group-invitations/send", s.adminAT,
		map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "dev@example.com"})
	if r.Status != 201 {
		t.Fatalf("send on the dev instance: %d %s", r.Status, r.Raw)
	}
	ms, err := s.Store.ListMail(t.Context(), r.str("id"))
	mustDo(t, err)
	if !strings.Contains(devLogs.String(), "level=INFO") || !strings.Contains(devLogs.String(), ms[0].Link) {
		t.Errorf("the dev log lacks the invitation link:\n%s", devLogs.String())
	}
}

// instance starts another Latchkey instance on s's store, logging to w at
// debug, with its own listener; dev makes it a development server.
func (s *invServer) instance(t *testing.T, w io.Writer, dev bool) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg := s.Srv.cfg
	cfg.Dev = dev
	srv, err := New(t.Context(), cfg, s.Store, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Options{Now: s.Clock.Now})
	mustDo(t, err)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL
}

func (s *testServer) jsonRequestTo(t *testing.T, base, method, path, bearer string, body any) reply {
	t.Helper()
	other := *s
	other.URL = base
	return other.jsonRequest(t, method, path, bearer, body)
}

// lockedBuffer is a bytes.Buffer several goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually polls cond every 20ms for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not happen within 10s", what)
}
