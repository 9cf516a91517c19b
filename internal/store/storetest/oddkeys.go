package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// invalidText are strings that are not text (store.ValidText): NUL bytes,
// invalid UTF-8, overlong encodings (of '/', and of NUL as "modified UTF-8"
// writes it) and a UTF-16 surrogate. PostgreSQL's TEXT refuses them and
// SQLite would keep them, so the contract decides instead, the same for both:
// a lookup by one finds nothing, a write of one is refused and writes nothing.
// The HTTP layer refuses them in every input, so none reaches a store in
// production; the suite holds the backends to the contract all the same.
var invalidText = []string{
	"\x00", "a\x00b", "hash\x00", "\xff\xfe\xfd", "\xc3\x28", "client\xff",
	"\xc0\xaf", "\xe0\x80\xaf", "\xc0\x80", "\xed\xa0\x80",
}

// oddKeys are lookup keys a request can carry that no record has: the
// invalid text above, the empty string, and text that means something to
// SQL. None is a reason for an error other than ErrNotFound (which the
// endpoints turn into the usual invalid_grant).
var oddKeys = append([]string{"", "%", "_", "' OR 1=1 --"}, invalidText...)

func testOddKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A record of each kind, so a lookup that ignored the key would find one.
	g := grantFixture(t, s)
	c := mustCreateClient(t, s, "tv", true)
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1))
	mustCreateRefreshToken(t, s, newRefreshToken("rt1", g.ID, at(24*time.Hour)))
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: "s1", UserID: "ada", ExpiresAt: at(time.Hour)}), nil)
	wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &store.SigningKey{ID: "k1", Algorithm: "ES256", CreatedAt: t0}), nil)
	_, err := s.Hit(ctx, "ip:192.0.2.7", t0, at(time.Hour))
	wantErr(t, "Hit", err, nil)

	// Also each record's own key as a C string would cut it short at the
	// NUL, or a lossy conversion would drop the stray byte.
	keys := slices.Clone(oddKeys)
	for _, k := range []string{"tv", "ada", "ada@example.com", g.ID, "rt1", "s1", "k1", "ip:192.0.2.7", a.DeviceCodeHash, a.UserCodeHash} {
		keys = append(keys, k+"\x00", k+"\x00evil", k+"\xff")
	}
	// What a redemption or rotation by an odd key would store, were it found.
	oddGrant := newGrant("g-odd", "ada", "tv", t0)
	oddToken := newRefreshToken("rt-odd", g.ID, at(time.Hour))
	for _, key := range keys {
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"GetClient", lookupErr(s.GetClient(ctx, key))},
			{"UpdateClient", s.UpdateClient(ctx, newClient(key, true))},
			{"GetUser", lookupErr(s.GetUser(ctx, key))},
			{"GetUserByEmail", lookupErr(s.GetUserByEmail(ctx, key))},
			{"UpdateUser", s.UpdateUser(ctx, newUser(key, "someone@example.com"))},
			{"GetDeviceAuthByUserCode", lookupErr(s.GetDeviceAuthByUserCode(ctx, key))},
			{"DecideDeviceAuth", lookupErr(s.DecideDeviceAuth(ctx, key, "ada", "", true, t0))},
			{"PollDeviceAuth(key, owner)", lookupErr(s.PollDeviceAuth(ctx, key, "tv", true, t0))},
			{"PollDeviceAuth(code, key)", lookupErr(s.PollDeviceAuth(ctx, a.DeviceCodeHash, key, false, t0))},
			{"RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, key, oddGrant, oddToken, t0)},
			{"GetGrant", lookupErr(s.GetGrant(ctx, key))},
			{"RevokeGrant", s.RevokeGrant(ctx, key, t0)},
			{"GetRefreshToken", lookupErr(s.GetRefreshToken(ctx, key))},
			{"RotateRefreshToken", lookupErr(s.RotateRefreshToken(ctx, key, "next", time.Time{}, t0, allow))},
			{"GetSession", lookupErr(s.GetSession(ctx, key, t0))},
			{"UpdateSigningKey", s.UpdateSigningKey(ctx, &store.SigningKey{ID: key, Algorithm: "ES256"})},
			{"DeleteClient", s.DeleteClient(ctx, key)},
			{"DeleteUser", s.DeleteUser(ctx, key)},
			{"DeleteSigningKey", s.DeleteSigningKey(ctx, key)},
		} {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Errorf("%s(%q) error = %v, want ErrNotFound", tt.name, key, tt.err)
			}
		}
		// Where the contract answers an unknown key without an error, so too
		// a key that is not text.
		if gs, err := s.ListGrantsByUser(ctx, key); err != nil || len(gs) != 0 {
			t.Errorf("ListGrantsByUser(%q) = %d grants, %v; want none", key, len(gs), err)
		}
		if n, err := s.Count(ctx, key, t0); err != nil || n != 0 {
			t.Errorf("Count(%q) = %d, %v; want 0", key, n, err)
		}
		if err := s.DeleteSession(ctx, key); err != nil {
			t.Errorf("DeleteSession(%q) = %v", key, err)
		}
	}
	// Nothing was changed by the lookups.
	diff(t, "device authorization after odd lookups", a, mustGetDeviceAuth(t, s, a.UserCodeHash))
	if _, err := s.GetGrant(ctx, oddGrant.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetGrant(%q) after odd redemptions = %v, want ErrNotFound", oddGrant.ID, err)
	}
	if _, err := s.GetRefreshToken(ctx, oddToken.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRefreshToken(%q) after odd rotations = %v, want ErrNotFound", oddToken.Hash, err)
	}
	if _, err := s.GetSession(ctx, "s1", t0); err != nil {
		t.Errorf("GetSession after odd lookups: %v", err)
	}
	if n, err := s.Count(ctx, "ip:192.0.2.7", t0); err != nil || n != 1 {
		t.Errorf("Count after odd lookups = %d, %v; want 1", n, err)
	}
}

