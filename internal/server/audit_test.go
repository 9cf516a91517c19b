package server

// The audit log end to end: every change through the admin API and the
// 10Duke invitation API leaves one entry with the right actor, and no
// entry holds a secret; on SQLite and PostgreSQL.

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// wantEntry is what one audit entry must say.
type wantEntry struct {
	kind, actorKind, actorID, target, org string
}

// auditLog reads the whole log through the admin API, newest first, a
// page of two at a time so the cursor is used.
func (s *testServer) auditLog(t *testing.T, query string) ([]admin.AuditEntry, string) {
	t.Helper()
	var all []admin.AuditEntry
	var raw strings.Builder
	v, err := url.ParseQuery(query)
	mustDo(t, err)
	v.Set("limit", "2")
	for range 100 {
		r := s.jsonRequest(t, "GET", "/admin/v1/audit?"+v.Encode(), testAdminToken, nil)
		if r.Status != 200 {
			t.Fatalf("GET /admin/v1/audit?%s: %d %s", v.Encode(), r.Status, r.Raw)
		}
		raw.WriteString(r.Raw)
		var page admin.AuditList
		mustDo(t, json.Unmarshal([]byte(r.Raw), &page))
		all = append(all, page.Entries...)
		if page.NextCursor == "" {
			return all, raw.String()
		}
		v.Set("cursor", page.NextCursor)
	}
	t.Fatal("the audit log's pages never end")
	return nil, ""
}

// checkEntries compares the log with want, in any order (entries made
// within one millisecond, as here under a fixed clock, are ordered by their
// random ids), and checks every entry's address and time.
func checkEntries(t *testing.T, got []admin.AuditEntry, want []wantEntry) {
	t.Helper()
	key := func(w wantEntry) string {
		return strings.Join([]string{w.kind, w.target, w.actorKind, w.actorID, w.org}, " ")
	}
	var g, wk []string
	for _, e := range got {
		g = append(g, key(wantEntry{e.Kind, e.ActorKind, e.ActorID, e.TargetID, e.OrgID}))
		if e.Address != "127.0.0.1" {
			t.Errorf("%s of %s: address %q, want 127.0.0.1", e.Kind, e.TargetID, e.Address)
		}
		if _, err := time.Parse(time.RFC3339, e.At); err != nil {
			t.Errorf("%s of %s: at %q: %v", e.Kind, e.TargetID, e.At, err)
		}
	}
	for _, w := range want {
		wk = append(wk, key(w))
	}
	slices.Sort(g)
	slices.Sort(wk)
	if diff := cmp.Diff(wk, g); diff != "" {
		t.Errorf("audit entries (-want +got):\n%s", diff)
	}
}

// entry returns the entry of kind about target.
func entry(t *testing.T, es []admin.AuditEntry, kind, target string) admin.AuditEntry {
	t.Helper()
	for _, e := range es {
		if e.Kind == kind && e.TargetID == target {
			return e
		}
	}
	t.Fatalf("no %s entry about %s", kind, target)
	return admin.AuditEntry{}
}

// noSecrets fails if any of secrets is in text.
func noSecrets(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(text, sec) {
			t.Errorf("%s holds the secret %q", what, sec)
		}
	}
}

// storedEntries is every entry as the store keeps it, as one text.
func (s *testServer) storedEntries(t *testing.T) string {
	t.Helper()
	es, err := s.Store.QueryAudit(t.Context(), store.AuditQuery{Limit: 1000})
	mustDo(t, err)
	b, err := json.Marshal(es)
	mustDo(t, err)
	return string(b)
}

