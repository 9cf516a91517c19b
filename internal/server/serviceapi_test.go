package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// serviceKey is a service API credential made through the admin API.
type serviceKey struct {
	ID     string `json:"api_key"`
	Secret string `json:"api_secret"`
}

func (s *testServer) newServiceKey(t *testing.T) serviceKey {
	t.Helper()
	r := s.jsonRequest(t, "POST", "/admin/v1/api-keys", testAdminToken, map[string]string{"name": "front end"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create API key: %d %s", r.Status, r.Raw)
	}
	var k serviceKey
	mustDo(t, json.Unmarshal([]byte(r.Raw), &k))
	if k.ID == "" || !strings.HasPrefix(k.Secret, "lk_sk_") {
		t.Fatalf("API key %s", r.Raw)
	}
	return k
}

// apiCall is one call of the service API: its path under /api/ (or
// /api/{serviceId}/ with v3), body (JSON-encoded unless a string) and how
// it authenticates.
type apiCall struct {
	path string
	body any
	auth func(*http.Request)
	v3   bool
	ct   string // content type; application/json when empty
}

func basic(k serviceKey) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(k.ID, k.Secret) }
}

func bearerAuth(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func (s *testServer) api(t *testing.T, c apiCall) reply {
	t.Helper()
	raw, ok := c.body.(string)
	if !ok {
		b, err := json.Marshal(c.body)
		mustDo(t, err)
		raw = string(b)
	}
	path := "/api/" + c.path
	if c.v3 {
		path = "/api/1/" + c.path
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, bytes.NewReader([]byte(raw)))
	mustDo(t, err)
	req.Header.Set("Content-Type", "application/json")
	if c.ct != "" {
		req.Header.Set("Content-Type", c.ct)
	}
	if c.auth != nil {
		c.auth(req)
	}
	r := do(t, req)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", c.path, cc)
	}
	if r.str("resultCode") == "" || r.str("resultMessage") == "" || r.str("action") == "" {
		t.Errorf("%s: answer without resultCode, resultMessage or action: %d %s", c.path, r.Status, r.Raw)
	}
	return r
}

// wantAction fails unless r is HTTP status with action.
func wantAction(t *testing.T, what string, r reply, status int, action string) {
	t.Helper()
	if r.Status != status || r.str("action") != action {
		t.Fatalf("%s: got %d %s; want %d action %s", what, r.Status, r.Raw, status, action)
	}
}

// content decodes a responseContent.
func content(t *testing.T, r reply) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.str("responseContent")), &m); err != nil {
		t.Fatalf("responseContent of %s: %v", r.Raw, err)
	}
	return m
}

func serviceAPIServer(t *testing.T, b backend) *testServer {
	return newTestServerOn(t, b, true, func(c *config.Config) {
		c.ServiceAPI.VerificationURI = "https://front.example/activate"
		c.ServiceAPI.VerificationURIComplete = "https://front.example/activate?code=USER_CODE"
	})
}

// startViaAPI asks for codes through /device/authorization for the TV.
func (s *testServer) startViaAPI(t *testing.T, k serviceKey, scope string) reply {
	t.Helper()
	r := s.api(t, apiCall{path: "device/authorization", auth: basic(k),
		body: map[string]string{"parameters": url.Values{"client_id": {tvClient}, "scope": {scope}}.Encode()}})
	wantAction(t, "device/authorization", r, 200, "OK")
	return r
}

