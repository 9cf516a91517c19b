package console

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The signing keys' page: every key with its state, and rotating them
// (package keys: the new key is published at once and signs after the
// publish delay), confirmed and re-authenticated.

var keysTemplate = page("keys")

// Keys rotates signing keys: the server's keys.Manager.
type Keys interface {
	Rotate(ctx context.Context, alg string) (*store.SigningKey, error)
}

type keyView struct {
	ID, Algorithm                  string
	CreatedAt, NotBefore, NotAfter time.Time
	State                          string // keySigning, keyPublished or keyRetired
}

// A signing key's states on the page (keyStateKeys has their words).
const (
	keySigning   = "signing"
	keyPublished = "published" // not signing yet
	keyRetired   = "retired"   // still published
)

type keysPage struct {
	Keys []keyView
}

// SigningKeys serves GET /console/keys.
func (c *Console) SigningKeys(rq *request) error {
	ks, err := c.Store.ListSigningKeys(rq.ctx)
	if err != nil {
		return err
	}
	now := c.now()
	p := keysPage{}
	for _, k := range ks {
		v := keyView{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, NotBefore: k.NotBefore, NotAfter: k.NotAfter, State: keySigning}
		switch {
		case now.Before(k.NotBefore):
			v.State = keyPublished
		case !k.NotAfter.IsZero() && !now.Before(k.NotAfter):
			v.State = keyRetired
		}
		p.Keys = append(p.Keys, v)
	}
	slices.Reverse(p.Keys) // newest first
	return c.render(rq, http.StatusOK, keysTemplate, "keys", rq.T("console.nav.keys"), "", p)
}

func rotateKeysConfirm(rq *request, password bool) confirmPage {
	return confirmPage{Heading: rq.T("console.keys.rotate_heading"),
		Text:   rq.T("console.keys.rotate_text"),
		Action: "/console/keys/rotate", Button: rq.T("console.keys.rotate"), Danger: true, Password: password, Back: "/console/keys", Nav: "keys"}
}

// RotateKeysForm serves GET /console/keys/rotate: the confirmation.
func (c *Console) RotateKeysForm(rq *request) error {
	return c.confirm(rq, http.StatusOK, "", rotateKeysConfirm(rq, c.needsPassword(rq)))
}

// RotateKeys serves POST /console/keys/rotate, re-authenticated: a new key
// of every algorithm, each recorded in the audit log.
func (c *Console) RotateKeys(rq *request) error {
	if ok, err := c.reauthenticated(rq); err != nil {
		return err
	} else if !ok {
		return c.confirm(rq, http.StatusForbidden, rq.reauthNotice(), rotateKeysConfirm(rq, true))
	}
	for _, alg := range keys.Algorithms {
		k, err := c.Keys.Rotate(rq.ctx, alg)
		if err != nil {
			return err
		}
		_ = c.Audit.Record(rq.ctx, audit.Change{Kind: audit.SigningKeyRotate, TargetID: k.ID,
			After: map[string]any{"kid": k.ID, "alg": k.Algorithm, "signs_from": k.NotBefore.UTC().Format(time.RFC3339)}})
	}
	return web.SeeOther(rq.w, "/console/keys?done=keys-rotated")
}
