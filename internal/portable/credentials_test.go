package portable

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// seedCredentials adds two service keys (one rotated) and two registration
// tokens (one used up) to s.
func seedCredentials(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	for _, k := range []*store.ServiceKey{
		{ID: "100000000001", Name: "Front end", SecretHash: oauth.HashSecret("lk_sk_one"), CreatedAt: t0},
		{ID: "100000000002", Name: "Staging \"front\" <&>", SecretHash: oauth.HashSecret("lk_sk_two"), CreatedAt: t0},
	} {
		mustCreate(t, s.CreateServiceKey(ctx, k))
	}
	if _, err := s.RotateServiceKey(ctx, "100000000002", oauth.HashSecret("lk_sk_two_rotated"), at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*store.RegistrationToken{
		{ID: "rt1", Hash: oauth.HashSecret("lk_it_one"), Description: "factory line 3", UsesLeft: 40, CreatedAt: t0, ExpiresAt: at(30 * 24 * time.Hour)},
		{ID: "rt2", Hash: oauth.HashSecret("lk_it_two"), UsesLeft: 0, CreatedAt: t0, ExpiresAt: at(time.Hour)},
	} {
		mustCreate(t, s.CreateRegistrationToken(ctx, r))
	}
}

func mustCreate(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func listCredentials(t *testing.T, s store.Store) ([]*store.ServiceKey, []*store.RegistrationToken) {
	t.Helper()
	ks, err := s.ListServiceKeys(t.Context())
	mustCreate(t, err)
	rs, err := s.ListRegistrationTokens(t.Context())
	mustCreate(t, err)
	return ks, rs
}

// TestCredentialsRoundTrip: service API keys (with their secret hashes and
// rotation times) and registration tokens (with their hashes and the uses
// they have left) move to either backend unchanged, so a front end and a
// factory's registrations keep working after a move; a second import is
// refused or skipped, and a file whose secret is another key's is refused
// before anything is written.
func TestCredentialsRoundTrip(t *testing.T) {
	t.Parallel()
	src := sqlitetest.Open(t)
	seed(t, src)
	seedCredentials(t, src)
	wantK, wantR := listCredentials(t, src)
	var buf bytes.Buffer
	n, err := Export(t.Context(), src, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{Clients: 3, Users: 3, SigningKeys: 2, ServiceKeys: 2, RegistrationTokens: 2}); n != want {
		t.Fatalf("Export counts = %+v, want %+v", n, want)
	}
	out := buf.String()
	for _, want := range []string{
		`"service_keys":2,"registration_tokens":2`,
		`{"kind":"service_key","id":"100000000002","name":"Staging \"front\" <&>","secret_hash":"` + oauth.HashSecret("lk_sk_two_rotated") + `","created_at":"2026-03-04T05:06:07.123Z","rotated_at":"2026-03-04T06:06:07.123Z"}`,
		`{"kind":"registration_token","id":"rt1","hash":"` + oauth.HashSecret("lk_it_one") + `","description":"factory line 3","uses_left":40,`,
		`"uses_left":0,`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "lk_sk_") || strings.Contains(out, "lk_it_") {
		t.Errorf("the export holds a secret:\n%s", out)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			dst := b.open(t)
			n, err := Import(ctx, dst, strings.NewReader(out), Options{})
			if want := (Counts{Clients: 3, Users: 3, SigningKeys: 2, ServiceKeys: 2, RegistrationTokens: 2}); err != nil || n != want {
				t.Fatalf("Import = %+v, %v; want %+v", n, err, want)
			}
			gotK, gotR := listCredentials(t, dst)
			if d := cmp.Diff(wantK, gotK, diffOpts); d != "" {
				t.Errorf("service keys (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantR, gotR, diffOpts); d != "" {
				t.Errorf("registration tokens (-want +got):\n%s", d)
			}
			// The key's secret still opens it, by its hash.
			if k, err := dst.GetServiceKeyBySecret(ctx, oauth.HashSecret("lk_sk_two_rotated")); err != nil || k.ID != "100000000002" {
				t.Errorf("GetServiceKeyBySecret after the import = %+v, %v", k, err)
			}
			var again bytes.Buffer
			if _, err := Export(ctx, dst, &again); err != nil {
				t.Fatal(err)
			}
			first, second := strings.SplitN(out, "\n", 2)[1], strings.SplitN(again.String(), "\n", 2)[1]
			if d := cmp.Diff(first, second); d != "" {
				t.Errorf("export of the copy (-first +again):\n%s", d)
			}

			// Again, without and with SkipExisting.
			if _, err := Import(ctx, dst, strings.NewReader(credentialsOnly(t, out)), Options{}); !isExists(err, kindServiceKey, "100000000001") {
				t.Errorf("second import: %v, want service key 100000000001 exists", err)
			}
			if n, err := Import(ctx, dst, strings.NewReader(credentialsOnly(t, out)), Options{SkipExisting: true}); err != nil || n != (Counts{Skipped: 4}) {
				t.Errorf("second import, skipping: %+v, %v", n, err)
			}
		})
	}

	// A database with another key of the same secret, or another token of
	// the same hash: refused before anything is written.
	for _, tt := range []struct {
		name, want string
		prep       func(store.Store) error
	}{
		{"same secret", `service key "100000000001": its secret is service key "999999999999"'s`, func(s store.Store) error {
			return s.CreateServiceKey(t.Context(), &store.ServiceKey{ID: "999999999999", Name: "x", SecretHash: oauth.HashSecret("lk_sk_one"), CreatedAt: t0})
		}},
		{"same hash", `registration token "rt1": its hash is registration token "other"'s`, func(s store.Store) error {
			return s.CreateRegistrationToken(t.Context(), &store.RegistrationToken{ID: "other", Hash: oauth.HashSecret("lk_it_one"), UsesLeft: 1, CreatedAt: t0, ExpiresAt: at(time.Hour)})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := sqlitetest.Open(t)
			mustCreate(t, tt.prep(dst))
			before, _ := listCredentials(t, dst)
			_, err := Import(t.Context(), dst, strings.NewReader(credentialsOnly(t, out)), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %v, want %s", err, tt.want)
			}
			if after, _ := listCredentials(t, dst); len(after) != len(before) {
				t.Errorf("the refused import wrote %d service keys", len(after)-len(before))
			}
		})
	}
}

// credentialsOnly is the export out with only its service keys and
// registration tokens, and a header that counts them.
func credentialsOnly(t *testing.T, out string) string {
	t.Helper()
	lines := []string{`{"kind":"latchkey-export","version":3,"exported_at":"2026-03-04T05:06:07.000Z","clients":0,"users":0,"signing_keys":0,"service_keys":2,"registration_tokens":2}`}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"kind":"service_key"`) || strings.HasPrefix(l, `{"kind":"registration_token"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 5 {
		t.Fatalf("the export has %d credential lines, want 4", len(lines)-1)
	}
	return strings.Join(lines, "\n") + "\n"
}

func isExists(err error, kind, id string) bool {
	var ee *ExistsError
	return errors.As(err, &ee) && ee.Kind == kind && ee.ID == id
}

// TestCredentialLinesChecked: a credential line that could not work is
// refused with its line number, before anything is written.
func TestCredentialLinesChecked(t *testing.T) {
	t.Parallel()
	h := func(keys, tokens string) string {
		return `{"kind":"latchkey-export","version":3,"exported_at":"2026-03-04T05:06:07.000Z","clients":0,"users":0,"signing_keys":0,"service_keys":` + keys + `,"registration_tokens":` + tokens + `}` + "\n"
	}
	hash := oauth.HashSecret("x")
	key := func(id, secretHash string) string {
		return `{"kind":"service_key","id":"` + id + `","name":"n","secret_hash":"` + secretHash + `"}` + "\n"
	}
	tok := func(id, hash, rest string) string {
		return `{"kind":"registration_token","id":"` + id + `","hash":"` + hash + `"` + rest + `}` + "\n"
	}
	for _, tt := range []struct{ name, in, want string }{
		{"key hash not hex", h("1", "0") + key("1", "secret"), `line 2: service key "1": secret_hash is not a hex SHA-256`},
		{"key hash upper case", h("1", "0") + key("1", strings.ToUpper(hash)), `line 2: service key "1": secret_hash is not a hex SHA-256`},
		{"key without name", h("1", "0") + `{"kind":"service_key","id":"1","secret_hash":"` + hash + `"}` + "\n", `line 2: service key "1": name is empty`},
		{"two keys, one secret", h("2", "0") + key("1", hash) + key("2", hash), `line 3: service key "2" has the secret of the service key on line 2`},
		{"token uses negative", h("0", "1") + tok("t", hash, `,"uses_left":-1,"expires_at":"2026-03-04T05:06:07.000Z"`), `line 2: registration token "t": uses_left is negative`},
		{"token without expiry", h("0", "1") + tok("t", hash, `,"uses_left":1`), `line 2: registration token "t": expires_at is required`},
		{"token hash short", h("0", "1") + tok("t", hash[:10], `,"uses_left":1,"expires_at":"2026-03-04T05:06:07.000Z"`), `line 2: registration token "t": hash is not a hex SHA-256`},
		{"two tokens, one hash", h("0", "2") + tok("a", hash, `,"uses_left":1,"expires_at":"2026-03-04T05:06:07.000Z"`) + tok("b", hash, `,"uses_left":1,"expires_at":"2026-03-04T05:06:07.000Z"`), `line 3: registration token "b" has the hash of the registration token on line 2`},
		{"a key in a version 2 file", strings.Replace(h("0", "0"), `"version":3`, `"version":2`, 1) + key("1", hash), "the header announces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := sqlitetest.Open(t)
			_, err := Import(t.Context(), dst, strings.NewReader(tt.in), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %v, want %s", err, tt.want)
			}
			if ks, rs := listCredentials(t, dst); len(ks)+len(rs) != 0 {
				t.Errorf("a refused import wrote %d keys and %d tokens", len(ks), len(rs))
			}
		})
	}
}
