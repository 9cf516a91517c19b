package portable

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// backends are the stores an export is imported into: a SQLite file, and a
// fresh schema of the test PostgreSQL (skipped without one, failed in CI).
var backends = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"sqlite", func(t testing.TB) store.Store { return sqlitetest.Open(t) }},
	{"postgres", func(t testing.TB) store.Store { return pgtest.Open(t) }},
}

// t0 has milliseconds, so the test sees them survive the trip.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123_000_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const argonHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// rsaKey is the RS256 keys' private key, made once for the package: a
// 2048-bit key costs up to a second of CPU under the race detector, and
// seed, which most tests run, stores one. The stores are databases of
// their own, so sharing it shares nothing between tests; the key's id and
// window are each record's own.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// newKey is a signing key of alg (ES256 or RS256) with its window.
func newKey(t *testing.T, id, alg string, notBefore, notAfter time.Time) *store.SigningKey {
	t.Helper()
	var priv any
	var err error
	if alg == "RS256" {
		priv, err = rsaKey()
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &store.SigningKey{ID: id, Algorithm: alg, PrivateKey: der, CreatedAt: notBefore.Add(-time.Minute), NotBefore: notBefore, NotAfter: notAfter}
}

// seed fills s with clients of every shape, users and two signing keys (one
// retired ES256, one signing RS256), and returns the store's own view of them.
func seed(t *testing.T, s store.Store) (cs []*store.Client, us []*store.User, ks []*store.SigningKey) {
	t.Helper()
	ctx := t.Context()
	for _, c := range []*store.Client{
		{
			ID: "tv", Name: "Living room TV", AuthMethod: store.AuthNone,
			GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken},
			Scopes:     []string{"openid", "profile", "offline_access"},
			UserCode:   store.UserCodePolicy{Alphabet: "digits", Length: 9, Group: -1},
			// Whole milliseconds, as the backends keep them.
			DeviceCodeLifetime: 15 * time.Minute, PollInterval: 7500 * time.Millisecond,
			CreatedAt: t0, UpdatedAt: at(time.Minute),
		},
		{
			ID: "printer", Name: "Büro-Drucker \"3. OG\" <&>", SecretHash: oauth.HashSecret("lk_cs_printer"),
			AuthMethod: store.AuthClientSecretBasic, GrantTypes: []string{store.GrantDeviceCode},
			Scopes:    []string{"print"},
			UserCode:  store.UserCodePolicy{Alphabet: "BCDFGHJK", Length: 10, Group: 5},
			CreatedAt: t0,
		},
		{
			ID: "web", Name: "Web app", SecretHash: oauth.HashSecret("lk_cs_web"),
			AuthMethod:             store.AuthClientSecretPost,
			GrantTypes:             []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
			RedirectURIs:           []string{"https://app.example/callback", "http://127.0.0.1:8085/callback"},
			PostLogoutRedirectURIs: []string{"https://app.example/signed-out"},
			SessionAttachment:      store.SessionAttached,
			Scopes:                 []string{"openid", "email"},
			Tokens: store.TokenPolicy{IDTokenSigningAlg: "RS256", AccessTokenLifetime: 5 * time.Minute, IDTokenLifetime: 90 * time.Second,
				RefreshLifetime: 7 * 24 * time.Hour, RefreshIdleLifetime: 36 * time.Hour, RefreshTokens: store.RefreshAlways},
			TokensRevokedAt: at(30 * time.Minute),
			CreatedAt:       t0, UpdatedAt: at(time.Hour),
		},
	} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%q): %v", c.ID, err)
		}
	}
	for _, u := range []*store.User{
		{ID: "u1", Email: "ada@example.com", Name: "Ada Lovelace", PasswordHash: argonHash, EmailVerified: true, CreatedAt: t0, UpdatedAt: at(time.Second)},
		{ID: "u2", Email: "bob@example.com", Name: "Bob", PasswordHash: argonHash, Disabled: true, CreatedAt: t0, UpdatedAt: t0},
		{ID: "u3", Email: "zoë@example.com", Name: "Zoë, no password yet", CreatedAt: t0},
	} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%q): %v", u.ID, err)
		}
	}
	for _, k := range []*store.SigningKey{
		newKey(t, "key-old", "ES256", t0, at(time.Hour)),
		newKey(t, "key-new", "RS256", at(time.Hour), time.Time{}),
	} {
		if err := s.CreateSigningKey(ctx, k); err != nil {
			t.Fatalf("CreateSigningKey(%q): %v", k.ID, err)
		}
	}
	return listAll(t, s)
}

