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
	State                          string
}

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
		v := keyView{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, NotBefore: k.NotBefore, NotAfter: k.NotAfter, State: "signing"}
		switch {
		case now.Before(k.NotBefore):
			v.State = "published, not yet signing"
		case !k.NotAfter.IsZero() && !now.Before(k.NotAfter):
			v.State = "retired, still published"
		}
		p.Keys = append(p.Keys, v)
	}
	slices.Reverse(p.Keys) // newest first
	return c.render(rq, http.StatusOK, keysTemplate, "keys", "Signing keys", "", p)
}

func rotateKeysConfirm(password bool) confirmPage {
	return confirmPage{Heading: "Rotate the signing keys",
		Text: "A new ES256 and a new RS256 key are published now and sign once every instance has loaded them (the publish delay); " +
			"the current keys then stop signing and stay published until the tokens they signed have expired.",
		Action: "/console/keys/rotate", Button: "Rotate the keys", Danger: true, Password: password, Back: "/console/keys", Nav: "keys"}
}

// RotateKeysForm serves GET /console/keys/rotate: the confirmation.
func (c *Console) RotateKeysForm(rq *request) error {
	return c.confirm(rq, http.StatusOK, "", rotateKeysConfirm(c.needsPassword(rq)))
}

// RotateKeys serves POST /console/keys/rotate, re-authenticated: a new key
// of every algorithm, each recorded in the audit log.
func (c *Console) RotateKeys(rq *request) error {
	if ok, err := c.reauthenticated(rq); err != nil {
		return err
	} else if !ok {
		return c.confirm(rq, http.StatusForbidden, reauthNotice, rotateKeysConfirm(true))
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
