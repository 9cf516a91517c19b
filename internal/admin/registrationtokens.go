package admin

import (
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// RegistrationToken is an initial access token (RFC 7591 §3) as the API
// shows it. Token is only ever in the answer that made it.
type RegistrationToken struct {
	ID          string `json:"id"`
	Token       string `json:"token,omitempty"`
	Description string `json:"description"`
	UsesLeft    int    `json:"uses_left"`
	CreatedAt   string `json:"created_at"` // RFC 3339
	ExpiresAt   string `json:"expires_at"` // RFC 3339
}

// RegistrationTokenList is the answer to GET /admin/v1/registration-tokens.
type RegistrationTokenList struct {
	RegistrationTokens []RegistrationToken `json:"registration_tokens"`
}

type registrationTokenRequest struct {
	Description *string `json:"description"`
	Uses        *int    `json:"uses"`
	Lifetime    *int64  `json:"lifetime"` // seconds
}

// Limits on initial access tokens: a device maker registers a batch of
// units with one, so it may allow many uses, but not forever.
const (
	defaultTokenUses     = 1
	maxTokenUses         = 100000
	defaultTokenLifetime = 24 * 3600      // seconds
	maxTokenLifetime     = 90 * 24 * 3600 // seconds
)

// CreateRegistrationToken serves POST /admin/v1/registration-tokens: a new
// initial access token, shown once and stored as its SHA-256.
func (a *API) CreateRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	var req registrationTokenRequest
	if err := oauth.ReadJSON(w, r, &req); err != nil {
		return err
	}
	now := a.now()
	t := &store.RegistrationToken{UsesLeft: defaultTokenUses, CreatedAt: now, ExpiresAt: now.Add(defaultTokenLifetime * time.Second)}
	if v := req.Description; v != nil {
		if !oauth.CleanText(*v) || utf8.RuneCountInString(*v) > maxNameLength {
			return badRequest("description must be at most %d characters of text without control characters", maxNameLength)
		}
		t.Description = *v
	}
	if v := req.Uses; v != nil {
		if *v < 1 || *v > maxTokenUses {
			return badRequest("uses %d: want 1 to %d", *v, maxTokenUses)
		}
		t.UsesLeft = *v
	}
	if v := req.Lifetime; v != nil {
		if *v < 60 || *v > maxTokenLifetime {
			return badRequest("lifetime %d: want 60 to %d seconds", *v, maxTokenLifetime)
		}
		t.ExpiresAt = now.Add(time.Duration(*v) * time.Second)
	}
	id, err := a.newID()
	if err != nil {
		return err
	}
	secret, err := oauth.NewSecret(a.rand(), oauth.PrefixInitialAccess)
	if err != nil {
		return err
	}
	t.ID, t.Hash = id, oauth.HashSecret(secret)
	if err := a.Store.CreateRegistrationToken(r.Context(), t); err != nil {
		return err
	}
	a.log().InfoContext(r.Context(), "admin: registration token created", "id", t.ID, "uses", t.UsesLeft)
	a.record(r.Context(), audit.Change{Kind: audit.RegistrationTokenCreate, TargetID: t.ID, After: registrationTokenJSON(t, "")})
	w.Header().Set("Location", Prefix+"registration-tokens/"+url.PathEscape(t.ID))
	return oauth.WriteJSON(w, http.StatusCreated, registrationTokenJSON(t, secret))
}

// ListRegistrationTokens serves GET /admin/v1/registration-tokens: every
// token, used up and expired ones too until the sweeper takes them.
func (a *API) ListRegistrationTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.Store.ListRegistrationTokens(r.Context())
	if err != nil {
		return err
	}
	out := RegistrationTokenList{RegistrationTokens: make([]RegistrationToken, 0, len(ts))}
	for _, t := range ts {
		out.RegistrationTokens = append(out.RegistrationTokens, registrationTokenJSON(t, ""))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

// DeleteRegistrationToken serves DELETE /admin/v1/registration-tokens/{id}:
// the token registers nothing more. Clients it registered stay.
func (a *API) DeleteRegistrationToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := a.Store.DeleteRegistrationToken(r.Context(), id); err != nil {
		return storeError(err, "there is no registration token "+shorten(id), "")
	}
	a.log().InfoContext(r.Context(), "admin: registration token deleted", "id", id)
	a.record(r.Context(), audit.Change{Kind: audit.RegistrationTokenDelete, TargetID: id})
	oauth.NoStore(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func registrationTokenJSON(t *store.RegistrationToken, secret string) RegistrationToken {
	return RegistrationToken{ID: t.ID, Token: secret, Description: t.Description, UsesLeft: t.UsesLeft,
		CreatedAt: formatTime(t.CreatedAt), ExpiresAt: formatTime(t.ExpiresAt)}
}
