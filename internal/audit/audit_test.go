package audit

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"settings stay", map[string]any{"client_name": "TV", "token_endpoint_auth_method": "client_secret_basic",
			"refresh_token_policy": "always", "access_token_lifetime": 60},
			`{"access_token_lifetime":60,"client_name":"TV","refresh_token_policy":"always","token_endpoint_auth_method":"client_secret_basic"}`},
		{"secret names, any case and type", map[string]any{"client_secret": "s3", "Password": "p", "secret_hash": 5,
			"TokenHash": []string{"a"}, "token": "t", "admin_token": "x"},
			`{"Password":"[redacted]","TokenHash":"[redacted]","admin_token":"[redacted]","client_secret":"[redacted]","secret_hash":"[redacted]","token":"[redacted]"}`},
		{"nested", map[string]any{"a": []any{map[string]any{"refresh_token": "r"}}}, `{"a":[{"refresh_token":"[redacted]"}]}`},
		{"our secrets under innocent names", map[string]any{"note": "lk_cs_abc", "link": "https://x/invitations/lk_inv_abc",
			"admin": "lk_admin_x", "fine": "lk_tv"},
			`{"admin":"[redacted]","fine":"lk_tv","link":"[redacted]","note":"[redacted]"}`},
		{"a struct", struct {
			Name   string `json:"name"`
			Secret string `json:"clientSecret"`
		}{"n", "s"}, `{"clientSecret":"[redacted]","name":"n"}`},
	} {
		got, err := Redact(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: Redact = %s, %v\nwant %s", tt.name, got, err, tt.want)
		}
	}
	if _, err := Redact(func() {}); err == nil {
		t.Error("Redact of a func: no error")
	}
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"kind=nope", "since=today", "until=2026-13-01T00:00:00Z", "limit=-1", "limit=x",
		"cursor=" + strings.Repeat("A", 600), "cursor=bm9kb3Q", "actor=%01", "x=1", "kind=user.update&kind=user.update"} {
		v, _ := parseValues(bad)
		if _, err := ParseQuery(v); err == nil {
			t.Errorf("ParseQuery(%q): no error", bad)
		}
	}
	v, _ := parseValues("actor=u1&organization=acme&kind=user.update&since=2026-12-01T00:00:00Z&limit=7")
	q, err := ParseQuery(v)
	if err != nil || q.ActorID != "u1" || q.OrgID != "acme" || q.Kind != UserUpdate || q.Since.IsZero() || q.Limit != 7 {
		t.Errorf("ParseQuery = %+v, %v", q, err)
	}
}

func parseValues(s string) (map[string][]string, error) { return url.ParseQuery(s) }
