package authorize

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const challenge = rfcChallenge

// newClients stores the clients the tests ask as: a confidential web app, a
// public native app, a client with two redirect URIs, one without the
// authorization code grant.
func newClients(t testing.TB, st store.ClientStore) {
	t.Helper()
	all := []string{"openid", "profile", "email", "offline_access"}
	for _, c := range []*store.Client{
		{ID: "web", Name: "Web <App>", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret("secret"),
			GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
			RedirectURIs: []string{"https://app.example/cb"}, Scopes: all},
		{ID: "native", Name: "Native", AuthMethod: store.AuthNone,
			GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
			RedirectURIs: []string{"http://127.0.0.1/cb", "com.example.app:/cb"}, Scopes: all},
		{ID: "multi", Name: "Multi", AuthMethod: store.AuthClientSecretPost, SecretHash: oauth.HashSecret("secret"),
			GrantTypes:   []string{store.GrantAuthorizationCode},
			RedirectURIs: []string{"https://m.example/one", "https://m.example/two"}, Scopes: []string{"openid"}},
		{ID: "tv", Name: "TV", AuthMethod: store.AuthNone, GrantTypes: []string{store.GrantDeviceCode},
			RedirectURIs: []string{"https://tv.example/cb"}, Scopes: all},
	} {
		c.CreatedAt, c.UpdatedAt = t0, t0
		if err := st.CreateClient(t.Context(), c); err != nil {
			t.Fatalf("CreateClient(%s): %v", c.ID, err)
		}
	}
}

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", raw, err)
	}
	return q
}

