package oauth

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestClientCredentialsFrom(t *testing.T) {
	t.Parallel()
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	for _, tt := range []struct {
		name     string
		header   string
		form     Form
		want     ClientCredentials
		wantCode string
	}{
		{"basic", basic("dev", "s3cret"), Form{}, ClientCredentials{ID: "dev", Secret: "s3cret", Basic: true}, ""},
		{"basic with encoded colon", basic("a:b%", "x:y"), Form{}, ClientCredentials{ID: "a:b%", Secret: "x:y", Basic: true}, ""},
		{"basic with empty secret", basic("dev", ""), Form{}, ClientCredentials{}, InvalidClient},
		{"post", "", Form{"client_id": "dev", "client_secret": "s"}, ClientCredentials{ID: "dev", Secret: "s"}, ""},
		{"public", "", Form{"client_id": "dev"}, ClientCredentials{ID: "dev"}, ""},
		{"none at all", "", Form{}, ClientCredentials{}, InvalidClient},
		{"two methods", basic("dev", "s"), Form{"client_secret": "s"}, ClientCredentials{}, InvalidRequest},
		{"ids differ", basic("dev", "s"), Form{"client_id": "other"}, ClientCredentials{}, InvalidRequest},
		{"basic, empty body parameters", basic("dev", "s"), Form{"client_id": "", "client_secret": ""},
			ClientCredentials{ID: "dev", Secret: "s", Basic: true}, ""},
		{"basic, the same client_id in the body", basic("dev", "s"), Form{"client_id": "dev"},
			ClientCredentials{ID: "dev", Secret: "s", Basic: true}, ""},
		{"bearer", "Bearer abc", Form{}, ClientCredentials{}, InvalidClient},
		{"bad base64", "Basic !!!", Form{}, ClientCredentials{}, InvalidClient},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("devsecret")), Form{}, ClientCredentials{}, InvalidClient},
		{"empty", "Basic ", Form{}, ClientCredentials{}, InvalidClient},
		{"NUL in id", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin%00:x")), Form{}, ClientCredentials{}, InvalidClient},
		{"bad escape", "Basic " + base64.StdEncoding.EncodeToString([]byte("a%zz:x")), Form{}, ClientCredentials{}, InvalidClient},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, err := ClientCredentialsFrom(r, tt.form)
			if tt.wantCode != "" {
				var oe *Error
				if !errors.As(err, &oe) || oe.Code != tt.wantCode {
					t.Fatalf("ClientCredentialsFrom error = %v; want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ClientCredentialsFrom = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		want   []string
		wantOK bool
	}{
		{"", nil, true},
		{"openid", []string{"openid"}, true},
		{"openid profile openid", []string{"openid", "profile"}, true},
		{"openid  profile", nil, false},
		{" openid", nil, false},
		{`a"b`, nil, false},
		{`a\b`, nil, false},
		{"é", nil, false},
	} {
		got, err := ParseScope(tt.in)
		if (err == nil) != tt.wantOK || len(got) != len(tt.want) {
			t.Errorf("ParseScope(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.wantOK)
		}
	}
}

// FuzzClientCredentialsFrom: whatever the Authorization header and body
// parameters, reading the client's credentials never panics, and either
// fails with invalid_client or invalid_request, or yields an id (and a
// secret for Basic) without control characters, which is what the store
// is asked to look up (docs/security.md BI-13: Basic auth decoding).
func FuzzClientCredentialsFrom(f *testing.F) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	// hasID and hasSecret send the parameter even when empty (TE-06).
	for _, seed := range []struct {
		header, id, secret string
		hasID, hasSecret   bool
	}{
		{basic("dev", "s3cret"), "", "", false, false},
		{basic("dev", "s3cret"), "", "", true, true},
		{basic("a:b%", "x:y"), "a:b%", "", true, false},
		{basic("dev", ""), "", "", false, false},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("admin%00:x")), "", "", false, false},
		{"Basic !!!", "", "", false, false},
		{"Bearer abc", "dev", "s", true, true},
		{"", "dev", "", true, false},
		{"", "", "s", false, true},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%")), "other", "s", true, true},
	} {
		f.Add(seed.header, seed.id, seed.secret, seed.hasID, seed.hasSecret)
	}
	f.Fuzz(func(t *testing.T, header, id, secret string, hasID, hasSecret bool) {
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		form := Form{}
		if hasID {
			form["client_id"] = id
		}
		if hasSecret {
			form["client_secret"] = secret
		}
		got, err := ClientCredentialsFrom(r, form)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || (oe.Code != InvalidClient && oe.Code != InvalidRequest) {
				t.Fatalf("ClientCredentialsFrom = %v, want invalid_client or invalid_request", err)
			}
			return
		}
		if got.ID == "" {
			t.Fatalf("ClientCredentialsFrom = %+v with no id and no error", got)
		}
		if got.Basic && (!cleanText(got.ID) || !cleanText(string(got.Secret)) || got.Secret == "") {
			t.Fatalf("Basic credentials %q / %q hold control characters or no secret", got.ID, got.Secret)
		}
	})
}
