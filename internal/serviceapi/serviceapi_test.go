package serviceapi

import (
	"encoding/json"
	"slices"
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
			if d, _ := q.completion(); d.ErrorCode != "invalid_grant" {
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
