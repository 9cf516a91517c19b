package oauth

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// descriptionChars is what RFC 6749 §4.1.2.1 and §5.2 allow in
// error_description.
var descriptionChars = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]*$`)

func TestDescription(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`grant_type "password" is not supported`, `grant_type 'password' is not supported`},
		{"a\tb\nc\r\\d", "a b c /d"},
		{"scope café…", "scope caf?..."},
		{"nul\x00 and del\x7f", "nul? and del?"},
		{"\xff invalid UTF-8", "? invalid UTF-8"},
	} {
		got := Description(tt.in)
		if got != tt.want {
			t.Errorf("Description(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !descriptionChars.MatchString(got) {
			t.Errorf("Description(%q) = %q has characters RFC 6749 forbids", tt.in, got)
		}
	}
	if long := Description(strings.Repeat("…", 200)); len(long) != 300 {
		t.Errorf("Description of 200 ellipses has %d bytes, want 300", len(long))
	}
}

// TestWriteErrorDescription: whatever an error's description holds, the
// body's error_description is within RFC 6749's characters.
func TestWriteErrorDescription(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	ErrorWriter{}.Write(w, httptest.NewRequest("POST", "/oauth2/token", nil),
		BadRequest(`parameter "\scope\" is repeated…`+"\n"))
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if want := `parameter '/scope/' is repeated... `; body.Description != want {
		t.Errorf("error_description = %q, want %q", body.Description, want)
	}
}