func (s *testServer) pollViaAPI(t *testing.T, k serviceKey, deviceCode string) reply {
	t.Helper()
	return s.api(t, apiCall{path: "auth/token", auth: basic(k), body: map[string]string{"parameters": url.Values{
		"grant_type": {store.GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {tvClient}}.Encode()}})
}

func (s *testServer) completeViaAPI(t *testing.T, k serviceKey, body map[string]any) reply {
	t.Helper()
	return s.api(t, apiCall{path: "device/complete", auth: basic(k), body: body})
}

// TestServiceAPIFlow: a front end runs the whole device flow through the
// API, for a person Latchkey has never seen, on both backends: the device's
// answers carry the front end's verification page, the tokens its
// subject, claims and narrowed scopes, refresh keeps them, and
// introspection reports them; the 3.0 paths with a Bearer answer the same.
func TestServiceAPIFlow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := serviceAPIServer(t, b)
		k := s.newServiceKey(t)

		start := s.startViaAPI(t, k, "openid profile offline_access")
		// Authlete's types: clientId a number, the rest as documented.
		if id, ok := start.Body["clientId"].(float64); !ok || id <= 0 || id != float64(int64(id)) {
			t.Errorf("clientId = %v, want a positive integer", start.Body["clientId"])
		}
		if start.str("clientIdAlias") != tvClient || start.str("clientName") != "Living Room TV" {
			t.Errorf("client fields: %s", start.Raw)
		}
		if start.Body["expiresIn"] != float64(600) || start.Body["interval"] != float64(1) {
			t.Errorf("expiresIn/interval: %s", start.Raw)
		}
		userCode, deviceCode := start.str("userCode"), start.str("deviceCode")
		if start.str("verificationUri") != "https://front.example/activate" ||
			start.str("verificationUriComplete") != "https://front.example/activate?code="+url.QueryEscape(userCode) {
			t.Errorf("verification URIs: %s", start.Raw)
		}
		if fmt.Sprint(start.Body["scopes"]) != "[map[name:openid] map[name:profile] map[name:offline_access]]" {
			t.Errorf("device/authorization scopes are not Authlete's Scope objects: %v", start.Body["scopes"])
		}
		rc := content(t, start)
		if rc["device_code"] != deviceCode || rc["user_code"] != userCode || rc["verification_uri"] != "https://front.example/activate" {
			t.Errorf("responseContent %v", rc)
		}

		v := s.api(t, apiCall{path: "device/verification", auth: basic(k), body: map[string]string{"userCode": userCode}})
		wantAction(t, "device/verification", v, 200, "VALID")
		if fmt.Sprint(v.Body["scopes"]) != "[map[name:openid] map[name:profile] map[name:offline_access]]" ||
			v.str("clientIdAlias") != tvClient || v.Body["expiresAt"] != float64(s.Clock.Now().Add(10*time.Minute).UnixMilli()) {
			t.Errorf("verification: %s", v.Raw)
		}
		if names, _ := v.Body["claimNames"].([]any); len(names) == 0 || names[0] != "name" {
			t.Errorf("claimNames: %s", v.Raw)
		}

		wantAction(t, "poll before the decision", s.pollViaAPI(t, k, deviceCode), 200, "BAD_REQUEST")
		s.Clock.Advance(2 * time.Second)

		done := s.completeViaAPI(t, k, map[string]any{"userCode": userCode, "result": "AUTHORIZED",
			"subject": "ext-4711", "authTime": s.Clock.Now().Add(-time.Minute).Unix(), "acr": "urn:front:pwd",
			"claims": `{"name":"Erin External","groups":["beta"]}`, "scopes": []string{"openid", "offline_access"}})
		wantAction(t, "device/complete", done, 200, "SUCCESS")

		// The decision is in the audit log, the service key its actor, the
		// front end's claims not.
		done2, _ := s.auditLog(t, "kind=device.complete")
		checkEntries(t, done2, []wantEntry{{audit.DeviceComplete, store.ActorServiceKey, k.ID, tvClient, ""}})
		if len(done2) == 1 {
			after := string(done2[0].After)
			if !strings.Contains(after, `"subject":"ext-4711"`) || !strings.Contains(after, `"decision":"approved"`) || strings.Contains(after, "Erin") {
				t.Errorf("device.complete after: %s", after)
			}
		}

		tok := s.pollViaAPI(t, k, deviceCode)
		wantAction(t, "poll after the decision", tok, 200, "OK")
		if tok.str("subject") != "ext-4711" || tok.str("grantType") != "DEVICE_CODE" || tok.str("clientIdAlias") != tvClient ||
			fmt.Sprint(tok.Body["scopes"]) != "[openid offline_access]" || tok.str("refreshToken") == "" {
			t.Errorf("token: %s", tok.Raw)
		}
		body := content(t, tok)
		id := jwtClaims(t, body["id_token"].(string))
		if id["sub"] != "ext-4711" || id["name"] != "Erin External" || id["acr"] != "urn:front:pwd" ||
			fmt.Sprint(id["groups"]) != "[beta]" || id["aud"] != tvClient || id["iss"] != s.URL {
			t.Errorf("ID token claims %v", id)
		}
		at := jwtClaims(t, body["access_token"].(string))
		if at["sub"] != "ext-4711" || at["scope"] != "openid offline_access" {
			t.Errorf("access token claims %v", at)
		}
		// UserInfo describes the front end's subject with the claims it
		// gave, as the ID token does.
		ui := s.bearerGet(t, "/userinfo", body["access_token"].(string))
		if ui.Status != 200 || ui.str("sub") != "ext-4711" || ui.str("name") != "Erin External" || fmt.Sprint(ui.Body["groups"]) != "[beta]" {
			t.Errorf("userinfo for a front end's subject: %d %s", ui.Status, ui.Raw)
		}

		g := s.jsonRequest(t, "GET", "/admin/v1/grants/"+at["grant_id"].(string), testAdminToken, nil)
		if g.str("subject") != "ext-4711" || g.str("user_id") != "" || g.str("scope") != "openid offline_access" {
			t.Errorf("the grant in the admin API: %s", g.Raw)
		}

		in := s.api(t, apiCall{path: "auth/introspection", auth: basic(k), body: map[string]any{
			"token": body["access_token"], "scopes": []string{"openid"}, "subject": "ext-4711"}})
		wantAction(t, "introspection", in, 200, "OK")
		if in.str("subject") != "ext-4711" || in.str("clientIdAlias") != tvClient || in.Body["usable"] != true {
			t.Errorf("introspection: %s", in.Raw)
		}

		// Refresh keeps the person and the claims; on the 3.0 path.
		ref := s.api(t, apiCall{path: "auth/token", v3: true, auth: bearerAuth(k.Secret), body: map[string]string{
			"parameters": url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refreshToken")}, "client_id": {tvClient}}.Encode()}})
		wantAction(t, "refresh", ref, 200, "OK")
		id = jwtClaims(t, content(t, ref)["id_token"].(string))
		if ref.str("subject") != "ext-4711" || ref.str("grantType") != "REFRESH_TOKEN" || id["sub"] != "ext-4711" || id["name"] != "Erin External" {
			t.Errorf("refresh: %s; ID token %v", ref.Raw, id)
		}
		// The hosted flow works beside it.
		hosted := s.startDevice(t, tvClient, "openid")
		if !strings.HasPrefix(hosted.str("verification_uri"), s.URL) {
			t.Errorf("hosted verification_uri %q", hosted.str("verification_uri"))
		}
	})
}

// TestServiceAPIAuthentication: only a service key opens the service API,
// each path family by its own scheme, and a key opens nothing else.
func TestServiceAPIAuthentication(t *testing.T) {
	t.Parallel()
	s := serviceAPIServer(t, backends[0])
	k := s.newServiceKey(t)
	other := s.newServiceKey(t)
	body := map[string]string{"userCode": "BCDF-GHJK"}
	for _, tt := range []struct {
		name   string
		call   apiCall
		status int
	}{
		{"no credentials", apiCall{}, 401},
		{"wrong secret", apiCall{auth: func(r *http.Request) { r.SetBasicAuth(k.ID, k.Secret+"x") }}, 401},
		{"another key's secret", apiCall{auth: func(r *http.Request) { r.SetBasicAuth(k.ID, other.Secret) }}, 401},
		{"the admin token, Basic", apiCall{auth: func(r *http.Request) { r.SetBasicAuth(k.ID, testAdminToken) }}, 401},
		{"the admin token, Bearer", apiCall{v3: true, auth: bearerAuth(testAdminToken)}, 401},
		{"a client's secret", apiCall{auth: func(r *http.Request) { r.SetBasicAuth(printerClient, printerSecret) }}, 401},
		{"Bearer on the 2.x path", apiCall{auth: bearerAuth(k.Secret)}, 401},
		{"Basic on the 3.0 path", apiCall{v3: true, auth: basic(k)}, 401},
		{"key", apiCall{auth: basic(k)}, 200},
		{"bearer", apiCall{v3: true, auth: bearerAuth(k.Secret)}, 200},
	} {
		tt.call.path, tt.call.body = "device/verification", body
		r := s.api(t, tt.call)
		if r.Status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.Status, r.Raw, tt.status)
		}
		if tt.status == 401 && (r.str("action") != "INTERNAL_SERVER_ERROR" || r.Header.Get("WWW-Authenticate") == "") {
			t.Errorf("%s: %s %v", tt.name, r.Raw, r.Header)
		}
	}
	// Another service id is not found.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL+"/api/2/device/verification", strings.NewReader(`{"userCode":"X"}`))
	req.Header.Set("Content-Type", "application/json")
	bearerAuth(k.Secret)(req)
	if r := do(t, req); r.Status != 404 {
		t.Errorf("another service id: %d %s", r.Status, r.Raw)
	}
	// A key is no admin token.
	if r := s.jsonRequest(t, "GET", "/admin/v1/clients", k.Secret, nil); r.Status != 401 {
		t.Errorf("admin API with a service secret: %d %s", r.Status, r.Raw)
	}
	// Rotated, the old secret stops; revoked, the new one does.
	rot := s.jsonRequest(t, "POST", "/admin/v1/api-keys/"+k.ID+"/rotate", testAdminToken, nil)
	var k2 serviceKey
	mustDo(t, json.Unmarshal([]byte(rot.Raw), &k2))
	if rot.Status != 200 || k2.ID != k.ID || k2.Secret == k.Secret {
		t.Fatalf("rotate: %d %s", rot.Status, rot.Raw)
	}
	for _, tt := range []struct {
		key    serviceKey
		status int
	}{{k, 401}, {k2, 200}} {
		if r := s.api(t, apiCall{path: "device/verification", body: body, auth: basic(tt.key)}); r.Status != tt.status {
			t.Errorf("after rotation: %d %s, want %d", r.Status, r.Raw, tt.status)
		}
	}
	list := s.jsonRequest(t, "GET", "/admin/v1/api-keys", testAdminToken, nil)
	if list.Status != 200 || strings.Contains(list.Raw, "lk_sk_") || !strings.Contains(list.Raw, k.ID) {
		t.Errorf("list: %d %s", list.Status, list.Raw)
	}
	if r := s.jsonRequest(t, "DELETE", "/admin/v1/api-keys/"+k.ID, testAdminToken, nil); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	if r := s.api(t, apiCall{path: "device/verification", body: body, auth: basic(k2)}); r.Status != 401 {
		t.Errorf("after revocation: %d %s", r.Status, r.Raw)
	}
	if r := s.jsonRequest(t, "DELETE", "/admin/v1/api-keys/"+k.ID, testAdminToken, nil); r.Status != 404 {
		t.Errorf("revoke again: %d %s", r.Status, r.Raw)
	}
}

