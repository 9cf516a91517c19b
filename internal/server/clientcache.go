package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// clientCacheTTL is how long an instance trusts a client it read. Client
// authentication is on every token request, so without a cache each one
// costs a database read. The cache cannot break a flow: a secret that does
// not match the cached client is checked again against a fresh read
// (clientauth.Authenticate), so a rotated-in secret works at once
// everywhere; what may linger for up to the TTL on other instances is a
// deleted client or a rotated-out secret. Writes through this instance
// (the admin API) drop the entry at once.
const clientCacheTTL = 2 * time.Second

// clientCacheSize bounds the entries kept: invited device clients can
// number in the millions, and the hot ones are refetched cheaply.
const clientCacheSize = 10000

// cachingStore is the store with GetClient and ListClientGroupsOf answered
// from a short-lived cache. It is the clientauth.Clients every endpoint that
// authenticates clients is given: GetClientFresh bypasses the cache.
//
// A client's groups are read on every client credentials token (they
// decide its scopes and go into the token), and change only by an admin's
// or an invitation's hand. The same TTL applies: on other instances a
// device may get a token reflecting its old groups for up to
// clientCacheTTL after a change. Every write through this instance that can
// change a client's groups drops the whole group cache, since one group's
// change touches all its members.
type cachingStore struct {
	store.Store
	now func() time.Time

	mu      sync.RWMutex
	clients map[string]cachedClient
	groups  map[string]cachedGroups // by client id
	keys    map[string]cachedKey    // service API keys, by secret hash
	// swept is when expired entries were last dropped (tidyLocked).
	swept time.Time
}

// cachedKey is a service API key as read, kept for clientCacheTTL: a front
// end authenticates every call of the service API with it (each of its
// devices' polls), and without the cache each call costs a database read.
type cachedKey struct {
	k       *store.ServiceKey
	expires time.Time
}

type cachedGroups struct {
	groups  []*store.ClientGroup
	expires time.Time
}

type cachedClient struct {
	c       *store.Client
	expires time.Time
}

func (e cachedKey) until() time.Time    { return e.expires }
func (e cachedGroups) until() time.Time { return e.expires }
func (e cachedClient) until() time.Time { return e.expires }

// tidyLocked drops the entries that have expired, at most once per
// clientCacheTTL, so the caches hold the clients of the last few seconds
// rather than every client seen until clientCacheSize: a new device client
// per invitation had kept 10,000 expired clients (and their map, which Go
// never shrinks) in the live heap, five times over in RSS at GOGC=400
// (BENCHMARKS.md, the soak). The sweep costs one pass over what the TTL
// keeps; the caller holds s.mu for writing.
func (s *cachingStore) tidyLocked(now time.Time) {
	if now.Sub(s.swept) < clientCacheTTL {
		return
	}
	s.swept = now
	dropExpired(s.clients, now)
	dropExpired(s.groups, now)
	dropExpired(s.keys, now)
}

func dropExpired[V interface{ until() time.Time }](m map[string]V, now time.Time) {
	for k, e := range m {
		if !now.Before(e.until()) {
			delete(m, k)
		}
	}
}

func newCachingStore(st store.Store, now func() time.Time) *cachingStore {
	return &cachingStore{Store: st, now: now, clients: make(map[string]cachedClient), groups: make(map[string]cachedGroups), keys: make(map[string]cachedKey)}
}

// GetClient returns a copy of the cached client, or reads and caches it.
// Misses are not cached, so a client created on another instance is seen
// at once.
func (s *cachingStore) GetClient(ctx context.Context, id string) (*store.Client, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.clients[id]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		c := *e.c
		return &c, nil
	}
	return s.GetClientFresh(ctx, id)
}

// GetClientFresh reads the client from the database and refreshes the cache.
func (s *cachingStore) GetClientFresh(ctx context.Context, id string) (*store.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		if err == store.ErrNotFound {
			s.forget(id)
		}
		return nil, err
	}
	cached := *c
	now := s.now()
	s.mu.Lock()
	s.tidyLocked(now)
	makeRoom(s.clients)
	s.clients[id] = cachedClient{c: &cached, expires: now.Add(clientCacheTTL)}
	s.mu.Unlock()
	return c, nil
}

// makeRoom drops an arbitrary entry (map order is random) when m holds
// clientCacheSize of them.
func makeRoom[V any](m map[string]V) {
	if len(m) < clientCacheSize {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

func (s *cachingStore) forget(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	delete(s.groups, id)
	s.mu.Unlock()
}

// ListClientGroupsOf returns a copy of the cached groups of clientID, or
// reads and caches them.
func (s *cachingStore) ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.groups[clientID]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return copyGroups(e.groups), nil
	}
	gs, err := s.Store.ListClientGroupsOf(ctx, clientID)
	if err != nil {
		return nil, err
	}
	now = s.now()
	s.mu.Lock()
	s.tidyLocked(now)
	makeRoom(s.groups)
	s.groups[clientID] = cachedGroups{groups: copyGroups(gs), expires: now.Add(clientCacheTTL)}
	s.mu.Unlock()
	return gs, nil
}

