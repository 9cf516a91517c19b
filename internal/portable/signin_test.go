package portable

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// Secrets keys of these tests: a, then b.
const (
	sealKeyA = "lk_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	sealKeyB = "lk_sk_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
)

func ring(t testing.TB, keys ...string) *seal.Ring {
	t.Helper()
	r, err := seal.Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TOTP seeds of the seeded users: what must never be in a file.
var seeds = map[string][]byte{"u1": []byte("ada's twenty-byte key"), "u2": []byte("bob's unconfirmed key")}

// seedSignIn adds to s (seeded, sealing) what people and devices sign in
// with beyond passwords: passkeys of two users (one used), a confirmed TOTP
// enrolment with recovery codes (one spent) and an unconfirmed one, and a
// dynamically registered device client with its registration access token.
func seedSignIn(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	for _, p := range []*store.Passkey{
		{ID: "Y3JlZC1hZGEtcGhvbmU", UserID: "u1", PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01}, SignCount: 0,
			Transports: []string{"internal", "hybrid"}, AAGUID: bytes.Repeat([]byte{0xad}, 16), Flags: 0x1d,
			AttestationFormat: "none", Name: "Ada's phone", CreatedAt: t0},
		{ID: "Y3JlZC1hZGEta2V5", UserID: "u1", PublicKey: []byte{0xa4, 0x01, 0x01, 0x03, 0x27}, SignCount: 0,
			Transports: []string{"usb", "nfc"}, AAGUID: make([]byte, 16), Flags: 0x05,
			AttestationFormat: "packed", Name: "Schlüssel \"blau\" <&>", CreatedAt: at(time.Minute)},
		{ID: "Y3JlZC16b2U", UserID: "u3", PublicKey: []byte{0xa5, 0x01}, AAGUID: make([]byte, 16), Flags: 0x1d,
			AttestationFormat: "none", Name: "Laptop", CreatedAt: at(time.Hour)},
	} {
		mustCreate(t, s.CreatePasskey(ctx, p))
	}
	mustCreate(t, s.UsePasskey(ctx, "Y3JlZC1hZGEta2V5", 17, 0x05, at(2*time.Hour)))

	mustCreate(t, s.BeginTOTP(ctx, "u1", seeds["u1"], t0))
	mustCreate(t, s.ConfirmTOTP(ctx, "u1", 59000000, []string{oauth.HashSecret("r1"), oauth.HashSecret("r2"), oauth.HashSecret("r3")}, at(time.Minute)))
	mustCreate(t, s.UseTOTPStep(ctx, "u1", 59000003))
	mustCreate(t, s.UseRecoveryCode(ctx, "u1", oauth.HashSecret("r2"), at(time.Hour)))
	mustCreate(t, s.BeginTOTP(ctx, "u2", seeds["u2"], at(time.Second)))

	iat := &store.RegistrationToken{ID: "rt-dcr", Hash: oauth.HashSecret("lk_it_dcr"), UsesLeft: 2, CreatedAt: t0, ExpiresAt: at(24 * time.Hour)}
	mustCreate(t, s.CreateRegistrationToken(ctx, iat))
	mustCreate(t, s.RegisterClient(ctx, iat.Hash, &store.Client{ID: "dcr-tv", Name: "Registered TV", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken}, Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0},
		oauth.HashSecret("lk_rat_dcr"), at(time.Minute)))

	// A client's own access token revoked before it expires (exported),
	// and one that has expired (left behind).
	mustCreate(t, s.RevokeAccessToken(ctx, "jti-live", "printer", revokedUntil))
	mustCreate(t, s.RevokeAccessToken(ctx, "jti-over", "printer", at(time.Hour)))
}

// revokedUntil is when the revoked token of seedSignIn expires: after the
// test, since an export leaves out what has expired by the clock.
var revokedUntil = time.Now().Add(time.Hour).Truncate(time.Millisecond)

