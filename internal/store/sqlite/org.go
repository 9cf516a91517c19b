package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Organizations, device client groups, invitations and the outbox
// (store.OrgStore). The invitation states in the SQL are
// store.InvitationPending and its siblings, the mail states
// store.MailPending and its siblings; storetest checks they come back as
// the constants.

const orgColumns = `id, name, app_link, created_at, updated_at`

func scanOrganization(row rowScanner) (*store.Organization, error) {
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO organizations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?)`,
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
	return scanOrganization(s.r.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
}

// ListOrganizations returns every organization, ordered by id.
func (s *Store) ListOrganizations(ctx context.Context) ([]*store.Organization, error) {
	return queryRows(ctx, s.r, scanOrganization, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
}

// UpdateOrganization replaces the name and app link; ErrNotFound if missing.
func (s *Store) UpdateOrganization(ctx context.Context, o *store.Organization) error {
	if !store.ValidText(o.ID) {
		return store.ErrNotFound
	}
	if !store.ValidText(o.Name, o.AppLink) {
		return fmt.Errorf("update organization %q: %w", o.ID, store.ErrInvalid)
	}
	if err := s.execOne(ctx, `UPDATE organizations SET name = ?, app_link = ?, updated_at = ? WHERE id = ?`,
		o.Name, o.AppLink, millis(o.UpdatedAt), o.ID); err != nil {
		return fmt.Errorf("update organization %q: %w", o.ID, err)
	}
	return nil
}

// DeleteOrganization deletes the organization and, by cascade, its members,
// groups, invitations and their mail; ErrConflict while it owns clients.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete organization: %w", mapErr(err))
	}
	defer tx.Rollback()
	owns, err := txExists(ctx, tx, `SELECT 1 FROM clients WHERE org_id = ? LIMIT 1`, id)
	if err != nil {
		return fmt.Errorf("delete organization: %w", err)
	}
	if owns {
		return fmt.Errorf("delete organization %q: it owns clients: %w", id, store.ErrConflict)
	}
	if err := execOneIn(ctx, tx, `DELETE FROM organizations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete organization %q: %w", id, err)
	}
	return tx.Commit()
}

const memberColumns = `org_id, user_id, role, created_at`

func scanOrgMember(row rowScanner) (*store.OrgMember, error) {
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES (?, ?, ?, ?)
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
	return scanOrgMember(s.r.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = ? AND user_id = ?`, orgID, userID))
}

// ListOrgMembers returns the members of orgID, ordered by user id.
func (s *Store) ListOrgMembers(ctx context.Context, orgID string) ([]*store.OrgMember, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, scanOrgMember, `SELECT `+memberColumns+` FROM org_members
		WHERE org_id = ? ORDER BY user_id`, orgID)
}

// DeleteOrgMember ends a membership; ErrNotFound if there is none.
func (s *Store) DeleteOrgMember(ctx context.Context, orgID, userID string) error {
	if !store.ValidText(orgID, userID) {
		return store.ErrNotFound
	}
	return s.execOne(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID)
}

const groupColumns = `id, org_id, name, description, scopes, created_at, updated_at`

func scanClientGroup(row rowScanner) (*store.ClientGroup, error) {
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
	_, err := s.w.ExecContext(ctx, `INSERT INTO client_groups (`+groupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.OrgID, g.Name, g.Description, list(g.Scopes), millis(g.CreatedAt), millis(g.UpdatedAt))
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
	return scanClientGroup(s.r.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM client_groups WHERE id = ?`, id))
}

// ListClientGroups returns orgID's groups, ordered by name.
func (s *Store) ListClientGroups(ctx context.Context, orgID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, scanClientGroup, `SELECT `+groupColumns+` FROM client_groups
		WHERE org_id = ? ORDER BY name, id`, orgID)
}

// UpdateClientGroup replaces the name, description and scopes.
func (s *Store) UpdateClientGroup(ctx context.Context, g *store.ClientGroup) error {
	if !store.ValidText(g.ID) {
		return store.ErrNotFound
	}
	if !validClientGroup(g) {
		return fmt.Errorf("update client group %q: %w", g.ID, store.ErrInvalid)
	}
	err := s.execOne(ctx, `UPDATE client_groups SET name = ?, description = ?, scopes = ?, updated_at = ? WHERE id = ?`,
		g.Name, g.Description, list(g.Scopes), millis(g.UpdatedAt), g.ID)
	if err != nil {
		return fmt.Errorf("update client group %q: %w", g.ID, err)
	}
	return nil
}

