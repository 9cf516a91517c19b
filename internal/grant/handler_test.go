package grant

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/token"
)

// named is a grant that answers every request with a token named after it.
type named string

func (n named) GrantType() string { return string(n) }

func (n named) Exchange(context.Context, *Request) (*token.Response, error) {
	return &token.Response{AccessToken: string(n), TokenType: "Bearer"}, nil
}

// TestHandlerDispatch: the token endpoint hands each request to the grant
// that answers its grant_type, and knows no other.
func TestHandlerDispatch(t *testing.T) {
	t.Parallel()
	h := &Handler{Grants: []Grant{named("b"), named("a"), named("a")}}
	if diff := cmp.Diff([]string{"b", "a", "a"}, h.GrantTypes()); diff != "" {
		t.Errorf("GrantTypes (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		grantType string
		want      string // the access token, or the error code
	}{
		{"a", "a"},
		{"b", "b"},
		{"c", oauth.UnsupportedGrantType},
		{"", oauth.InvalidRequest},
	} {
		t.Run(tt.grantType, func(t *testing.T) {
			form := url.Values{"grant_type": {tt.grantType}, "client_id": {"tv"}}
			r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			oauth.ErrorWriter{}.Handle(h.Token).ServeHTTP(w, r)
			var body struct {
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if got := body.AccessToken + body.Error; got != tt.want {
				t.Errorf("answer = %s; want %s", w.Body, tt.want)
			}
		})
	}
}