func TestAuditAdminAPI(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, nil)
		ctx := t.Context()
		secrets := []string{testAdminToken, personPassword}
		call := func(method, path string, body any, want int) reply {
			t.Helper()
			r := s.jsonRequest(t, method, path, testAdminToken, body)
			if r.Status != want {
				t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Raw)
			}
			return r
		}

		// Clients: create (a secret shown once), update, rotate, delete.
		r := call("POST", "/admin/v1/clients", map[string]any{"client_id": "kiosk", "client_name": "Kiosk",
			"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_basic", "scope": "read"}, 201)
		secrets = append(secrets, r.str("client_secret"), oauth.HashSecret(r.str("client_secret")))
		call("PATCH", "/admin/v1/clients/kiosk", map[string]any{"client_name": "Lobby kiosk"}, 200)
		r = call("POST", "/admin/v1/clients/kiosk/secret", "{}", 200)
		secrets = append(secrets, r.str("client_secret"), oauth.HashSecret(r.str("client_secret")))
		c, err := s.Store.GetClient(ctx, "kiosk")
		mustDo(t, err)
		secrets = append(secrets, c.SecretHash)
		call("DELETE", "/admin/v1/clients/kiosk", nil, 204)

		// Users: create with a password, a new password and sysadmin, delete.
		r = call("POST", "/admin/v1/users", map[string]any{"email": "ops@example.com", "password": "first password 123"}, 201)
		opsID := r.str("id")
		call("PATCH", "/admin/v1/users/"+opsID, map[string]any{"password": "second password 456", "sysadmin": true}, 200)
		u, err := s.Store.GetUser(ctx, opsID)
		mustDo(t, err)
		secrets = append(secrets, "first password 123", "second password 456", u.PasswordHash)

		// Organizations, members, groups and their clients.
		call("POST", "/admin/v1/organizations", map[string]any{"id": "initech", "name": "Initech"}, 201)
		call("PATCH", "/admin/v1/organizations/initech", map[string]any{"name": "Initech Ltd"}, 200)
		call("PUT", "/admin/v1/organizations/initech/members/"+opsID, map[string]any{"role": "admin"}, 200)
		call("DELETE", "/admin/v1/organizations/initech/members/"+opsID, nil, 204)
		r = call("POST", "/admin/v1/organizations/initech/client-groups", map[string]any{"name": "Printers", "scope": "print"}, 201)
		groupID := r.str("id")
		call("PATCH", "/admin/v1/organizations/initech/client-groups/"+groupID, map[string]any{"description": "Floor 3"}, 200)
		mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "printer-3", AuthMethod: store.AuthNone, OrgID: "initech",
			GrantTypes: []string{store.GrantClientCredentials}, CreatedAt: s.Clock.Now(), UpdatedAt: s.Clock.Now()}))
		call("PUT", "/admin/v1/organizations/initech/client-groups/"+groupID+"/clients/printer-3", nil, 204)
		call("DELETE", "/admin/v1/organizations/initech/client-groups/"+groupID+"/clients/printer-3", nil, 204)

		// Invitations through the admin API, then the group goes.
		r = call("POST", "/admin/v1/organizations/initech/invitations", map[string]any{
			"client_group_ids": []string{groupID}, "email": "it@initech.example"}, 201)
		invID := r.str("id")
		secrets = append(secrets, s.tokenFromOutbox(t, invID))
		call("POST", "/admin/v1/invitations/"+invID+"/revoke", nil, 200)
		call("DELETE", "/admin/v1/organizations/initech/client-groups/"+groupID, nil, 204)
		mustDo(t, s.Store.DeleteClient(ctx, "printer-3"))
		call("DELETE", "/admin/v1/organizations/initech", nil, 204)

		// A grant, revoked; then the user goes.
		g := &store.Grant{ID: "g-ops", UserID: opsID, ClientID: tvClient, Scopes: []string{"openid"},
			CreatedAt: s.Clock.Now(), ExpiresAt: s.Clock.Now().Add(time.Hour)}
		mustDo(t, s.Store.CreateGrant(ctx, g))
		call("DELETE", "/admin/v1/grants/g-ops", nil, 204)
		call("DELETE", "/admin/v1/users/"+opsID, nil, 204)

		// An initial access token for registration, made and deleted.
		r = call("POST", "/admin/v1/registration-tokens", map[string]any{"uses": 1}, 201)
		regID := r.str("id")
		secrets = append(secrets, r.str("token"), oauth.HashSecret(r.str("token")))
		call("DELETE", "/admin/v1/registration-tokens/"+regID, nil, 204)

		// A service API key, made, rotated and revoked.
		r = call("POST", "/admin/v1/api-keys", map[string]any{"name": "front end"}, 201)
		apiKey := r.str("api_key")
		secrets = append(secrets, r.str("api_secret"), oauth.HashSecret(r.str("api_secret")))
		r = call("POST", "/admin/v1/api-keys/"+apiKey+"/rotate", nil, 200)
		secrets = append(secrets, r.str("api_secret"), oauth.HashSecret(r.str("api_secret")))
		call("DELETE", "/admin/v1/api-keys/"+apiKey, nil, 204)

		// Reads and refused changes leave nothing.
		call("GET", "/admin/v1/users", nil, 200)
		call("PATCH", "/admin/v1/users/nobody", map[string]any{"name": "x"}, 404)
		call("POST", "/admin/v1/users", map[string]any{"email": "not an address", "password": "0123456789"}, 400)

		tok := store.ActorAdminToken
		got, raw := s.auditLog(t, "")
		checkEntries(t, got, []wantEntry{
			{audit.ClientCreate, tok, tok, "kiosk", ""},
			{audit.ClientUpdate, tok, tok, "kiosk", ""},
			{audit.ClientRotateSecret, tok, tok, "kiosk", ""},
			{audit.ClientDelete, tok, tok, "kiosk", ""},
			{audit.UserCreate, tok, tok, opsID, ""},
			{audit.UserUpdate, tok, tok, opsID, ""},
			{audit.OrgCreate, tok, tok, "initech", "initech"},
			{audit.OrgUpdate, tok, tok, "initech", "initech"},
			{audit.MemberPut, tok, tok, opsID, "initech"},
			{audit.MemberDelete, tok, tok, opsID, "initech"},
			{audit.GroupCreate, tok, tok, groupID, "initech"},
			{audit.GroupUpdate, tok, tok, groupID, "initech"},
			{audit.GroupAddClient, tok, tok, groupID, "initech"},
			{audit.GroupRemoveClient, tok, tok, groupID, "initech"},
			{audit.InvitationSend, tok, tok, invID, "initech"},
			{audit.InvitationRevoke, tok, tok, invID, "initech"},
			{audit.GroupDelete, tok, tok, groupID, "initech"},
			{audit.OrgDelete, tok, tok, "initech", "initech"},
			{audit.GrantRevoke, tok, tok, "g-ops", ""},
			{audit.UserDelete, tok, tok, opsID, ""},
			{audit.RegistrationTokenCreate, tok, tok, regID, ""},
			{audit.RegistrationTokenDelete, tok, tok, regID, ""},
			{audit.ServiceKeyCreate, tok, tok, apiKey, ""},
			{audit.ServiceKeyRotate, tok, tok, apiKey, ""},
			{audit.ServiceKeyRevoke, tok, tok, apiKey, ""},
		})
		noSecrets(t, "the audit log's JSON", raw, secrets)
		noSecrets(t, "the stored audit entries", s.storedEntries(t), secrets)

		// Before and after say what changed.
		settings := func(m json.RawMessage) map[string]any {
			var v map[string]any
			if len(m) > 0 {
				mustDo(t, json.Unmarshal(m, &v))
			}
			return v
		}
		upd := entry(t, got, audit.ClientUpdate, "kiosk")
		if b, a := settings(upd.Before), settings(upd.After); b["client_name"] != "Kiosk" || a["client_name"] != "Lobby kiosk" {
			t.Errorf("client.update before %v, after %v", b, a)
		}
		created, deleted := entry(t, got, audit.ClientCreate, "kiosk"), entry(t, got, audit.ClientDelete, "kiosk")
		if created.Before != nil || created.After == nil || deleted.After != nil || deleted.Before == nil {
			t.Errorf("client.create before %s after %s; client.delete before %s after %s", created.Before, created.After, deleted.Before, deleted.After)
		}
		if a := settings(entry(t, got, audit.UserUpdate, opsID).After); a["sysadmin"] != true || a["password_changed"] != true {
			t.Errorf("user.update after = %v, want sysadmin and password_changed", a)
		}

		// Filters: by organization, kind, actor, time; and bad ones.
		byOrg, _ := s.auditLog(t, "organization=initech")
		if len(byOrg) != 12 {
			t.Errorf("organization=initech: %d entries, want 12", len(byOrg))
		}
		byKind, _ := s.auditLog(t, "kind=client.update")
		if len(byKind) != 1 || byKind[0].TargetID != "kiosk" {
			t.Errorf("kind=client.update: %+v", byKind)
		}
		if byActor, _ := s.auditLog(t, "actor=someone-else"); len(byActor) != 0 {
			t.Errorf("actor=someone-else: %d entries", len(byActor))
		}
		if byActor, _ := s.auditLog(t, "actor=admin-token"); len(byActor) != 25 {
			t.Errorf("actor=admin-token: %d entries, want 25", len(byActor))
		}
		future := s.Clock.Now().Add(time.Hour).Format(time.RFC3339)
		if later, _ := s.auditLog(t, "since="+future); len(later) != 0 {
			t.Errorf("since=%s: %d entries", future, len(later))
		}
		for _, q := range []string{"kind=client.explode", "since=yesterday", "limit=0", "limit=501", "cursor=%21%21",
			"actor=a&actor=b", "organisation=initech"} {
			r := s.jsonRequest(t, "GET", "/admin/v1/audit?"+q, testAdminToken, nil)
			if r.Status != 400 || r.str("error") != oauth.InvalidRequest {
				t.Errorf("?%s: %d %s, want 400 invalid_request", q, r.Status, r.Raw)
			}
		}
		// The wrong caller: no token, or a person's.
		if r := s.jsonRequest(t, "GET", "/admin/v1/audit", "", nil); r.Status != 401 {
			t.Errorf("without the admin token: %d", r.Status)
		}
		if r := s.jsonRequest(t, "GET", "/admin/v1/audit", testAdminToken+"x", nil); r.Status != 401 {
			t.Errorf("with a wrong token: %d", r.Status)
		}
	})
}