func copyGroups(gs []*store.ClientGroup) []*store.ClientGroup {
	out := make([]*store.ClientGroup, len(gs))
	for i, g := range gs {
		c := *g
		c.Scopes = slices.Clone(g.Scopes)
		out[i] = &c
	}
	return out
}

// forgetGroups drops every client's cached groups.
func (s *cachingStore) forgetGroups() {
	s.mu.Lock()
	clear(s.groups)
	s.mu.Unlock()
}

// The writes that can change some client's groups, or what a group grants,
// drop the group cache.

func (s *cachingStore) UpdateClientGroup(ctx context.Context, g *store.ClientGroup) error {
	defer s.forgetGroups()
	return s.Store.UpdateClientGroup(ctx, g)
}

func (s *cachingStore) DeleteClientGroup(ctx context.Context, id string, now time.Time) error {
	defer s.forgetGroups()
	return s.Store.DeleteClientGroup(ctx, id, now)
}

func (s *cachingStore) RemoveGroupClient(ctx context.Context, groupID, clientID string) error {
	defer s.forgetGroups()
	return s.Store.RemoveGroupClient(ctx, groupID, clientID)
}

func (s *cachingStore) AcceptInvitation(ctx context.Context, tokenHash string, acc *store.Acceptance, now time.Time) (*store.Invitation, error) {
	defer s.forgetGroups()
	return s.Store.AcceptInvitation(ctx, tokenHash, acc, now)
}

func (s *cachingStore) DeleteOrganization(ctx context.Context, id string) error {
	defer s.forgetGroups()
	return s.Store.DeleteOrganization(ctx, id)
}

// UpdateClient writes through and drops the cached entry.
func (s *cachingStore) UpdateClient(ctx context.Context, c *store.Client) error {
	defer s.forget(c.ID)
	return s.Store.UpdateClient(ctx, c)
}

// DeleteClient writes through and drops the cached entry.
func (s *cachingStore) DeleteClient(ctx context.Context, id string) error {
	defer s.forget(id)
	return s.Store.DeleteClient(ctx, id)
}

// RevokeClientTokens writes through and drops the cached entry, so this
// instance's token checks see the revocation at once.
func (s *cachingStore) RevokeClientTokens(ctx context.Context, id string, now time.Time) (int, error) {
	defer s.forget(id)
	return s.Store.RevokeClientTokens(ctx, id, now)
}

// GetServiceKeyBySecret returns a copy of the cached key, or reads and
// caches it. Misses are not cached, so a key made or rotated on another
// instance works here at once; a key deleted or a secret rotated out there
// keeps working here for up to clientCacheTTL, as a client's secret does.
func (s *cachingStore) GetServiceKeyBySecret(ctx context.Context, secretHash string) (*store.ServiceKey, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.keys[secretHash]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		k := *e.k
		return &k, nil
	}
	k, err := s.Store.GetServiceKeyBySecret(ctx, secretHash)
	if err != nil {
		if err == store.ErrNotFound {
			s.mu.Lock()
			delete(s.keys, secretHash)
			s.mu.Unlock()
		}
		return nil, err
	}
	cached := *k
	now = s.now()
	s.mu.Lock()
	s.tidyLocked(now)
	makeRoom(s.keys)
	s.keys[secretHash] = cachedKey{k: &cached, expires: now.Add(clientCacheTTL)}
	s.mu.Unlock()
	return k, nil
}

// forgetKeys drops every cached service key: keys change rarely, and a
// rotation or deletion names the key, not the secret hash it was cached by.
func (s *cachingStore) forgetKeys() {
	s.mu.Lock()
	clear(s.keys)
	s.mu.Unlock()
}

// RotateServiceKey writes through and drops the cached keys, so the old
// secret stops working on this instance at once.
func (s *cachingStore) RotateServiceKey(ctx context.Context, id, secretHash string, now time.Time) (*store.ServiceKey, error) {
	defer s.forgetKeys()
	return s.Store.RotateServiceKey(ctx, id, secretHash, now)
}

// DeleteServiceKey writes through and drops the cached keys.
func (s *cachingStore) DeleteServiceKey(ctx context.Context, id string) error {
	defer s.forgetKeys()
	return s.Store.DeleteServiceKey(ctx, id)
}
