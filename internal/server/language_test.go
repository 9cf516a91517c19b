package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// TestMailLanguage: an email is in the language of the request that
// caused it — the forgot-password page's Accept-Language, the
// organization API request's for an invitation — and the brand's words
// are in it too.
func TestMailLanguage(t *testing.T) {
	t.Parallel()
	brand := acmeBrand(t, t.TempDir())
	s, mta := accountServer(t, backends[0], func(c *config.Config) { c.Pages = brand })
	br := newWebBrowser(t, s)
	german := func(method, path string, form url.Values) reply {
		req, _ := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(form.Encode()))
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept-Language", "de-DE,de;q=0.9,en;q=0.4")
		return br.do(req)
	}
	page := german("GET", "/forgot-password", nil)
	if !strings.Contains(page.Raw, `<html lang="de"`) || !strings.Contains(page.Raw, "Passwort vergessen?") {
		t.Fatalf("forgot-password page in German: %d %s", page.Status, page.Raw)
	}
	german("POST", "/forgot-password", url.Values{"email": {personEmail}, "csrf_token": {csrfOf(t, page)}})
	subject, text := mta.mailTo(t, personEmail, 1)
	if subject != "Setzen Sie Ihr Passwort zurück" {
		t.Errorf("reset mail subject %q", subject)
	}
	for _, want := range []string{"Hallo ", "Ihres Kontos bei Acme Home (", "Der Link funktioniert einmal, bis ", "— Acme Home, ", "Hilfe: https://help.acme.example/"} {
		if !strings.Contains(text, want) {
			t.Errorf("German reset mail lacks %q:\n%s", want, text)
		}
	}

	imta := startSMTP(t, "127.0.0.1:0")
	is := newInvServer(t, backends[0], func(c *config.Config) {
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: imta.port(), TLS: "none", From: "Acme <noreply@acme.test>"}
		c.Pages = brand
	})
	req, err := http.NewRequestWithContext(t.Context(), "POST", is.URL+"/organizations/acme/client-group-invitations/send",
		bytes.NewReader([]byte(`{"recipientEmail":"ops@acme.example","clientGroupIds":["`+groupRead+`"]}`)))
	mustDo(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+is.adminAT)
	req.Header.Set("Accept-Language", "fi")
	if r := do(t, req); r.Status != http.StatusCreated {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	eventually(t, "delivery to the mail server", func() bool { return len(imta.received()) == 1 })
	subject, text = readInvitationMail(t, imta.received()[0])
	if subject != "Yhdistä laite: Acme Sensors" {
		t.Errorf("invitation subject %q", subject)
	}
	for _, want := range []string{"Sinut on kutsuttu yhdistämään laite organisaatioon Acme Sensors (Acme Home, ", "Laite liitetään ryhmiin: Readers.", " klo ", "Ohjeet: https://help.acme.example/"} {
		if !strings.Contains(text, want) {
			t.Errorf("Finnish invitation mail lacks %q:\n%s", want, text)
		}
	}
}

// TestDefaultLanguage: pages.default_language must name a catalog; a
// page nothing else decides is in it.
func TestDefaultLanguage(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Issuer, cfg.AdminToken = "http://127.0.0.1:1", testAdminToken
	cfg.Pages.DefaultLanguage = "ja"
	if err := Validate(cfg); err == nil || !strings.Contains(err.Error(), "pages.default_language") || !strings.Contains(err.Error(), "en, de, es, fi, fr") {
		t.Errorf("Validate with default_language ja: %v", err)
	}
	if _, err := New(t.Context(), cfg, backends[0].open(t), slog.New(slog.DiscardHandler), Options{}); err == nil {
		t.Error("New with default_language ja started")
	}
	s := newTestServer(t, true, func(c *config.Config) { c.Pages.DefaultLanguage = "fi" })
	r := do(t, mustRequest(t, "GET", s.URL+"/login"))
	if !strings.Contains(r.Raw, `<html lang="fi" dir="ltr">`) || !strings.Contains(r.Raw, "<h1>Kirjaudu sisään</h1>") {
		t.Errorf("sign-in page with default_language fi: %d %s", r.Status, r.Raw)
	}
	req := mustRequest(t, "GET", s.URL+"/login")
	req.Header.Set("Accept-Language", "es-ES")
	if r := do(t, req); !strings.Contains(r.Raw, "<h1>Iniciar sesión</h1>") {
		t.Errorf("Accept-Language es over default fi: %s", r.Raw)
	}
}