// namesGroup is true for an invitation whose group_ids hold the group ?.
const namesGroup = `EXISTS (SELECT 1 FROM json_each(invitations.group_ids) WHERE value = ?)`

// DeleteClientGroup deletes the group (its memberships go by cascade) and
// revokes the pending invitations into it, in one transaction.
func (s *Store) DeleteClientGroup(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete client group: %w", mapErr(err))
	}
	defer tx.Rollback()
	if err := execOneIn(ctx, tx, `DELETE FROM client_groups WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete client group %q: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE invitations SET status = 'revoked', decided_at = ?
		WHERE status = 'pending' AND `+namesGroup, now.UnixMilli(), id); err != nil {
		return fmt.Errorf("delete client group %q: revoke invitations: %w", id, mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, cancelMail+` AND invitation_id IN (SELECT id FROM invitations WHERE `+namesGroup+`)`,
		id); err != nil {
		return fmt.Errorf("delete client group %q: cancel mail: %w", id, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete client group %q: commit: %w", id, mapErr(err))
	}
	return nil
}

// ListClientGroupsOf returns the groups clientID is in, ordered by name.
func (s *Store) ListClientGroupsOf(ctx context.Context, clientID string) ([]*store.ClientGroup, error) {
	if !store.ValidText(clientID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, scanClientGroup, `SELECT `+qualify("g.", groupColumns)+` FROM client_groups g
		JOIN client_group_members m ON m.group_id = g.id
		WHERE m.client_id = ? ORDER BY g.name, g.id`, clientID)
}

// ListGroupClients returns the ids of the clients in groupID, ordered.
func (s *Store) ListGroupClients(ctx context.Context, groupID string) ([]string, error) {
	if !store.ValidText(groupID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, func(row rowScanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT client_id FROM client_group_members WHERE group_id = ? ORDER BY client_id`, groupID)
}

// AddGroupClient puts clientID into groupID, a member since at, if the
// client is owned by the group's organization.
func (s *Store) AddGroupClient(ctx context.Context, groupID, clientID string, at time.Time) error {
	if !store.ValidText(groupID, clientID) {
		return store.ErrNotFound
	}
	err := s.execOne(ctx, `INSERT INTO client_group_members (group_id, client_id, created_at)
		SELECT g.id, c.id, ? FROM client_groups g JOIN clients c ON c.org_id = g.org_id
		WHERE g.id = ? AND c.id = ?
		ON CONFLICT (group_id, client_id) DO NOTHING`, millis(at), groupID, clientID)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// Nothing inserted: a member already, a missing group or client, or a
	// client of another organization.
	group, err := s.exists(ctx, `SELECT 1 FROM client_groups WHERE id = ?`, groupID)
	if err != nil {
		return err
	}
	client, err := s.exists(ctx, `SELECT 1 FROM clients WHERE id = ?`, clientID)
	if err != nil {
		return err
	}
	if !group || !client {
		return store.ErrNotFound
	}
	member, err := s.exists(ctx, `SELECT 1 FROM client_group_members WHERE group_id = ? AND client_id = ?`, groupID, clientID)
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
	return s.execOne(ctx, `DELETE FROM client_group_members WHERE group_id = ? AND client_id = ?`, groupID, clientID)
}

const invitationColumns = `id, token_hash, org_id, group_ids, email, message, device_name, allow_rename,
	existing_only, restrict_client_id, app_link, invited_by, status, created_at, expires_at, decided_at, client_id`

func scanInvitation(row rowScanner) (*store.Invitation, error) {
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

func scanMail(row rowScanner) (*store.Mail, error) {
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create invitation: %w", mapErr(err))
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO invitations (`+invitationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.TokenHash, inv.OrgID, list(inv.GroupIDs), inv.Email, inv.Message, inv.DeviceName, inv.AllowRename,
		inv.ExistingOnly, inv.RestrictClientID, inv.AppLink, inv.InvitedBy, inv.Status,
		millis(inv.CreatedAt), millis(inv.ExpiresAt), millis(inv.DecidedAt), optional(inv.ClientID))
	if err != nil {
		return fmt.Errorf("create invitation: %w", mapErr(err))
	}
	if mail != nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox (`+mailColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			mail.ID, mail.InvitationID, mail.Recipient, mail.Subject, mail.Body, mail.Link, mail.Status, mail.Attempts,
			mail.NextAttemptAt.UnixMilli(), mail.LastError, millis(mail.CreatedAt), millis(mail.SentAt))
		if err != nil {
			return fmt.Errorf("create invitation: mail: %w", mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create invitation: commit: %w", mapErr(err))
	}
	return nil
}

// GetInvitation returns the invitation with id, or ErrNotFound.
func (s *Store) GetInvitation(ctx context.Context, id string) (*store.Invitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.r.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id = ?`, id))
}

// GetInvitationByToken returns the invitation whose token hashes to tokenHash.
func (s *Store) GetInvitationByToken(ctx context.Context, tokenHash string) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.r.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE token_hash = ?`, tokenHash))
}

// ListInvitations returns orgID's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]*store.Invitation, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, scanInvitation, `SELECT `+invitationColumns+` FROM invitations
		WHERE org_id = ? ORDER BY created_at DESC, id`, orgID)
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
		`UPDATE invitations SET status = 'revoked', decided_at = ? WHERE id = ? AND status = 'pending'
		RETURNING `+invitationColumns, []any{now.UnixMilli(), id},
		`SELECT 1 FROM invitations WHERE id = ?`, id)
}

// DeclineInvitation moves a pending, unexpired invitation to declined and
// cancels its unsent mail, in one transaction.
func (s *Store) DeclineInvitation(ctx context.Context, tokenHash string, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return s.endInvitation(ctx, "decline invitation",
		`UPDATE invitations SET status = 'declined', decided_at = ?
		WHERE token_hash = ? AND status = 'pending' AND expires_at > ? RETURNING `+invitationColumns,
		[]any{now.UnixMilli(), tokenHash, now.UnixMilli()},
		`SELECT 1 FROM invitations WHERE token_hash = ?`, tokenHash)
}

// endInvitation runs update, a conditional UPDATE … RETURNING of one
// invitation, and cancels that invitation's unsent mail, in one
// transaction. When nothing matched, exists (a SELECT by key) tells an
// unknown invitation (ErrNotFound) from one in another state (ErrConflict).
func (s *Store) endInvitation(ctx context.Context, what, update string, args []any, exists, key string) (*store.Invitation, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, mapErr(err))
	}
	defer tx.Rollback()
	inv, err := scanInvitation(tx.QueryRowContext(ctx, update, args...))
	if errors.Is(err, store.ErrNotFound) {
		ok, err := txExists(ctx, tx, exists, key)
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
	if _, err := tx.ExecContext(ctx, cancelMail+` AND invitation_id = ?`, inv.ID); err != nil {
		return nil, fmt.Errorf("%s: cancel mail: %w", what, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
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
// transaction that begins with the conditional update: of concurrent
// acceptances exactly one finds the invitation pending (SQLite has one
// writer at a time, and BEGIN IMMEDIATE makes the others wait for it), and a
// failure anywhere after it rolls everything back.
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("accept invitation: %w", mapErr(err))
	}
	defer tx.Rollback()
	inv, err := scanInvitation(tx.QueryRowContext(ctx, `UPDATE invitations SET status = 'accepted', decided_at = ?, client_id = ?
		WHERE token_hash = ? AND status = 'pending' AND expires_at > ? RETURNING `+invitationColumns,
		now.UnixMilli(), clientID, tokenHash, now.UnixMilli()))
	if errors.Is(err, store.ErrNotFound) {
		ok, err := txExists(ctx, tx, `SELECT 1 FROM invitations WHERE token_hash = ?`, tokenHash)
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
		_, err = tx.ExecContext(ctx, `INSERT INTO clients (`+newClientColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.SecretHash, c.AuthMethod,
			list(c.GrantTypes), list(c.RedirectURIs), list(c.Scopes),
			c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
			c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(),
			millis(c.CreatedAt), millis(c.UpdatedAt), inv.OrgID)
		if err != nil {
			return nil, fmt.Errorf("accept invitation: new client: %w", mapErr(err))
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE clients SET org_id = ?, updated_at = ?,
			name = CASE WHEN ? <> '' THEN ? ELSE name END
			WHERE id = ? AND (org_id IS NULL OR org_id = ?)`,
			inv.OrgID, now.UnixMilli(), acc.Rename, acc.Rename, clientID, inv.OrgID)
		if err != nil {
			return nil, fmt.Errorf("accept invitation: client: %w", mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			ok, err2 := txExists(ctx, tx, `SELECT 1 FROM clients WHERE id = ?`, clientID)
			switch {
			case err != nil || err2 != nil:
				return nil, fmt.Errorf("accept invitation: client: %w", errors.Join(err, err2))
			case ok:
				return nil, fmt.Errorf("accept invitation: client %q belongs to another organization: %w", clientID, store.ErrConflict)
			}
			return nil, fmt.Errorf("accept invitation: client %q: %w", clientID, store.ErrNotFound)
		}
	}
	for _, g := range inv.GroupIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO client_group_members (group_id, client_id, created_at)
			VALUES (?, ?, ?) ON CONFLICT (group_id, client_id) DO NOTHING`, g, clientID, now.UnixMilli()); err != nil {
			return nil, fmt.Errorf("accept invitation: join group %q: %w", g, mapErr(err))
		}
	}
	if _, err := tx.ExecContext(ctx, cancelMail+` AND invitation_id = ?`, inv.ID); err != nil {
		return nil, fmt.Errorf("accept invitation: cancel mail: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accept invitation: commit: %w", mapErr(err))
	}
	return inv, nil
}

// ClaimMail claims due mail of live invitations in one statement.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Mail, error) {
	ms, err := queryRows(ctx, s.w, scanMail, `UPDATE outbox SET next_attempt_at = ?
		WHERE id IN (SELECT o.id FROM outbox o JOIN invitations i ON i.id = o.invitation_id
			WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND i.status = 'pending' AND i.expires_at > ?
			ORDER BY o.next_attempt_at, o.id LIMIT ?)
		RETURNING `+mailColumns,
		now.Add(lease).UnixMilli(), now.UnixMilli(), now.UnixMilli(), limit)
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
	return s.execOne(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, body = '', link = ''
		WHERE id = ?`, now.UnixMilli(), id)
}

