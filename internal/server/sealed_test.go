package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/device"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/testenv"
)

// Secrets keys of the sealing tests: a, then b.
const (
	sealKeyA = "lk_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	sealKeyB = "lk_sk_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"
)

func mustRing(t testing.TB, keys ...string) *seal.Ring {
	t.Helper()
	r, err := seal.Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawDB is a database a test can dump as it lies on disk, and open again
// as a second instance would.
type rawDB struct {
	name string
	// open returns a fresh, migrated store, a function that dumps every
	// row (SQLite: the database file and its WAL, bytes as they are;
	// PostgreSQL: pg_dump's data), and one that opens another handle on
	// the same database.
	open func(t *testing.T) (st store.Store, dump func() []byte, another func() store.Store)
}

var rawDBs = []rawDB{
	{"sqlite", func(t *testing.T) (store.Store, func() []byte, func() store.Store) {
		path := filepath.Join(t.TempDir(), "latchkey.db")
		openOne := func() store.Store {
			st, err := sqlite.OpenAndMigrate(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		dump := func() []byte {
			var all []byte
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				all = append(all, b...)
			}
			return all
		}
		return openOne(), dump, openOne
	}},
	{"postgres", func(t *testing.T) (store.Store, func() []byte, func() store.Store) {
		dsn := testenv.PostgresDSN(t)
		st, schema := pgtest.OpenInSchema(t, dsn)
		dump := func() []byte {
			out, err := exec.CommandContext(t.Context(), "pg_dump", "--data-only", "--schema", schema, dsn).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			return out
		}
		another := func() store.Store {
			other, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 4, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			return other
		}
		return st, dump, another
	}},
}

// spellings are the forms a secret takes in a dump: its bytes, and their
// hex (PostgreSQL's bytea) and base64; for a long secret, 24 bytes from its
// middle, so that no fragment of a key is left either.
func spellings(secret []byte) map[string][]byte {
	s := secret
	if len(s) > 48 {
		s = s[len(s)/2 : len(s)/2+24]
	}
	return map[string][]byte{
		"bytes":  s,
		"hex":    []byte(hex.EncodeToString(s)),
		"base64": []byte(base64.StdEncoding.EncodeToString(s)[:len(s)*4/3-4]),
	}
}

// TestDumpHoldsNoSecrets: with a secrets key, a raw dump of the database
// holds no private signing key (ES256 or RS256), no CSRF key and no
// invitation token of a mail waiting in the outbox (docs/security.md
// SS-05, INV-02), in any spelling. The dump does hold what is not secret,
// so the search can find what is there.
func TestDumpHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	for _, db := range rawDBs {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			var dump func() []byte
			s := newInvServer(t, backend{db.name, func(tb testing.TB) store.Store {
				st, d, _ := db.open(t)
				st.UseSealer(mustRing(t, sealKeyA))
				dump = d
				return st
			}}, nil)
			ctx := t.Context()
			id := s.send(t, map[string]any{"clientGroupIds": []string{groupRead}})
			tok := s.tokenFromOutbox(t, id)

			secrets := map[string][]byte{"invitation token": []byte(tok), "token's random part": []byte(strings.TrimPrefix(tok, oauth.PrefixInvitation))}
			ks, err := s.Store.ListSigningKeys(ctx)
			mustDo(t, err)
			algs := map[string]bool{}
			for _, k := range ks {
				secrets[k.Algorithm+" key "+k.ID] = k.PrivateKey
				algs[k.Algorithm] = true
			}
			if !algs["ES256"] || !algs["RS256"] {
				t.Fatalf("signing keys %v; want ES256 and RS256", algs)
			}
			csrf, err := s.Store.ServerSecret(ctx, "csrf", nil)
			mustDo(t, err)
			secrets["CSRF key"] = csrf

			raw := dump()
			if !bytes.Contains(raw, []byte("devices@acme.example")) || !bytes.Contains(raw, []byte("Acme Sensors")) {
				t.Fatalf("the dump (%d bytes) lacks the invitation's recipient and organization: it is not the database", len(raw))
			}
			for name, secret := range secrets {
				for form, b := range spellings(secret) {
					if bytes.Contains(raw, b) {
						t.Errorf("the dump holds the %s (%s)", name, form)
					}
				}
			}
		})
	}
}