func TestAuditInvitationAPI(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)
		admin := s.User.ID
		secrets := []string{s.adminAT, testAdminToken}

		// The acme admin sends, resends and revokes.
		id1, tok1 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		if r := s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id1, "resend"), s.adminAT, "{}"); r.Status != 200 {
			t.Fatalf("resend: %d %s", r.Status, r.Raw)
		}
		tok1b := s.pendingToken(t, id1)
		if r := s.jsonRequest(t, "PUT", invitationsPath(acmeOrg, id1, "revoke"), s.adminAT, "{}"); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		// A new device accepts one; it then accepts another with its own token.
		id2, tok2 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		r := s.accept(t, tok2, "", nil)
		if r.Status != 201 {
			t.Fatalf("accept: %d %s", r.Status, r.Raw)
		}
		devID, devSecret := r.str("clientId"), r.str("clientSecret")
		at, _ := s.deviceToken(t, devID, devSecret)
		id3, tok3 := s.invite(t, map[string]any{"clientGroupIds": []string{groupWrite}})
		if r := s.accept(t, tok3, at.AccessToken, nil); r.Status != 200 {
			t.Fatalf("accept by the device: %d %s", r.Status, r.Raw)
		}
		// Declined by whoever holds the link; sent by the admin token.
		r = s.jsonRequest(t, "POST", invitationsPath(acmeOrg, "send"), testAdminToken,
			map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@acme.example"})
		if r.Status != 201 {
			t.Fatalf("send with the admin token: %d %s", r.Status, r.Raw)
		}
		id4 := r.str("id")
		tok4 := s.tokenFromOutbox(t, id4)
		if r := s.jsonRequest(t, "PUT", "/client-group-invitations/decline", "", map[string]any{"token": tok4}); r.Status != 204 {
			t.Fatalf("decline: %d %s", r.Status, r.Raw)
		}
		// Refused: a member's send, a second acceptance, a wrong token.
		s.jsonRequest(t, "POST", invitationsPath(acmeOrg, "send"), s.memberAT,
			map[string]any{"clientGroupIds": []string{groupRead}, "recipientEmail": "x@acme.example"})
		s.accept(t, tok2, "", nil)
		s.jsonRequest(t, "PUT", "/client-group-invitations/decline", "", map[string]any{"token": "lk_inv_wrong"})
		secrets = append(secrets, tok1, tok1b, tok2, tok3, tok4, devSecret, oauth.HashSecret(devSecret), at.AccessToken,
			oauth.HashSecret(tok1), oauth.HashSecret(tok2))

		user, tokKind := store.ActorUser, store.ActorAdminToken
		got, raw := s.auditLog(t, "organization="+acmeOrg)
		checkEntries(t, got, []wantEntry{
			{audit.InvitationSend, user, admin, id1, acmeOrg},
			{audit.InvitationResend, user, admin, id1, acmeOrg},
			{audit.InvitationRevoke, user, admin, id1, acmeOrg},
			{audit.InvitationSend, user, admin, id2, acmeOrg},
			{audit.InvitationAccept, store.ActorInvitation, id2, id2, acmeOrg},
			{audit.InvitationSend, user, admin, id3, acmeOrg},
			{audit.InvitationAccept, store.ActorDevice, devID, id3, acmeOrg},
			{audit.InvitationSend, tokKind, tokKind, id4, acmeOrg},
			{audit.InvitationDecline, store.ActorInvitation, id4, id4, acmeOrg},
		})
		noSecrets(t, "the audit log's JSON", raw, secrets)
		noSecrets(t, "the stored audit entries", s.storedEntries(t), secrets)
		var accepted map[string]any
		mustDo(t, json.Unmarshal(entry(t, got, audit.InvitationAccept, id2).After, &accepted))
		if accepted["acceptedByClientId"] != devID || accepted["newClient"] != true || accepted["state"] != "accepted" {
			t.Errorf("invitation.accept after = %v", accepted)
		}
		if byAdmin, _ := s.auditLog(t, "actor="+admin); len(byAdmin) != 5 {
			t.Errorf("actor=%s: %d entries, want 5", admin, len(byAdmin))
		}
		if globex, _ := s.auditLog(t, "organization="+globexOrg); len(globex) != 0 {
			t.Errorf("organization=globex: %d entries", len(globex))
		}
	})
}