// TestServiceAPIBadCalls: calls the API cannot take at all, on every
// endpoint: each answers 4xx with the endpoint's failure action and no
// 500, the body never read past 64 KiB.
func TestServiceAPIBadCalls(t *testing.T) {
	t.Parallel()
	s := serviceAPIServer(t, backends[0])
	k := s.newServiceKey(t)
	big := `{"userCode":"` + strings.Repeat("A", 70<<10) + `"}`
	for _, path := range []string{"device/authorization", "device/verification", "device/complete", "auth/token", "auth/introspection"} {
		action := "INTERNAL_SERVER_ERROR"
		if path == "device/complete" {
			action = "SERVER_ERROR"
		}
		for _, tt := range []struct {
			name   string
			body   string
			ct     string
			status int
		}{
			{"malformed JSON", `{"userCode":`, "", 400},
			{"not an object", `["a"]`, "", 400},
			{"unknown member", `{"nonsense":"x"}`, "", 400},
			{"repeated member", `{"token":"a","token":"b"}`, "", 400},
			{"wrong type", `{"parameters":5,"userCode":5,"token":5}`, "", 400},
			{"70 KiB", big, "", 413},
			{"text/plain", `{}`, "text/plain", 400},
			{"form with an unknown member", "nonsense=1", "application/x-www-form-urlencoded", 400},
			{"form with a repeated member", "token=a&token=b&userCode=a&userCode=b&parameters=a&parameters=b", "application/x-www-form-urlencoded", 400},
		} {
			r := s.api(t, apiCall{path: path, body: tt.body, ct: tt.ct, auth: basic(k)})
			wantAction(t, path+": "+tt.name, r, tt.status, action)
		}
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/api/"+path, nil)
		basic(k)(req)
		if r := do(t, req); r.Status != 405 || r.Header.Get("Allow") != "POST" || r.str("action") != action {
			t.Errorf("%s: GET: %d %s", path, r.Status, r.Raw)
		}
	}
}

