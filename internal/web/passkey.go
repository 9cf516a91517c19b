package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// Passkeys (WebAuthn Level 3, with github.com/go-webauthn/webauthn): a
// person registers passkeys on the account page and signs in with one on
// the sign-in page, by the "Sign in with a passkey" button or by picking
// it from the email field's autofill (conditional mediation). The relying
// party is the issuer: its host is the RP ID, its origin the only origin.
// A passkey sign-in asks the authenticator to verify the person (a PIN or
// a biometric), so it counts as both factors, and it spends nothing of the
// password's sign-in budgets: a guesser of passwords cannot lock a person
// with a passkey out.
//
// A ceremony's state (its challenge and what go-webauthn needs to check
// the answer) travels in the page, in a hidden field, signed with a key
// derived from CSRFKey and bound to this browser (its session, or its
// pre-session cookie) and to the ceremony (sign-in or registration). It
// expires after passkeyTimeout and is used once: the answer's challenge is
// counted in the store (store.Hit), so a second use of the same state is
// refused on every instance. The pages' script (static/passkey.js, served
// by us under the pages' CSP, script-src 'self'; no inline script) turns the options into the browser's
// navigator.credentials call and the answer into a form field.

//go:embed static/passkey.js
var staticFiles embed.FS

// passkeyTimeout is how long a ceremony's state is good for.
const passkeyTimeout = 5 * time.Minute

// maxPasskeys bounds the passkeys of one account.
const maxPasskeys = 20

// maxCredentialJSON bounds the authenticator's answer a form carries.
const maxCredentialJSON = 16 << 10

// Ceremony kinds, bound into a state's signature.
const (
	ceremonyLogin    = "login"
	ceremonyRegister = "register"
)

// PasskeyStore is what the passkey pages read and write.
type PasskeyStore interface {
	store.PasskeyStore
	GetUser(ctx context.Context, id string) (*store.User, error)
}

// DefaultPasskeyFailuresPerIP is how many failed passkey sign-ins one
// address may have in a LoginWindow.
const DefaultPasskeyFailuresPerIP = 100

// passkeys is the relying party, built from Issuer on first use; nil when
// passkeys are off (no Passkeys store, or an issuer a browser would not
// take as a relying party, such as an IP address).
type passkeyRP struct {
	once sync.Once
	wa   *webauthn.WebAuthn
}

