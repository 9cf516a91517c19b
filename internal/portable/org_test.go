package portable

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

// seedOrgs adds to s (seeded) two organizations, members, device client
// groups, and devices they own, in their groups.
func seedOrgs(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("CreateOrganization", s.CreateOrganization(ctx, &store.Organization{ID: "acme", Name: "Acme Sensors",
		AppLink: "acme://invitation", CreatedAt: t0, UpdatedAt: at(time.Minute)}))
	must("CreateOrganization", s.CreateOrganization(ctx, &store.Organization{ID: "globex", Name: "Globex", CreatedAt: t0, UpdatedAt: t0}))
	must("PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: "acme", UserID: "u1", Role: store.RoleAdmin, CreatedAt: t0}))
	must("PutOrgMember", s.PutOrgMember(ctx, &store.OrgMember{OrgID: "acme", UserID: "u2", Role: store.RoleMember, CreatedAt: at(time.Second)}))
	for _, id := range []string{"sensor-1", "sensor-2"} {
		must("CreateClient", s.CreateClient(ctx, &store.Client{ID: id, Name: "Sensor " + id, SecretHash: oauth.HashSecret("lk_cs_" + id),
			AuthMethod: store.AuthClientSecretBasic, GrantTypes: []string{store.GrantClientCredentials}, OrgID: "acme",
			CreatedAt: t0, UpdatedAt: t0}))
	}
	must("CreateClientGroup", s.CreateClientGroup(ctx, &store.ClientGroup{ID: "readers", OrgID: "acme", Name: "Readers",
		Description: "read-only devices", Scopes: []string{"read", "status"}, CreatedAt: t0, UpdatedAt: at(time.Hour)}))
	must("CreateClientGroup", s.CreateClientGroup(ctx, &store.ClientGroup{ID: "writers", OrgID: "acme", Name: "Writers",
		Scopes: []string{"write"}, CreatedAt: t0, UpdatedAt: t0}))
	must("CreateClientGroup", s.CreateClientGroup(ctx, &store.ClientGroup{ID: "empty", OrgID: "globex", Name: "Nobody yet",
		Scopes: []string{}, CreatedAt: t0, UpdatedAt: t0}))
	must("AddGroupClient", s.AddGroupClient(ctx, "readers", "sensor-1", t0))
	must("AddGroupClient", s.AddGroupClient(ctx, "readers", "sensor-2", t0))
	must("AddGroupClient", s.AddGroupClient(ctx, "writers", "sensor-2", t0))
}

// orgView is everything about organizations an export should carry.
type orgView struct {
	Orgs    []*store.Organization
	Members map[string][]*store.OrgMember
	Groups  map[string][]*store.ClientGroup
	Clients map[string][]string // group id -> client ids
	Owners  map[string]string   // client id -> org id
}

func viewOrgs(t *testing.T, s store.Store) orgView {
	t.Helper()
	ctx := t.Context()
	v := orgView{Members: map[string][]*store.OrgMember{}, Groups: map[string][]*store.ClientGroup{},
		Clients: map[string][]string{}, Owners: map[string]string{}}
	var err error
	if v.Orgs, err = s.ListOrganizations(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range v.Orgs {
		if v.Members[o.ID], err = s.ListOrgMembers(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if v.Groups[o.ID], err = s.ListClientGroups(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		for _, g := range v.Groups[o.ID] {
			if v.Clients[g.ID], err = s.ListGroupClients(ctx, g.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	cs, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		v.Owners[c.ID] = c.OrgID
	}
	return v
}

// TestOrganizationsRoundTrip: organizations, their members, their client
// groups with the devices in them, and which organization owns each device
// come through an export and import on both backends; before version 2 an
// export lost all of it, and the devices their groups' scopes.
func TestOrganizationsRoundTrip(t *testing.T) {
	t.Parallel()
	src := sqlitetest.Open(t)
	seed(t, src)
	seedOrgs(t, src)
	var buf bytes.Buffer
	n, err := Export(t.Context(), src, &buf)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	want := Counts{Clients: 5, Users: 3, SigningKeys: 2, Organizations: 2, OrgMembers: 2, ClientGroups: 3}
	if n != want {
		t.Fatalf("Export counts = %+v, want %+v", n, want)
	}
	if got := n.String(); got != "5 clients, 3 users, 2 signing keys, 2 organizations, 2 organization members, 3 client groups" {
		t.Errorf("Counts.String() = %q", got)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dst := b.open(t)
			n, err := Import(t.Context(), dst, strings.NewReader(buf.String()), Options{})
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if n != want {
				t.Errorf("Import counts = %+v, want %+v", n, want)
			}
			if d := cmp.Diff(viewOrgs(t, src), viewOrgs(t, dst), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("organizations after the trip (-exported +imported):\n%s", d)
			}
		})
	}
}

// TestOrganizationsReferences: a record that refers to an organization, a
// user or a client that is neither in the file nor in the database, or a
// group that would hold another organization's device, stops the import
// before anything is written.
func TestOrganizationsReferences(t *testing.T) {
	t.Parallel()
	header := `{"kind":"latchkey-export","version":2,"exported_at":"2026-03-04T05:06:07.000Z","clients":%d,"users":0,"signing_keys":0,"organizations":%d,"org_members":%d,"client_groups":%d}`
	client := `{"kind":"client","id":"dev","name":"Dev","secret_hash":"` + oauth.HashSecret("x") + `","auth_method":"client_secret_basic","grant_types":["client_credentials"],"redirect_uris":[],"scopes":[],"org_id":"%s"}`
	org := `{"kind":"organization","id":"acme","name":"Acme"}`
	orgInDB := func(t *testing.T, st store.Store) {
		t.Helper()
		if err := st.CreateOrganization(t.Context(), &store.Organization{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, want string
		counts     [4]int
		lines      []string
		prepare    func(t *testing.T, st store.Store) // the database before the import; nil: empty
		opts       Options
	}{
		{"client of a missing organization", `organization "nowhere" is neither`, [4]int{1, 0, 0, 0},
			[]string{fmt.Sprintf(client, "nowhere")}, nil, Options{}},
		{"member who is nobody", `user "ghost" is neither`, [4]int{0, 1, 1, 0},
			[]string{org, `{"kind":"org_member","org_id":"acme","user_id":"ghost","role":"admin"}`}, nil, Options{}},
		{"group with a missing client", `client "nope" is neither`, [4]int{0, 1, 0, 1},
			[]string{org, `{"kind":"client_group","id":"g","org_id":"acme","name":"G","scopes":[],"clients":["nope"]}`}, nil, Options{}},
		{"group with another organization's device", `client "dev" is not owned by the group's organization "acme"`, [4]int{1, 2, 0, 1},
			[]string{org, `{"kind":"organization","id":"other","name":"Other"}`, fmt.Sprintf(client, "other"),
				`{"kind":"client_group","id":"g","org_id":"acme","name":"G","scopes":[],"clients":["dev"]}`}, nil, Options{}},
		{"a member role that does not exist", `role "owner"`, [4]int{0, 1, 1, 0},
			[]string{org, `{"kind":"org_member","org_id":"acme","user_id":"u","role":"owner"}`}, nil, Options{}},
		{"two groups of one name in an organization", `has the name "G" of the group on line`, [4]int{0, 1, 0, 2},
			[]string{org, `{"kind":"client_group","id":"g1","org_id":"acme","name":"G","scopes":[],"clients":[]}`,
				`{"kind":"client_group","id":"g2","org_id":"acme","name":"G","scopes":[],"clients":[]}`}, nil, Options{}},
		{"a group named as one in the database", `in the database has the name "G"`, [4]int{0, 0, 0, 1},
			[]string{`{"kind":"client_group","id":"g2","org_id":"acme","name":"G","scopes":[],"clients":[]}`},
			func(t *testing.T, st store.Store) {
				orgInDB(t, st)
				if err := st.CreateClientGroup(t.Context(), &store.ClientGroup{ID: "g1", OrgID: "acme", Name: "G"}); err != nil {
					t.Fatal(err)
				}
			}, Options{}},
		{"skipped client of no organization in the database, in the file the group's", `client "dev" is not owned by the group's organization`,
			[4]int{1, 1, 0, 1},
			[]string{org, fmt.Sprintf(client, "acme"), `{"kind":"client_group","id":"g","org_id":"acme","name":"G","scopes":[],"clients":["dev"]}`},
			func(t *testing.T, st store.Store) {
				if err := st.CreateClient(t.Context(), &store.Client{ID: "dev", Name: "Dev", AuthMethod: store.AuthNone,
					GrantTypes: []string{store.GrantClientCredentials}}); err != nil {
					t.Fatal(err)
				}
			}, Options{SkipExisting: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := sqlitetest.Open(t)
			if tt.prepare != nil {
				tt.prepare(t, dst)
			}
			before, err := dst.ListOrganizations(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			in := fmt.Sprintf(header, tt.counts[0], tt.counts[1], tt.counts[2], tt.counts[3]) + "\n" + strings.Join(tt.lines, "\n") + "\n"
			_, err = Import(t.Context(), dst, strings.NewReader(in), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import error = %v, want one saying %q", err, tt.want)
			}
			if orgs, err := dst.ListOrganizations(t.Context()); err != nil || len(orgs) != len(before) {
				t.Errorf("organizations after a refused import: %v, %v; want the %d before it", orgs, err, len(before))
			}
		})
	}
}

// TestImportVersion1: a file written before organizations were exported
// (version 1) imports as it did.
func TestImportVersion1(t *testing.T) {
	t.Parallel()
	src := sqlitetest.Open(t)
	seed(t, src)
	var buf bytes.Buffer
	if _, err := Export(t.Context(), src, &buf); err != nil {
		t.Fatal(err)
	}
	v1 := strings.Replace(buf.String(), `"version":4,`, `"version":1,`, 1)
	if v1 == buf.String() {
		t.Fatal("the export's header has no version 4 to replace")
	}
	n, err := Import(t.Context(), sqlitetest.Open(t), strings.NewReader(v1), Options{})
	if want := (Counts{Clients: 3, Users: 3, SigningKeys: 2}); err != nil || n != want {
		t.Errorf("Import of a version 1 file = %+v, %v; want %+v", n, err, want)
	}
}
