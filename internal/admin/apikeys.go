package admin

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Service API keys: the credentials of the service API (/api/…, package
// serviceapi), which a company's own front end calls. The secret is shown
// once, when the key is created or rotated, and stored hashed. A key is
// accepted by the service API only; the admin token only here.

// apiKeyRequest is the body of POST /admin/v1/api-keys.
type apiKeyRequest struct {
	Name string `json:"name"`
}

// APIKey is a service API key as the admin API shows it; Secret only in
// the answer that made it.
type APIKey struct {
	APIKey    string `json:"api_key"`
	Name      string `json:"name"`
	Secret    string `json:"api_secret,omitempty"`
	CreatedAt string `json:"created_at"`           // RFC 3339
	RotatedAt string `json:"rotated_at,omitempty"` // RFC 3339; absent until rotated
}

func apiKeyView(k *store.ServiceKey, secret string) APIKey {
	v := APIKey{APIKey: k.ID, Name: k.Name, Secret: secret, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
	if !k.RotatedAt.IsZero() {
		v.RotatedAt = k.RotatedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// maxKeyName bounds a key's name: a label for people.
const maxKeyName = 200

// CreateAPIKey makes a service API key and shows its secret, once.
func (a *API) CreateAPIKey(w http.ResponseWriter, r *http.Request) error {
	var req apiKeyRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" || len(req.Name) > maxKeyName || !oauth.CleanText(req.Name) {
		return badRequest("name: want text of 1 to %d bytes", maxKeyName)
	}
	id, err := a.newKeyID()
	if err != nil {
		return err
	}
	secret, err := oauth.NewSecret(a.rand(), oauth.PrefixServiceSecret)
	if err != nil {
		return err
	}
	k := &store.ServiceKey{ID: id, Name: req.Name, SecretHash: oauth.HashSecret(secret), CreatedAt: a.now()}
	if err := a.Store.CreateServiceKey(r.Context(), k); err != nil {
		return storeError(err, "", "a key with that id exists already: try again")
	}
	a.log().InfoContext(r.Context(), "admin: service API key created", "api_key", k.ID)
	a.record(r.Context(), audit.Change{Kind: audit.ServiceKeyCreate, TargetID: k.ID, After: apiKeyView(k, "")})
	w.Header().Set("Location", Prefix+"api-keys/"+url.PathEscape(k.ID))
	return oauth.WriteJSON(w, http.StatusCreated, apiKeyView(k, secret))
}

// ListAPIKeys lists the service API keys, without secrets.
func (a *API) ListAPIKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := a.Store.ListServiceKeys(r.Context())
	if err != nil {
		return err
	}
	out := make([]APIKey, len(ks))
	for i, k := range ks {
		out[i] = apiKeyView(k, "")
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// RotateAPIKey gives a key a new secret and shows it, once; the old one
// stops working at once.
func (a *API) RotateAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := oauth.ReadEmptyJSON(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	secret, err := oauth.NewSecret(a.rand(), oauth.PrefixServiceSecret)
	if err != nil {
		return err
	}
	k, err := a.Store.RotateServiceKey(r.Context(), id, oauth.HashSecret(secret), a.now())
	if err != nil {
		return storeError(err, "there is no API key "+shorten(id), "")
	}
	a.log().InfoContext(r.Context(), "admin: service API key rotated", "api_key", k.ID)
	a.record(r.Context(), audit.Change{Kind: audit.ServiceKeyRotate, TargetID: k.ID, After: apiKeyView(k, "")})
	return oauth.WriteJSON(w, http.StatusOK, apiKeyView(k, secret))
}

// RevokeAPIKey deletes a key: its secret stops working at once.
func (a *API) RevokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := a.Store.DeleteServiceKey(r.Context(), id); err != nil {
		return storeError(err, "there is no API key "+shorten(id), "")
	}
	a.log().InfoContext(r.Context(), "admin: service API key revoked", "api_key", id)
	a.record(r.Context(), audit.Change{Kind: audit.ServiceKeyRevoke, TargetID: id})
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newKeyID draws a key id: twelve digits, as Authlete's API keys are
// numbers. It is public; the secret is what authenticates.
func (a *API) newKeyID() (string, error) {
	n, err := rand.Int(a.rand(), big.NewInt(9e11))
	if err != nil {
		return "", fmt.Errorf("draw key id: %w", err)
	}
	return fmt.Sprint(n.Int64() + 1e11), nil
}