func TestParse(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	newClients(t, st)
	web := "client_id=web&response_type=code"
	native := "client_id=native&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A51234%2Fcb&code_challenge=" + challenge + "&code_challenge_method=S256"
	long := strings.Repeat("x", maxLoginHint+1)
	for _, tt := range []struct {
		name     string
		query    string
		wantPage bool   // an error page, no redirect
		wantErr  string // the OAuth error sent to the redirect URI
		want     *Request
	}{
		// Successes.
		{name: "confidential, minimal: the one redirect URI and the client's scopes", query: web,
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "profile", "email", "offline_access"}, MaxAge: -1}},
		{name: "every parameter", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid+email&state=s%2F1&nonce=n-1" +
			"&code_challenge=" + challenge + "&code_challenge_method=S256&prompt=login+consent&max_age=300&login_hint=ada%40example.com&flow=register&ui_locales=fi&dpop_jkt=" + challenge,
			want: &Request{RedirectURI: "https://app.example/cb", RedirectURISent: true, State: "s/1", Scopes: []string{"openid", "email"},
				Nonce: "n-1", CodeChallenge: challenge, ChallengeMethod: "S256", Prompt: Prompt{Login: true, Consent: true},
				MaxAge: 300 * time.Second, LoginHint: "ada@example.com", Register: true, DPoPJKT: challenge}},
		{name: "public, loopback with any port", query: native + "&scope=openid",
			want: &Request{RedirectURI: "http://127.0.0.1:51234/cb", RedirectURISent: true, Scopes: []string{"openid"},
				CodeChallenge: challenge, ChallengeMethod: "S256", MaxAge: -1}},
		{name: "empty parameters count as absent", query: web + "&redirect_uri=&state=&scope=&prompt=&max_age=&nonce=",
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid", "profile", "email", "offline_access"}, MaxAge: -1}},
		{name: "max_age=0", query: web + "&max_age=0&scope=openid",
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid"}, MaxAge: 0}},
		{name: "prompt=none", query: web + "&prompt=none&scope=openid",
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid"}, MaxAge: -1, Prompt: Prompt{None: true}}},
		{name: "select_account is signing in", query: web + "&prompt=select_account&scope=openid",
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid"}, MaxAge: -1, Prompt: Prompt{Login: true}}},
		{name: "a login_hint too long is dropped", query: web + "&scope=openid&login_hint=" + long,
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid"}, MaxAge: -1}},
		{name: "repeated scope tokens collapse", query: web + "&scope=openid+openid",
			want: &Request{RedirectURI: "https://app.example/cb", Scopes: []string{"openid"}, MaxAge: -1}},

		// Shown to the person, never redirected (RFC 6749 §4.1.2.1).
		{name: "no client_id", query: "response_type=code", wantPage: true},
		{name: "empty client_id", query: "client_id=&response_type=code", wantPage: true},
		{name: "unknown client", query: "client_id=nobody&response_type=code", wantPage: true},
		{name: "client_id twice", query: web + "&client_id=web", wantPage: true},
		{name: "client_id twice, different", query: "client_id=web&client_id=native&response_type=code", wantPage: true},
		{name: "client_id with NUL", query: "client_id=web%00&response_type=code", wantPage: true},
		{name: "client_id not UTF-8", query: "client_id=web%ff&response_type=code", wantPage: true},
		{name: "client_id with a trailing zero-width space", query: "client_id=web%E2%80%8B&response_type=code", wantPage: true},
		{name: "redirect_uri twice", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&redirect_uri=https%3A%2F%2Fevil.example%2F", wantPage: true},
		{name: "redirect_uri twice, same", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", wantPage: true},
		{name: "unregistered redirect_uri", query: web + "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", wantPage: true},
		{name: "redirect_uri with a trailing slash", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F", wantPage: true},
		{name: "redirect_uri with a fragment", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%23x", wantPage: true},
		{name: "redirect_uri with NUL", query: web + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%00", wantPage: true},
		{name: "javascript: redirect_uri", query: web + "&redirect_uri=javascript%3Aalert(1)", wantPage: true},
		{name: "missing redirect_uri, several registered", query: "client_id=multi&response_type=code", wantPage: true},
		{name: "unknown client, even with bad everything else", query: "client_id=nobody&response_type=token&redirect_uri=https%3A%2F%2Fevil.example", wantPage: true},

		// Sent back to the client.
		{name: "state twice", query: web + "&state=a&state=b", wantErr: oauth.InvalidRequest},
		{name: "state with NUL", query: web + "&state=a%00", wantErr: oauth.InvalidRequest},
		{name: "scope twice", query: web + "&state=s&scope=openid&scope=email", wantErr: oauth.InvalidRequest},
		{name: "response_type twice", query: web + "&response_type=code", wantErr: oauth.InvalidRequest},
		{name: "nonce with a control character", query: web + "&nonce=a%0Ab", wantErr: oauth.InvalidRequest},
		{name: "no response_type", query: "client_id=web", wantErr: oauth.InvalidRequest},
		{name: "implicit", query: "client_id=web&response_type=token", wantErr: oauth.UnsupportedResponseType},
		{name: "hybrid", query: "client_id=web&response_type=code+id_token", wantErr: oauth.UnsupportedResponseType},
		{name: "client without the grant", query: "client_id=tv&response_type=code", wantErr: oauth.UnauthorizedClient},
		{name: "scope the client may not have", query: web + "&scope=openid+admin", wantErr: oauth.InvalidScope},
		{name: "scope off the grammar", query: web + "&scope=open%22id", wantErr: oauth.InvalidScope},
		{name: "scope with an empty token", query: web + "&scope=openid++email", wantErr: oauth.InvalidScope},
		{name: "public client without PKCE", query: "client_id=native&response_type=code&redirect_uri=com.example.app%3A%2Fcb", wantErr: oauth.InvalidRequest},
		{name: "plain PKCE", query: "client_id=native&response_type=code&redirect_uri=com.example.app%3A%2Fcb&code_challenge=" + challenge + "&code_challenge_method=plain", wantErr: oauth.InvalidRequest},
		{name: "PKCE method omitted means plain", query: "client_id=native&response_type=code&redirect_uri=com.example.app%3A%2Fcb&code_challenge=" + challenge, wantErr: oauth.InvalidRequest},
		{name: "challenge of 42 characters", query: web + "&code_challenge=" + challenge[:42] + "&code_challenge_method=S256", wantErr: oauth.InvalidRequest},
		{name: "challenge with + and =", query: web + "&code_challenge=" + url.QueryEscape(challenge[:41]+"+=") + "&code_challenge_method=S256", wantErr: oauth.InvalidRequest},
		{name: "method without challenge", query: web + "&code_challenge_method=S256", wantErr: oauth.InvalidRequest},
		{name: "prompt none with login", query: web + "&prompt=none+login", wantErr: oauth.InvalidRequest},
		{name: "unknown prompt", query: web + "&prompt=maybe", wantErr: oauth.InvalidRequest},
		{name: "negative max_age", query: web + "&max_age=-1", wantErr: oauth.InvalidRequest},
		{name: "max_age with a sign", query: web + "&max_age=%2B5", wantErr: oauth.InvalidRequest},
		{name: "max_age not a number", query: web + "&max_age=soon", wantErr: oauth.InvalidRequest},
		{name: "max_age too big", query: web + "&max_age=99999999999999999999", wantErr: oauth.InvalidRequest},
		{name: "response_mode fragment", query: web + "&response_mode=fragment", wantErr: oauth.InvalidRequest},
		{name: "dpop_jkt of 42 characters", query: web + "&dpop_jkt=" + challenge[:42], wantErr: oauth.InvalidRequest},
		{name: "dpop_jkt not base64url", query: web + "&dpop_jkt=" + url.QueryEscape(challenge[:42]+"="), wantErr: oauth.InvalidRequest},
		{name: "dpop_jkt twice", query: web + "&dpop_jkt=" + challenge + "&dpop_jkt=" + challenge, wantErr: oauth.InvalidRequest},
		{name: "request object", query: web + "&request=eyJ", wantErr: RequestNotSupported},
		{name: "request_uri", query: web + "&request_uri=urn%3Ax", wantErr: RequestURINotSupported},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(t.Context(), st, mustQuery(t, tt.query))
			var pe *PageError
			var oe *oauth.Error
			switch {
			case tt.wantPage:
				if !errors.As(err, &pe) || req != nil {
					t.Fatalf("Parse = %+v, %v; want an error page and no request", req, err)
				}
			case tt.wantErr != "":
				if !errors.As(err, &oe) || oe.Code != tt.wantErr || req == nil || req.RedirectURI == "" {
					t.Fatalf("Parse = %+v, %v; want %s with a redirect URI", req, err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				tt.want.Client = req.Client
				if d := cmp.Diff(tt.want, req, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("Parse mismatch (-want +got):\n%s", d)
				}
			}
		})
	}
}

// TestParseKeepsState: an error after the redirect URI is known goes back
// with the state, byte for byte, when it could be read.
func TestParseKeepsState(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	newClients(t, st)
	state := strings.Repeat("~aZ9-._", 140) + "é€"
	req, err := Parse(t.Context(), st, url.Values{"client_id": {"web"}, "response_type": {"token"}, "state": {state}})
	var oe *oauth.Error
	if !errors.As(err, &oe) || req.State != state {
		t.Fatalf("Parse = %v, state %q; want an error with the state kept", err, req.State)
	}
}

func TestParsePrompt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		want   Prompt
		wantOK bool
	}{
		{"", Prompt{}, true},
		{"none", Prompt{None: true}, true},
		{"login", Prompt{Login: true}, true},
		{"consent login", Prompt{Login: true, Consent: true}, true},
		{"select_account", Prompt{Login: true}, true},
		{"none consent", Prompt{}, false},
		{"login  consent", Prompt{}, false},
		{"LOGIN", Prompt{}, false},
		{"other", Prompt{}, false},
	} {
		got, err := ParsePrompt(tt.in)
		if got != tt.want || (err == nil) != tt.wantOK {
			t.Errorf("ParsePrompt(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.wantOK)
		}
		if err == nil {
			again, err := ParsePrompt(got.String())
			if err != nil || again != got {
				t.Errorf("ParsePrompt(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		}
	}
}
