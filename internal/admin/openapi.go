package admin

import (
	_ "embed"
	"net/http"

	"github.com/latchkey/latchkey/internal/oauth"
)

// openAPIDocument describes every route of the API (OpenAPI 3.1); a test
// holds it and the route table to each other.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI serves GET /admin/v1/openapi.json.
func (a *API) OpenAPI(w http.ResponseWriter, r *http.Request) error {
	oauth.NoStore(w)
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDocument)
	return err
}