func (p *Pages) relyingParty() *webauthn.WebAuthn {
	p.rp.once.Do(func() {
		if p.Passkeys == nil {
			return
		}
		u, err := url.Parse(p.Issuer)
		if err != nil || u.Hostname() == "" {
			return
		}
		origin := u.Scheme + "://" + u.Host
		wa, err := webauthn.New(&webauthn.Config{
			RPID:          u.Hostname(),
			RPDisplayName: "Latchkey",
			RPOrigins:     []string{origin},
			// A passkey is the person's own: verified at the authenticator
			// (it counts as both factors) and discoverable, so sign-in
			// needs no email first.
			AuthenticatorSelection: protocol.AuthenticatorSelection{
				ResidentKey:      protocol.ResidentKeyRequirementRequired,
				UserVerification: protocol.VerificationRequired,
			},
			AttestationPreference: protocol.PreferNoAttestation,
			Timeouts: webauthn.TimeoutsConfig{
				Login:        webauthn.TimeoutConfig{Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
				Registration: webauthn.TimeoutConfig{Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
			},
		})
		if err != nil || protocol.ValidateRPID(u.Hostname()) != nil || isIP(u.Hostname()) {
			p.log().Warn("passkeys are off: the issuer's host cannot be a WebAuthn relying party", "host", u.Hostname(), "err", err)
			return
		}
		p.rp.wa = wa
	})
	return p.rp.wa
}

// passkeysUnusable returns the issuer's host when passkeys are on (there
// is a Passkeys store) but browsers would refuse the issuer as a relying
// party (an IP address): the pages say why they offer none. "" otherwise.
func (p *Pages) passkeysUnusable() string {
	if p.Passkeys == nil || p.relyingParty() != nil {
		return ""
	}
	u, err := url.Parse(p.Issuer)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// isIP reports whether host is an IP address, which browsers refuse as an RP ID.
func isIP(host string) bool {
	return strings.Trim(host, "0123456789.") == "" || strings.Contains(host, ":")
}

// passkeyUser is a user as go-webauthn sees one: the user handle is the
// user's id (random, not personal).
type passkeyUser struct {
	u    *store.User
	keys []*store.Passkey
}

func (pu passkeyUser) WebAuthnID() []byte          { return []byte(pu.u.ID) }
func (pu passkeyUser) WebAuthnName() string        { return pu.u.Email }
func (pu passkeyUser) WebAuthnDisplayName() string { return pu.u.Name }
func (pu passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(pu.keys))
	for _, k := range pu.keys {
		id, err := base64.RawURLEncoding.DecodeString(k.ID)
		if err != nil {
			continue
		}
		transports := make([]protocol.AuthenticatorTransport, len(k.Transports))
		for i, t := range k.Transports {
			transports[i] = protocol.AuthenticatorTransport(t)
		}
		out = append(out, webauthn.Credential{
			ID: id, PublicKey: k.PublicKey, AttestationFormat: k.AttestationFormat, Transport: transports,
			Flags:         webauthn.CredentialFlagsFromMsgpByte(k.Flags),
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
		})
	}
	return out
}

// ceremonyState is what a ceremony's signed state carries.
type ceremonyState struct {
	Kind    string               `json:"k"`
	Expires int64                `json:"e"` // unix seconds
	Session webauthn.SessionData `json:"s"`
}

// stateMAC signs a state's payload for binding (csrfBinding) and kind.
func (p *Pages) stateMAC(binding, kind, payload string) []byte {
	k := hmac.New(sha256.New, p.CSRFKey)
	k.Write([]byte("latchkey webauthn state"))
	mac := hmac.New(sha256.New, k.Sum(nil))
	mac.Write([]byte(kind + "\x00" + binding + "\x00" + payload))
	return mac.Sum(nil)
}

// sealState returns the state field for a ceremony begun now.
func (p *Pages) sealState(binding, kind string, sd *webauthn.SessionData) (string, error) {
	sd.Expires = time.Time{} // checked against p.Now below, not the library's clock
	b, err := json.Marshal(ceremonyState{Kind: kind, Expires: p.Now().Add(passkeyTimeout).Unix(), Session: *sd})
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(p.stateMAC(binding, kind, payload)), nil
}

var errPasskeyExpired = errors.New("passkey ceremony state expired, replayed or forged")

// openState checks a state field (signature for this browser and kind,
// expiry) and spends it: a second use of the same state is refused.
func (p *Pages) openState(ctx context.Context, binding, kind, field string) (*webauthn.SessionData, error) {
	payload, sig, ok := strings.Cut(field, ".")
	if !ok || len(field) > 8<<10 {
		return nil, errPasskeyExpired
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, p.stateMAC(binding, kind, payload)) {
		return nil, errPasskeyExpired
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errPasskeyExpired
	}
	var st ceremonyState
	if err := json.Unmarshal(b, &st); err != nil || st.Kind != kind || st.Session.Challenge == "" {
		return nil, errPasskeyExpired
	}
	expires := time.Unix(st.Expires, 0)
	if !p.Now().Before(expires) {
		return nil, errPasskeyExpired
	}
	// Once: the challenge is counted in a window of its own that lives
	// until the state expires, on every instance.
	n, err := p.Store.Hit(ctx, "webauthn:"+kind+":"+st.Session.Challenge, expires, expires.Add(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("spend passkey challenge: %w", err)
	}
	if n > 1 {
		return nil, errPasskeyExpired
	}
	return &st.Session, nil
}

// csrfBinding is what a form of this browser is bound to (as checkCSRF).
func (p *Pages) csrfBinding(r *http.Request, s *store.Session) (string, bool) {
	if s != nil {
		return "session:" + s.Hash, true
	}
	if v, ok := p.browserCookie(r); ok {
		return "browser:" + v, true
	}
	return "", false
}

// passkeyView is what the sign-in page needs for a passkey sign-in.
type passkeyView struct {
	Options string // the request options, JSON, for the script
	State   string
}

// loginPasskey begins a discoverable sign-in for the sign-in page, or
// returns nil when passkeys are off.
// Call it after csrfFor, which gives a new browser its binding cookie.
func (p *Pages) loginPasskey(w http.ResponseWriter, r *http.Request, s *store.Session) (*passkeyView, error) {
	wa := p.relyingParty()
	if wa == nil {
		return nil, nil
	}
	binding, ok := p.csrfBinding(r, s)
	if !ok {
		// The cookie was set on this answer: the binding is that value.
		binding = "browser:" + cookieSet(w, p.cookieName(csrfCookieName))
	}
	opts, sd, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return p.passkeyView(w, binding, ceremonyLogin, opts, sd)
}

func (p *Pages) passkeyView(_ http.ResponseWriter, binding, kind string, opts any, sd *webauthn.SessionData) (*passkeyView, error) {
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	state, err := p.sealState(binding, kind, sd)
	if err != nil {
		return nil, err
	}
	return &passkeyView{Options: string(b), State: state}, nil
}

// cookieSet returns the value of the cookie name that w sets, or "".
func cookieSet(w http.ResponseWriter, name string) string {
	for _, line := range w.Header()["Set-Cookie"] {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			return c.Value
		}
	}
	return ""
}

var errPasskeysOff = &pageError{Status: http.StatusNotFound, Heading: "err.passkeys_off.heading",
	Text: "err.passkeys_off.text"}

// LoginPasskey serves POST /login/passkey: the answer of the sign-in
// page's passkey ceremony. Anyone may call it; what it proves is the
// passkey's signature over this browser's single-use challenge, and the
// passkey must be the account's that its user handle names.
func (p *Pages) LoginPasskey(w http.ResponseWriter, r *http.Request) error {
	wa := p.relyingParty()
	if wa == nil {
		return errPasskeysOff
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	s, _, err := p.Sessions.Current(r)
	if err != nil {
		return err
	}
	if err := p.checkCSRF(r, s, f); err != nil {
		return err
	}
	returnTo, _ := safeReturnTo(f.Get("return_to"))
	ctx := r.Context()
	again := func(notice string) error {
		return p.renderLogin(w, r, http.StatusBadRequest, s, nil, notice, "", returnTo)
	}
	// Failed passkey sign-ins have a budget per address of their own; the
	// password budgets are not touched.
	if p.LoginWindow <= 0 {
		return errors.New("web: Pages.LoginWindow must be positive")
	}
	key := "passkey:ip:" + p.throttleIP(r)
	window := p.Now().Truncate(p.LoginWindow)
	if n, err := p.Store.Count(ctx, key, window); err != nil {
		return fmt.Errorf("count failed passkey sign-ins: %w", err)
	} else if n >= orDefault(p.PasskeyFailuresPerIP, DefaultPasskeyFailuresPerIP) {
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, Reason: "passkey sign-in attempts"})
		retryAfter(w, windowEnd(p.Now(), p.LoginWindow))
		return errTooMany
	}
	fail := func(reason, userID string, cause error) error {
		if _, err := p.Store.Hit(ctx, key, window, window.Add(p.LoginWindow)); err != nil {
			return fmt.Errorf("count failed passkey sign-in: %w", err)
		}
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Failure, UserID: userID, Reason: reason})
		p.log().InfoContext(ctx, "passkey sign-in refused", "reason", reason, "err", cause)
		return again("login.passkey_failed")
	}

	binding, ok := p.csrfBinding(r, s)
	if !ok {
		return errForbidden
	}
	sd, err := p.openState(ctx, binding, ceremonyLogin, f.Get("state"))
	if errors.Is(err, errPasskeyExpired) {
		return fail("passkey challenge expired or used", "", err)
	}
	if err != nil {
		return err
	}
	cred := f.Get("credential")
	if cred == "" || len(cred) > maxCredentialJSON {
		return fail("no passkey answer", "", nil)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(cred))
	if err != nil {
		return fail("unreadable passkey answer", "", err)
	}
	var owner *store.User
	var used *store.Passkey
	lookup := func(rawID, userHandle []byte) (webauthn.User, error) {
		k, err := p.Passkeys.GetPasskey(ctx, base64.RawURLEncoding.EncodeToString(rawID))
		if err != nil {
			return nil, err
		}
		// The user handle must name the passkey's owner: another account's
		// passkey signs no one in here.
		if !hmac.Equal([]byte(k.UserID), userHandle) {
			return nil, errors.New("the user handle is not the passkey's owner")
		}
		u, err := p.Passkeys.GetUser(ctx, k.UserID)
		if err != nil {
			return nil, err
		}
		owner, used = u, k
		return passkeyUser{u: u, keys: []*store.Passkey{k}}, nil
	}
	_, c, err := wa.ValidatePasskeyLogin(lookup, *sd, parsed)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		uid := ""
		if owner != nil {
			uid = owner.ID
		}
		return fail("passkey not accepted", uid, err)
	}
	if c.Authenticator.CloneWarning {
		return fail("passkey sign count did not advance", owner.ID, nil)
	}
	err = p.Passkeys.UsePasskey(ctx, used.ID, c.Authenticator.SignCount, c.Flags.MsgpByte(), p.Now())
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return fail("passkey sign count did not advance, or it was removed", owner.ID, err)
	}
	if err != nil {
		return err
	}
	if owner.Disabled {
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Failure, UserID: owner.ID, Reason: "account disabled"})
		return &pageError{Status: http.StatusForbidden, Heading: "err.disabled.heading",
			Text: "err.disabled.text"}
	}
	if err := p.startSession(w, r, owner); err != nil {
		return err
	}
	secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Success, UserID: owner.ID, Reason: "passkey"})
	if returnTo == "" {
		returnTo = defaultReturn
	}
	return seeOther(w, returnTo)
}

