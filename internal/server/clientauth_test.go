package server

import (
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestClientAuthSameAnswer: an unknown client, a known client with a wrong
// secret, and a public client sending a secret all get the same answer,
// byte for byte, so the token endpoint does not tell which client ids
// exist (docs/security.md CA-04; the work done is the same too:
// clientauth.Authenticate hashes a dummy secret for an unknown client).
func TestClientAuthSameAnswer(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, true, nil)
	form := url.Values{"grant_type": {store.GrantClientCredentials}}
	var first reply
	for i, tt := range []struct{ name, user, pass string }{
		{"unknown client", "no-such-client", "lk_cs_whatever-0123456789"},
		{"wrong secret", printerClient, "lk_cs_wrong-secret-0123456789"},
		{"public client with a secret", tvClient, "lk_cs_whatever-0123456789"},
	} {
		r := s.post(t, "/oauth2/token", form, tt.user, tt.pass)
		wantOAuthError(t, r, 401, oauth.InvalidClient)
		if i == 0 {
			first = r
			continue
		}
		if r.Raw != first.Raw || r.Header.Get("WWW-Authenticate") != first.Header.Get("WWW-Authenticate") {
			t.Errorf("%s: %s, WWW-Authenticate %q; want the unknown client's %s, %q", tt.name,
				r.Raw, r.Header.Get("WWW-Authenticate"), first.Raw, first.Header.Get("WWW-Authenticate"))
		}
	}
}
