package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/store"
)

// TestEnrolFirstEverywhere: with the default accounts.second_factor
// (admins, outside --dev), a system administrator without a second factor
// who signs in with the password is sent to set one up, and is sent there
// again from the console (a page and a form), the device page and the
// device decision, whose device stays pending; with a passkey stored they
// go on. Both backends.
func TestEnrolFirstEverywhere(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		makeSysadmin(t, s, true)
		br := newWebBrowser(t, s)
		const enrol = "/account?done=second-factor-required#second-factor-h"
		r := br.post("/login", url.Values{"username": {personEmail}, "password": {personPassword}, "csrf_token": {csrfOf(t, br.get("/login"))}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != enrol {
			t.Fatalf("sign in: %d to %q", r.Status, r.Header.Get("Location"))
		}
		account := br.get("/account")
		if account.Status != http.StatusOK {
			t.Fatalf("the account page stays open: %d", account.Status)
		}
		token := csrfOf(t, account)
		a := s.startDevice(t, tvClient, scopesAll)
		for name, got := range map[string]reply{
			"console":         br.get("/console"),
			"console users":   br.get("/console/users"),
			"console form":    br.post("/console/users/"+s.User.ID+"/password-reset", url.Values{"csrf_token": {token}}),
			"device page":     br.get("/device?user_code=" + url.QueryEscape(a.str("user_code"))),
			"device decision": br.post("/device", url.Values{"user_code": {a.str("user_code")}, "decision": {"approve"}, "csrf_token": {token}}),
		} {
			if got.Status != http.StatusSeeOther || got.Header.Get("Location") != enrol {
				t.Errorf("%s: %d to %q; want the account page's second factor section", name, got.Status, got.Header.Get("Location"))
			}
		}
		if r := s.poll(t, tvClient, a.str("device_code")); r.str("error") != "authorization_pending" {
			t.Errorf("the device after a refused approval: %d %s", r.Status, r.Raw)
		}
		mustDo(t, s.Store.CreatePasskey(t.Context(), &store.Passkey{ID: "cred-1", UserID: s.User.ID, PublicKey: []byte{1},
			AAGUID: make([]byte, 16), Name: "Phone", CreatedAt: s.Clock.Now()}))
		for name, got := range map[string]reply{"console": br.get("/console"), "device page": br.get("/device?user_code=" + url.QueryEscape(a.str("user_code")))} {
			if got.Status != http.StatusOK {
				t.Errorf("%s with a passkey: %d", name, got.Status)
			}
		}
	})
}