// accountPasskeys is the account page's passkey section: the person's
// passkeys and a registration ceremony begun for a new one.
type accountPasskeys struct {
	List     []*store.Passkey
	Register *passkeyView // nil at the limit
	Max      int
	MaxName  int
	// Unusable is the issuer's host when browsers refuse it passkeys
	// (passkeysUnusable): the section says why there are none.
	Unusable string
}

func (p *Pages) accountPasskeys(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User) (*accountPasskeys, error) {
	if host := p.passkeysUnusable(); host != "" && s != nil {
		return &accountPasskeys{Unusable: host}, nil
	}
	wa := p.relyingParty()
	if wa == nil || s == nil {
		return nil, nil
	}
	keys, err := p.Passkeys.ListPasskeys(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	out := &accountPasskeys{List: keys, Max: maxPasskeys, MaxName: store.MaxPasskeyName}
	if len(keys) >= maxPasskeys {
		return out, nil
	}
	pu := passkeyUser{u: u, keys: keys}
	var exclude []protocol.CredentialDescriptor
	for _, c := range pu.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := wa.BeginRegistration(pu, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	out.Register, err = p.passkeyView(w, "session:"+s.Hash, ceremonyRegister, opts, sd)
	return out, err
}

// passkeyName reads a name for a passkey: trimmed, 1 to MaxPasskeyName
// bytes of text.
func passkeyName(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > store.MaxPasskeyName || !utf8.ValidString(s) || !oauth.CleanText(s) {
		return "", false
	}
	return s, true
}

const msgPasskeyName = "account.passkey_name_invalid"

// AddPasskey serves POST /account/passkeys: the answer of the account
// page's registration ceremony, named. Only the signed-in person, for
// their own account, with the page's CSRF token and single-use state.
func (p *Pages) AddPasskey(w http.ResponseWriter, r *http.Request) error {
	wa := p.relyingParty()
	if wa == nil {
		return errPasskeysOff
	}
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	name, ok := passkeyName(f["name"])
	if !ok {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, p.locale(r).T(msgPasskeyName, "n", store.MaxPasskeyName), "")
	}
	sd, err := p.openState(ctx, "session:"+s.Hash, ceremonyRegister, f["state"])
	if errors.Is(err, errPasskeyExpired) {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.passkey_expired", "")
	}
	if err != nil {
		return err
	}
	cred := f["credential"]
	if cred == "" || len(cred) > maxCredentialJSON {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.passkey_not_created", "")
	}
	keys, err := p.Passkeys.ListPasskeys(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(keys) >= maxPasskeys {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, p.locale(r).T("account.passkeys_full", "n", maxPasskeys), "")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(cred))
	if err != nil {
		p.log().InfoContext(ctx, "passkey registration refused", "user_id", u.ID, "err", err)
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.passkey_not_added", "")
	}
	c, err := wa.CreateCredential(passkeyUser{u: u, keys: keys}, *sd, parsed)
	if err != nil {
		p.log().InfoContext(ctx, "passkey registration refused", "user_id", u.ID, "err", err)
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.passkey_not_added", "")
	}
	transports := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		if oauth.CleanText(string(t)) && len(t) <= 32 {
			transports = append(transports, string(t))
		}
	}
	now := p.Now()
	err = p.Passkeys.CreatePasskey(ctx, &store.Passkey{
		ID: base64.RawURLEncoding.EncodeToString(c.ID), UserID: u.ID, PublicKey: c.PublicKey,
		SignCount: c.Authenticator.SignCount, Transports: transports, AAGUID: c.Authenticator.AAGUID,
		Flags: c.Flags.MsgpByte(), AttestationFormat: c.AttestationFormat, Name: name, CreatedAt: now,
	})
	if errors.Is(err, store.ErrConflict) {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.passkey_exists", "")
	}
	if err != nil {
		return fmt.Errorf("create passkey: %w", err)
	}
	p.log().InfoContext(ctx, "passkey added", "user_id", u.ID)
	if p.Links == nil {
		return seeOther(w, "/account?done=passkey-added")
	}
	if err := p.Links.Notify(ctx, p.locale(r), u.Email, u.Name, "passkey_added", "passkey", name); err != nil {
		return err
	}
	return seeOther(w, "/account?done=passkey-added")
}

