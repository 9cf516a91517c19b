package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Organizations and their members (store.OrganizationStore), and device
// client groups (store.ClientGroupStore).

const orgColumns = `id, name, app_link, created_at, updated_at`

func scanOrganization(row Row) (*store.Organization, error) {
	var o store.Organization
	if err := row.Scan(&o.ID, &o.Name, &o.AppLink, TimeCol{&o.CreatedAt}, TimeCol{&o.UpdatedAt}); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateOrganization stores o; ErrConflict if its id is taken.
func (s *Store) CreateOrganization(ctx context.Context, o *store.Organization) error {
	if !store.ValidText(o.ID, o.Name, o.AppLink) {
		return fmt.Errorf("create organization: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO organizations (`+orgColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		o.ID, o.Name, o.AppLink, Millis(o.CreatedAt), Millis(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create organization: %w", err)
	}
	return nil
}

// GetOrganization returns the organization with id, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, id string) (*store.Organization, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanOrganization(s.b.Reader().QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
}

// ListOrganizations returns every organization, ordered by id (bytewise).
func (s *Store) ListOrganizations(ctx context.Context) ([]*store.Organization, error) {
	return queryAll(ctx, s.b.Reader(), scanOrganization, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
}

// UpdateOrganization replaces the name and app link; ErrNotFound if missing.
func (s *Store) UpdateOrganization(ctx context.Context, o *store.Organization) error {
	if !store.ValidText(o.ID) {
		return store.ErrNotFound
	}
	if !store.ValidText(o.Name, o.AppLink) {
		return fmt.Errorf("update organization %q: %w", o.ID, store.ErrInvalid)
	}
	if err := execOne(ctx, s.b.Writer(), `UPDATE organizations SET name = $1, app_link = $2, updated_at = $3 WHERE id = $4`,
		o.Name, o.AppLink, Millis(o.UpdatedAt), o.ID); err != nil {
		return fmt.Errorf("update organization %q: %w", o.ID, err)
	}
	return nil
}

// DeleteOrganization deletes the organization and, by cascade, its members,
// groups, invitations and their mail; ErrConflict while it owns clients. The
// organization's row is locked first, so no client can be given to it
// meanwhile: on PostgreSQL a client taken into the organization while this
// runs waits for that lock and then finds it gone (the foreign key).
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		found, err := exists(ctx, q, `SELECT 1 FROM organizations WHERE id = $1`+s.f.ForUpdate, id)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		owns, err := exists(ctx, q, `SELECT 1 FROM clients WHERE org_id = $1 LIMIT 1`, id)
		if err != nil {
			return err
		}
		if owns {
			return fmt.Errorf("it owns clients: %w", store.ErrConflict)
		}
		// The mail of its invitations of people has no foreign key to
		// them (it is mail of no device invitation): it is cancelled here.
		if _, err := q.Exec(ctx, cancelMail+` AND id IN (SELECT mail_id FROM member_invitations WHERE org_id = $1)`, id); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return execOne(ctx, q, `DELETE FROM organizations WHERE id = $1`, id)
	})
	if err != nil {
		return fmt.Errorf("delete organization %q: %w", id, err)
	}
	return nil
}

const memberColumns = `org_id, user_id, role, created_at`

func scanOrgMember(row Row) (*store.OrgMember, error) {
	var m store.OrgMember
	if err := row.Scan(&m.OrgID, &m.UserID, &m.Role, TimeCol{&m.CreatedAt}); err != nil {
		return nil, err
	}
	return &m, nil
}

