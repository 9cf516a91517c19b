package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Invitations (store.InvitationStore) and the outbox of their emails
// (store.OutboxStore). The invitation states in the SQL are
// store.InvitationPending and its siblings, the mail states
// store.MailPending and its siblings; storetest checks they come back as
// the constants.

const invitationColumns = `id, token_hash, org_id, group_ids, email, message, device_name, allow_rename,
	existing_only, restrict_client_id, app_link, invited_by, status, created_at, expires_at, decided_at, client_id`

func scanInvitation(row Row) (*store.Invitation, error) {
	var i store.Invitation
	err := row.Scan(&i.ID, &i.TokenHash, &i.OrgID, listCol{&i.GroupIDs}, &i.Email, &i.Message, &i.DeviceName,
		&i.AllowRename, &i.ExistingOnly, &i.RestrictClientID, &i.AppLink, &i.InvitedBy, &i.Status,
		TimeCol{&i.CreatedAt}, TimeCol{&i.ExpiresAt}, TimeCol{&i.DecidedAt}, optionalCol{&i.ClientID})
	if err != nil {
		return nil, err
	}
	return &i, nil
}

func validInvitation(i *store.Invitation) bool {
	return store.ValidText(i.ID, i.TokenHash, i.OrgID, i.Email, i.Message, i.DeviceName, i.RestrictClientID,
		i.AppLink, i.InvitedBy, i.Status, i.ClientID) && store.ValidText(i.GroupIDs...)
}

const mailColumns = `id, invitation_id, recipient, subject, body, link, status, attempts, next_attempt_at,
	last_error, created_at, sent_at, expires_at`

func scanMail(row Row) (*store.Mail, error) {
	var m store.Mail
	err := row.Scan(&m.ID, optionalCol{&m.InvitationID}, &m.Recipient, &m.Subject, &m.Body, &m.Link, &m.Status, &m.Attempts,
		TimeCol{&m.NextAttemptAt}, &m.LastError, TimeCol{&m.CreatedAt}, TimeCol{&m.SentAt}, TimeCol{&m.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// sealMail returns a copy of m to store: its body and link sealed, as
// they carry a live credential (docs/security.md SS-05).
func (s *Store) sealMail(m *store.Mail) (*store.Mail, error) {
	c := *m
	var err error
	if c.Body, err = s.sealText(bodyColumn, m.ID, m.Body); err != nil {
		return nil, err
	}
	if c.Link, err = s.sealText(linkColumn, m.ID, m.Link); err != nil {
		return nil, err
	}
	return &c, nil
}

// openMails opens the body and link of mails read from the outbox.
func (s *Store) openMails(ms []*store.Mail) error {
	for _, m := range ms {
		var err error
		if m.Body, err = s.openText(bodyColumn, m.ID, m.Body); err != nil {
			return err
		}
		if m.Link, err = s.openText(linkColumn, m.ID, m.Link); err != nil {
			return err
		}
	}
	return nil
}

func validMail(m *store.Mail) bool {
	return store.ValidText(m.ID, m.InvitationID, m.Recipient, m.Subject, m.Body, m.Link, m.Status, m.LastError)
}

// CreateInvitation stores inv and its mail (nil for none) in one transaction.
func (s *Store) CreateInvitation(ctx context.Context, inv *store.Invitation, mail *store.Mail) error {
	if !validInvitation(inv) || (mail != nil && !validMail(mail)) {
		return fmt.Errorf("create invitation: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO invitations (`+invitationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			inv.ID, inv.TokenHash, inv.OrgID, jsonList(inv.GroupIDs), inv.Email, inv.Message, inv.DeviceName, inv.AllowRename,
			inv.ExistingOnly, inv.RestrictClientID, inv.AppLink, inv.InvitedBy, inv.Status,
			Millis(inv.CreatedAt), Millis(inv.ExpiresAt), Millis(inv.DecidedAt), optional(inv.ClientID))
		if err != nil || mail == nil {
			return err
		}
		return s.insertMail(ctx, q, mail)
	})
	if err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	return nil
}

// GetInvitation returns the invitation with id, or ErrNotFound.
func (s *Store) GetInvitation(ctx context.Context, id string) (*store.Invitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.b.Reader().QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE id = $1`, id))
}

// GetInvitationByToken returns the invitation whose token hashes to tokenHash.
func (s *Store) GetInvitationByToken(ctx context.Context, tokenHash string) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return scanInvitation(s.b.Reader().QueryRow(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE token_hash = $1`, tokenHash))
}

// ListInvitations returns orgID's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]*store.Invitation, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanInvitation, `SELECT `+invitationColumns+` FROM invitations
		WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
}