// RenamePasskey serves POST /account/passkeys/rename: the signed-in
// person renames one of their own passkeys.
func (p *Pages) RenamePasskey(w http.ResponseWriter, r *http.Request) error {
	if p.relyingParty() == nil {
		return errPasskeysOff
	}
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	name, ok := passkeyName(f["name"])
	if !ok {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, p.locale(r).T(msgPasskeyName, "n", store.MaxPasskeyName), "")
	}
	err = p.Passkeys.RenamePasskey(r.Context(), u.ID, f["passkey_id"], name)
	if errors.Is(err, store.ErrNotFound) {
		return errNotYours
	}
	if err != nil {
		return fmt.Errorf("rename passkey: %w", err)
	}
	return seeOther(w, "/account?done=passkey-renamed")
}

// RemovePasskey serves POST /account/passkeys/remove: the signed-in
// person removes one of their own passkeys, which signs no one in again.
func (p *Pages) RemovePasskey(w http.ResponseWriter, r *http.Request) error {
	if p.relyingParty() == nil {
		return errPasskeysOff
	}
	f, _, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	err = p.Passkeys.DeletePasskey(r.Context(), u.ID, f["passkey_id"])
	if errors.Is(err, store.ErrNotFound) {
		return errNotYours
	}
	if err != nil {
		return fmt.Errorf("remove passkey: %w", err)
	}
	p.log().InfoContext(r.Context(), "passkey removed", "user_id", u.ID)
	return seeOther(w, "/account?done=passkey-removed")
}

// PasskeyScript serves GET /assets/passkey.js, the pages' one script.
// Anyone may fetch it; it is the same for everyone.
func (p *Pages) PasskeyScript(w http.ResponseWriter, r *http.Request) error {
	b, err := staticFiles.ReadFile("static/passkey.js")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
	return nil
}
