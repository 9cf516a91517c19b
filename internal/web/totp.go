package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"rsc.io/qr"

	"github.com/latchkey/latchkey/internal/secevent"
	"github.com/latchkey/latchkey/internal/store"
)

// The TOTP second factor (RFC 6238, with github.com/pquerna/otp): a person
// enrols on the account page by scanning a QR code (our SVG, drawn on the
// server and put in the page) into an authenticator app and entering one
// code, and gets ten recovery codes, shown once and stored hashed. From then
// on, sign-in with the password asks for a code on a second page. A code is
// accepted once: its time step must be after the last accepted one
// (store.UseTOTPStep, one conditional update). Attempts at the second step
// are counted per account in the store. A passkey sign-in needs no second
// step (a passkey is both factors).
//
// Who must have a second factor is SecondFactor: "off" (no one; people may
// still enrol), "admins" (system administrators and organization admins),
// "all". Someone who must and has none is sent, signed in, to the account
// page to set it up.

func init() {
	for _, name := range []string{"second_factor", "totp_setup", "totp_codes"} {
		builtinPage(name)
	}
}

// Second factor policies (accounts.second_factor).
const (
	SecondFactorOff    = "off"
	SecondFactorAdmins = "admins"
	SecondFactorAll    = "all"
)

// TOTPStore is what the second factor's pages read and write.
type TOTPStore interface {
	store.TOTPStore
	GetUser(ctx context.Context, id string) (*store.User, error)
}

// recoveryCodes is how many recovery codes an enrolment gets.
const recoveryCodes = 10

// secondStepTimeout is how long the second step's page is good for.
const secondStepTimeout = 5 * time.Minute

const ceremonySecondFactor = "second-factor"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpStep returns the time step (RFC 6238 §4) of the 6-digit code for
// secret at now or one step either side (§5.2's allowance for clock drift
// and typing), and whether there was one.
func totpStep(secret []byte, code string, now time.Time) (int64, bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	s := b32.EncodeToString(secret)
	cur := now.Unix() / 30
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(s, time.Unix(step*30, 0), totp.ValidateOpts{
			Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// normalizeRecovery is a recovery code as it is hashed: lower case, without
// the spaces and dashes a person may type.
func normalizeRecovery(code string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(code))
}

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte("latchkey recovery code\x00" + normalizeRecovery(code)))
	return hex.EncodeToString(sum[:])
}

// newRecoveryCodes draws n codes of 10 base32 characters (50 bits each),
// shown as xxxxx-xxxxx.
func newRecoveryCodes(r io.Reader, n int) ([]string, error) {
	codes := make([]string, n)
	for i := range codes {
		b := make([]byte, 7)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		s := strings.ToLower(b32.EncodeToString(b))[:10]
		codes[i] = s[:5] + "-" + s[5:]
	}
	return codes, nil
}

func (p *Pages) rand() io.Reader {
	if p.Rand != nil {
		return p.Rand
	}
	return rand.Reader
}

// secondFactorRequired reports whether u must sign in with a second factor.
func (p *Pages) secondFactorRequired(ctx context.Context, u *store.User) (bool, error) {
	switch p.SecondFactor {
	case SecondFactorAll:
		return true, nil
	case SecondFactorAdmins:
		if u.Sysadmin {
			return true, nil
		}
		return p.TOTP.IsOrgAdmin(ctx, u.ID)
	}
	return false, nil
}

// enrolURL is where someone who must have a second factor and has none is
// sent: the account page's section that sets one up.
const enrolURL = "/account?done=second-factor-required#second-factor-h"

// hasSecondFactor reports whether userID has a confirmed TOTP or a passkey.
func (p *Pages) hasSecondFactor(ctx context.Context, userID string) (bool, error) {
	t, err := p.TOTP.GetTOTP(ctx, userID)
	switch {
	case err == nil && !t.ConfirmedAt.IsZero():
		return true, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("get totp: %w", err)
	}
	if p.Passkeys == nil {
		return false, nil
	}
	keys, err := p.Passkeys.ListPasskeys(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("list passkeys: %w", err)
	}
	return len(keys) > 0, nil
}

// EnrolFirst reports whether u, signed in, must set up a second factor
// (accounts.second_factor) before approving a device, consenting or using
// a console, and has none (neither a TOTP nor a passkey). When so it has
// answered: a redirect to the account page's second factor section, which
// stays open to them. The consoles ask it; the device and consent pages
// ask gates, which asks it too.
func (p *Pages) EnrolFirst(w http.ResponseWriter, r *http.Request, u *store.User) (bool, error) {
	return p.enrolFirst(w, r, u, "")
}