// PutOrgMember adds a member, or changes the role of one (keeping when it
// joined); ErrNotFound if the organization or user does not exist.
func (s *Store) PutOrgMember(ctx context.Context, m *store.OrgMember) error {
	if !store.ValidText(m.OrgID, m.UserID, m.Role) {
		return fmt.Errorf("put organization member: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`,
		m.OrgID, m.UserID, m.Role, Millis(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("put organization member: %w", err)
	}
	return nil
}

// GetOrgMember returns userID's membership of orgID, or ErrNotFound.
func (s *Store) GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error) {
	if !store.ValidText(orgID, userID) {
		return nil, store.ErrNotFound
	}
	return scanOrgMember(s.b.Reader().QueryRow(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 AND user_id = $2`, orgID, userID))
}

// ListOrgMembers returns the members of orgID, ordered by user id.
func (s *Store) ListOrgMembers(ctx context.Context, orgID string) ([]*store.OrgMember, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanOrgMember, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 ORDER BY user_id`, orgID)
}

// ListUserMemberships returns userID's memberships of organizations,
// ordered by organization id.
func (s *Store) ListUserMemberships(ctx context.Context, userID string) ([]*store.OrgMember, error) {
	if !store.ValidText(userID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanOrgMember, `SELECT `+memberColumns+` FROM org_members
		WHERE user_id = $1 ORDER BY org_id`, userID)
}

// DeleteOrgMember ends a membership; ErrNotFound if there is none.
func (s *Store) DeleteOrgMember(ctx context.Context, orgID, userID string) error {
	if !store.ValidText(orgID, userID) {
		return store.ErrNotFound
	}
	return execOne(ctx, s.b.Writer(), `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)
}

// PutOrgMemberKeepAdmin is PutOrgMember, refused with ErrLastAdmin when
// it would take the admin role from the organization's only admin.
func (s *Store) PutOrgMemberKeepAdmin(ctx context.Context, m *store.OrgMember) error {
	if !store.ValidText(m.OrgID, m.UserID, m.Role) {
		return fmt.Errorf("put organization member: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		if m.Role != store.RoleAdmin {
			if err := s.keepAdmin(ctx, q, m.OrgID, m.UserID); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`,
			m.OrgID, m.UserID, m.Role, Millis(m.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put organization member: %w", err)
	}
	return nil
}

// DeleteOrgMemberKeepAdmin is DeleteOrgMember, refused with ErrLastAdmin
// when userID is the organization's only admin.
func (s *Store) DeleteOrgMemberKeepAdmin(ctx context.Context, orgID, userID string) error {
	if !store.ValidText(orgID, userID) {
		return store.ErrNotFound
	}
	return s.b.Tx(ctx, func(q Querier) error {
		if err := s.keepAdmin(ctx, q, orgID, userID); err != nil {
			return err
		}
		return execOne(ctx, q, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	})
}

// keepAdmin locks organization orgID's row, then answers ErrLastAdmin if
// userID is its only admin (ErrNotFound if there is no such
// organization). Every change bound by the last-admin rule takes the
// same lock first, so on PostgreSQL two of them in one organization run
// one after the other, the second counting what the first left (a
// conditional statement alone would not do: under READ COMMITTED two
// admins demoting each other would each still see the other as an
// admin). On SQLite the one writer takes them in turn anyway.
func (s *Store) keepAdmin(ctx context.Context, q Querier, orgID, userID string) error {
	found, err := exists(ctx, q, `SELECT 1 FROM organizations WHERE id = $1`+s.f.ForUpdate, orgID)
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	var admins, target int64
	if err := q.QueryRow(ctx, `SELECT COUNT(*), COUNT(CASE WHEN user_id = $2 THEN 1 END) FROM org_members
		WHERE org_id = $1 AND role = 'admin'`, orgID, userID).Scan(&admins, &target); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if target > 0 && admins == 1 {
		return store.ErrLastAdmin
	}
	return nil
}

const groupColumns = `id, org_id, name, description, scopes, created_at, updated_at`

func scanClientGroup(row Row) (*store.ClientGroup, error) {
	var g store.ClientGroup
	err := row.Scan(&g.ID, &g.OrgID, &g.Name, &g.Description, listCol{&g.Scopes},
		TimeCol{&g.CreatedAt}, TimeCol{&g.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

func validClientGroup(g *store.ClientGroup) bool {
	return store.ValidText(g.ID, g.OrgID, g.Name, g.Description) && store.ValidText(g.Scopes...)
}

// CreateClientGroup stores g; ErrConflict if its id or its name in its
// organization is taken, ErrNotFound if the organization does not exist.
func (s *Store) CreateClientGroup(ctx context.Context, g *store.ClientGroup) error {
	if !validClientGroup(g) {
		return fmt.Errorf("create client group: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO client_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		g.ID, g.OrgID, g.Name, g.Description, jsonList(g.Scopes), Millis(g.CreatedAt), Millis(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create client group: %w", err)
	}
	return nil
}

// GetClientGroup returns the group with id, or ErrNotFound.
func (s *Store) GetClientGroup(ctx context.Context, id string) (*store.ClientGroup, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanClientGroup(s.b.Reader().QueryRow(ctx, `SELECT `+groupColumns+` FROM client_groups WHERE id = $1`, id))
}

// ListClientGroups returns orgID's groups, ordered by name.
func (s *Store) ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanClientGroup, `SELECT `+groupColumns+` FROM client_groups
		WHERE org_id = $1 ORDER BY name, id`, orgID)
}

// UpdateClientGroup replaces the name, description and scopes.
func (s *Store) UpdateClientGroup(ctx context.Context, g *store.ClientGroup) error {
	if !store.ValidText(g.ID) {
		return store.ErrNotFound
	}
	if !validClientGroup(g) {
		return fmt.Errorf("update client group %q: %w", g.ID, store.ErrInvalid)
	}
	err := execOne(ctx, s.b.Writer(), `UPDATE client_groups SET name = $1, description = $2, scopes = $3, updated_at = $4
		WHERE id = $5`, g.Name, g.Description, jsonList(g.Scopes), Millis(g.UpdatedAt), g.ID)
	if err != nil {
		return fmt.Errorf("update client group %q: %w", g.ID, err)
	}
	return nil
}

// DeleteClientGroup revokes the pending invitations into the group and
// cancels their mail, then deletes it (its memberships go by cascade), in
// one transaction. Invitations first, then the group: the order an
// acceptance takes its locks in, so on PostgreSQL the two cannot deadlock;
// an acceptance racing with it either committed first (its memberships then
// go with the group) or waits for the invitation's row lock and finds it
// revoked.
func (s *Store) DeleteClientGroup(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	namesGroup := s.f.ListHas("invitations.group_ids", "$1")
	err := s.b.Tx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `UPDATE invitations SET status = 'revoked', decided_at = $2
			WHERE status = 'pending' AND `+namesGroup, id, now.UnixMilli()); err != nil {
			return fmt.Errorf("revoke invitations: %w", err)
		}
		if _, err := q.Exec(ctx, cancelMail+` AND invitation_id IN (SELECT id FROM invitations WHERE `+namesGroup+`)`,
			id); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return execOne(ctx, q, `DELETE FROM client_groups WHERE id = $1`, id)
	})
	if err != nil {
		return fmt.Errorf("delete client group %q: %w", id, err)
	}
	return nil
}

// ListClientGroupsOf returns the groups clientID is in, ordered by name.
func (s *Store) ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(clientID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanClientGroup, `SELECT `+qualify("g.", groupColumns)+` FROM client_groups g
		JOIN client_group_members m ON m.group_id = g.id
		WHERE m.client_id = $1 ORDER BY g.name, g.id`, clientID)
}

// ListGroupClients returns the ids of the clients in groupID, ordered.
func (s *Store) ListGroupClients(ctx context.Context, groupID string) ([]string, error) {
	if !store.ValidText(groupID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), func(row Row) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT client_id FROM client_group_members WHERE group_id = $1 ORDER BY client_id`, groupID)
}

// AddGroupClient puts clientID into groupID, a member since at, if the
// client is owned by the group's organization.
func (s *Store) AddGroupClient(ctx context.Context, groupID, clientID string, at time.Time) error {
	if !store.ValidText(groupID, clientID) {
		return store.ErrNotFound
	}
	err := execOne(ctx, s.b.Writer(), `INSERT INTO client_group_members (group_id, client_id, created_at)
		SELECT g.id, c.id, $1 FROM client_groups g JOIN clients c ON c.org_id = g.org_id
		WHERE g.id = $2 AND c.id = $3
		ON CONFLICT (group_id, client_id) DO NOTHING`, Millis(at), groupID, clientID)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing inserted: a member already, a missing group or client, or a
	// client of another organization.
	r := s.b.Reader()
	group, err := exists(ctx, r, `SELECT 1 FROM client_groups WHERE id = $1`, groupID)
	if err != nil {
		return err
	}
	client, err := exists(ctx, r, `SELECT 1 FROM clients WHERE id = $1`, clientID)
	if err != nil {
		return err
	}
	if !group || !client {
		return store.ErrNotFound
	}
	member, err := exists(ctx, r, `SELECT 1 FROM client_group_members WHERE group_id = $1 AND client_id = $2`, groupID, clientID)
	if err != nil || member {
		return err
	}
	return fmt.Errorf("add group client: the client is not owned by the group's organization: %w", store.ErrConflict)
}

// RemoveGroupClient takes clientID out of groupID; ErrNotFound if it is not in it.
func (s *Store) RemoveGroupClient(ctx context.Context, groupID, clientID string) error {
	if !store.ValidText(groupID, clientID) {
		return store.ErrNotFound
	}
	return execOne(ctx, s.b.Writer(), `DELETE FROM client_group_members WHERE group_id = $1 AND client_id = $2`, groupID, clientID)
}