func listAll(t *testing.T, s store.Store) (cs []*store.Client, us []*store.User, ks []*store.SigningKey) {
	t.Helper()
	ctx := t.Context()
	var err error
	if cs, err = s.ListClients(ctx); err != nil {
		t.Fatal(err)
	}
	if us, err = s.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if ks, err = s.ListSigningKeys(ctx); err != nil {
		t.Fatal(err)
	}
	return cs, us, ks
}

// exportSeeded returns the export of a seeded SQLite store, and the store.
func exportSeeded(t *testing.T) (string, store.Store) {
	t.Helper()
	src := sqlitetest.Open(t)
	seed(t, src)
	var buf bytes.Buffer
	n, err := Export(t.Context(), src, &buf)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if want := (Counts{Clients: 3, Users: 3, SigningKeys: 2}); n != want {
		t.Fatalf("Export counts = %+v, want %+v", n, want)
	}
	return buf.String(), src
}

// diffOpts let a backend return nil for an empty list; times compare with
// time.Time.Equal, so to the millisecond the backends keep.
var diffOpts = cmp.Options{cmpopts.EquateEmpty()}

func TestExportImport(t *testing.T) {
	t.Parallel()
	out, src := exportSeeded(t)
	wantC, wantU, wantK := listAll(t, src)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+3+3+2 {
		t.Fatalf("export has %d lines, want a header and 8 records:\n%s", len(lines), out)
	}

	var h map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil {
		t.Fatal(err)
	}
	if h["kind"] != Kind || h["version"] != float64(Version) || h["warning"] != Warning {
		t.Errorf("header = %s", lines[0])
	}
	if _, err := time.Parse(time.RFC3339, h["exported_at"].(string)); err != nil {
		t.Errorf("exported_at: %v", err)
	}
	for _, want := range []string{
		`"kind":"client","id":"tv"`,
		`"created_at":"2026-03-04T05:06:07.123Z"`,
		`"device_code_lifetime_ms":900000,"poll_interval_ms":7500`,
		`"user_code":{"alphabet":"digits","length":9,"group":-1}`,
		`"secret_hash":"` + oauth.HashSecret("lk_cs_web") + `"`,
		`"password_hash":"` + argonHash + `"`,
		`"private_key":"` + base64.StdEncoding.EncodeToString(wantK[0].PrivateKey) + `"`,
		`"password_hash":"` + argonHash + `","email_verified":true,`,
		`"tokens_revoked_at":"2026-03-04T05:36:07.123Z",`,
		`"name":"Büro-Drucker \"3. OG\" <&>"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dst := b.open(t)
			n, err := Import(t.Context(), dst, strings.NewReader(out), Options{})
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if want := (Counts{Clients: 3, Users: 3, SigningKeys: 2}); n != want {
				t.Errorf("Import counts = %+v, want %+v", n, want)
			}
			gotC, gotU, gotK := listAll(t, dst)
			if d := cmp.Diff(wantC, gotC, diffOpts); d != "" {
				t.Errorf("clients (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantU, gotU, diffOpts); d != "" {
				t.Errorf("users (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantK, gotK, diffOpts); d != "" {
				t.Errorf("signing keys (-want +got):\n%s", d)
			}

			// Exporting the copy gives the same records, byte for byte.
			var again bytes.Buffer
			if _, err := Export(t.Context(), dst, &again); err != nil {
				t.Fatalf("Export of the copy: %v", err)
			}
			againLines := strings.Split(strings.TrimSuffix(again.String(), "\n"), "\n")
			if d := cmp.Diff(lines[1:], againLines[1:]); d != "" {
				t.Errorf("export of the copy (-first +again):\n%s", d)
			}
		})
	}
}

func TestImportExisting(t *testing.T) {
	t.Parallel()
	out, _ := exportSeeded(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			dst := b.open(t)
			if _, err := Import(ctx, dst, strings.NewReader(out), Options{}); err != nil {
				t.Fatalf("first Import: %v", err)
			}

			_, err := Import(ctx, dst, strings.NewReader(out), Options{})
			var ee *ExistsError
			if !errors.As(err, &ee) || ee.Line != 2 || ee.Kind != "client" || ee.ID != "printer" {
				t.Fatalf("second Import: got error %v, want ExistsError for client printer on line 2", err)
			}
			if want := `line 2: client "printer" exists already`; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}

			n, err := Import(ctx, dst, strings.NewReader(out), Options{SkipExisting: true})
			if err != nil {
				t.Fatalf("Import with SkipExisting: %v", err)
			}
			if want := (Counts{Skipped: 8}); n != want {
				t.Errorf("Import with SkipExisting counts = %+v, want %+v", n, want)
			}
		})
	}
}

func TestImportSomeExisting(t *testing.T) {
	t.Parallel()
	out, _ := exportSeeded(t)
	ctx := t.Context()
	dst := sqlitetest.Open(t)
	// The target has its own first signing key (serve made one) and a user
	// with one of the ids.
	own := newKey(t, "key-target", "ES256", at(2*time.Hour), time.Time{})
	if err := dst.CreateSigningKey(ctx, own); err != nil {
		t.Fatal(err)
	}
	if err := dst.CreateUser(ctx, &store.User{ID: "u2", Email: "robert@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	_, err := Import(ctx, dst, strings.NewReader(out), Options{})
	if want := `line 6: user "u2" exists already`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Import: got error %v, want one saying %q", err, want)
	}
	if cs, _, _ := listAll(t, dst); len(cs) != 0 {
		t.Fatalf("a refused import wrote %d clients; want nothing written", len(cs))
	}

	n, err := Import(ctx, dst, strings.NewReader(out), Options{SkipExisting: true})
	if err != nil {
		t.Fatalf("Import with SkipExisting: %v", err)
	}
	if want := (Counts{Clients: 3, Users: 2, SigningKeys: 2, Skipped: 1}); n != want {
		t.Errorf("counts = %+v, want %+v", n, want)
	}
	if u, err := dst.GetUser(ctx, "u2"); err != nil || u.Email != "robert@example.com" {
		t.Errorf("the existing user was changed: %+v, %v", u, err)
	}
	_, _, ks := listAll(t, dst)
	if len(ks) != 3 {
		t.Errorf("the target has %d signing keys, want its own and the 2 imported", len(ks))
	}
}

func TestImportEmailTaken(t *testing.T) {
	t.Parallel()
	out, _ := exportSeeded(t)
	ctx := t.Context()
	dst := sqlitetest.Open(t)
	if err := dst.CreateUser(ctx, &store.User{ID: "other", Email: "ada@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// A different person to the database, so not skipped either.
	_, err := Import(ctx, dst, strings.NewReader(out), Options{SkipExisting: true})
	if want := `line 5: user "u1": the email ada@example.com belongs to user "other"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Import: got error %v, want one saying %q", err, want)
	}
}

