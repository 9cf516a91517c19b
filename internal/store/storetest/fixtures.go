package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The records below are the suite's fixtures. Foreign keys are part of the
// contract (a device authorization or grant names an existing client; a
// session or grant an existing user), so fixtures create their parents.

func newClient(id string, public bool) *store.Client {
	c := &store.Client{
		ID:         id,
		Name:       "Client " + id,
		AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode, store.GrantRefreshToken},
		Scopes:     []string{"openid", "profile", "offline_access"},
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
	if !public {
		c.AuthMethod = store.AuthClientSecretBasic
		c.SecretHash = "5e" + id
	}
	return c
}

func mustCreateClient(t *testing.T, s store.Store, id string, public bool) *store.Client {
	t.Helper()
	c := newClient(id, public)
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%q): %v", id, err)
	}
	return c
}

func newUser(id, email string) *store.User {
	return &store.User{
		ID:           id,
		Email:        email,
		Name:         "User " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func mustCreateUser(t *testing.T, s store.Store, id string) *store.User {
	t.Helper()
	u := newUser(id, id+"@example.com")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", id, err)
	}
	return u
}

// newDeviceAuth is a pending authorization n for client: interval 5 s,
// created at t0, expiring 10 minutes later.
func newDeviceAuth(c *store.Client, n int) *store.DeviceAuth {
	return &store.DeviceAuth{
		DeviceCodeHash:   fmt.Sprintf("device-code-hash-%d", n),
		UserCodeHash:     fmt.Sprintf("user-code-hash-%d", n),
		ClientID:         c.ID,
		ClientPublic:     c.Public(),
		Scopes:           []string{"openid", "offline_access"},
		Status:           store.DevicePending,
		Interval:         5 * time.Second,
		CreatedAt:        t0,
		ExpiresAt:        at(10 * time.Minute),
		RequestIP:        "192.0.2.7",
		RequestUserAgent: "latchkey-test/1.0",
	}
}

func mustCreateDeviceAuth(t *testing.T, s store.Store, a *store.DeviceAuth) *store.DeviceAuth {
	t.Helper()
	if err := s.CreateDeviceAuth(t.Context(), a); err != nil {
		t.Fatalf("CreateDeviceAuth: %v", err)
	}
	return a
}

// mustDecide approves or denies a at t0 for a new user "decider".
func mustDecide(t *testing.T, s store.Store, a *store.DeviceAuth, approve bool) *store.DeviceAuth {
	t.Helper()
	mustCreateUser(t, s, "decider")
	got, err := s.DecideDeviceAuth(t.Context(), a.UserCodeHash, "decider", "", approve, t0)
	if err != nil {
		t.Fatalf("DecideDeviceAuth: %v", err)
	}
	return got
}

func mustGetDeviceAuth(t *testing.T, s store.Store, userCodeHash string) *store.DeviceAuth {
	t.Helper()
	a, err := s.GetDeviceAuthByUserCode(t.Context(), userCodeHash)
	if err != nil {
		t.Fatalf("GetDeviceAuthByUserCode: %v", err)
	}
	return a
}

func newGrant(id, userID, clientID string, created time.Time) *store.Grant {
	return &store.Grant{
		ID:        id,
		UserID:    userID,
		ClientID:  clientID,
		Scopes:    []string{"openid", "offline_access"},
		AuthTime:  created,
		CreatedAt: created,
		ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
}

func mustCreateGrant(t *testing.T, s store.Store, g *store.Grant) *store.Grant {
	t.Helper()
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant(%q): %v", g.ID, err)
	}
	return g
}

func newRefreshToken(hash, grantID string, expires time.Time) *store.RefreshToken {
	return &store.RefreshToken{
		Hash:      hash,
		GrantID:   grantID,
		ClientID:  "app",
		Scopes:    []string{"openid", "offline_access"},
		CreatedAt: t0,
		ExpiresAt: expires,
	}
}

func mustCreateRefreshToken(t *testing.T, s store.Store, rt *store.RefreshToken) *store.RefreshToken {
	t.Helper()
	if err := s.CreateRefreshToken(t.Context(), rt); err != nil {
		t.Fatalf("CreateRefreshToken(%q): %v", rt.Hash, err)
	}
	return rt
}

// grantFixture creates user "ada", client "app" and grant "g1" at t0.
func grantFixture(t *testing.T, s store.Store) *store.Grant {
	t.Helper()
	mustCreateUser(t, s, "ada")
	mustCreateClient(t, s, "app", false)
	g := newGrant("g1", "ada", "app", t0)
	g.DPoPJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // bound to a DPoP key: kept, and in its refresh family
	return mustCreateGrant(t, s, g)
}

// mustGetUser returns the user with id.
func mustGetUser(t *testing.T, s store.Store, id string) *store.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", id, err)
	}
	return u
}

// allow is a RotateRefreshToken check that lets every token through.
func allow(*store.RefreshFamily) error { return nil }