// signInView is everything of seedSignIn's an export should carry; the
// TOTP secrets opened, as the store's own reader sees them.
type signInView struct {
	Passkeys      []*store.Passkey
	TOTP          []*store.SealedTOTP // secrets left out: they are sealed afresh on import
	Secrets       map[string][]byte
	Registrations []*store.ClientRegistration
	Revoked       []*store.RevokedAccessToken
}

func viewSignIn(t *testing.T, s store.Store) signInView {
	t.Helper()
	ctx := t.Context()
	v := signInView{Secrets: map[string][]byte{}}
	var err error
	v.Passkeys, err = s.ListAllPasskeys(ctx)
	mustCreate(t, err)
	v.TOTP, err = s.ListSealedTOTP(ctx)
	mustCreate(t, err)
	for _, e := range v.TOTP {
		got, err := s.GetTOTP(ctx, e.UserID)
		mustCreate(t, err)
		v.Secrets[e.UserID] = got.Secret
		e.Secret = nil
	}
	v.Registrations, err = s.ListClientRegistrations(ctx)
	mustCreate(t, err)
	v.Revoked, err = s.ListRevokedAccessTokens(ctx, time.Now())
	mustCreate(t, err)
	return v
}

var sealedInFile = regexp.MustCompile(`"secret_sealed":"(lks1\.[0-9a-f]{8})\.[A-Za-z0-9_-]+"`)