func TestImportMalformed(t *testing.T) {
	t.Parallel()
	out, _ := exportSeeded(t)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// replace returns the export with line n (1-based) replaced.
	replace := func(n int, line string) string {
		l := append([]string(nil), lines...)
		l[n-1] = line
		return strings.Join(l, "\n") + "\n"
	}
	// edit returns the export with old replaced by new on line n.
	edit := func(n int, old, new string) string {
		if !strings.Contains(lines[n-1], old) {
			t.Fatalf("line %d lacks %s: %s", n, old, lines[n-1])
		}
		return replace(n, strings.Replace(lines[n-1], old, new, 1))
	}
	header := func(v string) string {
		return `{"kind":"latchkey-export","version":` + v + `,"exported_at":"2026-03-04T05:06:07.000Z","clients":3,"users":3,"signing_keys":2}`
	}
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty input", "", "the input is empty"},
		{"not JSON", "latchkey\n", "line 1: not a Latchkey export: not valid JSON"},
		{"header missing", strings.Join(lines[1:], "\n"), `line 1: not a Latchkey export: the header line ("kind":"latchkey-export") is missing`},
		{"wrong header kind", replace(1, `{"kind":"dex-export","version":1}`), `line 1: not a Latchkey export: the first line has kind "dex-export"`},
		{"newer version", replace(1, strings.TrimSuffix(header("5"), "}")+`,"new":1}`), "line 1: export format version 5: this latchkey reads versions 1 to 4"},
		{"version 3 counting passkeys", replace(1, strings.TrimSuffix(header("3"), "}")+`,"passkeys":1}`), "line 1: a version 1 to 3 header counts passkeys"},
		{"version 2 counting service keys", replace(1, strings.TrimSuffix(header("2"), "}")+`,"service_keys":1}`), "line 1: a version 1 or 2 header counts service keys"},
		{"version 1 counting organizations", replace(1, strings.TrimSuffix(header("1"), "}")+`,"organizations":1}`), "line 1: a version 1 header counts organizations"},
		{"version missing", replace(1, `{"kind":"latchkey-export"}`), "line 1: export format version 0"},
		{"unknown header field", replace(1, strings.TrimSuffix(header("1"), "}")+`,"extra":true}`), `line 1: unknown field "extra"`},
		{"no exported_at", replace(1, `{"kind":"latchkey-export","version":1,"clients":3,"users":3,"signing_keys":2}`), "line 1: the header has no exported_at"},
		{"truncated", strings.Join(lines[:len(lines)-1], "\n"), "the header announces 3 clients, 3 users, 2 signing keys but the file holds 3 clients, 3 users, 1 signing key"},
		{"cut mid-line", out[:len(out)-20], "line 9: not valid JSON"},
		{"broken JSON", edit(3, `"kind":"client",`, `"kind":"client"`), "line 3: not valid JSON"},
		{"empty line", replace(4, ""), "line 4: empty line"},
		{"trailing data", replace(3, lines[2]+` {}`), "line 3: not valid JSON: invalid character '{' after top-level value"},
		{"not an object", replace(3, `["client"]`), "line 3: got a JSON array, want an object"},
		{"no kind", replace(3, `{"id":"x"}`), `line 3: want a JSON object with a "kind"`},
		{"unknown kind", replace(3, `{"kind":"grant","id":"g1"}`), `line 3: unknown kind "grant"`},
		{"second header", replace(3, header("1")), "line 3: a second header"},
		{"unknown field", edit(5, `"kind":"user",`, `"kind":"user","role":"admin",`), `line 5: unknown field "role"`},
		{"wrong type", edit(2, `"name":"Büro-Drucker \"3. OG\" <&>"`, `"name":7`), `line 2: field "name": got a JSON number, want a string`},
		{"nested wrong type", edit(3, `"length":9`, `"length":"9"`), `line 3: field "user_code.length": got a JSON string, want a number`},
		{"bad time", edit(5, `"created_at":"2026-03-04T05:06:07.123Z"`, `"created_at":"yesterday"`), `line 5: time "yesterday": want RFC 3339`},
		{"null time", edit(5, `"created_at":"2026-03-04T05:06:07.123Z"`, `"created_at":null`), `line 5: time null`},
		{"duplicate id", replace(4, lines[2]), `line 4: client "tv" appears twice (first on line 3)`},
		{"duplicate email", edit(6, `"email":"bob@example.com"`, `"email":"ADA@example.com"`), `line 6: user "u2" has the email ada@example.com of the user on line 5`},
		{"empty id", edit(2, `"id":"printer"`, `"id":""`), "line 2: client: id is empty"},
		{"unknown auth method", edit(2, `"auth_method":"client_secret_basic"`, `"auth_method":"private_key_jwt"`), `line 2: client "printer": auth_method "private_key_jwt"`},
		{"public client with a secret", edit(3, `"auth_method":"none"`, `"auth_method":"none","secret_hash":"`+oauth.HashSecret("x")+`"`), `line 3: client "tv": a public client (auth_method none) has no secret_hash`},
		{"plain secret", edit(2, oauth.HashSecret("lk_cs_printer"), "lk_cs_printer"), `line 2: client "printer": secret_hash: a confidential client needs the hex SHA-256`},
		{"unknown grant type", edit(2, `"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]`, `"grant_types":["password"]`), `line 2: client "printer": grant_types: "password" is not one of`},
		{"no grant types", edit(2, `"grant_types":["urn:ietf:params:oauth:grant-type:device_code"]`, `"grant_types":[]`), `line 2: client "printer": grant_types is empty`},
		{"negative interval", edit(3, `"poll_interval_ms":7500`, `"poll_interval_ms":-1`), `line 3: client "tv": device_code_lifetime_ms and poll_interval_ms must not be negative`},
		{"plain password", edit(5, argonHash, "hunter2"), `line 5: user "u1": password_hash is not a PHC-formatted argon2id hash`},
		{"no email", edit(5, `"email":"ada@example.com"`, `"email":""`), `line 5: user "u1": email is empty`},
		{"private key not base64", edit(8, `"private_key":"`, `"private_key":"*`), `line 8: field "private_key": not standard base64`},
		{"private key not a key", edit(8, `"private_key":"`, `"private_key":"AAAA`), `line 8: signing key "key-old": private_key is not a PKCS #8 private key`},
		{"RSA key called ES256", edit(9, `"algorithm":"RS256"`, `"algorithm":"ES256"`), `line 9: signing key "key-new": an ES256 key that is not a P-256 key`},
		{"EC key called RS256", edit(8, `"algorithm":"ES256"`, `"algorithm":"RS256"`), `line 8: signing key "key-old": an RS256 key that is not an RSA key`},
		{"key of an unknown algorithm", edit(8, `"algorithm":"ES256"`, `"algorithm":"HS256"`), `line 8: signing key "key-old": unsupported algorithm "HS256"`},
		{"ID token alg HS256", edit(4, `"id_token_signing_alg":"RS256"`, `"id_token_signing_alg":"HS256"`), `line 4: client "web": id_token_signing_alg "HS256": want ES256 or RS256`},
		{"negative access token lifetime", edit(4, `"access_token_lifetime_ms":300000`, `"access_token_lifetime_ms":-1`), `line 4: client "web": access_token_lifetime_ms, id_token_lifetime_ms`},
		{"unknown refresh policy", edit(4, `"refresh_token_policy":"always"`, `"refresh_token_policy":"never"`), `line 4: client "web": refresh_token_policy "never": want offline_access or always`},
		{"lifetime not a number", edit(4, `"refresh_lifetime_ms":604800000`, `"refresh_lifetime_ms":"7d"`), `line 4: field "refresh_lifetime_ms": got a JSON string, want a number`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := sqlitetest.Open(t)
			_, err := Import(t.Context(), dst, strings.NewReader(tt.in), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import: got error %v, want one containing %q", err, tt.want)
			}
			// Every line is checked before anything is written.
			cs, us, ks := listAll(t, dst)
			if len(cs)+len(us)+len(ks) != 0 {
				t.Errorf("a refused import wrote %d clients, %d users, %d keys; want nothing written", len(cs), len(us), len(ks))
			}
		})
	}
}

func TestImportLongLine(t *testing.T) {
	t.Parallel()
	in := `{"kind":"latchkey-export","version":1,"exported_at":"2026-03-04T05:06:07.000Z","clients":1,"users":0,"signing_keys":0}` + "\n" +
		`{"kind":"client","name":"` + strings.Repeat("x", maxLine) + `"}` + "\n"
	_, err := Import(t.Context(), sqlitetest.Open(t), strings.NewReader(in), Options{})
	if want := "line 2: longer than 16 MiB"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Import: got error %v, want one containing %q", err, want)
	}
}

func TestCountsString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   Counts
		want string
	}{
		{Counts{Clients: 3, Users: 10, SigningKeys: 2}, "3 clients, 10 users, 2 signing keys"},
		{Counts{Clients: 1, Users: 1, SigningKeys: 1}, "1 client, 1 user, 1 signing key"},
		{Counts{}, "0 clients, 0 users, 0 signing keys"},
		{Counts{Users: 2, Passkeys: 1, TOTP: 2}, "0 clients, 2 users, 0 signing keys, 1 passkey, 2 TOTP enrolments, 0 client registrations"},
	} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
