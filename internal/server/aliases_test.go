package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
)

// TestEndpointAliases: the 10Duke and Oracle paths of revocation,
// introspection and UserInfo are those endpoints, refusing the same wrong
// callers.
func TestEndpointAliases(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	for _, prefix := range []string{"/user/oauth20", "/oauth2/v1"} {
		t.Run(prefix, func(t *testing.T) {
			tok := s.deviceTokens(t, tvClient, scopesAll)
			at := tok.str("access_token")
			if r := s.bearerGet(t, prefix+"/userinfo", at); r.Status != 200 || r.str("sub") != s.User.ID {
				t.Errorf("GET userinfo: %d %s", r.Status, r.Raw)
			}
			if r := s.post(t, prefix+"/userinfo", url.Values{"access_token": {at}}, "", ""); r.Status != 200 {
				t.Errorf("POST userinfo: %d %s", r.Status, r.Raw)
			}
			if r := s.bearerGet(t, prefix+"/userinfo", "nope"); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("userinfo with a bad token: %d %v", r.Status, r.Header)
			}
			wantActive(t, "introspect", s.post(t, prefix+"/introspect", url.Values{"token": {at}}, printerClient, printerSecret), true)
			// Only confidential clients introspect (IN-01).
			wantOAuthError(t, s.post(t, prefix+"/introspect", url.Values{"token": {at}, "client_id": {tvClient}}, "", ""), 401, oauth.InvalidClient)
			// Another client revoking the token changes nothing (RV-02); its own client does.
			if r := s.post(t, prefix+"/revoke", url.Values{"token": {tok.str("refresh_token")}}, printerClient, printerSecret); r.Status != 200 {
				t.Fatalf("revoke by another client: %d %s", r.Status, r.Raw)
			}
			wantActive(t, "after another client's revocation", s.introspect(t, at), true)
			if r := s.post(t, prefix+"/revoke", url.Values{"token": {tok.str("refresh_token")}, "client_id": {tvClient}}, "", ""); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			wantActive(t, "after revocation", s.introspect(t, at), false)
			req, _ := http.NewRequest("GET", s.URL+prefix+"/revoke", nil)
			if r := do(t, req); r.Status != 405 || r.str("error") != oauth.InvalidRequest {
				t.Errorf("GET revoke: %d %s", r.Status, r.Raw)
			}
		})
	}
}