// QueryInvitations returns the page of an organization's invitations q
// selects, newest first. The position after the previous page is compared
// as a pair (created_at, then id), so a page boundary between invitations
// created in the same millisecond loses none of them; the organization's
// index on (org_id, created_at) serves it.
func (s *Store) QueryInvitations(ctx context.Context, q store.InvitationQuery) ([]*store.Invitation, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("query invitations: limit %d: %w", q.Limit, store.ErrInvalid)
	}
	if !store.ValidText(q.OrgID, q.AfterID) {
		return nil, nil // no organization, or no invitation to follow, has such a key
	}
	where, args := `org_id = $1`, []any{q.OrgID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	switch q.State {
	case "":
	case store.InvitationPending:
		where += ` AND status = 'pending' AND expires_at > ` + arg(q.Now.UnixMilli())
	case store.InvitationExpired:
		where += ` AND status = 'pending' AND expires_at <= ` + arg(q.Now.UnixMilli())
	case store.InvitationAccepted, store.InvitationDeclined, store.InvitationRevoked:
		where += ` AND status = ` + arg(q.State)
	default:
		return nil, fmt.Errorf("query invitations: state %q: %w", q.State, store.ErrInvalid)
	}
	if q.AfterID != "" {
		created := arg(q.AfterCreated.UnixMilli())
		where += ` AND (created_at < ` + created + ` OR (created_at = ` + created + ` AND id > ` + arg(q.AfterID) + `))`
	}
	limit := arg(q.Limit)
	return queryAll(ctx, s.b.Reader(), scanInvitation, `SELECT `+invitationColumns+` FROM invitations
		WHERE `+where+` ORDER BY created_at DESC, id LIMIT `+limit, args...)
}

// ResendInvitation swaps a pending, unexpired invitation's token hash and
// replaces its unsent mail, in one transaction that begins with the
// conditional update. An acceptance with the old token racing it finds, on
// PostgreSQL, the row locked, and once the resend commits re-checks its
// WHERE clause against the new hash (READ COMMITTED) and matches nothing;
// on SQLite the one writer takes them in turn. Either way exactly one of
// the two succeeds.
func (s *Store) ResendInvitation(ctx context.Context, id, tokenHash string, mail *store.Mail, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(tokenHash) || mail == nil || mail.InvitationID != id || !validMail(mail) {
		return nil, fmt.Errorf("resend invitation: %w", store.ErrInvalid)
	}
	var inv *store.Invitation
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		inv, err = changeInvitation(ctx, q, `UPDATE invitations SET token_hash = $2
			WHERE id = $1 AND status = 'pending' AND expires_at > $3 RETURNING `+invitationColumns,
			[]any{id, tokenHash, now.UnixMilli()}, `SELECT 1 FROM invitations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		// The old link is dead: mail still waiting with it is cancelled
		// and erased before the new one is queued.
		if _, err := q.Exec(ctx, cancelMail+` AND invitation_id = $1`, id); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return s.insertMail(ctx, q, mail)
	})
	if err != nil {
		return nil, fmt.Errorf("resend invitation: %w", err)
	}
	return inv, nil
}

// insertMail puts m into the outbox, its body and link sealed: every
// mail that goes through the outbox, whatever it carries.
func (s *Store) insertMail(ctx context.Context, q Querier, m *store.Mail) error {
	m, err := s.sealMail(m)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO outbox (`+mailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		m.ID, optional(m.InvitationID), m.Recipient, m.Subject, m.Body, m.Link, m.Status, m.Attempts,
		m.NextAttemptAt.UnixMilli(), m.LastError, Millis(m.CreatedAt), Millis(m.SentAt), Millis(m.ExpiresAt))
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
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
		`UPDATE invitations SET status = 'revoked', decided_at = $2 WHERE id = $1 AND status = 'pending'
		RETURNING `+invitationColumns,
		`SELECT 1 FROM invitations WHERE id = $1`, id, now)
}

// DeclineInvitation moves a pending, unexpired invitation to declined and
// cancels its unsent mail, in one transaction.
func (s *Store) DeclineInvitation(ctx context.Context, tokenHash string, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return s.endInvitation(ctx, "decline invitation",
		`UPDATE invitations SET status = 'declined', decided_at = $2
		WHERE token_hash = $1 AND status = 'pending' AND expires_at > $2 RETURNING `+invitationColumns,
		`SELECT 1 FROM invitations WHERE token_hash = $1`, tokenHash, now)
}

