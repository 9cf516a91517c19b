package admin

import (
	"bytes"
	"io"
	"net/http"

	"github.com/latchkey/latchkey/internal/oauth"
)

// MaxBodyBytes caps a request body; a client's metadata is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// readEmpty accepts a request that should carry no body, or an empty object.
func readEmpty(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return badRequest("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return oauth.ReadJSON(w, r, &struct{}{})
}
