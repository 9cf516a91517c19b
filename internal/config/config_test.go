package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) string { return "" }

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if got, want := c.IssuerURL(), "http://127.0.0.1:8080"; got != want {
		t.Errorf("IssuerURL = %q; want %q", got, want)
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
issuer: https://auth.example.com/
listen: 0.0.0.0:9000
device:
  lifetime: 15m
  interval: 10
  user_code:
    alphabet: base20
    length: 9
`)
	c, err := Load(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.IssuerURL() != "https://auth.example.com" || c.Listen != "0.0.0.0:9000" {
		t.Errorf("issuer %q listen %q", c.IssuerURL(), c.Listen)
	}
	if c.Device.Lifetime.D() != 15*time.Minute || c.Device.Interval.D() != 10*time.Second || c.Device.UserCode.Length != 9 {
		t.Errorf("device = %+v", c.Device)
	}
	if c.Device.UserCode.Group != 4 {
		t.Errorf("an unset key lost its default: group = %d", c.Device.UserCode.Group)
	}
}

func TestLoadUnknownKey(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "issuer: https://a.example\ndevice:\n  lifetmie: 5m\n")
	_, err := Load(p, noEnv)
	want := p + ` line 3: unknown key "lifetmie" in "device" (known: attempts_global, attempts_per_account, attempts_per_ip, ` +
		`expected_live_codes, interval, lifetime, requests_per_client_per_minute, requests_per_ip_per_minute, user_code)`
	if err == nil || err.Error() != want {
		t.Fatalf("Load with a typo = %v\nwant %s", err, want)
	}
}

// TestLoadProblems: every problem of a file is reported at once, by line
// and YAML name, and what could be read is set.
func TestLoadProblems(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		yaml string
		want []string // the error's lines, after "FILE line "
	}{
		{"unknown key in a section", "login:\n  attempts: 3\n",
			[]string{`2: unknown key "attempts" in "login" (known: account_ceiling, attempts_per_account, attempts_per_ip, window)`}},
		{"unknown key in a nested section", "device:\n  user_code:\n    size: 9\n",
			[]string{`3: unknown key "size" in "device.user_code" (known: alphabet, group, length)`}},
		{"unknown top-level key", "listen: 127.0.0.1:9000\nadmin: x\n",
			[]string{`2: unknown key "admin" at the top level (known: accounts, admin_token, audit, database, device, dpop, invitations, issuer, keys, limits, listen, log, login, metrics, pages, postgres, registration, secrets_keys, service_api, session, smtp, sweep_interval, tokens, trust_proxy)`}},
		{"everything at once", "login:\n  attempts: 3\n  attempts_per_ip: lots\n  window: forever\ntrust_proxy: maybe\nlisten: 127.0.0.1:9000\n",
			[]string{
				`2: unknown key "attempts" in "login" (known: account_ceiling, attempts_per_account, attempts_per_ip, window)`,
				`3: login.attempts_per_ip: "lots" is not a whole number`,
				`4: login.window: "forever" is not a duration like 90s, 10m or 7d`,
				`5: trust_proxy: "maybe" is not true or false`,
			}},
		{"a key twice", "listen: 127.0.0.1:9000\nlisten: 127.0.0.1:9001\n",
			[]string{`2: "listen" is set twice (first at line 1)`}},
		{"a value for a section", "login: 5\n",
			[]string{`1: "login" holds settings, not a single value (known: account_ceiling, attempts_per_account, attempts_per_ip, window)`}},
		{"a section for a value", "listen:\n  host: x\n",
			[]string{`2: listen: want a single value, not a mapping`}},
		{"not a mapping", "- listen\n",
			[]string{`1: want settings as keys and values, such as listen: 127.0.0.1:8080`}},
		{"not YAML", "listen: [\n",
			[]string{`1: did not find expected node content`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.yaml)
			c, err := Load(p, noEnv)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, p+" line "+w)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("Load error:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
			}
			// A value that could not be read keeps its default.
			if d := Default(); c.Login != d.Login || c.TrustProxy != d.TrustProxy {
				t.Errorf("login = %+v, trust_proxy = %v; want the defaults", c.Login, c.TrustProxy)
			}
		})
	}

	// A YAML merge key is read as the mapping it merges.
	c, err := Load(writeFile(t, "x-login: &login\n  window: 5m\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), `unknown key "x-login"`) {
		t.Errorf("an unknown top-level anchor holder: %v", err)
	}
	c, err = Load(writeFile(t, "login:\n  <<: {window: 5m, attempts_per_ip: 7}\n  attempts_per_ip: 9\n"), noEnv)
	if err != nil || c.Login.Window.D() != 5*time.Minute || c.Login.AttemptsPerIP != 9 {
		t.Errorf("merge key: %v, login %+v", err, c.Login)
	}

	// Beside the problems, the keys that are right are set.
	c, err = Load(writeFile(t, "login:\n  attempts: 3\n  window: 5m\nlisten: 127.0.0.1:9000\n"), noEnv)
	if err == nil || c.Listen != "127.0.0.1:9000" || c.Login.Window.D() != 5*time.Minute {
		t.Errorf("Load = %v, listen %q, login.window %s; want an error and the other keys set", err, c.Listen, c.Login.Window)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	if _, err := Load(writeFile(t, ""), noEnv); err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "listen: 127.0.0.1:9000\n")
	env := map[string]string{"LATCHKEY_LISTEN": "127.0.0.1:9999", "LATCHKEY_DB": "sqlite:/tmp/x.db"}
	c, err := Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || c.Database != "sqlite:/tmp/x.db" {
		t.Errorf("listen %q db %q", c.Listen, c.Database)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Listen = "nope"
	c.Issuer = "ftp://x"
	c.Database = "mysql://x"
	c.Log.Format = "xml"
	c.Device.Interval = 0
	c.AdminToken = "short"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"listen", "issuer", "database", "log.format", "device.interval", "admin_token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestValidateHTTPIssuer(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Issuer = "http://auth.example.com"
	if err := c.Validate(); err == nil {
		t.Error("a plain-http public issuer was accepted")
	}
	c.Issuer = "http://localhost:8080"
	if err := c.Validate(); err != nil {
		t.Errorf("loopback http issuer refused: %v", err)
	}
}

// TestValidateListenNeedsIssuer: a listener other machines can reach needs
// an issuer they can reach; on loopback the issuer may default to it.
func TestValidateListenNeedsIssuer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		listen, issuer string
		wantErr        bool
	}{
		{"127.0.0.1:8080", "", false},
		{"localhost:8080", "", false},
		{"[::1]:8080", "", false},
		{"127.0.0.2:8080", "", false},
		{"0.0.0.0:8080", "", true},
		{"[::]:8080", "", true},
		{":8080", "", true},
		{"192.0.2.10:8080", "", true},
		{"auth.internal:8080", "", true},
		{"0.0.0.0:8080", "https://auth.example.com", false},
		{"[::]:8080", "https://auth.example.com", false},
	} {
		c := Default()
		c.Listen, c.Issuer = tt.listen, tt.issuer
		err := c.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("listen %q, issuer %q: Validate() = %v; want an error: %v", tt.listen, tt.issuer, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "--issuer https://auth.example.com") {
			t.Errorf("listen %q: the error does not say how to set the issuer: %v", tt.listen, err)
		}
	}
	c := Default()
	c.Listen = "0.0.0.0:8080"
	want := `listen "0.0.0.0:8080" takes connections from other machines, so the issuer cannot default to http://0.0.0.0:8080: ` +
		`set it to the https address people and devices reach this server at, as in --issuer https://auth.example.com ` +
		`(or LATCHKEY_ISSUER, or issuer: in the configuration file)`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

// TestValidateSigning: the token signing algorithms and the RSA key size
// take only what Latchkey can do, and name the setting when refused.
func TestValidateSigning(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		yaml    string
		wantErr string // "": valid
	}{
		{"defaults", "", ""},
		{"RS256 everywhere, 3072-bit keys", "tokens: {signing_alg: RS256, id_token_signing_alg: RS256}\nkeys: {rsa_bits: 3072}\n", ""},
		{"access tokens RS256 only", "tokens: {signing_alg: RS256}\n", ""},
		{"lower case", "tokens: {signing_alg: rs256}\n", `tokens.signing_alg "rs256": want ES256 or RS256`},
		{"HS256", "tokens: {id_token_signing_alg: HS256}\n", `tokens.id_token_signing_alg "HS256": want ES256 or RS256`},
		{"none", "tokens: {id_token_signing_alg: none}\n", `tokens.id_token_signing_alg "none": want ES256 or RS256`},
		{"PS256", "tokens: {signing_alg: PS256}\n", `tokens.signing_alg "PS256": want ES256 or RS256`},
		{"empty", "tokens: {signing_alg: \"\"}\n", `tokens.signing_alg "": want ES256 or RS256`},
		{"1024-bit RSA", "keys: {rsa_bits: 1024}\n", "keys.rsa_bits 1024: want 2048 or 3072"},
		{"4096-bit RSA", "keys: {rsa_bits: 4096}\n", "keys.rsa_bits 4096: want 2048 or 3072"},
		{"zero", "keys: {rsa_bits: 0}\n", "keys.rsa_bits 0: want 2048 or 3072"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(writeFile(t, tt.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("Validate = %v; want %s", err, tt.wantErr)
			}
		})
	}
}