// changeInvitation runs update, a conditional UPDATE … RETURNING of one
// invitation, with args, on q. When nothing matched, existsQuery (a SELECT
// 1 by key, $1) tells an unknown invitation (ErrNotFound) from one in
// another state, or expired (ErrConflict).
func changeInvitation(ctx context.Context, q Querier, update string, args []any, existsQuery, key string) (*store.Invitation, error) {
	inv, err := scanInvitation(q.QueryRow(ctx, update, args...))
	if !errors.Is(err, store.ErrNotFound) {
		return inv, err
	}
	ok, err := exists(ctx, q, existsQuery, key)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return nil, fmt.Errorf("not pending or expired: %w", store.ErrConflict)
	}
	return nil, store.ErrNotFound
}

// endInvitation runs update, a conditional UPDATE … RETURNING of the one
// invitation key ($1) names, at now ($2), and cancels that invitation's
// unsent mail, in one transaction. When nothing matched, existsQuery (a
// SELECT by key) tells an unknown invitation (ErrNotFound) from one in
// another state (ErrConflict).
func (s *Store) endInvitation(ctx context.Context, what, update, existsQuery, key string, now time.Time) (*store.Invitation, error) {
	var inv *store.Invitation
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		inv, err = changeInvitation(ctx, q, update, []any{key, now.UnixMilli()}, existsQuery, key)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, cancelMail+` AND invitation_id = $1`, inv.ID); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return inv, nil
}

// newClientColumns are the columns AcceptInvitation writes for a new client:
// those of the first migration and org_id. Columns added since take their
// defaults, which is what a device client enrolled by invitation has.
const newClientColumns = `id, name, secret_hash, auth_method, grant_types, redirect_uris, scopes,
	user_code_alphabet, user_code_length, user_code_group, device_code_lifetime_ms, poll_interval_ms,
	created_at, updated_at, org_id`

// AcceptInvitation uses up a pending, unexpired invitation for acc, in one
// transaction that begins with the conditional update. Of concurrent
// acceptances, on any number of instances, exactly one finds the invitation
// pending: on PostgreSQL the others wait for its row lock, then (READ
// COMMITTED) re-check the WHERE clause against the accepted row, or against
// the pending one if the winner rolled back; on SQLite the one writer takes
// them in turn. A failure anywhere after it, the connection included, rolls
// everything back.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash string, acc *store.Acceptance, now time.Time) (*store.Invitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	clientID := acc.ClientID
	if c := acc.NewClient; c != nil {
		if !store.ValidText(c.ID) || !clientText(c) {
			return nil, fmt.Errorf("accept invitation: new client: %w", store.ErrInvalid)
		}
		clientID = c.ID
	} else if !store.ValidText(acc.ClientID) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(acc.Rename) {
		return nil, fmt.Errorf("accept invitation: name: %w", store.ErrInvalid)
	}
	var inv *store.Invitation
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		inv, err = changeInvitation(ctx, q, `UPDATE invitations SET status = 'accepted', decided_at = $1, client_id = $2
			WHERE token_hash = $3 AND status = 'pending' AND expires_at > $1 RETURNING `+invitationColumns,
			[]any{now.UnixMilli(), clientID, tokenHash}, `SELECT 1 FROM invitations WHERE token_hash = $1`, tokenHash)
		if err != nil {
			return err
		}
		if err := s.joinClient(ctx, q, inv, acc, clientID, now); err != nil {
			return err
		}
		for _, g := range inv.GroupIDs {
			if _, err := q.Exec(ctx, `INSERT INTO client_group_members (group_id, client_id, created_at)
				VALUES ($1, $2, $3) ON CONFLICT (group_id, client_id) DO NOTHING`, g, clientID, now.UnixMilli()); err != nil {
				return fmt.Errorf("join group %q: %w", g, err)
			}
		}
		if _, err := q.Exec(ctx, cancelMail+` AND invitation_id = $1`, inv.ID); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept invitation: %w", err)
	}
	return inv, nil
}

