package server

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// clientCacheTTL is how long an instance trusts a client it read. Client
// authentication is on every token request, so without a cache each one
// costs a database read. The cache cannot break a flow: a secret that does
// not match the cached client is checked again against a fresh read
// (oauth.AuthenticateClient), so a rotated-in secret works at once
// everywhere; what may linger for up to the TTL on other instances is a
// deleted client or a rotated-out secret. Writes through this instance
// (the admin API) drop the entry at once.
const clientCacheTTL = 2 * time.Second

// clientCacheSize bounds the entries kept: invited device clients can
// number in the millions, and the hot ones are refetched cheaply.
const clientCacheSize = 10000

// cachingStore is the store with GetClient answered from a short-lived cache.
type cachingStore struct {
	store.Store
	now func() time.Time

	mu      sync.RWMutex
	clients map[string]cachedClient
}

type cachedClient struct {
	c       *store.Client
	expires time.Time
}

func newCachingStore(st store.Store, now func() time.Time) *cachingStore {
	return &cachingStore{Store: st, now: now, clients: make(map[string]cachedClient)}
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
	s.mu.Lock()
	if len(s.clients) >= clientCacheSize {
		for k := range s.clients { // drop an arbitrary entry: map order is random
			delete(s.clients, k)
			break
		}
	}
	s.clients[id] = cachedClient{c: &cached, expires: s.now().Add(clientCacheTTL)}
	s.mu.Unlock()
	return c, nil
}

func (s *cachingStore) forget(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
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