// TestAuditRetention: the sweeper deletes entries older than
// audit.retention, and keeps the rest.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, backends[0], true, func(c *config.Config) { c.Audit.Retention = config.Duration(48 * time.Hour) })
	ctx := t.Context()
	now := s.Clock.Now()
	for i, age := range []time.Duration{72 * time.Hour, 49 * time.Hour, 47 * time.Hour, time.Minute} {
		mustDo(t, s.Store.AddAuditEntry(ctx, &store.AuditEntry{ID: "e" + string(rune('0'+i)), At: now.Add(-age),
			ActorKind: store.ActorAdminToken, ActorID: store.ActorAdminToken, Kind: audit.UserUpdate, TargetID: "u"}))
	}
	s.Srv.sweepOnce(ctx)
	es, err := s.Store.QueryAudit(ctx, store.AuditQuery{Limit: 10})
	mustDo(t, err)
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, []string{"e3", "e2"}) {
		t.Errorf("after the sweep: %v, want [e3 e2]", ids)
	}
}

// TestInvitationRetention: the sweeper deletes invitations that ended more
// than invitations.retention ago, and a person's grant once past its
// absolute expiry; what ended since, and what is live, stays.
func TestInvitationRetention(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, backends[0], true, func(c *config.Config) { c.Invitations.Retention = config.Duration(48 * time.Hour) })
	ctx := t.Context()
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: "ret", Name: "Retention", CreatedAt: now, UpdatedAt: now}))
	for id, decided := range map[string]time.Duration{"old": 49 * time.Hour, "recent": 47 * time.Hour} {
		mustDo(t, s.Store.CreateInvitation(ctx, &store.Invitation{ID: id, TokenHash: "hash-" + id, OrgID: "ret",
			Email: id + "@example.com", InvitedBy: "admin", Status: store.InvitationAccepted,
			CreatedAt: now.Add(-60 * time.Hour), DecidedAt: now.Add(-decided), ExpiresAt: now.Add(time.Hour)}, nil))
	}
	g := &store.Grant{ID: "g-expired", UserID: "u-person", ClientID: tvClient, Scopes: []string{"openid"},
		CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Minute)}
	mustDo(t, s.Store.CreateGrant(ctx, g))
	s.Srv.sweepOnce(ctx)
	if _, err := s.Store.GetInvitation(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an invitation accepted 49 h ago with a 48 h retention: %v, want it gone", err)
	}
	if _, err := s.Store.GetInvitation(ctx, "recent"); err != nil {
		t.Errorf("an invitation accepted 47 h ago: %v, want it kept", err)
	}
	if _, err := s.Store.GetGrant(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a person's grant past its expiry: %v, want it swept", err)
	}
}