// TestServiceAPIActions: every action of every endpoint, from what leads
// to it.
func TestServiceAPIActions(t *testing.T) {
	t.Parallel()
	s := serviceAPIServer(t, backends[0])
	k := s.newServiceKey(t)
	call := func(path string, body any) reply { return s.api(t, apiCall{path: path, body: body, auth: basic(k)}) }
	params := func(v url.Values) map[string]string { return map[string]string{"parameters": v.Encode()} }

	t.Run("device/authorization", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			body   any
			action string
			error  string // of responseContent
		}{
			{"public client", params(url.Values{"client_id": {tvClient}}), "OK", ""},
			{"confidential client, header credentials", map[string]string{"parameters": "scope=print",
				"clientId": printerClient, "clientSecret": printerSecret}, "OK", ""},
			{"confidential client, wrong secret", map[string]string{"parameters": "scope=print",
				"clientId": printerClient, "clientSecret": "lk_cs_wrong"}, "UNAUTHORIZED", "invalid_client"},
			{"unknown client", params(url.Values{"client_id": {"nobody"}}), "UNAUTHORIZED", "invalid_client"},
			{"no client", params(url.Values{"scope": {"openid"}}), "UNAUTHORIZED", "invalid_client"},
			{"scope not allowed", params(url.Values{"client_id": {tvClient}, "scope": {"admin"}}), "BAD_REQUEST", "invalid_scope"},
			{"client without the grant", params(url.Values{"client_id": {webOnlyClient}}), "BAD_REQUEST", "unauthorized_client"},
			{"repeated parameter", map[string]string{"parameters": "client_id=tv-app&client_id=tv-app"}, "BAD_REQUEST", "invalid_request"},
			{"two methods", map[string]string{"parameters": "client_secret=x", "clientId": printerClient, "clientSecret": printerSecret}, "BAD_REQUEST", "invalid_request"},
		} {
			r := call("device/authorization", tt.body)
			wantAction(t, tt.name, r, 200, tt.action)
			if tt.error != "" && content(t, r)["error"] != tt.error {
				t.Errorf("%s: responseContent %s", tt.name, r.str("responseContent"))
			}
		}
	})

	t.Run("device/verification and device/complete", func(t *testing.T) {
		code := func() (user, device string) {
			r := s.startViaAPI(t, k, "openid profile")
			return r.str("userCode"), r.str("deviceCode")
		}
		complete := func(body map[string]any) reply { return call("device/complete", body) }
		verify := func(c string) reply { return call("device/verification", map[string]string{"userCode": c}) }

		wantAction(t, "unknown code", verify("BCDF-GHJK"), 200, "NOT_EXIST")
		wantAction(t, "not a code", verify("!!"), 200, "NOT_EXIST")
		wantAction(t, "complete unknown", complete(map[string]any{"userCode": "BCDF-GHJK", "result": "AUTHORIZED", "subject": "x"}), 200, "USER_CODE_NOT_EXIST")

		u1, _ := code()
		for _, tt := range []struct {
			name string
			body map[string]any
		}{
			{"no result", map[string]any{"userCode": u1, "subject": "x"}},
			{"unknown result", map[string]any{"userCode": u1, "result": "MAYBE", "subject": "x"}},
			{"no subject", map[string]any{"userCode": u1, "result": "AUTHORIZED"}},
			{"no user code", map[string]any{"result": "AUTHORIZED", "subject": "x"}},
			{"claims not an object", map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "x", "claims": `["a"]`}},
			{"claims not JSON", map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "x", "claims": `{`}},
			{"claims setting sub", map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "x", "claims": `{"sub":"root"}`}},
			{"scope not requested", map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "x", "scopes": []string{"openid", "email"}}},
			{"subject too long", map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": strings.Repeat("x", 256)}},
			{"description out of RFC 6749's characters", map[string]any{"userCode": u1, "result": "ACCESS_DENIED", "errorDescription": "\"quoted\""}},
		} {
			wantAction(t, tt.name, complete(tt.body), 200, "INVALID_REQUEST")
		}
		wantAction(t, "still valid after refused completions", verify(u1), 200, "VALID")

		wantAction(t, "complete", complete(map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "x"}), 200, "SUCCESS")
		wantAction(t, "complete again", complete(map[string]any{"userCode": u1, "result": "AUTHORIZED", "subject": "y"}), 200, "USER_CODE_NOT_EXIST")
		wantAction(t, "verify a decided code", verify(u1), 200, "NOT_EXIST")

		u2, _ := code()
		s.Clock.Advance(11 * time.Minute)
		wantAction(t, "verify expired", verify(u2), 200, "EXPIRED")
		wantAction(t, "complete expired", complete(map[string]any{"userCode": u2, "result": "AUTHORIZED", "subject": "x"}), 200, "USER_CODE_EXPIRED")
	})

	t.Run("auth/token", func(t *testing.T) {
		start := s.startViaAPI(t, k, "openid")
		dc, uc := start.str("deviceCode"), start.str("userCode")
		wantError := func(name string, r reply, action, code string) {
			t.Helper()
			wantAction(t, name, r, 200, action)
			if got := content(t, r)["error"]; got != code {
				t.Errorf("%s: responseContent %s, want %s", name, r.str("responseContent"), code)
			}
		}
		wantError("pending", s.pollViaAPI(t, k, dc), "BAD_REQUEST", "authorization_pending")
		wantError("too soon", s.pollViaAPI(t, k, dc), "BAD_REQUEST", "slow_down")
		wantError("unknown device code", s.pollViaAPI(t, k, "lk_dc_nothing"), "BAD_REQUEST", "invalid_grant")
		wantError("unknown client", call("auth/token", params(url.Values{"grant_type": {store.GrantDeviceCode},
			"device_code": {dc}, "client_id": {"nobody"}})), "INVALID_CLIENT", "invalid_client")
		wantError("wrong secret", call("auth/token", map[string]string{"parameters": "grant_type=client_credentials",
			"clientId": printerClient, "clientSecret": "lk_cs_wrong"}), "INVALID_CLIENT", "invalid_client")
		wantError("unsupported grant", call("auth/token", params(url.Values{"grant_type": {"password"}, "client_id": {tvClient}})),
			"BAD_REQUEST", "unsupported_grant_type")
		wantError("no grant type", call("auth/token", params(url.Values{"client_id": {tvClient}})), "BAD_REQUEST", "invalid_request")

		wantAction(t, "deny", s.completeViaAPI(t, k, map[string]any{"userCode": uc, "result": "ACCESS_DENIED",
			"errorDescription": "the person said no"}), 200, "SUCCESS")
		s.Clock.Advance(10 * time.Second)
		denied := s.pollViaAPI(t, k, dc)
		wantError("denied", denied, "BAD_REQUEST", "access_denied")
		if content(t, denied)["error_description"] != "the person said no" {
			t.Errorf("denied: %s", denied.Raw)
		}

		failed := s.startViaAPI(t, k, "openid")
		wantAction(t, "fail", s.completeViaAPI(t, k, map[string]any{"userCode": failed.str("userCode"),
			"result": "TRANSACTION_FAILED", "errorDescription": "the front end lost the session"}), 200, "SUCCESS")
		r := s.pollViaAPI(t, k, failed.str("deviceCode"))
		wantError("transaction failed", r, "BAD_REQUEST", "expired_token")
		if content(t, r)["error_description"] != "the front end lost the session" {
			t.Errorf("failed: %s", r.Raw)
		}
	})

	t.Run("auth/introspection", func(t *testing.T) {
		start := s.startViaAPI(t, k, "openid profile")
		wantAction(t, "complete", s.completeViaAPI(t, k, map[string]any{"userCode": start.str("userCode"),
			"result": "AUTHORIZED", "subject": "ext-1"}), 200, "SUCCESS")
		s.Clock.Advance(10 * time.Second)
		tok := s.pollViaAPI(t, k, start.str("deviceCode"))
		wantAction(t, "token", tok, 200, "OK")
		at := tok.str("accessToken")
		for _, tt := range []struct {
			name   string
			body   map[string]any
			action string
		}{
			{"active", map[string]any{"token": at}, "OK"},
			{"active with scopes and subject", map[string]any{"token": at, "scopes": []string{"openid", "profile"}, "subject": "ext-1"}, "OK"},
			{"missing scope", map[string]any{"token": at, "scopes": []string{"email"}}, "FORBIDDEN"},
			{"other subject", map[string]any{"token": at, "subject": "ext-2"}, "FORBIDDEN"},
			{"no token", map[string]any{"scopes": []string{"openid"}}, "BAD_REQUEST"},
			{"garbage", map[string]any{"token": "not-a-token"}, "UNAUTHORIZED"},
		} {
			r := call("auth/introspection", tt.body)
			wantAction(t, tt.name, r, 200, tt.action)
			if tt.action != "OK" && !strings.HasPrefix(r.str("responseContent"), "Bearer error=") {
				t.Errorf("%s: responseContent %q", tt.name, r.str("responseContent"))
			}
		}
		s.Clock.Advance(11 * time.Minute) // past the access token's 10 minutes
		wantAction(t, "expired", call("auth/introspection", map[string]any{"token": at}), 200, "UNAUTHORIZED")
	})
}

