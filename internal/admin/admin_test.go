package admin

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

const testToken = "test-admin-token-0123456789abcdefghij"

// t0 is the tests' clock, in whole seconds as the API shows times.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// checkCodePolicy is what the server passes as API.CheckCodePolicy: the
// rules of the default configuration (server.codeRules).
func checkCodePolicy(o store.UserCodePolicy) error {
	d := config.Default().Device
	p, err := device.NewPolicy(d.UserCode.Alphabet, d.UserCode.Length, d.UserCode.Group)
	if err != nil {
		return err
	}
	rules := device.Rules{Policy: p, Budget: device.Budget{
		Attempts: max(d.AttemptsPerAccount, d.AttemptsPerIP), LiveCodes: d.ExpectedLiveCodes}}
	return rules.CheckClient(o)
}

type fixture struct {
	api   *API
	store *sqlite.Store
	mux   *http.ServeMux
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s := sqlitetest.Open(t)
	a := &API{
		Store:           s,
		Token:           testToken,
		Now:             func() time.Time { return t0 },
		Rand:            rand.Reader,
		CheckCodePolicy: checkCodePolicy,
	}
	return &fixture{api: a, store: s, mux: apiMux(a)}
}

// operation is one route of the API.
type operation struct {
	pattern string
	handle  oauth.HandlerFunc
}

// operations are a's routes as package server's route table gives them;
// TestOpenAPIMatchesRoutes holds them to the OpenAPI document, and
// package server holds its table to the same document.
func operations(a *API) []operation {
	return []operation{
		{"GET /admin/v1/openapi.json", a.OpenAPI},
		{"POST /admin/v1/clients", a.CreateClient},
		{"GET /admin/v1/clients", a.ListClients},
		{"GET /admin/v1/clients/{id}", a.GetClient},
		{"PUT /admin/v1/clients/{id}", a.ReplaceClient},
		{"PATCH /admin/v1/clients/{id}", a.PatchClient},
		{"DELETE /admin/v1/clients/{id}", a.DeleteClient},
		{"POST /admin/v1/clients/{id}/secret", a.RotateSecret},
		{"POST /admin/v1/clients/{id}/revoke-tokens", a.RevokeClientTokens},
		{"POST /admin/v1/registration-tokens", a.CreateRegistrationToken},
		{"GET /admin/v1/registration-tokens", a.ListRegistrationTokens},
		{"DELETE /admin/v1/registration-tokens/{id}", a.DeleteRegistrationToken},
		{"POST /admin/v1/users", a.CreateUser},
		{"GET /admin/v1/users", a.ListUsers},
		{"GET /admin/v1/users/{id}", a.GetUser},
		{"PATCH /admin/v1/users/{id}", a.PatchUser},
		{"DELETE /admin/v1/users/{id}", a.DeleteUser},
		{"POST /admin/v1/users/{id}/password-reset", a.ResetPassword},
		{"GET /admin/v1/users/{id}/grants", a.ListUserGrants},
		{"GET /admin/v1/grants/{id}", a.GetGrant},
		{"DELETE /admin/v1/grants/{id}", a.RevokeGrant},
		{"POST /admin/v1/organizations", a.CreateOrg},
		{"GET /admin/v1/organizations", a.ListOrgs},
		{"GET /admin/v1/organizations/{id}", a.GetOrg},
		{"PATCH /admin/v1/organizations/{id}", a.PatchOrg},
		{"DELETE /admin/v1/organizations/{id}", a.DeleteOrg},
		{"GET /admin/v1/organizations/{id}/members", a.ListMembers},
		{"PUT /admin/v1/organizations/{id}/members/{user_id}", a.PutMember},
		{"DELETE /admin/v1/organizations/{id}/members/{user_id}", a.DeleteMember},
		{"POST /admin/v1/organizations/{id}/member-invitations", a.CreateMemberInvitation},
		{"GET /admin/v1/organizations/{id}/member-invitations", a.ListMemberInvitations},
		{"POST /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/resend", a.ResendMemberInvitation},
		{"POST /admin/v1/organizations/{id}/member-invitations/{member_invitation_id}/revoke", a.RevokeMemberInvitation},
		{"POST /admin/v1/organizations/{id}/client-groups", a.CreateGroup},
		{"GET /admin/v1/organizations/{id}/client-groups", a.ListGroups},
		{"GET /admin/v1/organizations/{id}/client-groups/{group_id}", a.GetGroup},
		{"PATCH /admin/v1/organizations/{id}/client-groups/{group_id}", a.PatchGroup},
		{"DELETE /admin/v1/organizations/{id}/client-groups/{group_id}", a.DeleteGroup},
		{"GET /admin/v1/organizations/{id}/client-groups/{group_id}/clients", a.ListGroupClients},
		{"PUT /admin/v1/organizations/{id}/client-groups/{group_id}/clients/{client_id}", a.AddGroupClient},
		{"DELETE /admin/v1/organizations/{id}/client-groups/{group_id}/clients/{client_id}", a.RemoveGroupClient},
		{"POST /admin/v1/organizations/{id}/invitations", a.CreateInvitation},
		{"GET /admin/v1/organizations/{id}/invitations", a.ListInvitations},
		{"GET /admin/v1/invitations/{id}", a.GetInvitation},
		{"POST /admin/v1/invitations/{id}/revoke", a.RevokeInvitation},
		{"POST /admin/v1/api-keys", a.CreateAPIKey},
		{"GET /admin/v1/api-keys", a.ListAPIKeys},
		{"POST /admin/v1/api-keys/{id}/rotate", a.RotateAPIKey},
		{"DELETE /admin/v1/api-keys/{id}", a.RevokeAPIKey},
		{"GET /admin/v1/audit", a.ListAudit},
	}
}

