package grant

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// TestAuthorizationCodeDPoP: a proof binds the access token (cnf.jkt,
// token_type DPoP); a public client's grant is bound to the key, so its
// refresh needs a proof of that key; a confidential client's grant is not,
// and each refresh may bind to another key.
func TestAuthorizationCodeDPoP(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	mustDo(t, st.CreateClient(t.Context(), &store.Client{ID: "native", AuthMethod: store.AuthNone,
		GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"openid", "offline_access"}}))
	key := &dpop.Proof{JKT: "key-one"}
	for _, tt := range []struct {
		client    string
		creds     oauth.ClientCredentials
		redirect  string
		wantBound string // the grant's key
	}{
		{"native", oauth.ClientCredentials{ID: "native"}, "http://127.0.0.1:4321/cb", "key-one"},
		{"web", webCreds, "https://web.example/cb", ""},
	} {
		t.Run(tt.client, func(t *testing.T) {
			code := newCode(t, st, tt.client, func(ac *store.AuthCode) {
				ac.RedirectURI, ac.Scopes = tt.redirect, []string{"openid", "offline_access"}
			})
			form := oauth.Form{"grant_type": store.GrantAuthorizationCode, "code": code, "redirect_uri": tt.redirect, "code_verifier": verifier}
			resp, err := AuthorizationCode{Deps: d, Store: st}.Exchange(t.Context(), &Request{Form: form, Creds: tt.creds, DPoP: key})
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			cnf, _ := claims(t, resp.AccessToken)["cnf"].(map[string]any)
			if resp.TokenType != "DPoP" || cnf["jkt"] != "key-one" {
				t.Errorf("token_type %s, cnf %v", resp.TokenType, cnf)
			}
			rt, err := st.GetRefreshToken(t.Context(), oauth.HashSecret(resp.RefreshToken))
			mustDo(t, err)
			g, err := st.GetGrant(t.Context(), rt.GrantID)
			mustDo(t, err)
			if g.DPoPJKT != tt.wantBound {
				t.Errorf("grant bound to %q, want %q", g.DPoPJKT, tt.wantBound)
			}
			refresh := func(p *dpop.Proof) (*Request, error) {
				req := &Request{Form: oauth.Form{"grant_type": store.GrantRefreshToken, "refresh_token": resp.RefreshToken}, Creds: tt.creds, DPoP: p}
				next, err := Refresh{Deps: d, Store: st}.Exchange(t.Context(), req)
				if err == nil {
					resp.RefreshToken = next.RefreshToken
					if got := claims(t, next.AccessToken)["cnf"]; (p == nil) != (got == nil) {
						t.Errorf("refreshed with proof %v: cnf %v", p, got)
					}
				}
				return req, err
			}
			other := &dpop.Proof{JKT: "key-two"}
			if tt.wantBound != "" {
				for _, p := range []*dpop.Proof{nil, other} {
					var oe *oauth.Error
					if _, err := refresh(p); !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
						t.Errorf("refresh of a bound grant with proof %v: %v, want invalid_grant", p, err)
					}
				}
				if _, err := refresh(key); err != nil {
					t.Errorf("refresh with the key: %v", err)
				}
				return
			}
			for _, p := range []*dpop.Proof{nil, other, key} {
				if _, err := refresh(p); err != nil {
					t.Errorf("confidential refresh with proof %v: %v", p, err)
				}
			}
		})
	}
}

// TestAuthorizationCodeDPoPJKT: a code whose request had dpop_jkt (RFC 9449
// §10) is redeemed only with a proof by that key: without a proof, or with
// another key's, it is refused and spent; with the key, the tokens and the
// public client's grant are bound to it.
func TestAuthorizationCodeDPoPJKT(t *testing.T) {
	t.Parallel()
	d, st := codeDeps(t)
	mustDo(t, st.CreateClient(t.Context(), &store.Client{ID: "native", AuthMethod: store.AuthNone,
		GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"openid", "offline_access"}}))
	const redirect = "http://127.0.0.1:4321/cb"
	bound := func() string {
		return newCode(t, st, "native", func(ac *store.AuthCode) {
			ac.RedirectURI, ac.Scopes, ac.DPoPJKT = redirect, []string{"openid", "offline_access"}, "key-one"
		})
	}
	exchange := func(code string, p *dpop.Proof) (*Request, error) {
		form := oauth.Form{"grant_type": store.GrantAuthorizationCode, "code": code, "redirect_uri": redirect, "code_verifier": verifier}
		req := &Request{Form: form, Creds: oauth.ClientCredentials{ID: "native"}, DPoP: p}
		_, err := AuthorizationCode{Deps: d, Store: st}.Exchange(t.Context(), req)
		return req, err
	}
	for _, p := range []*dpop.Proof{nil, {JKT: "key-two"}} {
		code := bound()
		var oe *oauth.Error
		if _, err := exchange(code, p); !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
			t.Errorf("a dpop_jkt code with proof %v: %v, want invalid_grant", p, err)
		}
		// Spent: the right key does not bring it back.
		if _, err := exchange(code, &dpop.Proof{JKT: "key-one"}); !errors.As(err, &oe) || oe.Code != oauth.InvalidGrant {
			t.Errorf("the same code again with the key: %v, want invalid_grant", err)
		}
	}
	code := bound()
	form := oauth.Form{"grant_type": store.GrantAuthorizationCode, "code": code, "redirect_uri": redirect, "code_verifier": verifier}
	resp, err := AuthorizationCode{Deps: d, Store: st}.Exchange(t.Context(), &Request{Form: form, Creds: oauth.ClientCredentials{ID: "native"}, DPoP: &dpop.Proof{JKT: "key-one"}})
	if err != nil {
		t.Fatalf("a dpop_jkt code with its key: %v", err)
	}
	if cnf, _ := claims(t, resp.AccessToken)["cnf"].(map[string]any); resp.TokenType != "DPoP" || cnf["jkt"] != "key-one" {
		t.Errorf("token_type %s, cnf %v", resp.TokenType, cnf)
	}
}
