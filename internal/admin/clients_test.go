package admin

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

var secretPattern = regexp.MustCompile(`^lk_cs_[A-Za-z0-9_-]{43}$`)

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()

	// Create: the secret is shown once, in this answer.
	w := f.do(t, "POST", "/admin/v1/clients", `{
		"client_id": "tv-app",
		"client_name": "Living room TV",
		"grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
		"scope": "openid offline_access",
		"user_code": {"alphabet": "BASE20", "length": 9, "group": 3},
		"device_code_lifetime": 600,
		"poll_interval": 5
	}`)
	if w.Code != 201 {
		t.Fatalf("create: status %d, body %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Location"); got != "/admin/v1/clients/tv-app" {
		t.Errorf("Location = %q", got)
	}
	created := decode[Client](t, w)
	secret := created.ClientSecret
	if !secretPattern.MatchString(secret) {
		t.Fatalf("client_secret = %q, want a generated lk_cs_ secret of 256 bits", secret)
	}
	want := Client{
		ClientID:           "tv-app",
		ClientName:         "Living room TV",
		GrantTypes:         []string{store.GrantDeviceCode, store.GrantRefreshToken},
		RedirectURIs:       []string{},
		AuthMethod:         "client_secret_basic",
		Scope:              "openid offline_access",
		UserCode:           &store.UserCodePolicy{Alphabet: "base20", Length: 9, Group: 3},
		DeviceCodeLifetime: 600,
		PollInterval:       5,
		CreatedAt:          "2026-03-04T05:06:07Z",
		UpdatedAt:          "2026-03-04T05:06:07Z",

		PostLogoutRedirectURIs: []string{},
		SessionAttachment:      "detached", RefreshTokenPolicy: "offline_access",
	}
	created.ClientSecret = ""
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("create answer (-want +got):\n%s", diff)
	}

	// The store keeps the hash, not the secret.
	stored, err := f.store.GetClient(ctx, "tv-app")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stored.SecretHash, oauth.HashSecret(secret); got != want {
		t.Errorf("stored SecretHash = %q, want %q (SHA-256 of the secret)", got, want)
	}
	if got, want := stored.DeviceCodeLifetime, 10*time.Minute; got != want {
		t.Errorf("stored DeviceCodeLifetime = %v, want %v", got, want)
	}

	// Get and list never show the secret again.
	for _, path := range []string{"/admin/v1/clients/tv-app", "/admin/v1/clients"} {
		w := f.do(t, "GET", path, "")
		if w.Code != 200 {
			t.Fatalf("GET %s: status %d", path, w.Code)
		}
		if body := w.Body.String(); strings.Contains(body, `"client_secret"`) || strings.Contains(body, secret) || strings.Contains(body, stored.SecretHash) {
			t.Errorf("GET %s shows the secret or its hash: %s", path, body)
		}
	}
	if got := decode[Client](t, f.do(t, "GET", "/admin/v1/clients/tv-app", "")); !cmp.Equal(want, got) {
		t.Errorf("get (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got := decode[ClientList](t, f.do(t, "GET", "/admin/v1/clients", "")); !cmp.Equal(ClientList{Clients: []Client{want}}, got) {
		t.Errorf("list (-want +got):\n%s", cmp.Diff(ClientList{Clients: []Client{want}}, got))
	}

	// PATCH changes what it names and keeps the secret.
	f.api.Now = func() time.Time { return t0.Add(time.Hour) }
	w = f.do(t, "PATCH", "/admin/v1/clients/tv-app", `{"client_name": "Kitchen TV", "client_id": "tv-app", "user_code": {}}`)
	if w.Code != 200 {
		t.Fatalf("patch: status %d, body %s", w.Code, w.Body)
	}
	want.ClientName = "Kitchen TV"
	want.UserCode = nil
	want.UpdatedAt = "2026-03-04T06:06:07Z"
	if got := decode[Client](t, w); !cmp.Equal(want, got) {
		t.Errorf("patch (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got, _ := f.store.GetClient(ctx, "tv-app"); got.SecretHash != oauth.HashSecret(secret) {
		t.Errorf("patch changed the secret")
	}

	// Rotation: a new secret, once; the old one stops matching.
	w = f.do(t, "POST", "/admin/v1/clients/tv-app/secret", "")
	if w.Code != 200 {
		t.Fatalf("rotate: status %d, body %s", w.Code, w.Body)
	}
	rotated := decode[Client](t, w).ClientSecret
	if !secretPattern.MatchString(rotated) || rotated == secret {
		t.Fatalf("rotated client_secret = %q, want a new generated secret", rotated)
	}
	stored, _ = f.store.GetClient(ctx, "tv-app")
	if !oauth.SecretMatches(rotated, stored.SecretHash) || oauth.SecretMatches(secret, stored.SecretHash) {
		t.Errorf("after rotation the store matches the old secret or not the new one")
	}

	// PATCH to public drops the secret; back to confidential makes a new one.
	w = f.do(t, "PATCH", "/admin/v1/clients/tv-app", `{"token_endpoint_auth_method": "none"}`)
	if got := decode[Client](t, w); w.Code != 200 || got.ClientSecret != "" || got.AuthMethod != "none" {
		t.Fatalf("patch to public: status %d, body %s", w.Code, w.Body)
	}
	if stored, _ = f.store.GetClient(ctx, "tv-app"); stored.SecretHash != "" {
		t.Errorf("a public client kept its secret hash")
	}
	wantError(t, f.do(t, "POST", "/admin/v1/clients/tv-app/secret", ""), 400, "invalid_request", "public")
	w = f.do(t, "PATCH", "/admin/v1/clients/tv-app", `{"token_endpoint_auth_method": "client_secret_post"}`)
	again := decode[Client](t, w).ClientSecret
	if w.Code != 200 || !secretPattern.MatchString(again) {
		t.Fatalf("patch to confidential: status %d, body %s", w.Code, w.Body)
	}
	if stored, _ = f.store.GetClient(ctx, "tv-app"); !oauth.SecretMatches(again, stored.SecretHash) {
		t.Errorf("the store does not match the secret given on becoming confidential")
	}

	// PUT replaces everything: what it leaves out takes the defaults.
	w = f.do(t, "PUT", "/admin/v1/clients/tv-app", `{"client_name": "Web", "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example/cb", "http://127.0.0.1:8085/callback", "com.example.app:/cb"]}`)
	if w.Code != 200 {
		t.Fatalf("put: status %d, body %s", w.Code, w.Body)
	}
	put := decode[Client](t, w)
	if put.ClientSecret != "" {
		t.Errorf("PUT on a confidential client that stays confidential showed a secret")
	}
	wantPut := Client{
		ClientID:     "tv-app",
		ClientName:   "Web",
		GrantTypes:   []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:8085/callback", "com.example.app:/cb"},
		AuthMethod:   "client_secret_basic",
		Scope:        "openid profile email offline_access",
		CreatedAt:    "2026-03-04T05:06:07Z",
		UpdatedAt:    "2026-03-04T06:06:07Z",

		PostLogoutRedirectURIs: []string{},
		SessionAttachment:      "detached", RefreshTokenPolicy: "offline_access",
	}
	if diff := cmp.Diff(wantPut, put); diff != "" {
		t.Errorf("put (-want +got):\n%s", diff)
	}

	// Delete, then it is gone.
	if w := f.do(t, "DELETE", "/admin/v1/clients/tv-app", ""); w.Code != 204 {
		t.Fatalf("delete: status %d, body %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/clients/tv-app", ""), 404, "not_found", "no client tv-app")
	wantError(t, f.do(t, "DELETE", "/admin/v1/clients/tv-app", ""), 404, "not_found", "no client tv-app")
	wantError(t, f.do(t, "PATCH", "/admin/v1/clients/tv-app", `{}`), 404, "not_found", "no client tv-app")
	wantError(t, f.do(t, "POST", "/admin/v1/clients/tv-app/secret", ""), 404, "not_found", "no client tv-app")
}

func TestCreateClientDefaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name       string
		body       string
		wantSecret bool
		want       Client // without client_id and times
	}{
		{
			name:       "confidential by default",
			body:       `{"client_name":"Box"}`,
			wantSecret: true,
			want: Client{ClientName: "Box", GrantTypes: []string{store.GrantDeviceCode}, RedirectURIs: []string{},
				AuthMethod: "client_secret_basic", Scope: "openid profile email offline_access",
				PostLogoutRedirectURIs: []string{}, SessionAttachment: "detached", RefreshTokenPolicy: "offline_access"},
		},
		{
			name: "public",
			body: `{"client_name":"Box","token_endpoint_auth_method":"none","scope":""}`,
			want: Client{ClientName: "Box", GrantTypes: []string{store.GrantDeviceCode}, RedirectURIs: []string{},
				AuthMethod: "none", Scope: "", PostLogoutRedirectURIs: []string{}, SessionAttachment: "detached", RefreshTokenPolicy: "offline_access"},
		},
		{
			name:       "service",
			body:       `{"grant_types":["client_credentials"],"scope":"read write read"}`,
			wantSecret: true,
			want: Client{GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{},
				AuthMethod: "client_secret_basic", Scope: "read write", PostLogoutRedirectURIs: []string{}, SessionAttachment: "detached", RefreshTokenPolicy: "offline_access"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, "POST", "/admin/v1/clients", tt.body)
			if w.Code != 201 {
				t.Fatalf("status %d, body %s", w.Code, w.Body)
			}
			got := decode[Client](t, w)
			if !regexp.MustCompile(`^[a-z2-7]{20}$`).MatchString(got.ClientID) {
				t.Errorf("generated client_id = %q, want 20 lower-case base32 characters", got.ClientID)
			}
			if gotSecret := got.ClientSecret != ""; gotSecret != tt.wantSecret {
				t.Errorf("has client_secret = %v, want %v", gotSecret, tt.wantSecret)
			}
			stored, err := f.store.GetClient(t.Context(), got.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := stored.SecretHash != "", tt.wantSecret; got != want {
				t.Errorf("stored secret hash present = %v, want %v", got, want)
			}
			got.ClientID, got.ClientSecret, got.CreatedAt, got.UpdatedAt = "", "", "", ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateClientConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if w := f.do(t, "POST", "/admin/v1/clients", `{"client_id":"dup"}`); w.Code != 201 {
		t.Fatalf("first create: status %d, body %s", w.Code, w.Body)
	}
	stored, _ := f.store.GetClient(t.Context(), "dup")
	wantError(t, f.do(t, "POST", "/admin/v1/clients", `{"client_id":"dup","token_endpoint_auth_method":"none"}`), 409, "conflict", "client_id dup exists already")
	if again, _ := f.store.GetClient(t.Context(), "dup"); again.SecretHash != stored.SecretHash || again.AuthMethod != stored.AuthMethod {
		t.Errorf("the conflicting create changed the existing client")
	}
}

func TestClientValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name     string
		body     string
		wantDesc string
	}{
		{"chosen secret", `{"client_secret":"hunter2hunter2"}`, "client_secret cannot be chosen"},
		{"null secret is absent", `{"client_secret":null,"grant_types":[]}`, "grant_types must not be empty"},
		{"created_at", `{"created_at":"2026-01-01T00:00:00Z"}`, "set by the server"},
		{"empty client_id", `{"client_id":""}`, "client_id must have 1 to 128"},
		{"long client_id", `{"client_id":"` + strings.Repeat("a", 129) + `"}`, "client_id must have 1 to 128"},
		{"client_id with a space", `{"client_id":"a b"}`, "printable ASCII"},
		{"client_id with non-ASCII", `{"client_id":"caf\u00e9"}`, "printable ASCII"},
		{"client_id with a tab", `{"client_id":"a\tb"}`, "printable ASCII"},
		{"long name", `{"client_name":"` + strings.Repeat("n", 201) + `"}`, "client_name must be at most 200"},
		{"unknown grant", `{"grant_types":["password"]}`, "grant_types: password is not one of"},
		{"short device grant name", `{"grant_types":["device_code"]}`, "device_code is not one of urn:ietf:params:oauth:grant-type:device_code"},
		{"repeated grant", `{"grant_types":["refresh_token","authorization_code","refresh_token"],"redirect_uris":["https://a.example/cb"]}`, "lists refresh_token twice"},
		{"no grants", `{"grant_types":[]}`, "grant_types must not be empty"},
		{"refresh alone", `{"grant_types":["refresh_token"]}`, "refresh_token grant needs"},
		{"unknown auth method", `{"token_endpoint_auth_method":"private_key_jwt"}`, "token_endpoint_auth_method private_key_jwt is not one of"},
		{"public service", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, "client_credentials grant needs a confidential client"},
		{"code without redirect", `{"grant_types":["authorization_code"]}`, "the authorization_code grant needs at least one"},
		{"redirect without code", `{"redirect_uris":["https://a.example/cb"]}`, "used only by the authorization_code grant"},
		{"redirect fragment", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb#x"]}`, "https://a.example/cb#x must not have a fragment"},
		{"redirect empty fragment", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb#"]}`, "must not have a fragment"},
		{"relative redirect", `{"grant_types":["authorization_code"],"redirect_uris":["/cb"]}`, "/cb must be an absolute URL"},
		{"http redirect", `{"grant_types":["authorization_code"],"redirect_uris":["http://a.example/cb"]}`, "must use https"},
		{"http lookalike loopback", `{"grant_types":["authorization_code"],"redirect_uris":["http://127.0.0.1.evil.example/cb"]}`, "must use https"},
		{"javascript redirect", `{"grant_types":["authorization_code"],"redirect_uris":["javascript:alert(1)"]}`, "reverse-domain private-use scheme"},
		{"redirect with user", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example@evil.example/cb"]}`, "user information"},
		{"redirect without host", `{"grant_types":["authorization_code"],"redirect_uris":["https:///cb"]}`, "must name a host"},
		{"redirect with a space", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example/c b"]}`, "without spaces"},
		{"repeated redirect", `{"grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb","https://a.example/cb"]}`, "lists https://a.example/cb twice"},
		{"bad scope", `{"scope":"openid  email"}`, "scope: scope is not a space-separated list of scope tokens"},
		{"scope with a quote", `{"scope":"a\"b"}`, "scope: "},
		{"user code alphabet", `{"user_code":{"alphabet":"ABCa"}}`, "user_code.alphabet: custom alphabet character"},
		{"user code too short", `{"user_code":{"length":3}}`, "user_code.length 3: want 4 to 16"},
		{"user code too long", `{"user_code":{"length":17}}`, "user_code.length 17"},
		{"user code group", `{"user_code":{"length":8,"group":9}}`, "user_code.group 9"},
		{"user code group below -1", `{"user_code":{"group":-2}}`, "user_code.group -2"},
		{"user code guessable", `{"user_code":{"alphabet":"digits","length":6}}`, "user_code: 6 characters of a 10-character alphabet"},
		{"long lifetime", `{"device_code_lifetime":3600}`, "device_code_lifetime 3600: want 1 to 1800"},
		{"negative lifetime", `{"device_code_lifetime":-1}`, "device_code_lifetime -1"},
		{"negative interval", `{"poll_interval":-5}`, "poll_interval -5"},
		{"interval over lifetime", `{"device_code_lifetime":10,"poll_interval":10}`, "poll_interval must be shorter than device_code_lifetime"},
		{"ID token alg HS256", `{"id_token_signed_response_alg":"HS256"}`, "id_token_signed_response_alg HS256 is not one of ES256, RS256"},
		{"ID token alg none", `{"id_token_signed_response_alg":"none"}`, "id_token_signed_response_alg none is not one of"},
		{"ID token alg PS256", `{"id_token_signed_response_alg":"PS256"}`, "id_token_signed_response_alg PS256 is not one of"},
		{"ID token alg lower case", `{"id_token_signed_response_alg":"rs256"}`, "id_token_signed_response_alg rs256 is not one of"},
		{"ID token alg not a string", `{"id_token_signed_response_alg":256}`, "id_token_signed_response_alg"},
		{"access token of a second", `{"access_token_lifetime":1}`, "access_token_lifetime 1: want 60 to 86400 seconds, or 0 for the server's"},
		{"access token of two days", `{"access_token_lifetime":172800}`, "access_token_lifetime 172800: want 60 to 86400"},
		{"negative ID token lifetime", `{"id_token_lifetime":-60}`, "id_token_lifetime -60: want 60 to 86400"},
		{"ID token of two days", `{"id_token_lifetime":172800}`, "id_token_lifetime 172800"},
		{"grant of two years", `{"refresh_lifetime":63072000}`, "refresh_lifetime 63072000: want 60 to 31536000"},
		{"negative idle lifetime", `{"refresh_idle_lifetime":-1}`, "refresh_idle_lifetime -1"},
		{"lifetime not a number", `{"access_token_lifetime":"10m"}`, "access_token_lifetime"},
		{"idle beyond absolute", `{"refresh_lifetime":3600,"refresh_idle_lifetime":7200}`, "refresh_idle_lifetime must not exceed refresh_lifetime"},
		{"unknown refresh policy", `{"refresh_token_policy":"sometimes"}`, "refresh_token_policy sometimes is not one of offline_access, always"},
		{"empty refresh policy", `{"refresh_token_policy":""}`, "refresh_token_policy  is not one of"},
		{"always without the refresh grant", `{"refresh_token_policy":"always"}`, "refresh_token_policy always needs the refresh_token grant"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "POST", "/admin/v1/clients", tt.body), 400, "invalid_request", tt.wantDesc)
		})
	}
	cs, err := f.store.ListClients(t.Context())
	if err != nil || len(cs) != 0 {
		t.Errorf("rejected requests stored %d clients (err %v)", len(cs), err)
	}
}

func TestUpdateClientValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if w := f.do(t, "POST", "/admin/v1/clients", `{"client_id":"c1","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"]}`); w.Code != 201 {
		t.Fatalf("create: status %d, body %s", w.Code, w.Body)
	}
	for _, tt := range []struct {
		name, method, body string
		wantDesc           string
	}{
		{"rename", "PATCH", `{"client_id":"c2"}`, "client_id cannot be changed"},
		{"secret", "PATCH", `{"client_secret":"x"}`, "client_secret cannot be chosen"},
		{"put without redirect", "PUT", `{"grant_types":["authorization_code"]}`, "needs at least one"},
		{"patch drops the code grant", "PATCH", `{"grant_types":["client_credentials"]}`, "used only by the authorization_code grant"},
		{"rotate with a body", "POST", `{"client_secret":"x"}`, "unknown member 'client_secret'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/admin/v1/clients/c1"
			if tt.method == "POST" {
				path += "/secret"
			}
			wantError(t, f.do(t, tt.method, path, tt.body), 400, "invalid_request", tt.wantDesc)
		})
	}
	if w := f.do(t, "POST", "/admin/v1/clients/c1/secret", `{}`); w.Code != 200 {
		t.Errorf("rotate with an empty object: status %d, body %s", w.Code, w.Body)
	}
}

