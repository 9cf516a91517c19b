package grant

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/token"
)

const (
	sensorSecret = oauth.PrefixClientSecret + "sensor-secret-0123456789abcdefghijklmnopqrstu"
	batchSecret  = oauth.PrefixClientSecret + "batch-secret-0123456789abcdefghijklmnopqrstuv"
)

// ccFixture adds to newDeps: organization "acme" with groups "g-read"
// (read, status) and "g-write" (write), a device client "sensor" owned by
// acme in both, and "batch", a confidential client of no organization.
func ccFixture(t *testing.T) (*Deps, store.Store) {
	t.Helper()
	ctx := t.Context()
	st := sqlitetest.Open(t)
	d := newDeps(t, st)
	mustDo(t, st.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme"}))
	mustDo(t, st.CreateClientGroup(ctx, &store.ClientGroup{ID: "g-read", OrgID: "acme", Name: "Readers", Scopes: []string{"read", "status"}}))
	mustDo(t, st.CreateClientGroup(ctx, &store.ClientGroup{ID: "g-write", OrgID: "acme", Name: "Writers", Scopes: []string{"write"}}))
	mustDo(t, st.CreateInvitation(ctx, &store.Invitation{ID: "inv", TokenHash: "h", OrgID: "acme",
		GroupIDs: []string{"g-read", "g-write"}, Status: store.InvitationPending, InvitedBy: "admin", ExpiresAt: t0.Add(time.Hour)}, nil))
	_, err := st.AcceptInvitation(ctx, "h", &store.Acceptance{NewClient: &store.Client{
		ID: "sensor", Name: "Sensor", SecretHash: oauth.HashSecret(sensorSecret), AuthMethod: store.AuthClientSecretBasic,
		GrantTypes: []string{store.GrantClientCredentials},
	}}, t0)
	mustDo(t, err)
	mustDo(t, st.CreateClient(ctx, &store.Client{
		ID: "batch", SecretHash: oauth.HashSecret(batchSecret), AuthMethod: store.AuthClientSecretPost,
		GrantTypes: []string{store.GrantClientCredentials}, Scopes: []string{"reports"},
	}))
	return d, st
}

// accessClaims verifies an access token's signature and returns its claims.
func accessClaims(t *testing.T, d *Deps, at string) token.AccessClaims {
	t.Helper()
	typ, payload, err := d.Minter.Keys.Verify(t.Context(), at)
	if err != nil || typ != "at+jwt" {
		t.Fatalf("Verify access token: typ %q, %v", typ, err)
	}
	var c token.AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	d, st := ccFixture(t)
	for _, tt := range []struct {
		name       string
		creds      oauth.ClientCredentials
		scope      string
		wantScope  string
		wantOrg    string
		wantGroups []string
	}{
		{"device, every scope its groups grant", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret, Basic: true},
			"", "read status write", "acme", []string{"g-read", "g-write"}},
		{"device, some scopes", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret, Basic: true},
			"write read", "write read", "acme", []string{"g-read", "g-write"}},
		{"client of no organization", oauth.ClientCredentials{ID: "batch", Secret: batchSecret},
			"", "reports", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ClientCredentials{Deps: d, Store: st}.Exchange(t.Context(), &Request{
				Form:  oauth.Form{"grant_type": store.GrantClientCredentials, "scope": tt.scope},
				Creds: tt.creds,
			})
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if resp.RefreshToken != "" || resp.RefreshableUntil != 0 || resp.IDToken != "" {
				t.Errorf("response has a refresh or ID token: %+v", resp)
			}
			if resp.Scope != tt.wantScope || resp.TokenType != "Bearer" || resp.ExpiresIn != 600 {
				t.Errorf("response scope %q type %q expires_in %d; want %q Bearer 600", resp.Scope, resp.TokenType, resp.ExpiresIn, tt.wantScope)
			}
			c := accessClaims(t, d, resp.AccessToken)
			if c.Subject != tt.creds.ID || c.ClientID != tt.creds.ID || c.Scope != tt.wantScope || c.OrgID != tt.wantOrg {
				t.Errorf("claims sub %q client_id %q scope %q org_id %q", c.Subject, c.ClientID, c.Scope, c.OrgID)
			}
			if diff := cmp.Diff(tt.wantGroups, c.Groups); diff != "" {
				t.Errorf("groups claim (-want +got):\n%s", diff)
			}
			// Nothing stored backs the token: it stands on its client and
			// the list of revoked tokens.
			if c.GrantID != "" || c.Expiry != t0.Add(10*time.Minute).Unix() {
				t.Errorf("claims grant_id %q exp %d; want none and the token's life", c.GrantID, c.Expiry)
			}
			if _, ok, err := token.Live(t.Context(), st, &c, t0); err != nil || !ok {
				t.Errorf("Live = %v, %v; want a live token", ok, err)
			}
			mustDo(t, st.RevokeAccessToken(t.Context(), c.JTI, c.ClientID, t0.Add(10*time.Minute)))
			if _, ok, err := token.Live(t.Context(), st, &c, t0); err != nil || ok {
				t.Errorf("Live after RevokeAccessToken = %v, %v; want revoked", ok, err)
			}
		})
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	t.Parallel()
	d, st := ccFixture(t)
	ctx := t.Context()
	mustDo(t, st.CreateClient(ctx, &store.Client{
		ID: "no-grant", SecretHash: oauth.HashSecret(batchSecret), AuthMethod: store.AuthClientSecretBasic,
		GrantTypes: []string{store.GrantDeviceCode},
	}))
	for _, tt := range []struct {
		name       string
		creds      oauth.ClientCredentials
		scope      string
		wantCode   string
		wantStatus int
	}{
		{"public client", oauth.ClientCredentials{ID: "tv"}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"public client sending a secret", oauth.ClientCredentials{ID: "tv", Secret: "x"}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"no secret", oauth.ClientCredentials{ID: "sensor"}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"wrong secret", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret + "x", Basic: true}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"another client's secret", oauth.ClientCredentials{ID: "sensor", Secret: batchSecret}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"unknown client", oauth.ClientCredentials{ID: "nobody", Secret: sensorSecret}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"client without the grant", oauth.ClientCredentials{ID: "no-grant", Secret: batchSecret, Basic: true}, "", oauth.UnauthorizedClient, http.StatusBadRequest},
		{"scope no group grants", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret, Basic: true}, "read admin", oauth.InvalidScope, http.StatusBadRequest},
		{"scope outside the registration", oauth.ClientCredentials{ID: "batch", Secret: batchSecret}, "read", oauth.InvalidScope, http.StatusBadRequest},
		{"malformed scope", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret, Basic: true}, "read  write", oauth.InvalidScope, http.StatusBadRequest},
		{"client_secret_basic client, secret in the body", oauth.ClientCredentials{ID: "sensor", Secret: sensorSecret}, "", oauth.InvalidClient, http.StatusUnauthorized},
		{"client_secret_post client, secret in the header", oauth.ClientCredentials{ID: "batch", Secret: batchSecret, Basic: true}, "", oauth.InvalidClient, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ClientCredentials{Deps: d, Store: st}.Exchange(ctx, &Request{
				Form:  oauth.Form{"grant_type": store.GrantClientCredentials, "scope": tt.scope},
				Creds: tt.creds,
			})
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != tt.wantCode || oe.StatusCode() != tt.wantStatus {
				t.Fatalf("error = %v; want %d %s", err, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == http.StatusUnauthorized && oe.Challenge == "" {
				t.Error("401 without a WWW-Authenticate challenge")
			}
		})
	}
}

