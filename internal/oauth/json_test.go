package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckMembersAcceptsNesting(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{}`,
		`{"a":[1,{"b":2,"c":[]},[[]]],"d":{"e":{"f":null}},"g":"h"}`,
		`{"a":{"x":1},"b":{"x":1}}`, // the same name in two objects
		`{"a":[{"x":1},{"x":2}]}`,
	} {
		if err := checkMembers([]byte(body)); err != nil {
			t.Errorf("checkMembers(%s) = %v, want nil", body, err)
		}
	}
}

// TestReadEmptyJSON: an action's body may be absent or an empty object,
// and nothing else.
func TestReadEmptyJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, ctype, body string
		status            int // 0: accepted
	}{
		{"no body", "", "", 0},
		{"white space", "", " \n", 0},
		{"an empty object", "application/json", "{}", 0},
		{"an empty object, charset", "application/json; charset=utf-8", " { } ", 0},
		{"an object with a member", "application/json", `{"token":"x"}`, 400},
		{"an empty object, no type", "", "{}", 400},
		{"an array", "application/json", "[]", 400},
		{"two objects", "application/json", "{}{}", 400},
		{"malformed", "application/json", "{", 400},
		{"a form", "application/x-www-form-urlencoded", "a=b", 400},
		{"too large", "application/json", "{" + strings.Repeat(" ", MaxJSONBytes) + "}", 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			err := ReadEmptyJSON(httptest.NewRecorder(), r)
			var oe *Error
			switch {
			case tt.status == 0 && err != nil:
				t.Errorf("ReadEmptyJSON = %v; want nil", err)
			case tt.status == 0:
			case !errors.As(err, &oe) || oe.Code != InvalidRequest:
				t.Errorf("ReadEmptyJSON = %v; want invalid_request", err)
			case max(oe.Status, http.StatusBadRequest) != tt.status:
				t.Errorf("ReadEmptyJSON status = %d; want %d", oe.Status, tt.status)
			}
		})
	}
}