// TestServiceAPIConcurrentComplete: 20 front ends completing one user code
// at once: exactly one SUCCESS, the rest USER_CODE_NOT_EXIST, on both
// backends.
func TestServiceAPIConcurrentComplete(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := serviceAPIServer(t, b)
		k := s.newServiceKey(t)
		uc := s.startViaAPI(t, k, "openid").str("userCode")
		const n = 20
		actions := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r := s.completeViaAPI(t, k, map[string]any{"userCode": uc, "result": "AUTHORIZED", "subject": fmt.Sprint("ext-", i)})
				actions[i] = r.str("action")
			})
		}
		close(start)
		wg.Wait()
		count := map[string]int{}
		for _, a := range actions {
			count[a]++
		}
		if count["SUCCESS"] != 1 || count["USER_CODE_NOT_EXIST"] != n-1 {
			t.Fatalf("actions of %d concurrent completions: %v", n, count)
		}
	})
}

// TestServiceAPIDPoP: a front end passes its devices' DPoP proofs to
// auth/token (Authlete's dpop, htm, htu): a proof without the nonce gets
// use_dpop_nonce and the nonce to send on; one for another URL, or without
// htu, is refused; a good one gets DPoP-bound tokens (token_type DPoP,
// cnf.jkt), and the public device's refresh token then needs a proof of
// the same key, on both backends.
func TestServiceAPIDPoP(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := serviceAPIServer(t, b)
		k := s.newServiceKey(t)
		const htu = "https://front.example/token"
		key := newECKey(t)
		prove := joseProver(t, key, s.Clock.Now)
		jkt, err := dpop.Thumbprint(&key.PublicKey)
		mustDo(t, err)

		start := s.startViaAPI(t, k, "openid offline_access")
		s.Clock.Advance(2 * time.Second)
		wantAction(t, "device/complete", s.completeViaAPI(t, k, map[string]any{"userCode": start.str("userCode"),
			"result": "AUTHORIZED", "subject": "ext-7"}), 200, "SUCCESS")
		poll := func(body map[string]string) reply {
			body["parameters"] = url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {start.str("deviceCode")}, "client_id": {tvClient}}.Encode()
			return s.api(t, apiCall{path: "auth/token", auth: basic(k), body: body})
		}
		proof := func(u, nonce string) string {
			p, err := prove("POST", u, nonce, "")
			mustDo(t, err)
			return p
		}

		first := poll(map[string]string{"dpop": proof(htu, ""), "htu": htu})
		wantAction(t, "a proof without the nonce", first, 200, "BAD_REQUEST")
		nonce := first.str("dpopNonce")
		if content(t, first)["error"] != dpop.UseNonce || nonce == "" {
			t.Fatalf("a proof without the nonce: %s", first.Raw)
		}
		for name, body := range map[string]map[string]string{
			"a proof for another URL":  {"dpop": proof("https://elsewhere.example/token", nonce), "htu": htu},
			"a proof without htu":      {"dpop": proof(htu, nonce)},
			"htu with a query":         {"dpop": proof(htu, nonce), "htu": htu + "?x=1"},
			"htu without a proof":      {"htu": htu},
			"a proof that is no proof": {"dpop": "not.a.proof", "htu": htu},
		} {
			r := poll(body)
			wantAction(t, name, r, 200, "BAD_REQUEST")
			if e := content(t, r)["error"]; e != dpop.InvalidProof && e != oauth.InvalidRequest {
				t.Errorf("%s: %s", name, r.Raw)
			}
		}

		tok := poll(map[string]string{"dpop": proof(htu, nonce), "htu": htu, "htm": "POST"})
		wantAction(t, "a good proof", tok, 200, "OK")
		body := content(t, tok)
		if body["token_type"] != "DPoP" || tok.str("dpopNonce") == "" {
			t.Errorf("a good proof: %s", tok.Raw)
		}
		wantBound(t, body["access_token"].(string), jkt)

		refresh := func(extra map[string]string) reply {
			extra["parameters"] = url.Values{"grant_type": {store.GrantRefreshToken}, "refresh_token": {tok.str("refreshToken")}, "client_id": {tvClient}}.Encode()
			return s.api(t, apiCall{path: "auth/token", auth: basic(k), body: extra})
		}
		s.Clock.Advance(2 * time.Second)
		other := joseProver(t, newECKey(t), s.Clock.Now)
		otherProof, err := other("POST", htu, nonce, "")
		mustDo(t, err)
		for name, extra := range map[string]map[string]string{
			"without a proof":          {},
			"with another key's proof": {"dpop": otherProof, "htu": htu},
		} {
			r := refresh(extra)
			wantAction(t, "refresh "+name, r, 200, "BAD_REQUEST")
			if content(t, r)["error"] != oauth.InvalidGrant {
				t.Errorf("refresh %s: %s", name, r.Raw)
			}
		}
		next := refresh(map[string]string{"dpop": proof(htu, nonce), "htu": htu})
		wantAction(t, "refresh with the key", next, 200, "OK")
		wantBound(t, content(t, next)["access_token"].(string), jkt)
	})
}

// TestServiceAPIUILocales: as at the device authorization endpoint, a
// device's ui_locales join the verification link it is given, here the
// front end's page, in the answer's verificationUriComplete and in the
// responseContent the front end sends on; the page's own query stays.
func TestServiceAPIUILocales(t *testing.T) {
	t.Parallel()
	s := serviceAPIServer(t, backends[0])
	k := s.newServiceKey(t)
	r := s.api(t, apiCall{path: "device/authorization", auth: basic(k), body: map[string]string{
		"parameters": url.Values{"client_id": {tvClient}, "ui_locales": {"de-CH fr <x>"}}.Encode()}})
	wantAction(t, "device/authorization", r, 200, "OK")
	want := "https://front.example/activate?code=" + url.QueryEscape(r.str("userCode")) + "&ui_locales=de-CH+fr"
	if got := r.str("verificationUriComplete"); got != want {
		t.Errorf("verificationUriComplete = %q, want %q", got, want)
	}
	if got := content(t, r)["verification_uri_complete"]; got != want {
		t.Errorf("responseContent's verification_uri_complete = %q, want %q", got, want)
	}
	if got := r.str("verificationUri"); got != "https://front.example/activate" {
		t.Errorf("verificationUri = %q", got)
	}
}