func TestClientScopes(t *testing.T) {
	t.Parallel()
	read := &store.ClientGroup{ID: "r", OrgID: "acme", Scopes: []string{"read", "status"}}
	write := &store.ClientGroup{ID: "w", OrgID: "acme", Scopes: []string{"write", "read"}}
	foreign := &store.ClientGroup{ID: "x", OrgID: "other", Scopes: []string{"admin"}}
	for _, tt := range []struct {
		name       string
		client     store.Client
		groups     []*store.ClientGroup
		wantScopes []string
		wantGroups []string
	}{
		{"no organization: the registration", store.Client{Scopes: []string{"a", "b"}}, []*store.ClientGroup{read}, []string{"a", "b"}, nil},
		{"owned, no groups: nothing", store.Client{OrgID: "acme"}, nil, nil, nil},
		{"owned: the union of its groups", store.Client{OrgID: "acme"}, []*store.ClientGroup{read, write}, []string{"read", "status", "write"}, []string{"r", "w"}},
		{"owned, registered scopes narrow", store.Client{OrgID: "acme", Scopes: []string{"write", "other"}}, []*store.ClientGroup{read, write}, []string{"write"}, []string{"r", "w"}},
		{"another organization's group counts for nothing", store.Client{OrgID: "acme"}, []*store.ClientGroup{read, foreign}, []string{"read", "status"}, []string{"r"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			scopes, groups := ClientScopes(&tt.client, tt.groups)
			if diff := cmp.Diff(tt.wantScopes, scopes); diff != "" {
				t.Errorf("scopes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGroups, groups); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}
