package clientauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// cache is Clients as the server's is: GetClient answers from what it read
// earlier, GetClientFresh reads the store, and fresh counts those reads.
type cache struct {
	st     Direct
	held   map[string]*store.Client
	fresh  int
	broken bool // every read fails, as when the database is away
}

func (c *cache) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if c.broken {
		return nil, fmt.Errorf("read: %w", store.ErrUnavailable)
	}
	if cl, ok := c.held[id]; ok {
		copied := *cl
		return &copied, nil
	}
	return c.st.GetClient(ctx, id)
}

func (c *cache) GetClientFresh(ctx context.Context, id string) (*store.Client, error) {
	c.fresh++
	return c.st.GetClient(ctx, id)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	const oldSecret, newSecret = "lk_cs_old-0123456789", "lk_cs_new-0123456789"
	for _, tt := range []struct {
		name      string
		id        string
		secret    oauth.Secret
		basic     bool                            // the secret came in the Authorization header
		edit      func(*testing.T, *sqlite.Store) // after the cache read the clients
		broken    bool
		wantErr   string // "": authenticated; else the oauth error code, or "other"
		wantFresh int
		wantDesc  string // a part of the error's description
	}{
		{"public client, no secret", "tv", "", false, nil, false, "", 0, ""},
		{"public client sending a secret", "tv", "anything", false, nil, false, oauth.InvalidClient, 1, "client authentication failed"},
		{"confidential client, its secret", "printer", oldSecret, true, nil, false, "", 0, ""},
		{"confidential client, wrong secret", "printer", "lk_cs_wrong", true, nil, false, oauth.InvalidClient, 1, "client authentication failed"},
		{"confidential client, no secret", "printer", "", false, nil, false, oauth.InvalidClient, 1, "client authentication failed"},
		{"unknown client", "nobody", "lk_cs_whatever", true, nil, false, oauth.InvalidClient, 0, "client authentication failed"},
		{"secret rotated on another instance: the new one works at once", "printer", newSecret, true, rotate(newSecret), false, "", 1, ""},
		{"secret rotated on another instance: the old one lingers in the cache", "printer", oldSecret, true, rotate(newSecret), false, "", 0, ""},
		{"client deleted on another instance, wrong secret", "printer", "lk_cs_wrong", true, deleteClient, false, oauth.InvalidClient, 1, ""},
		{"database away", "printer", oldSecret, true, nil, true, "other", 0, ""},

		// token_endpoint_auth_method is enforced (docs/security.md CA-02).
		{"client_secret_basic client, its secret in the body", "printer", oldSecret, false, nil, false, oauth.InvalidClient, 1,
			"client printer is registered for client_secret_basic: send its secret in the Authorization header"},
		{"client_secret_basic client, a wrong secret in the body", "printer", "lk_cs_wrong", false, nil, false, oauth.InvalidClient, 1,
			"client authentication failed"},
		{"client_secret_post client, its secret in the body", "mailer", oldSecret, false, nil, false, "", 0, ""},
		{"client_secret_post client, its secret in the header", "mailer", oldSecret, true, nil, false, oauth.InvalidClient, 1,
			"client mailer is registered for client_secret_post: send its secret as client_secret in the body"},
		{"client_secret_post client, a wrong secret in the header", "mailer", "lk_cs_wrong", true, nil, false, oauth.InvalidClient, 1,
			"client authentication failed"},
		{"method changed on another instance: the new one works at once", "printer", oldSecret, false, switchToPost, false, "", 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			st := sqlitetest.Open(t)
			for _, c := range []*store.Client{
				{ID: "tv", AuthMethod: store.AuthNone},
				{ID: "printer", AuthMethod: store.AuthClientSecretBasic, SecretHash: oauth.HashSecret(oldSecret)},
				{ID: "mailer", AuthMethod: store.AuthClientSecretPost, SecretHash: oauth.HashSecret(oldSecret)},
			} {
				if err := st.CreateClient(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			c := &cache{st: Direct{Store: st}, held: map[string]*store.Client{}, broken: tt.broken}
			for _, id := range []string{"tv", "printer", "mailer"} {
				cl, err := st.GetClient(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				c.held[id] = cl
			}
			if tt.edit != nil {
				tt.edit(t, st)
			}

			got, err := Authenticate(ctx, c, oauth.ClientCredentials{ID: tt.id, Secret: tt.secret, Basic: tt.basic})
			var oe *oauth.Error
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Authenticate = %v; want client %s", err, tt.id)
			case tt.wantErr == "" && got.ID != tt.id:
				t.Errorf("Authenticate = client %s; want %s", got.ID, tt.id)
			case tt.wantErr == "other" && (err == nil || errors.As(err, &oe)):
				t.Errorf("Authenticate = %v; want an internal error, not an answer for the client", err)
			case tt.wantErr != "" && tt.wantErr != "other" && (!errors.As(err, &oe) || oe.Code != tt.wantErr):
				t.Errorf("Authenticate = %v; want %s", err, tt.wantErr)
			}
			if tt.wantDesc != "" && (oe == nil || !strings.Contains(oe.Description, tt.wantDesc)) {
				t.Errorf("Authenticate = %v; want a description with %q", err, tt.wantDesc)
			}
			if c.fresh != tt.wantFresh {
				t.Errorf("fresh reads = %d; want %d", c.fresh, tt.wantFresh)
			}
		})
	}
}

func rotate(secret string) func(*testing.T, *sqlite.Store) {
	return func(t *testing.T, st *sqlite.Store) {
		c, err := st.GetClient(t.Context(), "printer")
		if err != nil {
			t.Fatal(err)
		}
		c.SecretHash = oauth.HashSecret(secret)
		if err := st.UpdateClient(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
}

func switchToPost(t *testing.T, st *sqlite.Store) {
	c, err := st.GetClient(t.Context(), "printer")
	if err != nil {
		t.Fatal(err)
	}
	c.AuthMethod = store.AuthClientSecretPost
	if err := st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
}

func deleteClient(t *testing.T, st *sqlite.Store) {
	if err := st.DeleteClient(t.Context(), "printer"); err != nil {
		t.Fatal(err)
	}
}