// TestSignInRoundTrip: format 4 carries passkeys, TOTP enrolments (the
// secret only sealed; recovery codes by hash, a spent one still spent) and
// a registered client's registration access token (by hash), users'
// email_verified and clients' tokens_revoked_at, from SQLite to PostgreSQL
// (sealing under another key first, the old one still in its ring) and on
// to SQLite (only the new key): each copy holds what the original held,
// and the file never a seed. Without the key the import is refused before
// anything is written.
func TestSignInRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := sqlitetest.Open(t)
	src.UseSealer(ring(t, sealKeyA))
	seed(t, src)
	seedSignIn(t, src)
	want := viewSignIn(t, src)
	wantC, wantU, wantK := listAll(t, src)
	if string(want.Secrets["u1"]) != string(seeds["u1"]) || len(want.Passkeys) != 3 || len(want.TOTP) != 2 || len(want.Registrations) != 1 || len(want.Revoked) != 1 {
		t.Fatalf("the seeded source: %+v", want)
	}

	export := func(s store.Store) string {
		t.Helper()
		var buf bytes.Buffer
		n, err := Export(ctx, s, &buf)
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		if want := (Counts{Clients: 4, Users: 3, SigningKeys: 2, RegistrationTokens: 1, Passkeys: 3, TOTP: 2, ClientRegistrations: 1,
			RevokedAccessTokens: 1}); n != want {
			t.Fatalf("Export counts = %+v, want %+v", n, want)
		}
		return buf.String()
	}
	first := export(src)
	for _, want := range []string{
		`"version":4,`,
		`"passkeys":3,"totp":2,"client_registrations":1,"revoked_access_tokens":1,`,
		`{"kind":"revoked_access_token","jti":"jti-live","client_id":"printer","expires_at":"` + revokedUntil.UTC().Format(timeLayout) + `"}`,
		`{"kind":"passkey","id":"Y3JlZC1hZGEta2V5","user_id":"u1","public_key":"pAEBAyc=","sign_count":17,"transports":["usb","nfc"],"aaguid":"AAAAAAAAAAAAAAAAAAAAAA==","flags":5,"attestation_format":"packed","name":"Schlüssel \"blau\" <&>","created_at":"2026-03-04T05:07:07.123Z","last_used_at":"2026-03-04T07:06:07.123Z"}`,
		`"confirmed_at":"2026-03-04T05:07:07.123Z","last_step":59000003,"recovery_codes":[`,
		`{"hash":"` + oauth.HashSecret("r2") + `","used_at":"2026-03-04T06:06:07.123Z"}`,
		`{"kind":"totp","user_id":"u2","secret_sealed":"lks1.`,
		`"last_step":0,"recovery_codes":[]}`,
		`{"kind":"client_registration","client_id":"dcr-tv","access_hash":"` + oauth.HashSecret("lk_rat_dcr") + `","created_at":"2026-03-04T05:07:07.123Z"}`,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("export lacks %s:\n%s", want, first)
		}
	}
	if m := sealedInFile.FindAllStringSubmatch(first, -1); len(m) != 2 {
		t.Errorf("the export has %d sealed TOTP secrets, want 2:\n%s", len(m), first)
	}
	for user, seed := range seeds {
		for name, spelling := range map[string]string{
			"bytes": string(seed), "hex": hex.EncodeToString(seed), "base64": base64.StdEncoding.EncodeToString(seed)[:20],
			"base32": base32.StdEncoding.EncodeToString(seed)[:20], "base64url": base64.RawURLEncoding.EncodeToString(seed)[:20],
		} {
			if strings.Contains(first, spelling) {
				t.Errorf("the export holds %s's TOTP seed (%s)", user, name)
			}
		}
	}

	// Into PostgreSQL, which seals under key b and still opens a.
	pg := pgtest.Open(t)
	pg.UseSealer(ring(t, sealKeyB, sealKeyA))
	n, err := Import(ctx, pg, strings.NewReader(first), Options{})
	if want := (Counts{Clients: 4, Users: 3, SigningKeys: 2, RegistrationTokens: 1, Passkeys: 3, TOTP: 2, ClientRegistrations: 1,
		RevokedAccessTokens: 1}); err != nil || n != want {
		t.Fatalf("Import into PostgreSQL = %+v, %v; want %+v", n, err, want)
	}
	second := export(pg)
	for _, m := range sealedInFile.FindAllStringSubmatch(second, -1) {
		if m[1] != "lks1."+ring(t, sealKeyB).KeyIDs()[0] {
			t.Errorf("PostgreSQL's export has a secret sealed as %s, want under key b", m[1])
		}
	}
	// And on into SQLite, which has key b only.
	dst := sqlitetest.Open(t)
	dst.UseSealer(ring(t, sealKeyB))
	if _, err := Import(ctx, dst, strings.NewReader(second), Options{}); err != nil {
		t.Fatalf("Import into SQLite: %v", err)
	}

	for name, s := range map[string]store.Store{"postgres": pg, "sqlite": dst} {
		if d := cmp.Diff(want, viewSignIn(t, s), diffOpts); d != "" {
			t.Errorf("%s: passkeys, TOTP and registrations (-want +got):\n%s", name, d)
		}
		gotC, gotU, gotK := listAll(t, s)
		if d := cmp.Diff(wantC, gotC, diffOpts); d != "" {
			t.Errorf("%s: clients (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(wantU, gotU, diffOpts); d != "" {
			t.Errorf("%s: users (-want +got):\n%s", name, d)
		}
		if d := cmp.Diff(wantK, gotK, diffOpts); d != "" {
			t.Errorf("%s: signing keys (-want +got):\n%s", name, d)
		}
		// What sign-in checks: the step used last and the spent recovery
		// code stay used; the registration access token finds its client.
		if err := s.UseTOTPStep(ctx, "u1", 59000003); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: the last accepted step again: %v, want ErrConflict", name, err)
		}
		if err := s.UseRecoveryCode(ctx, "u1", oauth.HashSecret("r2"), at(3*time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the spent recovery code again: %v, want ErrNotFound", name, err)
		}
		if h, err := s.ClientRegistrationHash(ctx, "dcr-tv"); err != nil || h != oauth.HashSecret("lk_rat_dcr") {
			t.Errorf("%s: ClientRegistrationHash = %q, %v", name, h, err)
		}
		if revoked, err := s.AccessTokenRevoked(ctx, "jti-live"); err != nil || !revoked {
			t.Errorf("%s: the revoked token is live again: %v, %v", name, revoked, err)
		}
	}
	// The final copy exports what the first did but for the sealing.
	unseal := func(s string) []string {
		l := strings.Split(sealedInFile.ReplaceAllString(s, `"secret_sealed":"…"`), "\n")
		return l[1:]
	}
	if d := cmp.Diff(unseal(first), unseal(export(dst))); d != "" {
		t.Errorf("the export of the last copy (-first +last):\n%s", d)
	}

	// A second import: refused, or skipped whole; the registration goes
	// with its client.
	if _, err := Import(ctx, dst, strings.NewReader(second), Options{}); !isExists(err, kindClient, "dcr-tv") {
		t.Errorf("second import: %v, want client dcr-tv exists", err)
	}
	if n, err := Import(ctx, dst, strings.NewReader(second), Options{SkipExisting: true}); err != nil || n != (Counts{Skipped: 17}) {
		t.Errorf("second import, skipping: %+v, %v", n, err)
	}

	// A database without the key that sealed them (none, or only a), or
	// with no user of a record's: refused with the reason, nothing written.
	for _, tt := range []struct {
		name   string
		sealer store.Sealer
		in     string
		want   string
	}{
		{"no secrets key", nil, second, `line 15: totp of user "u1": its secret is sealed, and this database is opened without a secrets key`},
		{"another key", ring(t, sealKeyA), second, `line 15: totp of user "u1": its secret is sealed under a secrets key this installation does not have`},
		{"another user's secret", ring(t, sealKeyB), swapSealed(t, second), `line 15: totp of user "u1": its secret does not open (damaged, or not this user's)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := sqlitetest.Open(t)
			if tt.sealer != nil {
				s.UseSealer(tt.sealer)
			}
			_, err := Import(t.Context(), s, strings.NewReader(tt.in), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %v, want %s", err, tt.want)
			}
			if cs, us, _ := listAll(t, s); len(cs)+len(us) != 0 {
				t.Errorf("a refused import wrote %d clients and %d users", len(cs), len(us))
			}
		})
	}
}

// swapSealed gives u1 u2's sealed secret in an export.
func swapSealed(t *testing.T, out string) string {
	t.Helper()
	m := sealedInFile.FindAllString(out, -1)
	if len(m) != 2 {
		t.Fatalf("%d sealed secrets", len(m))
	}
	return strings.Replace(out, m[0], m[1], 1)
}

// TestExportRefusesUnsealedTOTP: a database that never had a secrets key
// holds TOTP seeds in plaintext, and the export says what to do rather
// than write one.
func TestExportRefusesUnsealedTOTP(t *testing.T) {
	t.Parallel()
	s := sqlitetest.Open(t)
	seed(t, s)
	mustCreate(t, s.BeginTOTP(t.Context(), "u1", seeds["u1"], t0))
	var buf bytes.Buffer
	_, err := Export(t.Context(), s, &buf)
	if want := `user "u1": its TOTP secret is stored unsealed`; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "secrets_keys") {
		t.Errorf("Export = %v, want one saying %s and naming secrets_keys", err, want)
	}
	if buf.Len() != 0 {
		t.Errorf("the refused export wrote %d bytes", buf.Len())
	}
}

// TestSignInLinesChecked: a format 4 line that could not work is refused
// with its line number, before anything is written.
func TestSignInLinesChecked(t *testing.T) {
	t.Parallel()
	src := sqlitetest.Open(t)
	src.UseSealer(ring(t, sealKeyA))
	seed(t, src)
	seedSignIn(t, src)
	var buf bytes.Buffer
	if _, err := Export(t.Context(), src, &buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	find := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no line begins %s", prefix)
		return 0
	}
	edit := func(prefix, old, new string) string {
		t.Helper()
		i := find(prefix)
		if !strings.Contains(lines[i], old) {
			t.Fatalf("line %d lacks %s: %s", i+1, old, lines[i])
		}
		l := append([]string(nil), lines...)
		l[i] = strings.Replace(l[i], old, new, 1)
		return strings.Join(l, "\n") + "\n"
	}
	const (
		pk  = `{"kind":"passkey","id":"Y3JlZC1hZGEtcGhvbmU"`
		ada = `{"kind":"totp","user_id":"u1"`
		reg = `{"kind":"client_registration"`
	)
	for _, tt := range []struct{ name, in, want string }{
		{"passkey of a missing user", edit(pk, `"user_id":"u1"`, `"user_id":"nobody"`), `passkey "Y3JlZC1hZGEtcGhvbmU": user "nobody" is neither in the file nor in the database`},
		{"passkey without a public key", edit(pk, `"public_key":"pQECAyYgAQ=="`, `"public_key":""`), `passkey "Y3JlZC1hZGEtcGhvbmU": public_key is empty`},
		{"passkey aaguid short", edit(pk, `"aaguid":"`, `"aaguid":"AAAA`), `aaguid is 19 bytes, want 16`},
		{"passkey flags too big", edit(pk, `"flags":29`, `"flags":300`), `field "flags": got a JSON number 300, want a number`},
		{"passkey name too long", edit(pk, `"name":"Ada's phone"`, `"name":"`+strings.Repeat("x", store.MaxPasskeyName+1)+`"`), `name is longer than 64 bytes`},
		{"plaintext TOTP seed", edit(ada, `"secret_sealed":"lks1.`, `"secret_sealed":"JBSWY3DPEHPK3PXP`), `totp of user "u1": secret_sealed is not a sealed value`},
		{"recovery hash not hex", edit(ada, `{"hash":"`+oauth.HashSecret("r1"), `{"hash":"r1`), `: hash is not a hex SHA-256`},
		{"recovery hash twice", edit(ada, oauth.HashSecret("r3"), oauth.HashSecret("r1")), `its hash is listed twice`},
		{"negative step", edit(ada, `"last_step":59000003`, `"last_step":-1`), `last_step is negative`},
		{"recovery codes unconfirmed", edit(ada, `"confirmed_at":"2026-03-04T05:07:07.123Z",`, ``), `an unconfirmed enrolment has no recovery codes`},
		{"totp of a missing user", edit(ada, `"user_id":"u1"`, `"user_id":"nobody"`), `totp "nobody": user "nobody" is neither in the file nor in the database`},
		{"registration of a client not in the file", edit(reg, `"client_id":"dcr-tv"`, `"client_id":"tv-elsewhere"`), `client "tv-elsewhere" is not in the file: a registration goes with its client`},
		{"registration hash plain", edit(reg, oauth.HashSecret("lk_rat_dcr"), "lk_rat_dcr"), `client registration "dcr-tv": access_hash is not a hex SHA-256`},
		{"registration without time", edit(reg, `,"created_at":"2026-03-04T05:07:07.123Z"`, ``), `client registration "dcr-tv": created_at is required`},
		{"revocation without expiry", edit(`{"kind":"revoked_access_token"`, `,"expires_at":"`, `,"x":"`), `unknown field "x"`},
		{"revocation without client", edit(`{"kind":"revoked_access_token"`, `"client_id":"printer"`, `"client_id":""`), `revoked access token "jti-live": client_id is empty`},
		{"registration twice", strings.Replace(buf.String(), `"client_registrations":1`, `"client_registrations":2`, 1) + lines[find(reg)] + "\n", `client_registration "dcr-tv" appears twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := sqlitetest.Open(t)
			dst.UseSealer(ring(t, sealKeyA))
			_, err := Import(t.Context(), dst, strings.NewReader(tt.in), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %v, want %s", err, tt.want)
			}
			if cs, us, _ := listAll(t, dst); len(cs)+len(us) != 0 {
				t.Errorf("a refused import wrote %d clients and %d users", len(cs), len(us))
			}
		})
	}
}