// testInvalidText: a record holding a string that is not text, in any
// field, list elements included, is refused with ErrInvalid, and nothing of
// it is written.
func testInvalidText(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := grantFixture(t, s) // user ada, client app, grant g1
	c := mustCreateClient(t, s, "tv", true)
	// Approved, so a redemption would succeed but for the spoiled string.
	a, err := s.DecideDeviceAuth(ctx, mustCreateDeviceAuth(t, s, newDeviceAuth(c, 1)).UserCodeHash, "ada", "", true, t0)
	wantErr(t, "DecideDeviceAuth", err, nil)
	rt := mustCreateRefreshToken(t, s, newRefreshToken("rt1", g.ID, at(24*time.Hour)))
	sess := &store.Session{Hash: "s1", UserID: "ada", ExpiresAt: at(time.Hour)}
	wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	key := &store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{0x30}, CreatedAt: t0}
	wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, key), nil)

	// Fresh records that would be created but for the one string spoiled,
	// with every string and list set, and parents that exist.
	freshClient := func() *store.Client {
		c := newClient("new", false)
		c.RedirectURIs = []string{"https://app.example/callback"}
		c.UserCode.Alphabet = "digits"
		return c
	}
	freshDevice := func() *store.DeviceAuth {
		a := newDeviceAuth(c, 2)
		a.UserID, a.GrantID = "ada", g.ID
		return a
	}
	freshSession := func() *store.Session {
		return &store.Session{Hash: "s2", UserID: "ada", ExpiresAt: at(time.Hour)}
	}
	freshKey := func() *store.SigningKey {
		return &store.SigningKey{ID: "k2", Algorithm: "ES256", PrivateKey: []byte{0x30}, CreatedAt: t0}
	}
	for _, bad := range invalidText {
		refused := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s with %q: error = %v, want ErrInvalid", what, bad, err)
			}
		}
		for i := range len(clientStrings(freshClient())) {
			c := freshClient()
			*clientStrings(c)[i] = bad
			refused(fmt.Sprintf("CreateClient (string %d)", i), s.CreateClient(ctx, c))
		}
		for i := range len(userStrings(newUser("new", "new@example.com"))) {
			u := newUser("new", "new@example.com")
			*userStrings(u)[i] = bad
			refused(fmt.Sprintf("CreateUser (string %d)", i), s.CreateUser(ctx, u))
		}
		for i := range len(deviceStrings(freshDevice())) {
			a := freshDevice()
			*deviceStrings(a)[i] = bad
			refused(fmt.Sprintf("CreateDeviceAuth (string %d)", i), s.CreateDeviceAuth(ctx, a))
		}
		for i := range len(grantStrings(newGrant("g2", "ada", "app", t0))) {
			g := newGrant("g2", "ada", "app", t0)
			*grantStrings(g)[i] = bad
			refused(fmt.Sprintf("CreateGrant (string %d)", i), s.CreateGrant(ctx, g))
		}
		for i := range len(refreshStrings(newRefreshToken("rt2", g.ID, at(time.Hour)))) {
			rt := newRefreshToken("rt2", g.ID, at(time.Hour))
			*refreshStrings(rt)[i] = bad
			refused(fmt.Sprintf("CreateRefreshToken (string %d)", i), s.CreateRefreshToken(ctx, rt))
		}
		for _, spoil := range []func(*store.Session){
			func(s *store.Session) { s.Hash = bad },
			func(s *store.Session) { s.UserID = bad },
		} {
			sess := freshSession()
			spoil(sess)
			refused("CreateSession", s.CreateSession(ctx, sess))
		}
		for _, spoil := range []func(*store.SigningKey){
			func(k *store.SigningKey) { k.ID = bad },
			func(k *store.SigningKey) { k.Algorithm = bad },
		} {
			k := freshKey()
			spoil(k)
			refused("CreateSigningKey", s.CreateSigningKey(ctx, k))
		}
		refused("ServerSecret", lookupErr(s.ServerSecret(ctx, bad, []byte("x"))))
		refused("Hit", lookupErr(s.Hit(ctx, bad, t0, at(time.Hour))))
		refused("Add", lookupErr(s.Add(ctx, bad, t0, at(time.Hour), 2)))

		// Updates of records that exist: the key finds one, a new value spoils it.
		for i := range len(clientStrings(freshClient())) {
			c := freshClient()
			c.ID = "tv"
			if p := clientStrings(c)[i]; p != &c.ID {
				*p = bad
				refused(fmt.Sprintf("UpdateClient (string %d)", i), s.UpdateClient(ctx, c))
			}
		}
		for i := range len(userStrings(newUser("ada", "ada@example.com"))) {
			u := newUser("ada", "ada@example.com")
			if p := userStrings(u)[i]; p != &u.ID {
				*p = bad
				refused(fmt.Sprintf("UpdateUser (string %d)", i), s.UpdateUser(ctx, u))
			}
		}
		refused("UpdateSigningKey", s.UpdateSigningKey(ctx, &store.SigningKey{ID: "k1", Algorithm: bad, CreatedAt: t0}))
		refused("DecideDeviceAuth", lookupErr(s.DecideDeviceAuth(ctx, a.UserCodeHash, bad, "", true, t0)))
		for i := range len(grantStrings(newGrant("g2", "ada", "tv", t0))) {
			g := newGrant("g2", "ada", "tv", t0)
			*grantStrings(g)[i] = bad
			refused(fmt.Sprintf("RedeemDeviceAuth (grant string %d)", i), s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, g, nil, t0))
		}
		for i := range len(refreshStrings(newRefreshToken("rt2", "g2", at(time.Hour)))) {
			rt := newRefreshToken("rt2", "g2", at(time.Hour))
			*refreshStrings(rt)[i] = bad
			refused(fmt.Sprintf("RedeemDeviceAuth (refresh token string %d)", i),
				s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, newGrant("g2", "ada", "tv", t0), rt, t0))
		}
		refused("RotateRefreshToken (next hash)", lookupErr(s.RotateRefreshToken(ctx, rt.Hash, bad, time.Time{}, t0, allow)))
	}

	// Nothing was written: what was there is all there is, unchanged.
	clients, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	diff(t, "clients after refused writes", []*store.Client{mustGetClient(t, s, "app"), c}, clients)
	users, err := s.ListUsers(ctx)
	wantErr(t, "ListUsers", err, nil)
	diff(t, "users after refused writes", []*store.User{newUser("ada", "ada@example.com")}, users)
	grants, err := s.ListGrantsByUser(ctx, "ada")
	wantErr(t, "ListGrantsByUser", err, nil)
	diff(t, "grants after refused writes", []*store.Grant{g}, grants)
	keys, err := s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "signing keys after refused writes", []*store.SigningKey{key}, keys)
	diff(t, "device authorization after refused writes", a, mustGetDeviceAuth(t, s, a.UserCodeHash))
	gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
	wantErr(t, "GetRefreshToken", err, nil)
	diff(t, "refresh token after refused writes", rt, gotRT)
	// Sweep counts every device authorization, session, refresh token,
	// throttle window and grant, whatever its key: only the fixtures' are
	// there.
	n, err := s.Sweep(ctx, at(365*24*time.Hour))
	wantErr(t, "Sweep", err, nil)
	if n != 4 {
		t.Errorf("Sweep deleted %d rows, want 4: the fixtures' device authorization, refresh token, session and grant", n)
	}
}

