package authorize

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// descriptionChars is what RFC 6749 §4.1.2.1 allows in error_description.
var descriptionChars = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]*$`)

// FuzzParseAuthorize: whatever the query, Parse neither panics nor answers
// at a redirect URI the client did not register, refuses what a public
// client sends without PKCE, and grants no scope the client lacks. Seeds
// are in testdata/fuzz/FuzzParseAuthorize.
func FuzzParseAuthorize(f *testing.F) {
	st := sqlitetest.Open(f)
	newClients(f, st)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return // the page refuses it before Parse sees it
		}
		req, err := Parse(t.Context(), st, q)
		var pe *PageError
		var oe *oauth.Error
		switch {
		case errors.As(err, &pe):
			if req != nil {
				t.Fatalf("an error page came with a request: %+v", req)
			}
			return
		case errors.As(err, &oe):
			if req == nil || req.Client == nil {
				t.Fatalf("%v without a request to answer", err)
			}
			if !descriptionChars.MatchString(oauth.Description(oe.Description)) {
				t.Fatalf("error_description %q has characters RFC 6749 forbids", oauth.Description(oe.Description))
			}
		case err != nil:
			t.Fatalf("Parse: %v", err) // the store answered: a real failure
		}
		if _, ok := MatchRedirectURI(req.Client.RedirectURIs, req.RedirectURI); !ok {
			t.Fatalf("answering at %q, which client %s did not register", req.RedirectURI, req.Client.ID)
		}
		if vs := q["client_id"]; len(vs) != 1 || vs[0] != req.Client.ID {
			t.Fatalf("client_id %q answered as %q", vs, req.Client.ID)
		}
		if vs := q["redirect_uri"]; len(vs) > 1 {
			t.Fatalf("redirect_uri %q repeated, yet answered at %q", vs, req.RedirectURI)
		}
		if err != nil {
			return
		}
		if req.Client.Public() && (req.CodeChallenge == "" || req.ChallengeMethod != MethodS256) {
			t.Fatalf("public client %s without S256 PKCE accepted", req.Client.ID)
		}
		if req.CodeChallenge != "" && !ValidChallenge(req.CodeChallenge) {
			t.Fatalf("challenge %q accepted", req.CodeChallenge)
		}
		for _, s := range req.Scopes {
			if !slices.Contains(req.Client.Scopes, s) {
				t.Fatalf("scope %q granted to %s", s, req.Client.ID)
			}
		}
		if req.Prompt.None && (req.Prompt.Login || req.Prompt.Consent) {
			t.Fatalf("prompt %+v accepted", req.Prompt)
		}
	})
}

// FuzzRedirectURI: a redirect URI matches only as itself, registered
// exactly or as a loopback one with a port; never with a fragment or a
// scheme that runs code. Seeds are in testdata/fuzz/FuzzRedirectURI.
func FuzzRedirectURI(f *testing.F) {
	f.Fuzz(func(t *testing.T, registered, asked string) {
		got, ok := MatchRedirectURI([]string{registered}, asked)
		if !ok {
			if got != "" {
				t.Fatalf("no match, yet %q", got)
			}
			return
		}
		if got != asked {
			t.Fatalf("matched %q as %q", asked, got)
		}
		if strings.Contains(got, "#") || !oauth.CleanText(got) {
			t.Fatalf("matched %q", got)
		}
		u, err := url.Parse(got)
		if err != nil || !u.IsAbs() || u.User != nil {
			t.Fatalf("matched %q, which is not an absolute URL without userinfo", got)
		}
		if s := strings.ToLower(u.Scheme); s == "javascript" || s == "data" || s == "vbscript" {
			t.Fatalf("matched %q", got)
		}
		if got == registered {
			return
		}
		// Only a loopback IP with a port may differ, and only by the port.
		h := u.Hostname()
		if u.Scheme != "http" || (h != "127.0.0.1" && h != "::1") || u.Port() == "" {
			t.Fatalf("%q matched registered %q without being a loopback redirect", got, registered)
		}
		if strings.Replace(got, ":"+u.Port(), "", 1) != registered {
			t.Fatalf("%q matched registered %q, differing by more than the port", got, registered)
		}
	})
}
