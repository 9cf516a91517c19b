package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxJSONBytes caps a JSON request body (the admin API, the invitation
// endpoints): their objects are a few hundred bytes.
const MaxJSONBytes = 64 << 10

// BadRequestf is an invalid_request error with a formatted description,
// kept within the characters RFC 6749 §5.2 allows.
func BadRequestf(format string, args ...any) *Error {
	return &Error{Code: InvalidRequest, Description: Describe(fmt.Sprintf(format, args...))}
}

// Describe keeps an error description within the characters RFC 6749 §5.2
// allows (%x20-21 / %x23-5B / %x5D-7E), since descriptions echo input.
func Describe(s string) string {
	s = strings.ReplaceAll(s, "§", "section ")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// Shorten cuts an echoed input down to a length fit for a description.
func Shorten(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}

// ReadJSON decodes the body of r into v, strictly: the content type must be
// application/json, the body at most MaxJSONBytes of UTF-8 holding one JSON
// object, with no unknown and no repeated members. encoding/json would
// otherwise replace invalid UTF-8, let the last of two equal keys win, and
// ignore members it does not know; each of those hides a caller's mistake.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return BadRequestf("the body must be application/json")
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequestf("the body is empty: want a JSON object")
	}
	if !utf8.Valid(body) {
		return BadRequestf("the body is not valid UTF-8")
	}
	if err := checkMembers(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// ReadEmptyJSON accepts a request that should carry no body (an action on
// the resource its path names): none at all, or an empty JSON object, read
// as strictly as ReadJSON reads any.
func ReadEmptyJSON(w http.ResponseWriter, r *http.Request) error {
	body, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return ReadJSON(w, r, &struct{}{})
}

// readJSONBody reads r's body, at most MaxJSONBytes (413 beyond).
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &Error{Code: InvalidRequest, Description: "the body is larger than 64 KiB", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, BadRequestf("the body could not be read")
	}
	return body, nil
}

// checkMembers walks the JSON tokens: the body must be exactly one object,
// and no object may repeat a member name. Names are compared without case,
// as encoding/json matches them to fields without case.
func checkMembers(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type object struct {
		names map[string]bool
		atKey bool // the next token is a member name or '}'
	}
	var stack []*object // nil entries are arrays
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].atKey = true
		}
	}
	for i := 0; ; i++ {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return BadRequestf("the body is not valid JSON: %v", err)
		}
		if i > 0 && len(stack) == 0 {
			return BadRequestf("the body must hold a single JSON object")
		}
		if i == 0 && tok != json.Delim('{') {
			return BadRequestf("the body must be a JSON object")
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].atKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			name, _ := tok.(string) // the decoder allows nothing else here
			key := strings.ToLower(name)
			if stack[n-1].names[key] {
				return BadRequestf("member %s appears more than once", Shorten(name))
			}
			stack[n-1].names[key] = true
			stack[n-1].atKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{names: map[string]bool{}, atKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// decodeError says what was wrong with a body that checkMembers accepted.
func decodeError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return BadRequestf("the body must be a JSON object")
		}
		return BadRequestf("%s: want %s", te.Field, kind(te.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return BadRequestf("unknown member %s", Shorten(name))
	}
	return BadRequestf("the body is not valid JSON: %v", err)
}

// kind names a Go type as a JSON type, for error descriptions.
func kind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(kind(t.Elem()), "a ") + "s"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return kind(t.Elem())
	}
	return "another type"
}