// TestSecretsRotateUnderLoad: with a new key put first (every instance
// restarted with b, a), re-sealing runs from another handle on the
// database while the server serves device flows, refreshes, invitations,
// key rotations and key sets: no request fails, and afterwards everything
// is sealed under b and opens with b alone.
func TestSecretsRotateUnderLoad(t *testing.T) {
	t.Parallel()
	for _, db := range rawDBs {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			var another func() store.Store
			s := newInvServer(t, backend{db.name, func(tb testing.TB) store.Store {
				st, _, a := db.open(t)
				st.UseSealer(mustRing(t, sealKeyA))
				another = a
				return st
			}}, func(c *config.Config) { c.Device.RequestsPerIPPerMinute = 0 })
			ctx := t.Context()
			var invitations []string
			for range 3 {
				invitations = append(invitations, s.send(t, map[string]any{"clientGroupIds": []string{groupRead}}))
			}
			// The restart with the new key first.
			s.Store.UseSealer(mustRing(t, sealKeyB, sealKeyA))
			rotator := another()
			rotator.UseSealer(mustRing(t, sealKeyB, sealKeyA))

			const workers, rounds = 3, 6
			var (
				mu   sync.Mutex
				errs []error
				wg   sync.WaitGroup
			)
			fail := func(err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range rounds {
						if err := s.deviceFlowAndRefresh(ctx); err != nil {
							fail(fmt.Errorf("worker %d round %d: %w", w, r, err))
						}
						if id, err := s.sendInvitation(ctx); err != nil {
							fail(fmt.Errorf("worker %d round %d: %w", w, r, err))
						} else {
							mu.Lock()
							invitations = append(invitations, id)
							mu.Unlock()
						}
						if _, err := s.Srv.Keys().Rotate(ctx, []string{"ES256", "RS256"}[r%2]); err != nil {
							fail(fmt.Errorf("worker %d round %d: rotate keys: %w", w, r, err))
						}
						if resp, err := http.Get(s.URL + "/oauth2/jwks"); err != nil || resp.StatusCode != 200 {
							fail(fmt.Errorf("worker %d round %d: jwks: %v %v", w, r, resp, err))
						} else {
							resp.Body.Close()
						}
					}
				}()
			}
			done, loadDone := make(chan struct{}), make(chan struct{})
			var resealed int
			rotations := 0
			go func() {
				defer close(done)
				for {
					rep, err := rotator.SealSecrets(ctx, true)
					if err != nil {
						fail(fmt.Errorf("secrets rotate: %w", err))
						return
					}
					resealed += rep.Sealed
					rotations++
					select {
					case <-loadDone:
						return
					default:
					}
				}
			}()
			wg.Wait()
			close(loadDone)
			<-done
			for _, err := range errs {
				t.Error(err)
			}
			rep, err := rotator.SealSecrets(ctx, true)
			if err != nil || rep.Left != 0 {
				t.Errorf("secrets rotate after the load: %+v, %v", rep, err)
			}
			t.Logf("%d rotations during the load re-sealed %d secrets; the last one after it %d", rotations, resealed, rep.Sealed)
			if resealed == 0 {
				t.Error("no rotation during the load re-sealed anything")
			}

			// Only b now: everything opens.
			s.Store.UseSealer(mustRing(t, sealKeyB))
			ks, err := s.Store.ListSigningKeys(ctx)
			if err != nil || len(ks) < 2 {
				t.Errorf("signing keys under b alone: %d, %v", len(ks), err)
			}
			if _, err := s.Store.ServerSecret(ctx, "csrf", nil); err != nil {
				t.Errorf("CSRF key under b alone: %v", err)
			}
			for _, id := range invitations {
				if ms, err := s.Store.ListMail(ctx, id); err != nil || len(ms) != 1 || !strings.Contains(ms[0].Body, ms[0].Link) {
					t.Errorf("invitation %s's mail under b alone: %+v, %v", id, ms, err)
				}
			}
			if _, err := s.sendInvitation(ctx); err != nil {
				t.Errorf("after the rotation: %v", err)
			}
		})
	}
}

// deviceFlowAndRefresh runs one device flow of the TV, approved by the
// test person, then refreshes its token once; errors, not test failures,
// so that load goroutines can run it.
func (s *testServer) deviceFlowAndRefresh(ctx context.Context) error {
	a, err := s.postForm(ctx, "/oauth2/device_authorization", url.Values{"client_id": {tvClient}, "scope": {"openid offline_access"}})
	if err != nil {
		return fmt.Errorf("device authorization: %w", err)
	}
	norm, _ := device.NormalizeUserCode(a.str("user_code"))
	if _, err := s.Store.DecideDeviceAuth(ctx, oauth.HashSecret(norm), s.User.ID, "", true, s.Clock.Now()); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	tok, err := s.postForm(ctx, "/oauth2/token", url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {a.str("device_code")}, "client_id": {tvClient}})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if _, err := s.postForm(ctx, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "client_id": {tvClient}}); err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	return nil
}

// postForm posts a form and wants a 200.
func (s *testServer) postForm(ctx context.Context, path string, form url.Values) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return sendWanting(req, 200)
}

// sendInvitation sends an invitation as the acme admin; errors, not test failures.
func (s *invServer) sendInvitation(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/organizations/acme/client-group-invitations/send",
		strings.NewReader(`{"recipientEmail":"devices@acme.example","clientGroupIds":["`+groupRead+`"]}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.adminAT)
	r, err := sendWanting(req, 201)
	if err != nil {
		return "", fmt.Errorf("send invitation: %w", err)
	}
	return r.str("id"), nil
}

func sendWanting(req *http.Request, status int) (reply, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: b.String()}
	_ = json.Unmarshal(b.Bytes(), &r.Body)
	if r.Status != status {
		return r, fmt.Errorf("%d %s", r.Status, r.Raw)
	}
	return r, nil
}
