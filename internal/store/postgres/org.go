package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
)

// Organizations, device client groups, invitations and the outbox
// (store.OrgStore), mirroring package sqlite's org.go. The invitation states
// in the SQL are store.InvitationPending and its siblings, the mail states
// store.MailPending and its siblings; storetest checks they come back as the
// constants.

const orgColumns = `id, name, app_link, created_at, updated_at`

func scanOrganization(row pgx.Row) (*store.Organization, error) {
	var o store.Organization
	if err := row.Scan(&o.ID, &o.Name, &o.AppLink, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}); err != nil {
		return nil, mapErr(err)
	}
	return &o, nil
}

// CreateOrganization stores o; ErrConflict if its id is taken.
func (s *Store) CreateOrganization(ctx context.Context, o *store.Organization) error {
	if !store.ValidText(o.ID, o.Name, o.AppLink) {
		return fmt.Errorf("create organization: %w", store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO organizations (`+orgColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		o.ID, o.Name, o.AppLink, millis(o.CreatedAt), millis(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create organization: %w", mapErr(err))
	}
	return nil
}

// GetOrganization returns the organization with id, or ErrNotFound.
func (s *Store) GetOrganization(ctx context.Context, id string) (*store.Organization, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanOrganization(s.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
}

// ListOrganizations returns every organization, ordered by id (bytewise).
func (s *Store) ListOrganizations(ctx context.Context) ([]*store.Organization, error) {
	return queryAll(ctx, s, scanOrganization, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
}

// UpdateOrganization replaces the name and app link; ErrNotFound if missing.
func (s *Store) UpdateOrganization(ctx context.Context, o *store.Organization) error {
	if !store.ValidText(o.ID) {
		return store.ErrNotFound
	}
	if !store.ValidText(o.Name, o.AppLink) {
		return fmt.Errorf("update organization %q: %w", o.ID, store.ErrInvalid)
	}
	if err := s.execOne(ctx, `UPDATE organizations SET name = $1, app_link = $2, updated_at = $3 WHERE id = $4`,
		o.Name, o.AppLink, millis(o.UpdatedAt), o.ID); err != nil {
		return fmt.Errorf("update organization %q: %w", o.ID, err)
	}
	return nil
}

// DeleteOrganization deletes the organization and, by cascade, its members,
// groups, invitations and their mail; ErrConflict while it owns clients. A
// client taken into the organization while this runs waits for the
// organization's row lock and then finds it gone (the foreign key).
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete organization: %w", mapErr(err))
	}
	defer tx.Rollback(ctx)
	// Lock the row first, so no client can be given to it meanwhile.
	found, err := exists(ctx, tx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return fmt.Errorf("delete organization: %w", err)
	}
	if !found {
		return store.ErrNotFound
	}
	owns, err := exists(ctx, tx, `SELECT 1 FROM clients WHERE org_id = $1 LIMIT 1`, id)
	if err != nil {
		return fmt.Errorf("delete organization: %w", err)
	}
	if owns {
		return fmt.Errorf("delete organization %q: it owns clients: %w", id, store.ErrConflict)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM organizations WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete organization %q: %w", id, mapErr(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("delete organization %q: commit: %w", id, mapErr(err))
	}
	return nil
}

const memberColumns = `org_id, user_id, role, created_at`

func scanOrgMember(row pgx.Row) (*store.OrgMember, error) {
	var m store.OrgMember
	if err := row.Scan(&m.OrgID, &m.UserID, &m.Role, timeCol{&m.CreatedAt}); err != nil {
		return nil, mapErr(err)
	}
	return &m, nil
}

// PutOrgMember adds a member, or changes the role of one (keeping when it
// joined); ErrNotFound if the organization or user does not exist.
func (s *Store) PutOrgMember(ctx context.Context, m *store.OrgMember) error {
	if !store.ValidText(m.OrgID, m.UserID, m.Role) {
		return fmt.Errorf("put organization member: %w", store.ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role`,
		m.OrgID, m.UserID, m.Role, millis(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("put organization member: %w", mapErr(err))
	}
	return nil
}

// GetOrgMember returns userID's membership of orgID, or ErrNotFound.
func (s *Store) GetOrgMember(ctx context.Context, orgID, userID string) (*store.OrgMember, error) {
	if !store.ValidText(orgID, userID) {
		return nil, store.ErrNotFound
	}
	return scanOrgMember(s.pool.QueryRow(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 AND user_id = $2`, orgID, userID))
}

// ListOrgMembers returns the members of orgID, ordered by user id.
func (s *Store) ListOrgMembers(ctx context.Context, orgID string) ([]*store.OrgMember, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s, scanOrgMember, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = $1 ORDER BY user_id`, orgID)
}

// DeleteOrgMember ends a membership; ErrNotFound if there is none.
func (s *Store) DeleteOrgMember(ctx context.Context, orgID, userID string) error {
	if !store.ValidText(orgID, userID) {
		return store.ErrNotFound
	}
	return s.execOne(ctx, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)
}

const groupColumns = `id, org_id, name, description, scopes, created_at, updated_at`

func scanClientGroup(row pgx.Row) (*store.ClientGroup, error) {
	var g store.ClientGroup
	err := row.Scan(&g.ID, &g.OrgID, &g.Name, &g.Description, listCol{&g.Scopes},
		timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	if err != nil {
		return nil, mapErr(err)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO client_groups (`+groupColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		g.ID, g.OrgID, g.Name, g.Description, jsonList(g.Scopes), millis(g.CreatedAt), millis(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create client group: %w", mapErr(err))
	}
	return nil
}

// GetClientGroup returns the group with id, or ErrNotFound.
func (s *Store) GetClientGroup(ctx context.Context, id string) (*store.ClientGroup, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanClientGroup(s.pool.QueryRow(ctx, `SELECT `+groupColumns+` FROM client_groups WHERE id = $1`, id))
}

// ListClientGroups returns orgID's groups, ordered by name.
func (s *Store) ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s, scanClientGroup, `SELECT `+groupColumns+` FROM client_groups
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
	err := s.execOne(ctx, `UPDATE client_groups SET name = $1, description = $2, scopes = $3, updated_at = $4 WHERE id = $5`,
		g.Name, g.Description, jsonList(g.Scopes), millis(g.UpdatedAt), g.ID)
	if err != nil {
		return fmt.Errorf("update client group %q: %w", g.ID, err)
	}
	return nil
}

// namesGroup is true for an invitation whose group_ids hold the group $1.
const namesGroup = `invitations.group_ids::jsonb @> jsonb_build_array($1::text)`

// DeleteClientGroup deletes the group (its memberships go by cascade) and
// revokes the pending invitations into it, in one transaction. An
// acceptance racing with it either committed first (its memberships then go
// with the group) or waits for the invitation's row lock and finds it revoked.
func (s *Store) DeleteClientGroup(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("delete client group: %w", mapErr(err))
	}
	defer tx.Rollback(ctx)
	// Invitations first, then the group: the order an acceptance takes its
	// locks in, so the two cannot deadlock.
	if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'revoked', decided_at = $2
		WHERE status = 'pending' AND `+namesGroup, id, now.UnixMilli()); err != nil {
		return fmt.Errorf("delete client group %q: revoke invitations: %w", id, mapErr(err))
	}
	if _, err := tx.Exec(ctx, cancelMail+` AND invitation_id IN (SELECT id FROM invitations WHERE `+namesGroup+`)`,
		id); err != nil {
		return fmt.Errorf("delete client group %q: cancel mail: %w", id, mapErr(err))
	}
	tag, err := tx.Exec(ctx, `DELETE FROM client_groups WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete client group %q: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("delete client group %q: commit: %w", id, mapErr(err))
	}
	return nil
}

// ListClientGroupsOf returns the groups clientID is in, ordered by name.
func (s *Store) ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(clientID) {
		return nil, nil
	}
	return queryAll(ctx, s, scanClientGroup, `SELECT g.id, g.org_id, g.name, g.description, g.scopes, g.created_at, g.updated_at
		FROM client_groups g JOIN client_group_members m ON m.group_id = g.id
		WHERE m.client_id = $1 ORDER BY g.name, g.id`, clientID)
}

// ListGroupClients returns the ids of the clients in groupID, ordered.
func (s *Store) ListGroupClients(ctx context.Context, groupID string) ([]string, error) {
	if !store.ValidText(groupID) {
		return nil, nil
	}
	return queryAll(ctx, s, func(row pgx.Row) (string, error) {
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
	err := s.execOne(ctx, `INSERT INTO client_group_members (group_id, client_id, created_at)
		SELECT g.id, c.id, $1 FROM client_groups g JOIN clients c ON c.org_id = g.org_id
		WHERE g.id = $2 AND c.id = $3
		ON CONFLICT (group_id, client_id) DO NOTHING`, millis(at), groupID, clientID)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing inserted: a member already, a missing group or client, or a
	// client of another organization.
	group, err := exists(ctx, s.pool, `SELECT 1 FROM client_groups WHERE id = $1`, groupID)
	if err != nil {
		return err
	}
	client, err := exists(ctx, s.pool, `SELECT 1 FROM clients WHERE id = $1`, clientID)
	if err != nil {
		return err
	}
	if !group || !client {
		return store.ErrNotFound
	}
	member, err := exists(ctx, s.pool, `SELECT 1 FROM client_group_members WHERE group_id = $1 AND client_id = $2`, groupID, clientID)
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
	return s.execOne(ctx, `DELETE FROM client_group_members WHERE group_id = $1 AND client_id = $2`, groupID, clientID)
}

const invitationColumns = `id, token_hash, org_id, group_ids, email, message, device_name, allow_rename,
	existing_only, restrict_client_id, app_link, invited_by, status, created_at, expires_at, decided_at, client_id`

func scanInvitation(row pgx.Row) (*store.Invitation, error) {
	var i store.Invitation
	err := row.Scan(&i.ID, &i.TokenHash, &i.OrgID, listCol{&i.GroupIDs}, &i.Email, &i.Message, &i.DeviceName,
		&i.AllowRename, &i.ExistingOnly, &i.RestrictClientID, &i.AppLink, &i.InvitedBy, &i.Status,
		timeCol{&i.CreatedAt}, timeCol{&i.ExpiresAt}, timeCol{&i.DecidedAt}, optionalCol{&i.ClientID})
	if err != nil {
		return nil, mapErr(err)
	}
	return &i, nil
}

func validInvitation(i *store.Invitation) bool {
	return store.ValidText(i.ID, i.TokenHash, i.OrgID, i.Email, i.Message, i.DeviceName, i.RestrictClientID,
		i.AppLink, i.InvitedBy, i.Status, i.ClientID) && store.ValidText(i.GroupIDs...)
}

const mailColumns = `id, invitation_id, recipient, subject, body, link, status, attempts, next_attempt_at,
	last_error, created_at, sent_at`

func scanMail(row pgx.Row) (*store.Mail, error) {
	var m store.Mail
	err := row.Scan(&m.ID, &m.InvitationID, &m.Recipient, &m.Subject, &m.Body, &m.Link, &m.Status, &m.Attempts,
		timeCol{&m.NextAttemptAt}, &m.LastError, timeCol{&m.CreatedAt}, timeCol{&m.SentAt})
	if err != nil {
		return nil, mapErr(err)
	}
	return &m, nil
}

func validMail(m *store.Mail) bool {
	return store.ValidText(m.ID, m.InvitationID, m.Recipient, m.Subject, m.Body, m.Link, m.Status, m.LastError)
}

// CreateInvitation stores inv and its mail (nil for none) in one transaction.
func (s *Store) CreateInvitation(ctx context.Context, inv *store.Invitation, mail *store.Mail) error {
	if !validInvitation(inv) || (mail != nil && !validMail(mail)) {
		return fmt.Errorf("create invitation: %w", store.ErrInvalid)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create invitation: %w", mapErr(err))
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO invitations (`+invitationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		inv.ID, inv.TokenHash, inv.OrgID, jsonList(inv.GroupIDs), inv.Email, inv.Message, inv.DeviceName, inv.AllowRename,
		inv.ExistingOnly, inv.RestrictClientID, inv.AppLink, inv.InvitedBy, inv.Status,
		millis(inv.CreatedAt), millis(inv.ExpiresAt), millis(inv.DecidedAt), optional(inv.ClientID))
	if err != nil {
		return fmt.Errorf("create invitation: %w", mapErr(err))
	}
	if mail != nil {
		_, err = tx.Exec(ctx, `INSERT INTO outbox (`+mailColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			mail.ID, mail.InvitationID, mail.Recipient, mail.Subject, mail.Body, mail.Link, mail.Status, mail.Attempts,
			mail.NextAttemptAt.UnixMilli(), mail.LastError, millis(mail.CreatedAt), millis(mail.SentAt))
		if err != nil {
			return fmt.Errorf("create invitation: mail: %w", mapErr(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create invitation: commit: %w", mapErr(err))
	}
	return nil
}

// GetInvitation returns the invitation with id, or ErrNotFound.
func (s *Store) GetInvitation(ctx context.Context, id string) (*store.Invitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id = $1`, id))
}

// GetInvitationByToken returns the invitation whose token hashes to tokenHash.
func (s *Store) GetInvitationByToken(ctx context.Context, tokenHash string) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, tokenHash))
}

// ListInvitations returns orgID's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]*store.Invitation, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s, scanInvitation, `SELECT `+invitationColumns+` FROM invitations
		WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
}

// cancelMail cancels and erases pending mail; callers add which.
const cancelMail = `UPDATE outbox SET status = 'cancelled', body = '', link = '' WHERE status = 'pending'`

// RevokeInvitation moves a pending invitation to revoked and cancels its
// unsent mail, in one transaction.
func (s *Store) RevokeInvitation(ctx context.Context, id string, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return s.endInvitation(ctx, "revoke invitation",
		`UPDATE invitations SET status = 'revoked', decided_at = $1 WHERE id = $2 AND status = 'pending'
		RETURNING `+invitationColumns, []any{now.UnixMilli(), id},
		`SELECT 1 FROM invitations WHERE id = $1`, id)
}

// DeclineInvitation moves a pending, unexpired invitation to declined and
// cancels its unsent mail, in one transaction.
func (s *Store) DeclineInvitation(ctx context.Context, tokenHash string, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return s.endInvitation(ctx, "decline invitation",
		`UPDATE invitations SET status = 'declined', decided_at = $1
		WHERE token_hash = $2 AND status = 'pending' AND expires_at > $1 RETURNING `+invitationColumns,
		[]any{now.UnixMilli(), tokenHash},
		`SELECT 1 FROM invitations WHERE token_hash = $1`, tokenHash)
}

// endInvitation runs update, a conditional UPDATE … RETURNING of one
// invitation, and cancels that invitation's unsent mail, in one
// transaction. When nothing matched, exists (a SELECT by key) tells an
// unknown invitation (ErrNotFound) from one in another state (ErrConflict).
func (s *Store) endInvitation(ctx context.Context, what, update string, args []any, existsQuery, key string) (*store.Invitation, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, mapErr(err))
	}
	defer tx.Rollback(ctx)
	inv, err := scanInvitation(tx.QueryRow(ctx, update, args...))
	if errors.Is(err, store.ErrNotFound) {
		ok, err := exists(ctx, tx, existsQuery, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil, fmt.Errorf("%s: not pending: %w", what, store.ErrConflict)
		}
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if _, err := tx.Exec(ctx, cancelMail+` AND invitation_id = $1`, inv.ID); err != nil {
		return nil, fmt.Errorf("%s: cancel mail: %w", what, mapErr(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("%s: commit: %w", what, mapErr(err))
	}
	return inv, nil
}

// newClientColumns are the columns AcceptInvitation writes for a new client:
// those of 0001 and org_id. Columns added since take their defaults, which
// is what a device client enrolled by invitation has.
const newClientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes,
	user_code_alphabet, user_code_length, user_code_group, device_code_lifetime_ms, poll_interval_ms,
	created_at, updated_at, org_id`

// AcceptInvitation uses up a pending, unexpired invitation for acc, in one
// transaction that begins with the conditional update. Of concurrent
// acceptances, on any number of instances, exactly one finds the invitation
// pending: the others wait for its row lock, then (READ COMMITTED) re-check
// the WHERE clause against the accepted row, or against the pending one if
// the winner rolled back. A failure anywhere after it, the connection
// included, rolls everything back.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash string, acc *store.Acceptance, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	clientID := acc.ClientID
	if acc.NewClient != nil {
		c := acc.NewClient
		if !store.ValidText(c.ID, c.Name, c.SecretHash, c.AuthMethod, c.UserCode.Alphabet) ||
			!store.ValidText(c.GrantTypes...) || !store.ValidText(c.RedirectURIs...) || !store.ValidText(c.Scopes...) {
			return nil, fmt.Errorf("accept invitation: new client: %w", store.ErrInvalid)
		}
		clientID = c.ID
	} else if !store.ValidText(acc.ClientID) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(acc.Rename) {
		return nil, fmt.Errorf("accept invitation: name: %w", store.ErrInvalid)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("accept invitation: %w", mapErr(err))
	}
	defer tx.Rollback(ctx) // a no-op once committed
	inv, err := scanInvitation(tx.QueryRow(ctx, `UPDATE invitations SET status = 'accepted', decided_at = $1, client_id = $2
		WHERE token_hash = $3 AND status = 'pending' AND expires_at > $1 RETURNING `+invitationColumns,
		now.UnixMilli(), clientID, tokenHash))
	if errors.Is(err, store.ErrNotFound) {
		ok, err := exists(ctx, tx, `SELECT 1 FROM invitations WHERE token_hash = $1`, tokenHash)
		if err != nil {
			return nil, fmt.Errorf("accept invitation: %w", err)
		}
		if ok {
			return nil, fmt.Errorf("accept invitation: not pending or expired: %w", store.ErrConflict)
		}
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("accept invitation: %w", err)
	}
	if c := acc.NewClient; c != nil {
		_, err = tx.Exec(ctx, `INSERT INTO clients (`+newClientColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			c.ID, c.Name, c.SecretHash, c.AuthMethod,
			jsonList(c.GrantTypes), jsonList(c.RedirectURIs), jsonList(c.Scopes),
			c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
			c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(),
			millis(c.CreatedAt), millis(c.UpdatedAt), inv.OrgID)
		if err != nil {
			return nil, fmt.Errorf("accept invitation: new client: %w", mapErr(err))
		}
	} else {
		tag, err := tx.Exec(ctx, `UPDATE clients SET org_id = $1, updated_at = $2,
			name = CASE WHEN $3::text <> '' THEN $3::text ELSE name END
			WHERE id = $4 AND (org_id IS NULL OR org_id = $1)`,
			inv.OrgID, now.UnixMilli(), acc.Rename, clientID)
		if err != nil {
			return nil, fmt.Errorf("accept invitation: client: %w", mapErr(err))
		}
		if tag.RowsAffected() == 0 {
			ok, err := exists(ctx, tx, `SELECT 1 FROM clients WHERE id = $1`, clientID)
			switch {
			case err != nil:
				return nil, fmt.Errorf("accept invitation: client: %w", err)
			case ok:
				return nil, fmt.Errorf("accept invitation: client %q belongs to another organization: %w", clientID, store.ErrConflict)
			}
			return nil, fmt.Errorf("accept invitation: client %q: %w", clientID, store.ErrNotFound)
		}
	}
	for _, g := range inv.GroupIDs {
		if _, err := tx.Exec(ctx, `INSERT INTO client_group_members (group_id, client_id, created_at)
			VALUES ($1, $2, $3) ON CONFLICT (group_id, client_id) DO NOTHING`, g, clientID, now.UnixMilli()); err != nil {
			return nil, fmt.Errorf("accept invitation: join group %q: %w", g, mapErr(err))
		}
	}
	if _, err := tx.Exec(ctx, cancelMail+` AND invitation_id = $1`, inv.ID); err != nil {
		return nil, fmt.Errorf("accept invitation: cancel mail: %w", mapErr(err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("accept invitation: commit: %w", mapErr(err))
	}
	return inv, nil
}

// ClaimMail claims due mail of live invitations in one statement. SKIP
// LOCKED lets instances claiming at once take different rows; the outer
// WHERE is re-checked on a row another claim updated meanwhile, so no mail
// is claimed twice.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Mail, error) {
	ms, err := queryAll(ctx, s, scanMail, `UPDATE outbox SET next_attempt_at = $1
		WHERE id IN (SELECT o.id FROM outbox o JOIN invitations i ON i.id = o.invitation_id
			WHERE o.status = 'pending' AND o.next_attempt_at <= $2 AND i.status = 'pending' AND i.expires_at > $2
			ORDER BY o.next_attempt_at, o.id LIMIT $3::int FOR UPDATE OF o SKIP LOCKED)
		AND status = 'pending' AND next_attempt_at <= $2
		RETURNING `+mailColumns,
		now.Add(lease).UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	// RETURNING gives no order; a sender works oldest first.
	slices.SortFunc(ms, func(a, b *store.Mail) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return ms, nil
}

// MarkMailSent records that the mail was sent and erases it.
func (s *Store) MarkMailSent(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	return s.execOne(ctx, `UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, body = '', link = ''
		WHERE id = $2`, now.UnixMilli(), id)
}

// MarkMailFailed counts a failed attempt and reschedules the mail.
func (s *Store) MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if !store.ValidText(reason) {
		return fmt.Errorf("mark mail failed: %w", store.ErrInvalid)
	}
	return s.execOne(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3`,
		reason, next.UnixMilli(), id)
}

// CancelStaleMail cancels pending mail of invitations that can no longer be used.
func (s *Store) CancelStaleMail(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, cancelMail+` AND invitation_id IN
		(SELECT id FROM invitations WHERE status <> 'pending' OR expires_at <= $1)`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("cancel stale mail: %w", mapErr(err))
	}
	return tag.RowsAffected(), nil
}

// ListMail returns invitationID's mail, oldest first.
func (s *Store) ListMail(ctx context.Context, invitationID string) ([]*store.Mail, error) {
	if !store.ValidText(invitationID) {
		return nil, nil
	}
	return queryAll(ctx, s, scanMail, `SELECT `+mailColumns+` FROM outbox
		WHERE invitation_id = $1 ORDER BY created_at, id`, invitationID)
}