// MarkMailFailed counts a failed attempt and reschedules the mail.
func (s *Store) MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if !store.ValidText(reason) {
		return fmt.Errorf("mark mail failed: %w", store.ErrInvalid)
	}
	return s.execOne(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`,
		reason, next.UnixMilli(), id)
}

// CancelStaleMail cancels pending mail of invitations that can no longer be used.
func (s *Store) CancelStaleMail(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, cancelMail+` AND invitation_id IN
		(SELECT id FROM invitations WHERE status <> 'pending' OR expires_at <= ?)`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("cancel stale mail: %w", mapErr(err))
	}
	return res.RowsAffected()
}

// ListMail returns invitationID's mail, oldest first.
func (s *Store) ListMail(ctx context.Context, invitationID string) ([]*store.Mail, error) {
	if !store.ValidText(invitationID) {
		return nil, nil
	}
	return queryRows(ctx, s.r, scanMail, `SELECT `+mailColumns+` FROM outbox
		WHERE invitation_id = ? ORDER BY created_at, id`, invitationID)
}

// rowsQuerier is a pool or a transaction that returns rows.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryRows runs query on db and scans every row with scan.
func queryRows[T any](ctx context.Context, db rowsQuerier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, mapErr(rows.Err())
}

// execOneIn is execOne inside tx.
func execOneIn(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// qualify qualifies each column of a column list with prefix ("g.").
func qualify(prefix, columns string) string {
	out := []byte(prefix)
	for i := 0; i < len(columns); i++ {
		out = append(out, columns[i])
		if columns[i] == ',' {
			// Skip the blanks after the comma, then qualify the next name.
			for i+1 < len(columns) && (columns[i+1] == ' ' || columns[i+1] == '\n' || columns[i+1] == '\t') {
				i++
			}
			out = append(out, ' ')
			out = append(out, prefix...)
		}
	}
	return string(out)
}
