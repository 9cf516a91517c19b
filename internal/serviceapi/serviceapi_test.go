package serviceapi

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNumericClientID: Authlete's numeric clientId is stable, positive and
// exact in a JavaScript number (below 2^53), and differs between clients.
func TestNumericClientID(t *testing.T) {
	t.Parallel()
	seen := map[int64]string{}
	for _, id := range []string{"tv-app", "printer", "a", "", "ü", "tv-app2"} {
		n := NumericClientID(id)
		if n < 0 || n >= 1<<53 || n != NumericClientID(id) {
			t.Errorf("NumericClientID(%q) = %d", id, n)
		}
		if other, ok := seen[n]; ok {
			t.Errorf("%q and %q share %d", id, other, n)
		}
		seen[n] = id
	}
}

// TestClaimNames: OIDC Core §5.4's claims of the scopes, only with openid.
func TestClaimNames(t *testing.T) {
	t.Parallel()
	if got := ClaimNames([]string{"profile", "email"}); got != nil {
		t.Errorf("without openid: %v", got)
	}
	got := ClaimNames([]string{"openid", "email", "phone", "offline_access"})
	if !slices.Equal(got, []string{"email", "email_verified", "phone_number", "phone_number_verified"}) {
		t.Errorf("ClaimNames = %v", got)
	}
}

// TestCompletion: what /device/complete accepts, and the decision it stores.
func TestCompletion(t *testing.T) {
	t.Parallel()
	scopes := []string{"openid"}
	for _, tt := range []struct {
		name    string
		body    string
		wantMsg string // "": accepted
		check   func(t *testing.T, q *deviceCompleteRequest)
	}{
		{"authorized", `{"userCode":"A","result":"AUTHORIZED","subject":"s","authTime":1700000000,"acr":"pwd","claims":"{\"name\":\"N\"}","scopes":["openid"]}`, "", func(t *testing.T, q *deviceCompleteRequest) {
			d, _ := q.completion()
			if !d.Approve || d.Subject != "s" || !d.AuthTime.Equal(time.Unix(1700000000, 0)) || !slices.Equal(d.Scopes, scopes) {
				t.Errorf("decision %+v", d)
			}
			var claims map[string]any
			if json.Unmarshal([]byte(d.Claims), &claims) != nil || claims["name"] != "N" || claims["acr"] != "pwd" {
				t.Errorf("claims %s", d.Claims)
			}
		}},
		{"auth time as a string", `{"userCode":"A","result":"AUTHORIZED","subject":"s","authTime":"1700000000"}`, "", nil},
		{"denied keeps no claims", `{"userCode":"A","result":"ACCESS_DENIED","claims":"{\"a\":1}","scopes":["openid"],"errorDescription":"no"}`, "", func(t *testing.T, q *deviceCompleteRequest) {
			d, _ := q.completion()
			if d.Approve || d.Claims != "" || d.Scopes != nil || d.ErrorCode != "access_denied" || d.ErrorDescription != "no" {
				t.Errorf("decision %+v", d)
			}
		}},
		{"failed", `{"userCode":"A","result":"TRANSACTION_FAILED"}`, "", func(t *testing.T, q *deviceCompleteRequest) {
			if d, _ := q.completion(); d.ErrorCode != "expired_token" {
				t.Errorf("decision %+v", d)
			}
		}},
		{"empty scopes keep the request's", `{"userCode":"A","result":"AUTHORIZED","subject":"s","scopes":[]}`, "", func(t *testing.T, q *deviceCompleteRequest) {
			if d, _ := q.completion(); d.Scopes != nil {
				t.Errorf("scopes %v", d.Scopes)
			}
		}},
		{"reserved claim", `{"userCode":"A","result":"AUTHORIZED","subject":"s","claims":"{\"aud\":\"x\"}"}`, "claims may not set aud: Latchkey sets it", nil},
		{"bad scope", `{"userCode":"A","result":"AUTHORIZED","subject":"s","scopes":["a b"]}`, "scopes holds something that is not a scope", nil},
		{"control character in subject", `{"userCode":"A","result":"AUTHORIZED","subject":"a\u0000b"}`, "subject must be text of at most 255 bytes", nil},
	} {
		var q deviceCompleteRequest
		if err := json.Unmarshal([]byte(tt.body), &q); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, msg := q.completion()
		if msg != tt.wantMsg {
			t.Errorf("%s: message %q, want %q", tt.name, msg, tt.wantMsg)
			continue
		}
		if tt.check != nil {
			tt.check(t, &q)
		}
	}
	var e epoch
	for _, bad := range []string{`-1`, `"x"`, `1.5`, `99999999999999`} {
		if e.UnmarshalJSON([]byte(bad)) == nil {
			t.Errorf("authTime %s accepted", bad)
		}
	}
}

// TestUnsetMembers: a member of Authlete's that Latchkey does not support
// is accepted when it says nothing, as an SDK sends it unasked (Java's 0
// and false), and refused, naming it and why, when it asks for something;
// in JSON and in a form alike.
func TestUnsetMembers(t *testing.T) {
	t.Parallel()
	read := func(contentType, body string, q request) error {
		r := httptest.NewRequest("POST", "/api/auth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		return readBody(httptest.NewRecorder(), r, q)
	}
	for _, tt := range []struct {
		name, contentType, body string
		q                       request
		want                    string // "" accepted
	}{
		{"java defaults", "application/json", `{"parameters":"grant_type=x","accessTokenDuration":0,"refreshTokenDuration":0,"dpopNonceRequired":false,"properties":null,"clientCertificatePath":[]}`, &tokenRequest{}, ""},
		{"a lifetime asked for", "application/json", `{"parameters":"grant_type=x","accessTokenDuration":60}`, &tokenRequest{}, "accessTokenDuration is not supported: token lifetimes are the client's token policy"},
		{"an access token of its own", "application/json", `{"parameters":"grant_type=x","accessToken":"abc"}`, &tokenRequest{}, "accessToken is not supported"},
		{"introspection defaults", "application/json", `{"token":"t","maxAge":0,"requestBodyContained":false,"dpopNonceRequired":false,"headers":[],"acrValues":null}`, &introspectionRequest{}, ""},
		{"introspection with a proof", "application/json", `{"token":"t","dpop":"eyJ.x.y","htm":"GET"}`, &introspectionRequest{}, "dpop is not supported: DPoP proofs are not checked at introspection"},
		{"sub for the ID token", "application/json", `{"userCode":"A","result":"AUTHORIZED","subject":"s","sub":"other"}`, &deviceCompleteRequest{}, "sub is not supported"},
		{"a certificate", "application/json", `{"parameters":"client_id=tv","clientCertificate":"-----BEGIN"}`, &deviceAuthorizationRequest{}, "clientCertificate is not supported: mutual-TLS"},
		{"a form's zero", "application/x-www-form-urlencoded", "token=t&maxAge=0&requestBodyContained=false", &introspectionRequest{}, ""},
		{"a form's value", "application/x-www-form-urlencoded", "token=t&maxAge=300", &introspectionRequest{}, "maxAge is not supported"},
		{"still unknown", "application/json", `{"token":"t","maxage2":0}`, &introspectionRequest{}, "unknown member 'maxage2'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := read(tt.contentType, tt.body, tt.q)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