// apiMux serves a's operations, and the rest of Prefix, as the server does.
func apiMux(a *API) *http.ServeMux {
	mux := http.NewServeMux()
	for _, op := range operations(a) {
		mux.Handle(op.pattern, a.Guard(op.handle))
	}
	mux.Handle(Prefix, a.Guard(a.Unmatched(mux)))
	return mux
}

// do sends one request with the admin token and a JSON body (when body is
// not empty) and checks what every answer must have.
func (f *fixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.doWith(t, method, path, body, func(r *http.Request) {})
}

func (f *fixture) doWith(t *testing.T, method, path, body string, edit func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	r.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	edit(r)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, got)
	}
	if w.Code >= 500 {
		t.Errorf("%s %s: status %d, body %s", method, path, w.Code, w.Body)
	}
	return w
}

// errorBody is an error answer.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

// wantError checks an error answer's status, code and description.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code, descPart string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	e := decode[errorBody](t, w)
	if e.Error != code {
		t.Errorf("error = %q, want %q", e.Error, code)
	}
	if !strings.Contains(e.Description, descPart) {
		t.Errorf("error_description = %q, want it to contain %q", e.Description, descPart)
	}
	// RFC 6749 §5.2's character set for descriptions.
	for _, c := range e.Description {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			t.Errorf("error_description %q has character %q", e.Description, c)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name       string
		header     []string
		wantStatus int
		wantChal   string
	}{
		{"no header", nil, 401, `Bearer realm="latchkey-admin"`},
		{"wrong token", []string{"Bearer nope"}, 401, `Bearer realm="latchkey-admin", error="invalid_token"`},
		{"token prefix", []string{"Bearer " + testToken[:10]}, 401, `Bearer realm="latchkey-admin", error="invalid_token"`},
		{"basic scheme", []string{"Basic " + testToken}, 401, `Bearer realm="latchkey-admin", error="invalid_token"`},
		{"two headers", []string{"Bearer " + testToken, "Bearer " + testToken}, 401, `Bearer realm="latchkey-admin", error="invalid_token"`},
		{"right token", []string{"Bearer " + testToken}, 200, ""},
		{"scheme in lower case", []string{"bearer " + testToken}, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.doWith(t, "GET", "/admin/v1/clients", "", func(r *http.Request) {
				r.Header.Del("Authorization")
				for _, h := range tt.header {
					r.Header.Add("Authorization", h)
				}
			})
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantChal {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChal)
			}
			if tt.wantStatus == 401 {
				wantError(t, w, 401, "invalid_token", "admin token")
			}
		})
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.api.Token = ""
	for _, op := range operations(f.api) {
		method, path, _ := strings.Cut(op.pattern, " ")
		path = strings.ReplaceAll(path, "{id}", "x")
		t.Run(op.pattern, func(t *testing.T) {
			w := f.do(t, method, path, `{}`)
			wantError(t, w, 404, "not_found", "disabled")
		})
	}
	t.Run("unknown path", func(t *testing.T) {
		wantError(t, f.do(t, "GET", "/admin/v1/nothing", ""), 404, "not_found", "disabled")
	})
}