// mustGetClient returns the client with id.
func mustGetClient(t *testing.T, s store.Store, id string) *store.Client {
	t.Helper()
	c, err := s.GetClient(t.Context(), id)
	if err != nil {
		t.Fatalf("GetClient(%q): %v", id, err)
	}
	return c
}

// The strings of each record, list elements included, for spoiling one at
// a time: a new string field should be added here.

func clientStrings(c *store.Client) []*string {
	ps := []*string{&c.ID, &c.Name, &c.SecretHash, &c.AuthMethod, &c.UserCode.Alphabet,
		&c.Tokens.IDTokenSigningAlg, &c.Tokens.RefreshTokens}
	return appendElems(ps, c.GrantTypes, c.RedirectURIs, c.Scopes)
}

func userStrings(u *store.User) []*string {
	return []*string{&u.ID, &u.Email, &u.Name, &u.PasswordHash}
}

func deviceStrings(a *store.DeviceAuth) []*string {
	ps := []*string{&a.DeviceCodeHash, &a.UserCodeHash, &a.ClientID, &a.Status, &a.UserID, &a.GrantID,
		&a.RequestIP, &a.RequestUserAgent}
	return appendElems(ps, a.Scopes)
}

func grantStrings(g *store.Grant) []*string {
	return appendElems([]*string{&g.ID, &g.UserID, &g.ClientID}, g.Scopes)
}