func TestValidateServiceAPI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		yaml    string
		wantErr string // "": valid
	}{
		{"defaults", "", ""},
		{"the front end's page", "service_api: {service_id: \"5593494640\", verification_uri: https://front.example/device, verification_uri_complete: \"https://front.example/device?user_code=USER_CODE\"}\n", ""},
		{"service id not digits", "service_api: {service_id: abc}\n", `service_api.service_id "abc": want digits, as Authlete's service ids`},
		{"service id empty", "service_api: {service_id: \"\"}\n", `service_api.service_id "": want digits, as Authlete's service ids`},
		{"one URI only", "service_api: {verification_uri: https://front.example/device}\n", "service_api: set verification_uri and verification_uri_complete together"},
		{"no placeholder", "service_api: {verification_uri: https://front.example/device, verification_uri_complete: https://front.example/device}\n",
			`service_api.verification_uri_complete "https://front.example/device": must hold USER_CODE where the user code goes`},
		{"relative", "service_api: {verification_uri: /device, verification_uri_complete: \"https://front.example/device?c=USER_CODE\"}\n",
			`service_api.verification_uri "/device": want an absolute http(s) URL without a fragment`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(writeFile(t, tt.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("Validate = %v; want %s", err, tt.wantErr)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "limits.") {
		t.Fatalf("the default limits are refused: %v", err)
	}
	c.Limits.TokenPerClientPerMinute = -1
	c.Limits.IntrospectionPerClientPerMinute = -1
	c.Limits.AuthFailuresPerIP = -1
	c.Limits.AuthFailuresPerClient = -1
	c.Limits.AuthFailureWindow = Duration(time.Millisecond)
	err := c.Validate()
	for _, want := range []string{"limits.token_per_client_per_minute", "limits.introspection_per_client_per_minute",
		"limits.auth_failures_per_ip", "limits.auth_failures_per_client", "limits.auth_failure_window"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q: %v", want, err)
		}
	}
	c = Default()
	c.Limits = Limits{AuthFailureWindow: Duration(time.Minute)} // every limit off
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "limits.") {
		t.Errorf("limits of 0 (none) are refused: %v", err)
	}
}