// sweepFails is a store whose Sweep fails, as a long backlog past the
// database's statement timeout would.
type sweepFails struct{ store.Store }

func (sweepFails) Sweep(context.Context, time.Time) (int64, error) {
	return 0, errors.New("canceling statement due to statement timeout")
}

// TestSweepStepsIndependent: when the sweep of expired rows fails, the
// audit log and ended invitations are pruned all the same.
func TestSweepStepsIndependent(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, backends[0], true, func(c *config.Config) {
		c.Audit.Retention = config.Duration(48 * time.Hour)
		c.Invitations.Retention = config.Duration(48 * time.Hour)
	})
	ctx := t.Context()
	now := s.Clock.Now()
	mustDo(t, s.Store.CreateOrganization(ctx, &store.Organization{ID: "ind", Name: "Independent", CreatedAt: now, UpdatedAt: now}))
	mustDo(t, s.Store.CreateInvitation(ctx, &store.Invitation{ID: "ended", TokenHash: "hash-ended", OrgID: "ind",
		Email: "ended@example.com", InvitedBy: "admin", Status: store.InvitationRevoked,
		CreatedAt: now.Add(-60 * time.Hour), DecidedAt: now.Add(-49 * time.Hour), ExpiresAt: now.Add(time.Hour)}, nil))
	mustDo(t, s.Store.AddAuditEntry(ctx, &store.AuditEntry{ID: "old", At: now.Add(-72 * time.Hour),
		ActorKind: store.ActorAdminToken, ActorID: store.ActorAdminToken, Kind: audit.UserUpdate, TargetID: "u"}))
	s.Srv.store.Store = sweepFails{s.Srv.store.Store}
	s.Srv.sweepOnce(ctx)
	if _, err := s.Store.GetInvitation(ctx, "ended"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an invitation revoked 49 h ago, after a failed sweep: %v, want it pruned", err)
	}
	if es, err := s.Store.QueryAudit(ctx, store.AuditQuery{Limit: 10}); err != nil || len(es) != 0 {
		t.Errorf("the audit log after a failed sweep: %d entries (%v), want the old one pruned", len(es), err)
	}
}