func refreshStrings(t *store.RefreshToken) []*string {
	return appendElems([]*string{&t.Hash, &t.GrantID, &t.ClientID}, t.Scopes)
}

// appendElems appends a pointer to each element of each list to ps.
func appendElems(ps []*string, lists ...[]string) []*string {
	for _, l := range lists {
		for i := range l {
			ps = append(ps, &l[i])
		}
	}
	return ps
}

// oddText is text that means something to SQL, LIKE, escapes, JSON, a
// collation or Unicode normalization: every backend keeps it exactly, tells
// apart what differs only in case or normalization, and orders it bytewise.
var oddText = []string{
	"%", "_", "'", `"`, `\`, `\x41\`, `\u0000`, "' OR 1=1 --", "'; DROP TABLE clients; --",
	"tv", "TV", "Zoë", "ZOË", "e\u0301", "\u00e9", "日本語", "🔑", "\u200b", "\ufeff", "\ufffd", "\uffff", "\U0010ffff",
	"\t\n\r\x1b[31m\x7f", " padded ", "a" + strings.Repeat("ü日🔑", 100),
}

// testOddTextRoundTrip: records whose every string is odd text are stored
// and found whole, by each of their keys.
func testOddTextRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Kilobytes where no index limits the size.
	long := strings.Repeat("ü日🔑x'%", 400)
	var clients []*store.Client
	var users []*store.User
	var keys []*store.SigningKey
	for i, odd := range oddText {
		c := &store.Client{
			ID: odd, Name: odd + long, SecretHash: odd, AuthMethod: odd,
			GrantTypes: []string{odd, ""}, RedirectURIs: []string{odd, long}, Scopes: []string{odd},
			UserCode: store.UserCodePolicy{Alphabet: odd}, CreatedAt: t0, UpdatedAt: t0,
			Tokens: store.TokenPolicy{IDTokenSigningAlg: odd, RefreshTokens: odd + long},
		}
		wantErr(t, "CreateClient", s.CreateClient(ctx, c), nil)
		got, err := s.GetClient(ctx, odd)
		wantErr(t, "GetClient", err, nil)
		diff(t, fmt.Sprintf("GetClient(%q)", odd), c, got)
		clients = append(clients, c)

		email := fmt.Sprintf("%d%s@example.com", i, odd)
		u := &store.User{ID: odd, Email: email, Name: odd + long, PasswordHash: odd + long, CreatedAt: t0, UpdatedAt: t0}
		wantErr(t, "CreateUser", s.CreateUser(ctx, u), nil)
		u.Email = strings.ToLower(email) // the backend keeps it lower-cased
		got2, err := s.GetUserByEmail(ctx, email)
		wantErr(t, "GetUserByEmail", err, nil)
		diff(t, fmt.Sprintf("GetUserByEmail(%q)", email), u, got2)
		got2, err = s.GetUser(ctx, odd)
		wantErr(t, "GetUser", err, nil)
		diff(t, fmt.Sprintf("GetUser(%q)", odd), u, got2)
		users = append(users, u)

		g := &store.Grant{ID: "g" + odd, UserID: odd, ClientID: odd, Scopes: []string{odd, long}, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateGrant", s.CreateGrant(ctx, g), nil)
		gs, err := s.ListGrantsByUser(ctx, odd)
		wantErr(t, "ListGrantsByUser", err, nil)
		diff(t, fmt.Sprintf("ListGrantsByUser(%q)", odd), []*store.Grant{g}, gs)

		rt := &store.RefreshToken{Hash: "r" + odd, GrantID: g.ID, ClientID: odd, Scopes: []string{odd}, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
		next := &store.RefreshToken{Hash: "n" + odd, GrantID: g.ID, ClientID: odd, Scopes: []string{odd}, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		fam, err := s.RotateRefreshToken(ctx, rt.Hash, next.Hash, time.Time{}, t0, allow)
		wantErr(t, "RotateRefreshToken", err, nil)
		rt.UsedAt = t0
		diff(t, fmt.Sprintf("RotateRefreshToken(%q)", rt.Hash), &store.RefreshFamily{Token: rt, Grant: g, User: u}, fam)
		gotRT, err := s.GetRefreshToken(ctx, next.Hash)
		wantErr(t, "GetRefreshToken", err, nil)
		diff(t, fmt.Sprintf("GetRefreshToken(%q)", next.Hash), next, gotRT)

		a := &store.DeviceAuth{
			DeviceCodeHash: "d" + odd, UserCodeHash: "u" + odd, ClientID: odd, Scopes: []string{odd},
			Status: store.DevicePending, Interval: 5 * time.Second, CreatedAt: t0, ExpiresAt: at(time.Hour),
			RequestIP: odd, RequestUserAgent: odd + long,
		}
		wantErr(t, "CreateDeviceAuth", s.CreateDeviceAuth(ctx, a), nil)
		_, err = s.DecideDeviceAuth(ctx, a.UserCodeHash, odd, "", true, t0)
		wantErr(t, "DecideDeviceAuth", err, nil)
		p, err := s.PollDeviceAuth(ctx, a.DeviceCodeHash, odd, false, t0)
		wantErr(t, "PollDeviceAuth", err, nil)
		if p.Outcome != store.PollIssue {
			t.Errorf("PollDeviceAuth(%q) = %s, want %s", a.DeviceCodeHash, p.Outcome, store.PollIssue)
		}
		redeemed := &store.Grant{ID: "h" + odd, UserID: odd, ClientID: odd, Scopes: []string{odd}, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		redeemedRT := &store.RefreshToken{Hash: "m" + odd, GrantID: redeemed.ID, ClientID: odd, Scopes: []string{odd}, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, redeemed, redeemedRT, t0), nil)
		a.Status, a.UserID, a.DecidedAt, a.LastPollAt, a.GrantID = store.DeviceConsumed, odd, t0, t0, redeemed.ID
		diff(t, fmt.Sprintf("GetDeviceAuthByUserCode(%q)", a.UserCodeHash), a, mustGetDeviceAuth(t, s, a.UserCodeHash))
		gotG, err := s.GetGrant(ctx, redeemed.ID)
		wantErr(t, "GetGrant", err, nil)
		diff(t, fmt.Sprintf("GetGrant(%q)", redeemed.ID), redeemed, gotG)
		gotRT, err = s.GetRefreshToken(ctx, redeemedRT.Hash)
		wantErr(t, "GetRefreshToken", err, nil)
		diff(t, fmt.Sprintf("GetRefreshToken(%q)", redeemedRT.Hash), redeemedRT, gotRT)

		sess := &store.Session{Hash: "s" + odd, UserID: odd, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
		gotSess, err := s.GetSession(ctx, sess.Hash, t0)
		wantErr(t, "GetSession", err, nil)
		diff(t, fmt.Sprintf("GetSession(%q)", sess.Hash), sess, gotSess)

		k := &store.SigningKey{ID: odd, Algorithm: odd, PrivateKey: []byte(odd), CreatedAt: at(time.Duration(i) * time.Second)}
		wantErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, k), nil)
		keys = append(keys, k)

		secret, err := s.ServerSecret(ctx, odd, []byte(long))
		if err != nil || !bytes.Equal(secret, []byte(long)) {
			t.Errorf("ServerSecret(%q) = %d bytes, %v; want the %d stored", odd, len(secret), err, len(long))
		}
		if n, err := s.Hit(ctx, odd, t0, at(time.Hour)); err != nil || n != 1 {
			t.Errorf("Hit(%q) = %d, %v; want 1", odd, n, err)
		}
		if n, err := s.Add(ctx, odd, at(time.Minute), at(time.Hour), 2); err != nil || n != 2 {
			t.Errorf("Add(%q, 2) = %d, %v; want 2", odd, n, err)
		}
	}
	// Lists are ordered bytewise, as Go compares strings: no collation
	// folds case or accents, or puts "Z" after "a".
	slices.SortFunc(clients, func(a, b *store.Client) int { return strings.Compare(a.ID, b.ID) })
	gotClients, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	diff(t, "ListClients (ordered by id, bytewise)", clients, gotClients)
	slices.SortFunc(users, func(a, b *store.User) int { return strings.Compare(a.Email, b.Email) })
	gotUsers, err := s.ListUsers(ctx)
	wantErr(t, "ListUsers", err, nil)
	diff(t, "ListUsers (ordered by email, bytewise)", users, gotUsers)
	gotKeys, err := s.ListSigningKeys(ctx)
	wantErr(t, "ListSigningKeys", err, nil)
	diff(t, "ListSigningKeys", keys, gotKeys)
	for _, odd := range oddText {
		if n, err := s.Count(ctx, odd, t0); err != nil || n != 1 {
			t.Errorf("Count(%q) = %d, %v; want 1", odd, n, err)
		}
	}
}