// TestCheckCodePolicyInput pins what the API hands CheckCodePolicy.
func TestCheckCodePolicyInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var got []string
	f.api.CheckCodePolicy = func(p store.UserCodePolicy) error {
		got = append(got, fmt.Sprintf("%s/%d/%d", p.Alphabet, p.Length, p.Group))
		return nil
	}
	for _, body := range []string{
		`{"user_code":{"alphabet":"digits","length":12}}`,
		`{"user_code":{"group":-1}}`,
		`{"user_code":{"alphabet":"ABCDEFGH"}}`,
		`{"user_code":{}}`, // no override: nothing to check
	} {
		if w := f.do(t, "POST", "/admin/v1/clients", body); w.Code != 201 {
			t.Fatalf("%s: status %d, body %s", body, w.Code, w.Body)
		}
	}
	want := []string{"digits/12/0", "/0/-1", "ABCDEFGH/0/0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CheckCodePolicy calls (-want +got):\n%s", diff)
	}
}

// TestClientTokenPolicy: the token policy members go in and come out as
// sent, reach the stored client, are kept by a PATCH that leaves them out,
// reset by one that sends 0 or "", and reset by a PUT.
func TestClientTokenPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.do(t, "POST", "/admin/v1/clients", `{"client_id":"tv","token_endpoint_auth_method":"none",
		"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],
		"id_token_signed_response_alg":"RS256","access_token_lifetime":300,"id_token_lifetime":600,
		"refresh_lifetime":7776000,"refresh_idle_lifetime":86400,"refresh_token_policy":"always"}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	got := decode[Client](t, w)
	want := store.TokenPolicy{IDTokenSigningAlg: "RS256", AccessTokenLifetime: 5 * time.Minute, IDTokenLifetime: 10 * time.Minute,
		RefreshLifetime: 90 * 24 * time.Hour, RefreshIdleLifetime: 24 * time.Hour, RefreshTokens: store.RefreshAlways}
	if got.IDTokenSigningAlg != "RS256" || got.AccessTokenLifetime != 300 || got.IDTokenLifetime != 600 ||
		got.RefreshLifetime != 7776000 || got.RefreshIdleLifetime != 86400 || got.RefreshTokenPolicy != "always" {
		t.Errorf("create answer: %+v", got)
	}
	stored := func() store.TokenPolicy {
		t.Helper()
		c, err := f.store.GetClient(t.Context(), "tv")
		if err != nil {
			t.Fatal(err)
		}
		return c.Tokens
	}
	if d := cmp.Diff(want, stored()); d != "" {
		t.Errorf("stored policy (-want +got):\n%s", d)
	}
	if w := f.do(t, "PATCH", "/admin/v1/clients/tv", `{"client_name":"TV"}`); w.Code != 200 {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	if d := cmp.Diff(want, stored()); d != "" {
		t.Errorf("a PATCH that left the policy out changed it (-want +got):\n%s", d)
	}
	if w := f.do(t, "PATCH", "/admin/v1/clients/tv", `{"id_token_signed_response_alg":"","access_token_lifetime":0}`); w.Code != 200 {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	want.IDTokenSigningAlg, want.AccessTokenLifetime = "", 0
	if d := cmp.Diff(want, stored()); d != "" {
		t.Errorf("after resetting two members (-want +got):\n%s", d)
	}
	// always needs the refresh grant: taking the grant away is refused
	// while the policy stands.
	wantError(t, f.do(t, "PATCH", "/admin/v1/clients/tv", `{"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]}`),
		400, "invalid_request", "refresh_token_policy always needs the refresh_token grant")
	if w := f.do(t, "PUT", "/admin/v1/clients/tv", `{"token_endpoint_auth_method":"none"}`); w.Code != 200 {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	if d := cmp.Diff(store.TokenPolicy{}, stored()); d != "" {
		t.Errorf("a PUT without the members kept the policy (-want +got):\n%s", d)
	}
}