// enrolFirst is EnrolFirst for a step to come back to: returnTo is kept
// in this browser (setPending), and the recovery codes' page and the
// account page offer to continue there once a second factor is set up.
func (p *Pages) enrolFirst(w http.ResponseWriter, r *http.Request, u *store.User, returnTo string) (bool, error) {
	must, err := p.mustEnrol(r, u)
	if err != nil || !must {
		return false, err
	}
	// Not a security event: the person signed in rightly, and is only
	// sent on to set up what the policy asks of them.
	p.setPending(w, returnTo)
	return true, seeOther(w, enrolURL)
}

// msgUsePasskey is the sign-in page's notice for a right password of
// someone whose second factor is a passkey; msgPasskeyUnusable when this
// server cannot offer passkeys (passkeysUnusable).
const (
	msgUsePasskey      = "login.use_passkey"
	msgPasskeyUnusable = "login.passkey_unusable"
)

// passkeyIsSecondFactor reports whether u, who gave the right password
// and has no confirmed TOTP, must sign in with a second factor and has a
// passkey: then the passkey is how they sign in.
func (p *Pages) passkeyIsSecondFactor(r *http.Request, u *store.User) (bool, error) {
	if p.Passkeys == nil {
		return false, nil
	}
	must, err := p.secondFactorRequired(r.Context(), u)
	if err != nil || !must {
		return false, err
	}
	keys, err := p.Passkeys.ListPasskeys(r.Context(), u.ID)
	if err != nil {
		return false, fmt.Errorf("list passkeys: %w", err)
	}
	return len(keys) > 0, nil
}

// mustEnrol is EnrolFirst's question without its answer.
func (p *Pages) mustEnrol(r *http.Request, u *store.User) (bool, error) {
	if p.TOTP == nil || u == nil {
		return false, nil
	}
	must, err := p.secondFactorRequired(r.Context(), u)
	if err != nil || !must {
		return false, err
	}
	has, err := p.hasSecondFactor(r.Context(), u.ID)
	return !has, err
}