// joinClient creates the client an accepted invitation inv enrols, owned by
// its organization, or takes the existing client clientID into it (renamed
// when acc says so); ErrConflict if that client belongs to another
// organization.
func (s *Store) joinClient(ctx context.Context, q Querier, inv *store.Invitation, acc *store.Acceptance, clientID string, now time.Time) error {
	if c := acc.NewClient; c != nil {
		_, err := q.Exec(ctx, `INSERT INTO clients (`+newClientColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			c.ID, c.Name, c.SecretHash, c.AuthMethod,
			jsonList(c.GrantTypes), jsonList(c.RedirectURIs), jsonList(c.Scopes),
			c.UserCode.Alphabet, c.UserCode.Length, c.UserCode.Group,
			c.DeviceCodeLifetime.Milliseconds(), c.PollInterval.Milliseconds(),
			Millis(c.CreatedAt), Millis(c.UpdatedAt), inv.OrgID)
		if err != nil {
			return fmt.Errorf("new client: %w", err)
		}
		return nil
	}
	n, err := q.Exec(ctx, `UPDATE clients SET org_id = $1, updated_at = $2,
		name = CASE WHEN CAST($3 AS TEXT) <> '' THEN CAST($3 AS TEXT) ELSE name END
		WHERE id = $4 AND (org_id IS NULL OR org_id = $1)`,
		inv.OrgID, now.UnixMilli(), acc.Rename, clientID)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if n > 0 {
		return nil
	}
	ok, err := exists(ctx, q, `SELECT 1 FROM clients WHERE id = $1`, clientID)
	switch {
	case err != nil:
		return fmt.Errorf("client: %w", err)
	case ok:
		return fmt.Errorf("client %q belongs to another organization: %w", clientID, store.ErrConflict)
	}
	return fmt.Errorf("client %q: %w", clientID, store.ErrNotFound)
}

// ClaimMail claims due mail of live invitations, and unexpired mail of no
// invitation (an account's), in one statement. On
// PostgreSQL SKIP LOCKED lets instances claiming at once take different
// rows, and the outer WHERE is re-checked on a row another claim updated
// meanwhile, so no mail is claimed twice; SQLite's one writer takes claims
// in turn.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Mail, error) {
	ms, err := queryAll(ctx, s.b.Writer(), scanMail, `UPDATE outbox SET next_attempt_at = $1
		WHERE id IN (SELECT o.id FROM outbox o LEFT JOIN invitations i ON i.id = o.invitation_id
			WHERE o.status = 'pending' AND o.next_attempt_at <= $2
			AND (o.expires_at IS NULL OR o.expires_at > $2)
			AND (o.invitation_id IS NULL OR (i.status = 'pending' AND i.expires_at > $2))
			ORDER BY o.next_attempt_at, o.id LIMIT $3`+s.f.SkipLocked+`)
		AND status = 'pending' AND next_attempt_at <= $2
		RETURNING `+mailColumns,
		now.Add(lease).UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	if err := s.openMails(ms); err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	// RETURNING gives no order; a sender works oldest first.
	slices.SortFunc(ms, func(a, b *store.Mail) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return ms, nil
}

// PendingMail counts the outbox's pending mail (the partial index
// outbox_due holds exactly those rows).
func (s *Store) PendingMail(ctx context.Context) (int64, error) {
	var n int64
	if err := s.b.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending mail: %w", err)
	}
	return n, nil
}

// MarkMailSent records that the mail was sent and erases it.
func (s *Store) MarkMailSent(ctx context.Context, id string, now time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	return execOne(ctx, s.b.Writer(), `UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1,
		body = '', link = '' WHERE id = $2`, now.UnixMilli(), id)
}

// MarkMailFailed counts a failed attempt and reschedules the mail.
func (s *Store) MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error {
	if !store.ValidText(id) {
		return store.ErrNotFound
	}
	if !store.ValidText(reason) {
		return fmt.Errorf("mark mail failed: %w", store.ErrInvalid)
	}
	return execOne(ctx, s.b.Writer(), `UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2
		WHERE id = $3`, reason, next.UnixMilli(), id)
}

// CancelStaleMail cancels pending mail of invitations that can no longer be
// used, and pending mail that has expired itself (an account's link).
// It starts from the pending mail (outbox_due holds only that) and looks
// each one's invitation up by its key: the sender runs it at every send
// and every tick, so its cost must not grow with the invitations ever
// made. (An IN over the invitations that ended read all of them each time:
// 21 ms of CPU at 7,000 invitations against 0.15 ms, and three quarters of
// the server's CPU twelve minutes into the soak, BENCHMARKS.md.)
func (s *Store) CancelStaleMail(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.b.Writer().Exec(ctx, cancelMail+` AND (expires_at <= $1 OR EXISTS (SELECT 1 FROM invitations i
		WHERE i.id = outbox.invitation_id AND (i.status <> 'pending' OR i.expires_at <= $1)))`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("cancel stale mail: %w", err)
	}
	return n, nil
}

// ListMail returns invitationID's mail, oldest first.
func (s *Store) ListMail(ctx context.Context, invitationID string) ([]*store.Mail, error) {
	if !store.ValidText(invitationID) {
		return nil, nil
	}
	ms, err := queryAll(ctx, s.b.Reader(), scanMail, `SELECT `+mailColumns+` FROM outbox
		WHERE invitation_id = $1 ORDER BY created_at, id`, invitationID)
	if err != nil {
		return nil, err
	}
	if err := s.openMails(ms); err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return ms, nil
}
