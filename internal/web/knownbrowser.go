package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/store"
)

// Known browsers (docs/security.md UI-05). Wrong passwords are limited per
// account and network, so a guesser elsewhere cannot lock the owner out;
// a browser the owner signed in with before carries a signed mark of the
// account, and a sign-in from it spends a budget of its own, so neither a
// guesser on the owner's network nor one spread over many networks (the
// account's ceiling) locks the owner out of the browser they use. The mark
// is an HMAC under a key derived from the CSRF key (the same on every
// instance) of the account's id, the mark's id and its expiry; the mark's
// id names its budget in the store, so the budget holds across instances.
const (
	knownCookieName = "latchkey_known" // see Pages.cookieName
	// KnownBrowserLife is how long a mark lasts after the last sign-in
	// that set it.
	KnownBrowserLife = 180 * 24 * time.Hour
	// maxKnownAccounts is how many accounts one browser is known for: a
	// shared computer's few people.
	maxKnownAccounts = 5
	// DefaultLoginAccountCeiling is Pages.LoginAccountCeiling's default.
	DefaultLoginAccountCeiling = 100
)

type knownMark struct {
	UserID, ID string
	Expires    int64 // unix seconds
}

func (p *Pages) knownMAC(m knownMark) string {
	key := hmac.New(sha256.New, p.CSRFKey)
	key.Write([]byte("latchkey known browser key"))
	mac := hmac.New(sha256.New, key.Sum(nil))
	mac.Write([]byte(m.UserID + "\x00" + m.ID + "\x00" + strconv.FormatInt(m.Expires, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// knownMarks are the browser's marks that are ours and unexpired.
func (p *Pages) knownMarks(r *http.Request) []knownMark {
	c, err := r.Cookie(p.cookieName(knownCookieName))
	if err != nil || len(c.Value) > 2048 {
		return nil
	}
	now := p.Now().Unix()
	var out []knownMark
	for part := range strings.SplitSeq(c.Value, "~") {
		f := strings.Split(part, ".")
		if len(f) != 4 {
			continue
		}
		user, err := base64.RawURLEncoding.DecodeString(f[0])
		exp, err2 := strconv.ParseInt(f[2], 10, 64)
		if err != nil || err2 != nil || exp < now || f[1] == "" {
			continue
		}
		m := knownMark{UserID: string(user), ID: f[1], Expires: exp}
		if hmac.Equal([]byte(f[3]), []byte(p.knownMAC(m))) && len(out) < maxKnownAccounts {
			out = append(out, m)
		}
	}
	return out
}

// rememberBrowser marks the browser as known for userID, who has just
// signed in: the account's mark first (keeping its id, so its budget),
// then the browser's marks of other accounts.
func (p *Pages) rememberBrowser(w http.ResponseWriter, r *http.Request, userID string) {
	marks := []knownMark{{UserID: userID, ID: rand.Text(), Expires: p.Now().Add(KnownBrowserLife).Unix()}}
	for _, m := range p.knownMarks(r) {
		switch {
		case m.UserID == userID:
			marks[0].ID = m.ID
		case len(marks) < maxKnownAccounts:
			marks = append(marks, m)
		}
	}
	parts := make([]string, len(marks))
	for i, m := range marks {
		parts[i] = base64.RawURLEncoding.EncodeToString([]byte(m.UserID)) + "." + m.ID + "." +
			strconv.FormatInt(m.Expires, 10) + "." + p.knownMAC(m)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(knownCookieName),
		Value:    strings.Join(parts, "~"),
		Path:     "/",
		MaxAge:   int(KnownBrowserLife / time.Second),
		Secure:   p.Sessions.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// startSession signs u in on this browser and marks it as known for u.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, u *store.User) error {
	if _, err := p.Sessions.Start(w, r, u); err != nil {
		return err
	}
	p.rememberBrowser(w, r, u.ID)
	return nil
}

// loginBudgets are the budgets a password attempt for email spends: a
// browser known for the account spends its own alone; any other, the
// account's on its network, its address's, and the account's ceiling over
// every network. The account is looked up only for a browser with a mark
// (any account's), so that lookup's time says nothing about email.
func (p *Pages) loginBudgets(ctx context.Context, r *http.Request, email string) ([]budget, error) {
	if marks := p.knownMarks(r); len(marks) > 0 && len(email) <= maxEmailLength {
		u, err := p.Store.GetUserByEmail(ctx, email)
		switch {
		case err == nil:
			for _, m := range marks {
				if m.UserID == u.ID {
					return []budget{{"login:known:" + m.ID, p.LoginPerAccount}}, nil
				}
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("get user: %w", err)
		}
	}
	ip := p.throttleIP(r)
	network := clientip.NetworkKey(p.clientIP(r))
	if network == "" {
		network = ip
	}
	ceiling := p.LoginAccountCeiling
	if ceiling <= 0 {
		ceiling = max(DefaultLoginAccountCeiling, p.LoginPerAccount)
	}
	return []budget{
		{"login:user:" + email + " net:" + network, p.LoginPerAccount},
		{"login:ip:" + ip, p.LoginPerIP},
		{"login:user:" + email, ceiling},
	}, nil
}