// secondStep is what the second step's signed state carries.
type secondStep struct {
	UserID   string `json:"u"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
}

type secondFactorPage struct {
	base
	State string
}

// afterPassword decides what a right password leads to: the second step's
// page when u has a confirmed TOTP, else a session (and, when u must have a
// second factor and has none, the account page to set one up).
func (p *Pages) afterPassword(w http.ResponseWriter, r *http.Request, s *store.Session, u *store.User, returnTo string) error {
	ctx := r.Context()
	if p.TOTP != nil {
		t, err := p.TOTP.GetTOTP(ctx, u.ID)
		switch {
		case err == nil && !t.ConfirmedAt.IsZero():
			return p.renderSecondStep(w, r, http.StatusOK, s, u.ID, returnTo, "")
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("get totp: %w", err)
		}
	}
	// Someone who must sign in with two factors and whose only second
	// factor is a passkey signs in with the passkey, which counts as both:
	// the password alone is one factor. No session; the sign-in page says
	// so, with its passkey button first. Where passkeys cannot be used (an
	// issuer at an IP address), it says why, and where they can be: the
	// password alone still does not replace the passkey the person chose.
	if onlyPasskey, err := p.passkeyIsSecondFactor(r, u); err != nil {
		return err
	} else if onlyPasskey {
		page := loginPage{base: base{Notice: msgUsePasskey}, NoticeInfo: true, Username: u.Email, ReturnTo: returnTo}
		if host := p.passkeysUnusable(); host != "" {
			page.Notice, page.NoticeArgs = msgPasskeyUnusable, []any{"host", host}
		}
		return p.renderLoginPage(w, r, http.StatusUnauthorized, s, page)
	}
	if err := p.startSession(w, r, u); err != nil {
		return err
	}
	secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Success, UserID: u.ID})
	// Someone who must have a second factor and has none (a passkey
	// counts: they may sign in with it) sets one up first.
	if must, err := p.mustEnrol(r, u); err != nil {
		return err
	} else if must {
		p.setPending(w, returnTo)
		return seeOther(w, enrolURL)
	}
	if returnTo == "" {
		returnTo = defaultReturn
	}
	return seeOther(w, returnTo)
}

func (p *Pages) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, s *store.Session, userID, returnTo, notice string) error {
	csrf := p.csrfFor(w, r, s)
	binding, ok := p.csrfBinding(r, s)
	if !ok {
		binding = "browser:" + cookieSet(w, p.cookieName(csrfCookieName))
	}
	b, err := json.Marshal(secondStep{UserID: userID, ReturnTo: returnTo, Expires: p.Now().Add(secondStepTimeout).Unix()})
	if err != nil {
		return err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	state := payload + "." + base64.RawURLEncoding.EncodeToString(p.stateMAC(binding, ceremonySecondFactor, payload))
	return p.render(w, r, status, "second_factor", secondFactorPage{
		base: base{Title: "totp.heading", CSRF: csrf, Notice: notice}, State: state})
}

// openSecondStep checks the second step's state for this browser.
func (p *Pages) openSecondStep(binding, field string) (*secondStep, bool) {
	payload, sig, ok := strings.Cut(field, ".")
	if !ok || len(field) > 4<<10 {
		return nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || subtle.ConstantTimeCompare(mac, p.stateMAC(binding, ceremonySecondFactor, payload)) != 1 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	var st secondStep
	if err := json.Unmarshal(b, &st); err != nil || st.UserID == "" || !p.Now().Before(time.Unix(st.Expires, 0)) {
		return nil, false
	}
	return &st, true
}

var errSecondStepExpired = &pageError{Status: http.StatusBadRequest, Heading: "err.second_expired.heading",
	Text: "err.second_expired.text"}

// SecondStep serves POST /login/second-factor: the code from the
// authenticator app, or a recovery code, after the right password. Its
// caller is the browser that gave the password (the state is bound to it);
// attempts count against the account's budget in the store.
func (p *Pages) SecondStep(w http.ResponseWriter, r *http.Request) error {
	if p.TOTP == nil {
		return errSecondStepExpired
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
	binding, ok := p.csrfBinding(r, s)
	if !ok {
		return errForbidden
	}
	st, ok := p.openSecondStep(binding, f.Get("state"))
	if !ok {
		return errSecondStepExpired
	}
	ctx := r.Context()
	if p.LoginWindow <= 0 {
		return errors.New("web: Pages.LoginWindow must be positive")
	}
	within, err := p.spend(ctx, w, p.LoginWindow, budget{"login:second:" + st.UserID, p.LoginPerAccount})
	if err != nil {
		return err
	}
	if !within {
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.Throttle, Outcome: secevent.Tripped, UserID: st.UserID, Reason: "second factor attempts"})
		return errTooMany
	}
	u, err := p.TOTP.GetUser(ctx, st.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return errSecondStepExpired
	}
	if err != nil {
		return err
	}
	again := func(notice, reason string) error {
		secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Failure, UserID: u.ID, Reason: reason})
		return p.renderSecondStep(w, r, http.StatusBadRequest, s, u.ID, st.ReturnTo, notice)
	}
	if rc := f.Get("recovery_code"); rc != "" {
		err := p.TOTP.UseRecoveryCode(ctx, u.ID, hashRecovery(rc), p.Now())
		if errors.Is(err, store.ErrNotFound) {
			return again("second.wrong_recovery", "wrong or used recovery code")
		}
		if err != nil {
			return err
		}
		p.log().InfoContext(ctx, "recovery code used", "user_id", u.ID)
	} else {
		t, err := p.TOTP.GetTOTP(ctx, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			return errSecondStepExpired
		}
		if err != nil {
			return err
		}
		step, ok := totpStep(t.Secret, f.Get("code"), p.Now())
		if !ok {
			return again("second.wrong_code", "wrong second factor code")
		}
		err = p.TOTP.UseTOTPStep(ctx, u.ID, step)
		if errors.Is(err, store.ErrConflict) {
			return again("second.replayed", "second factor code replayed")
		}
		if err != nil {
			return err
		}
	}
	if u.Disabled {
		return &pageError{Status: http.StatusForbidden, Heading: "err.disabled.heading",
			Text: "err.disabled.text"}
	}
	if err := p.startSession(w, r, u); err != nil {
		return err
	}
	secevent.Log(ctx, p.Log, secevent.Event{Name: secevent.SignIn, Outcome: secevent.Success, UserID: u.ID, Reason: "password and second factor"})
	returnTo, _ := safeReturnTo(st.ReturnTo)
	if returnTo == "" {
		returnTo = defaultReturn
	}
	return seeOther(w, returnTo)
}

// accountTOTP is the account page's second factor section.
type accountTOTP struct {
	On       bool
	Since    time.Time
	Recovery int
	Required bool
	Pending  bool
}

func (p *Pages) accountTOTP(ctx context.Context, u *store.User) (*accountTOTP, error) {
	if p.TOTP == nil {
		return nil, nil
	}
	out := &accountTOTP{}
	var err error
	if out.Required, err = p.secondFactorRequired(ctx, u); err != nil {
		return nil, err
	}
	t, err := p.TOTP.GetTOTP(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return out, nil
	case err != nil:
		return nil, err
	}
	if t.ConfirmedAt.IsZero() {
		out.Pending = true
		return out, nil
	}
	out.On, out.Since = true, t.ConfirmedAt
	out.Recovery, err = p.TOTP.CountRecoveryCodes(ctx, u.ID)
	return out, err
}

// BeginTOTP serves POST /account/totp: a new secret for the signed-in
// person, unconfirmed, and the page to scan it.
func (p *Pages) BeginTOTP(w http.ResponseWriter, r *http.Request) error {
	if p.TOTP == nil {
		return errNotYours
	}
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	secret := make([]byte, 20)
	if _, err := io.ReadFull(p.rand(), secret); err != nil {
		return err
	}
	err = p.TOTP.BeginTOTP(r.Context(), u.ID, secret, p.Now())
	if errors.Is(err, store.ErrConflict) {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.totp_already", "")
	}
	if err != nil {
		return err
	}
	return p.renderTOTPSetup(w, r, http.StatusOK, s, u, secret, "")
}

type totpSetupPage struct {
	base
	QR     template.HTML
	Secret string
}

func (p *Pages) renderTOTPSetup(w http.ResponseWriter, r *http.Request, status int, s *store.Session, u *store.User, secret []byte, notice string) error {
	host := p.Issuer
	if pu, err := url.Parse(p.Issuer); err == nil && pu.Host != "" {
		host = pu.Host
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: host, AccountName: u.Email, Secret: secret,
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return fmt.Errorf("totp key: %w", err)
	}
	c, err := qr.Encode(key.URL(), qr.M)
	if err != nil {
		return fmt.Errorf("encode qr: %w", err)
	}
	return p.render(w, r, status, "totp_setup", totpSetupPage{
		base: base{Title: "setup.heading", CSRF: p.csrfFor(w, r, s), User: u, Notice: notice},
		// Drawn by qrSVG from the code's modules: no text of anyone's in
		// it. The style sheet scales it to the column (.qr svg).
		QR:     template.HTML(strings.Replace(qrSVG(c), "<svg ", `<svg role="img" aria-label="QR code of the key" `, 1)),
		Secret: groupsOf4(key.Secret()),
	})
}

func groupsOf4(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

type totpCodesPage struct {
	base
	Codes    []string
	Continue string // the step a second factor was set up for (pendingStep), or ""
}

// ConfirmTOTP serves POST /account/totp/confirm: the first code from the
// app turns two-step sign-in on, and the recovery codes are shown, once.
func (p *Pages) ConfirmTOTP(w http.ResponseWriter, r *http.Request) error {
	if p.TOTP == nil {
		return errNotYours
	}
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	ok, err := p.spend(ctx, w, p.LoginWindow, budget{"login:second:" + u.ID, p.LoginPerAccount})
	if err != nil {
		return err
	}
	if !ok {
		return errTooMany
	}
	t, err := p.TOTP.GetTOTP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.ConfirmedAt.IsZero()) {
		return seeOther(w, "/account")
	}
	if err != nil {
		return err
	}
	step, ok := totpStep(t.Secret, f["code"], p.Now())
	if !ok {
		return p.renderTOTPSetup(w, r, http.StatusBadRequest, s, u, t.Secret, "setup.wrong_code")
	}
	codes, err := newRecoveryCodes(p.rand(), recoveryCodes)
	if err != nil {
		return err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = hashRecovery(c)
	}
	if err := p.TOTP.ConfirmTOTP(ctx, u.ID, step, hashes, p.Now()); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return seeOther(w, "/account")
		}
		return err
	}
	p.log().InfoContext(ctx, "two-step sign-in turned on", "user_id", u.ID)
	if p.Links != nil {
		if err := p.Links.Notify(ctx, p.locale(r), u.Email, u.Name, "totp_on"); err != nil {
			return err
		}
	}
	return p.render(w, r, http.StatusOK, "totp_codes", totpCodesPage{
		base:     base{Title: "codes.heading", CSRF: p.csrfFor(w, r, s), User: u},
		Codes:    codes,
		Continue: p.pendingStep(r),
	})
}

// RemoveTOTP serves POST /account/totp/remove: with the current password,
// two-step sign-in is turned off (unless the person must have it).
func (p *Pages) RemoveTOTP(w http.ResponseWriter, r *http.Request) error {
	if p.TOTP == nil {
		return errNotYours
	}
	f, s, u, err := p.accountForm(w, r)
	if err != nil || f == nil {
		return err
	}
	ctx := r.Context()
	if ok, err := p.checkCurrentPassword(ctx, w, u, f["current_password"]); err != nil {
		return err
	} else if !ok {
		return p.renderAccount(w, r, http.StatusBadRequest, s, u, "account.wrong_password", "")
	}
	err = p.TOTP.DeleteTOTP(ctx, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	p.log().InfoContext(ctx, "two-step sign-in turned off", "user_id", u.ID)
	return seeOther(w, "/account?done=second-factor-off")
}