func TestUnmatched(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{"unknown path", "GET", "/admin/v1/nothing", 404, ""},
		{"unknown method on a collection", "DELETE", "/admin/v1/clients", 405, "GET, POST"},
		{"unknown method on a user", "PUT", "/admin/v1/users/x", 405, "GET, PATCH, DELETE"},
		{"GET on the secret", "GET", "/admin/v1/clients/x/secret", 405, "POST"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.method, tt.path, "")
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if e := decode[errorBody](t, w); e.Error == "" {
				t.Errorf("no error code in %s", w.Body)
			}
		})
	}
}

func TestStrictBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := `{"client_name":"` + strings.Repeat("x", 100<<10) + `"}`
	for _, tt := range []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantDesc    string
	}{
		{"form content type", "application/x-www-form-urlencoded", `{"client_name":"a"}`, 400, "application/json"},
		{"no content type", "", `{"client_name":"a"}`, 400, "application/json"},
		{"text", "text/plain", `{"client_name":"a"}`, 400, "application/json"},
		{"100 KiB", "application/json", big, 413, "64 KiB"},
		{"empty", "application/json", " ", 400, "empty"},
		{"unknown member", "application/json", `{"client_name":"a","colour":"red"}`, 400, "unknown member 'colour'"},
		{"unknown nested member", "application/json", `{"user_code":{"length":8,"size":2}}`, 400, "unknown member 'size'"},
		{"repeated member", "application/json", `{"client_name":"a","client_name":"b"}`, 400, "client_name appears more than once"},
		{"repeated member in another case", "application/json", `{"scope":"openid","SCOPE":"admin"}`, 400, "more than once"},
		{"repeated nested member", "application/json", `{"user_code":{"length":8,"length":9}}`, 400, "more than once"},
		{"two values", "application/json", `{"client_name":"a"} {}`, 400, "single JSON object"},
		{"array", "application/json", `[{"client_name":"a"}]`, 400, "JSON object"},
		{"null", "application/json", `null`, 400, "JSON object"},
		{"string", "application/json", `"x"`, 400, "JSON object"},
		{"syntax", "application/json", `{"client_name":}`, 400, "not valid JSON"},
		{"truncated", "application/json", `{"client_name":"a"`, 400, "not valid JSON"},
		{"invalid UTF-8", "application/json", "{\"client_name\":\"\xff\xfe\"}", 400, "UTF-8"},
		{"NUL", "application/json", `{"client_name":"a\u0000b"}`, 400, "control characters"},
		{"wrong type", "application/json", `{"client_name":5}`, 400, "client_name: want a string"},
		{"wrong list type", "application/json", `{"grant_types":"refresh_token"}`, 400, "grant_types: want a list of strings"},
		{"fraction", "application/json", `{"poll_interval":1.5}`, 400, "poll_interval: want an integer"},
		{"huge number", "application/json", `{"poll_interval":1e30}`, 400, "poll_interval: want an integer"},
		{"nested wrong type", "application/json", `{"user_code":{"length":"8"}}`, 400, "user_code.length: want an integer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.doWith(t, "POST", "/admin/v1/clients", tt.body, func(r *http.Request) {
				r.Header.Set("Content-Type", tt.contentType)
			})
			wantError(t, w, tt.wantStatus, "invalid_request", tt.wantDesc)
		})
	}
}

// FuzzClientBody checks that no body makes the API fail on its side (5xx)
// or answer with anything but JSON (docs/security.md BI-13).
func FuzzClientBody(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"client_id":"a","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"]}`,
		`{"user_code":{"alphabet":"digits","length":16,"group":-1},"device_code_lifetime":1800,"poll_interval":5}`,
		`{"scope":"a\u0000b"}`,
		`{"redirect_uris":["http://[::1]:80/cb"],"grant_types":["authorization_code"]}`,
		`[]`, `{"a":`, "\xff",
	} {
		f.Add(seed)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, target := range []struct{ method, path string }{
			{"POST", "/admin/v1/clients"},
			{"PATCH", "/admin/v1/clients/missing"},
			{"POST", "/admin/v1/users"},
		} {
			w := fx.do(t, target.method, target.path, body)
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("%s %s answered %d with a body that is not JSON: %q", target.method, target.path, w.Code, w.Body)
			}
		}
	})
}
