package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func postForm(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestParseForm(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name       string
		method     string
		body       string
		ct         string
		wantStatus int // 0: success
		want       Form
	}{
		{"plain", "POST", "grant_type=x&client_id=a", form, 0, Form{"grant_type": "x", "client_id": "a"}},
		{"charset tolerated", "POST", "a=1", form + "; charset=UTF-8", 0, Form{"a": "1"}},
		{"empty body", "POST", "", form, 0, Form{}},
		{"plus is space", "POST", "scope=a+b", form, 0, Form{"scope": "a b"}},
		{"GET", "GET", "", form, 405, nil},
		{"PUT", "PUT", "a=1", form, 405, nil},
		{"json", "POST", `{"a":1}`, "application/json", 400, nil},
		{"no content type", "POST", "a=1", "", 400, nil},
		{"multipart", "POST", "a=1", "multipart/form-data; boundary=x", 400, nil},
		{"text/plain", "POST", "a=1", "text/plain", 400, nil},
		{"duplicate", "POST", "client_id=a&client_id=b", form, 400, nil},
		{"duplicate same value", "POST", "code=a&code=a", form, 400, nil},
		{"NUL", "POST", "client_id=abc%00", form, 400, nil},
		{"NUL in name", "POST", "client%00id=abc", form, 400, nil},
		{"invalid UTF-8", "POST", "client_id=%FF%FE", form, 400, nil},
		{"overlong encoding", "POST", "client_id=%C0%AF", form, 400, nil},
		{"bad escape", "POST", "a=%zz", form, 400, nil},
		{"lone percent", "POST", "a=%", form, 400, nil},
		{"semicolon separator", "POST", "a=1;b=2", form, 400, nil},
		{"newline", "POST", "a=1%0A2", form, 400, nil},
		{"too large", "POST", "a=" + strings.Repeat("x", MaxBodyBytes), form, 413, nil},
		{"long parameter", "POST", "a=" + strings.Repeat("x", MaxParamBytes+1), form, 400, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(tt.body, tt.ct)
			r.Method = tt.method
			w := httptest.NewRecorder()
			got, err := ParseForm(w, r)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("ParseForm: %v", err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("ParseForm = %v; want %v", got, tt.want)
				}
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("ParseForm[%q] = %q; want %q", k, got[k], v)
					}
				}
				return
			}
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("ParseForm error = %v; want *Error", err)
			}
			if oe.StatusCode() != tt.wantStatus || oe.Code != InvalidRequest {
				t.Errorf("ParseForm error = %d %s; want %d invalid_request", oe.StatusCode(), oe.Code, tt.wantStatus)
			}
			if tt.wantStatus == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q; want POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestParseFormIgnoresQuery(t *testing.T) {
	t.Parallel()
	// RFC 6749 §2.3.1 and docs/security.md BI-08: the query string is
	// never merged with the body.
	r := postForm("grant_type=x", "application/x-www-form-urlencoded")
	r.URL.RawQuery = "client_secret=s&code=c"
	got, err := ParseForm(httptest.NewRecorder(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Has("client_secret") || got.Has("code") {
		t.Errorf("ParseForm read the query: %v", got)
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	errDown := errors.New("database unavailable") // what the server passes as Unavailable
	for _, tt := range []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{"oauth error", &Error{Code: InvalidGrant, Description: "unknown device_code"}, 400, `{"error":"invalid_grant","error_description":"unknown device_code"}`},
		{"internal error hides detail", errors.New("sql: database is locked"), 500, `{"error":"server_error","error_description":"internal error"}`},
		{"unavailable", fmt.Errorf("poll: %w", errors.Join(errDown, errors.New("dial tcp"))), 503, `{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable"}`},
		{"client auth", ClientAuthFailed(), 401, `{"error":"invalid_client","error_description":"client authentication failed"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ErrorWriter{Unavailable: errDown}.Write(w, httptest.NewRequest("POST", "/", nil), tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d", w.Code, tt.wantStatus)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.wantBody {
				t.Errorf("body = %s; want %s", got, tt.wantBody)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if tt.wantStatus == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.wantStatus == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a=%00", "a=1&a=2", "%zz", "scope=a+b", "a=%FF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseQuery(s)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != InvalidRequest {
				t.Fatalf("ParseQuery(%q) error %v is not invalid_request", s, err)
			}
			return
		}
		for k, v := range got {
			if !cleanText(k) || !cleanText(v) {
				t.Fatalf("ParseQuery(%q) let through %q=%q", s, k, v)
			}
		}
	})
}
