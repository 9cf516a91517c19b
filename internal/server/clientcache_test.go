package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// TestClientCacheAcrossInstances: two instances on one database, each with
// its own client cache. A secret rotated through one works on the other at
// once (a mismatch is checked against a fresh read), and the rotated-out
// secret is refused everywhere once the cache TTL has passed.
func TestClientCacheAcrossInstances(t *testing.T) {
	t.Parallel()
	a := newTestServer(t, true, nil)
	srvB, err := New(t.Context(), a.Srv.cfg, a.Store, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: a.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewServer(srvB)
	t.Cleanup(b.Close)
	bServer := &testServer{URL: b.URL, Store: a.Store, Clock: a.Clock}

	authorize := func(s *testServer, secret string) int {
		return s.post(t, "/oauth2/device_authorization", url.Values{"scope": {"print"}}, printerClient, secret).Status
	}
	if got := authorize(bServer, printerSecret); got != 200 { // b caches the client
		t.Fatalf("before rotation: %d", got)
	}
	req, _ := http.NewRequest("POST", a.URL+"/admin/v1/clients/"+printerClient+"/secret", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	r := do(t, req)
	var rotated struct {
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &rotated); err != nil || rotated.Secret == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	if got := authorize(bServer, rotated.Secret); got != 200 {
		t.Errorf("the new secret on the other instance: %d; want 200 at once", got)
	}
	a.Clock.Advance(clientCacheTTL + time.Second)
	if got := authorize(bServer, printerSecret); got != 401 {
		t.Errorf("the old secret after the cache TTL: %d; want 401", got)
	}
	if got := authorize(a, printerSecret); got != 401 {
		t.Errorf("the old secret on the rotating instance: %d; want 401", got)
	}
}

// TestGroupCache: a client's groups are cached for clientCacheTTL; a change
// made elsewhere shows once it has passed, and one made through this
// instance at once. What a caller does to the groups it got leaves the
// cache alone.
func TestGroupCache(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	ctx := t.Context()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cs := newCachingStore(st, func() time.Time { return clock })
	mustNil := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustNil(st.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme", CreatedAt: clock}))
	g := &store.ClientGroup{ID: "g1", OrgID: "acme", Name: "sensors", Scopes: []string{"read"}, CreatedAt: clock}
	mustNil(st.CreateClientGroup(ctx, g))
	mustNil(st.CreateInvitation(ctx, &store.Invitation{ID: "i1", TokenHash: "h1", OrgID: "acme", GroupIDs: []string{"g1"},
		Status: store.InvitationPending, CreatedAt: clock, ExpiresAt: clock.Add(time.Hour)}, nil))
	_, err := cs.AcceptInvitation(ctx, "h1", &store.Acceptance{NewClient: &store.Client{ID: "dev", Name: "dev",
		AuthMethod: store.AuthClientSecretBasic, SecretHash: "x", CreatedAt: clock, UpdatedAt: clock}}, clock)
	mustNil(err)

	scopes := func() string {
		t.Helper()
		gs, err := cs.ListClientGroupsOf(ctx, "dev")
		mustNil(err)
		var out []string
		for _, g := range gs {
			out = append(out, strings.Join(g.Scopes, "+"))
			g.Scopes[0] = "spoiled" // must not reach the cache
		}
		return strings.Join(out, ",")
	}
	if got := scopes(); got != "read" {
		t.Fatalf("groups = %q; want read", got)
	}
	g.Scopes = []string{"write"}
	mustNil(st.UpdateClientGroup(ctx, g)) // as another instance would
	if got := scopes(); got != "read" {
		t.Errorf("within the TTL after a change elsewhere: %q; want the cached read", got)
	}
	clock = clock.Add(clientCacheTTL)
	if got := scopes(); got != "write" {
		t.Errorf("after the TTL: %q; want write", got)
	}
	g.Scopes = []string{"admin"}
	mustNil(cs.UpdateClientGroup(ctx, g))
	if got := scopes(); got != "admin" {
		t.Errorf("after a change through this instance: %q; want admin at once", got)
	}
	mustNil(cs.RemoveGroupClient(ctx, "g1", "dev"))
	if got := scopes(); got != "" {
		t.Errorf("after removal through this instance: %q; want none", got)
	}
}

// TestServiceKeyCacheAcrossInstances: a service API key is cached like a
// client. A key rotated through one instance: its old secret is refused
// there at once and on the other once the cache TTL has passed; the new
// secret works on both at once (misses are not cached). A deleted key
// goes the same way.
func TestServiceKeyCacheAcrossInstances(t *testing.T) {
	t.Parallel()
	a := newTestServer(t, true, nil)
	srvB, err := New(t.Context(), a.Srv.cfg, a.Store, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: a.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewServer(srvB)
	t.Cleanup(b.Close)
	bServer := &testServer{URL: b.URL, Store: a.Store, Clock: a.Clock}

	verify := func(s *testServer, k serviceKey) int {
		r := s.api(t, apiCall{path: "device/verification", auth: basic(k), body: map[string]string{"userCode": "BCDF-GHJK"}})
		return r.Status
	}
	k := a.newServiceKey(t)
	for name, s := range map[string]*testServer{"a": a, "b": bServer} { // both cache it
		if got := verify(s, k); got != 200 {
			t.Fatalf("%s before rotation: %d", name, got)
		}
	}
	r := a.jsonRequest(t, "POST", "/admin/v1/api-keys/"+k.ID+"/rotate", testAdminToken, map[string]string{})
	var rotated serviceKey
	if err := json.Unmarshal([]byte(r.Raw), &rotated); err != nil || rotated.Secret == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	rotated.ID = k.ID
	if got := verify(a, k); got != 401 {
		t.Errorf("the old secret on the rotating instance: %d; want 401 at once", got)
	}
	if got := verify(bServer, rotated); got != 200 {
		t.Errorf("the new secret on the other instance: %d; want 200 at once", got)
	}
	if got := verify(bServer, k); got != 200 {
		t.Errorf("the old secret on the other instance within the TTL: %d; want 200 (cached)", got)
	}
	a.Clock.Advance(clientCacheTTL + time.Second)
	if got := verify(bServer, k); got != 401 {
		t.Errorf("the old secret on the other instance after the TTL: %d; want 401", got)
	}

	if r := a.jsonRequest(t, "DELETE", "/admin/v1/api-keys/"+k.ID, testAdminToken, nil); r.Status/100 != 2 {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if got := verify(a, rotated); got != 401 {
		t.Errorf("a deleted key on the deleting instance: %d; want 401 at once", got)
	}
	a.Clock.Advance(clientCacheTTL + time.Second)
	if got := verify(bServer, rotated); got != 401 {
		t.Errorf("a deleted key on the other instance after the TTL: %d; want 401", got)
	}
}

// TestClientCacheDropsExpired: the cache holds the clients of the last
// TTL or two, not every client it has seen: after the TTL, the next read
// that caches sweeps out the expired entries of all three caches.
func TestClientCacheDropsExpired(t *testing.T) {
	t.Parallel()
	st := sqlitetest.Open(t)
	ctx := t.Context()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cs := newCachingStore(st, func() time.Time { return clock })
	const n = 50
	for i := range n + 1 {
		c := &store.Client{ID: "dev-" + strconv.Itoa(i), Name: "Device", GrantTypes: []string{store.GrantClientCredentials},
			AuthMethod: store.AuthClientSecretBasic, SecretHash: "x", CreatedAt: clock, UpdatedAt: clock}
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if _, err := cs.GetClient(ctx, "dev-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.ListClientGroupsOf(ctx, "dev-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(cs.clients) != n || len(cs.groups) != n {
		t.Fatalf("cached %d clients and %d group lists; want %d each", len(cs.clients), len(cs.groups), n)
	}
	clock = clock.Add(clientCacheTTL)
	if _, err := cs.GetClient(ctx, "dev-"+strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	if len(cs.clients) != 1 || len(cs.groups) != 0 {
		t.Errorf("after the TTL: %d clients and %d group lists cached; want only the one just read", len(cs.clients), len(cs.groups))
	}
}
