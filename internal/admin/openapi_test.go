package admin

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/org"
)

// TestOpenAPIMatchesRoutes holds the document and the route table to each
// other: every route is described, and nothing else is.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var registered []string
	for _, op := range operations(&API{}) {
		registered = append(registered, op.pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("routes (-registered +documented):\n%s", diff)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.do(t, "GET", "/admin/v1/openapi.json", "")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if !json.Valid(w.Body.Bytes()) || w.Body.Len() != len(openAPIDocument) {
		t.Errorf("the served document is not the embedded one")
	}
}

// TestOpenAPISchemasMatchTypes holds the documented members of the JSON
// objects to the Go types that write and read them.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	for schema, v := range map[string]any{
		"Client":           Client{},
		"ClientInput":      clientRequest{},
		"Grant":            Grant{},
		"PasswordReset":    PasswordReset{},
		"MemberInvitation": org.MemberInvitationJSON{},
	} {
		var documented, members []string
		for name := range doc.Components.Schemas[schema].Properties {
			documented = append(documented, name)
		}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			members = append(members, name)
		}
		if schema == "ClientInput" {
			// Known to the decoder only to refuse them with a clear answer.
			members = slices.DeleteFunc(members, func(m string) bool {
				return m == "client_secret" || m == "created_at" || m == "updated_at"
			})
		}
		slices.Sort(documented)
		slices.Sort(members)
		if diff := cmp.Diff(members, documented); diff != "" {
			t.Errorf("schema %s (-Go +documented):\n%s", schema, diff)
		}
	}
}