func TestValidateRegistration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		mode    string
		domains []string
		wantErr string // "" for valid
	}{
		{"default", "", nil, ""},
		{"open", "open", nil, ""},
		{"off", "off", nil, ""},
		{"domains", "domains", []string{"example.com", "Corp.Example.ORG", "bücher.example"}, ""},
		{"unknown mode", "invite", nil, `accounts.registration "invite"`},
		{"domains without any", "domains", nil, "accounts.registration_domains"},
		{"domains with another mode", "open", []string{"example.com"}, "used only with accounts.registration: domains"},
		{"an address, not a domain", "domains", []string{"me@example.com"}, `"me@example.com"`},
		{"a wildcard", "domains", []string{"*.example.com"}, `"*.example.com"`},
		{"no dot", "domains", []string{"localhost"}, `"localhost"`},
		{"leading dot", "domains", []string{".example.com"}, `".example.com"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Accounts.Registration, c.Accounts.RegistrationDomains = tt.mode, tt.domains
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v; want an error with %q", err, tt.wantErr)
			}
		})
	}
	if got := (Accounts{}).RegistrationMode(); got != "open" {
		t.Errorf("default RegistrationMode = %q, want open", got)
	}
}

// TestRequireVerifiedEmail: on and off as written in a file (YAML 1.1
// would read them as booleans), the default on outside --dev and off in
// it, and anything else refused by name.
func TestRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file         string
		dev          bool
		want         bool
		wantSetting  string
		wantValidate string // "" for valid
	}{
		{"", false, true, "", ""},
		{"", true, false, "", ""},
		{"  require_verified_email: on\n", true, true, "on", ""},
		{"  require_verified_email: off\n", false, false, "off", ""},
		{"  require_verified_email: \"off\"\n", false, false, "off", ""},
		{"  require_verified_email: yes\n", false, true, "yes", `accounts.require_verified_email "yes": on or off`},
	} {
		p := writeFile(t, "issuer: https://a.example\naccounts:\n  links_per_ip: 20\n"+tt.file)
		c, err := Load(p, noEnv)
		if err != nil {
			t.Fatalf("%q: %v", tt.file, err)
		}
		if c.Accounts.RequireVerifiedEmail != tt.wantSetting {
			t.Errorf("%q: read as %q; want %q", tt.file, c.Accounts.RequireVerifiedEmail, tt.wantSetting)
		}
		err = c.Validate()
		switch {
		case tt.wantValidate == "" && err != nil:
			t.Errorf("%q: Validate: %v", tt.file, err)
		case tt.wantValidate != "" && (err == nil || !strings.Contains(err.Error(), tt.wantValidate)):
			t.Errorf("%q: Validate = %v; want an error with %q", tt.file, err, tt.wantValidate)
		}
		if tt.wantValidate == "" {
			if got := c.Accounts.VerifiedEmailRequired(tt.dev); got != tt.want {
				t.Errorf("%q, dev %v: VerifiedEmailRequired = %v; want %v", tt.file, tt.dev, got, tt.want)
			}
		}
	}
}
