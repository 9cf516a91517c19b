package keys

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newManager(t *testing.T, clk *fakeClock) *Manager {
	t.Helper()
	st := sqlitetest.Open(t)
	return &Manager{Store: st, Now: clk.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublishDelay: time.Minute, Retain: time.Hour, Refresh: 30 * time.Second}
}

func kids(t *testing.T, m *Manager) []string {
	t.Helper()
	set, err := m.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestInitCreatesOneKey(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, clk)
	for range 2 { // a second Init (a restart) keeps the key
		if err := m.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := kids(t, m); len(got) != 1 {
		t.Fatalf("JWKS kids = %v; want one", got)
	}
	k, err := m.Signer(t.Context())
	if err != nil || k.ID() != kids(t, m)[0] {
		t.Fatalf("Signer = %v, %v", k, err)
	}
}

// TestRotate: the new key is published at once but signs only after
// PublishDelay; the old one stays published for Retain after it stops.
func TestRotate(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newManager(t, clk)
	ctx := t.Context()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := m.Signer(ctx)
	rec, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(t, m); len(got) != 2 || got[0] != rec.ID {
		t.Fatalf("after rotate JWKS kids = %v; want the new %s first, then the old", got, rec.ID)
	}
	if k, _ := m.Signer(ctx); k.ID() != old.ID() {
		t.Errorf("signing with %s before the publish delay; want the old key %s", k.ID(), old.ID())
	}
	clk.t = clk.t.Add(time.Minute + time.Second)
	if k, _ := m.Signer(ctx); k.ID() != rec.ID {
		t.Errorf("after the publish delay signing with %s; want %s", k.ID(), rec.ID)
	}
	// Tokens the old key signed still verify until it is pruned.
	jws, err := old.Sign(rand.Reader, "JWT", map[string]string{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Verify(ctx, jws); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
	clk.t = clk.t.Add(30 * time.Minute)
	if err := m.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, m); len(got) != 2 {
		t.Errorf("pruned before Retain: %v", got)
	}
	clk.t = clk.t.Add(31 * time.Minute)
	if err := m.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute) // let the cache expire
	if got := kids(t, m); len(got) != 1 || got[0] != rec.ID {
		t.Errorf("after Retain JWKS kids = %v; want only %s", got, rec.ID)
	}
}

// TestOtherInstanceSeesRotation: a second manager on the same store (another
// instance) publishes the new key within Refresh, and verifies tokens signed
// with a key it has not loaded yet by reloading on the unknown kid.
func TestOtherInstanceSeesRotation(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newManager(t, clk)
	ctx := t.Context()
	if err := a.Init(ctx); err != nil {
		t.Fatal(err)
	}
	b := &Manager{Store: a.Store, Now: clk.Now, Log: a.Log, PublishDelay: a.PublishDelay, Retain: a.Retain, Refresh: a.Refresh}
	if err := b.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(a.Refresh)
	if got := kids(t, b); len(got) != 2 || got[0] != rec.ID {
		t.Fatalf("instance b JWKS after Refresh = %v; want %s published", got, rec.ID)
	}
	clk.t = clk.t.Add(a.PublishDelay)
	ka, _ := a.Signer(ctx)
	jws, err := ka.Sign(rand.Reader, "at+jwt", map[string]string{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Verify(ctx, jws); err != nil {
		t.Errorf("instance b cannot verify instance a's token: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Now()}
	m := newManager(t, clk)
	ctx := t.Context()
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := m.Signer(ctx)
	good, err := k.Sign(rand.Reader, "at+jwt", map[string]string{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + k.ID() + `"}`))
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + k.ID() + `"}`))
	otherKid := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"nope"}`))
	tampered := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`))
	for name, jws := range map[string]string{
		"alg none":        none + "." + parts[1] + ".",
		"alg HS256":       hs + "." + parts[1] + "." + parts[2],
		"unknown kid":     otherKid + "." + parts[1] + "." + parts[2],
		"tampered claims": parts[0] + "." + tampered + "." + parts[2],
		"two parts":       parts[0] + "." + parts[1],
		"garbage":         "a.b.c",
	} {
		if _, _, err := m.Verify(ctx, jws); err != ErrInvalidToken {
			t.Errorf("%s: Verify = %v; want ErrInvalidToken", name, err)
		}
	}
	if typ, _, err := m.Verify(ctx, good); err != nil || typ != "at+jwt" {
		t.Errorf("good token: %q, %v", typ, err)
	}
}

// TestInitTogether: instances starting at once on an empty database end up
// with one first key between them.
func TestInitTogether(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	first := newManager(t, clk)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			m := &Manager{Store: first.Store, Now: clk.Now, Log: first.Log, PublishDelay: time.Minute, Retain: time.Hour, Refresh: time.Second}
			errs <- m.Init(t.Context())
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ks, err := first.Store.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 {
		t.Errorf("%d signing keys after 8 instances started together; want 1", len(ks))
	}
}
