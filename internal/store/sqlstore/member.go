package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// Invitations of people into organizations (store.MemberInvitationStore).
// Their mail is the outbox's mail of no device invitation, expiring with
// the invitation (so ClaimMail and CancelStaleMail treat it as an
// account's), and cancelled here by its id (member_invitations.mail_id)
// whenever its link stops working.

const memberInvitationColumns = `id, org_id, email, role, token_hash, invited_by, status, mail_id,
	created_at, expires_at, decided_at, user_id`

func scanMemberInvitation(row Row) (*store.MemberInvitation, error) {
	var i store.MemberInvitation
	err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy, &i.Status, &i.MailID,
		TimeCol{&i.CreatedAt}, TimeCol{&i.ExpiresAt}, TimeCol{&i.DecidedAt}, optionalCol{&i.UserID})
	if err != nil {
		return nil, err
	}
	return &i, nil
}

// validMemberMail reports whether mail may be stored as inv's: text, and
// the mail inv names.
func validMemberMail(mailID string, mail *store.Mail) bool {
	return mail != nil && mail.ID == mailID && mail.InvitationID == "" && validMail(mail)
}

// CreateMemberInvitation stores inv and its mail in one transaction.
func (s *Store) CreateMemberInvitation(ctx context.Context, inv *store.MemberInvitation, mail *store.Mail) error {
	if !store.ValidText(inv.ID, inv.OrgID, inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy, inv.Status, inv.MailID, inv.UserID) ||
		!validMemberMail(inv.MailID, mail) {
		return fmt.Errorf("create member invitation: %w", store.ErrInvalid)
	}
	err := s.b.Tx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO member_invitations (`+memberInvitationColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			inv.ID, inv.OrgID, inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy, inv.Status, inv.MailID,
			Millis(inv.CreatedAt), Millis(inv.ExpiresAt), Millis(inv.DecidedAt), optional(inv.UserID))
		if err != nil {
			return err
		}
		m := *mail
		m.ExpiresAt = inv.ExpiresAt // the link works as long as the invitation
		return s.insertMail(ctx, q, &m)
	})
	if err != nil {
		return fmt.Errorf("create member invitation: %w", err)
	}
	return nil
}

// GetMemberInvitation returns the invitation with id, or ErrNotFound.
func (s *Store) GetMemberInvitation(ctx context.Context, id string) (*store.MemberInvitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	return scanMemberInvitation(s.b.Reader().QueryRow(ctx, `SELECT `+memberInvitationColumns+`
		FROM member_invitations WHERE id = $1`, id))
}

// GetMemberInvitationByToken returns the invitation whose token hashes to tokenHash.
func (s *Store) GetMemberInvitationByToken(ctx context.Context, tokenHash string) (*store.MemberInvitation, error) {
	if !store.ValidText(tokenHash) {
		return nil, store.ErrNotFound
	}
	return scanMemberInvitation(s.b.Reader().QueryRow(ctx, `SELECT `+memberInvitationColumns+`
		FROM member_invitations WHERE token_hash = $1`, tokenHash))
}

// ListMemberInvitations returns orgID's invitations of people, newest first.
func (s *Store) ListMemberInvitations(ctx context.Context, orgID string) ([]*store.MemberInvitation, error) {
	if !store.ValidText(orgID) {
		return nil, nil
	}
	return queryAll(ctx, s.b.Reader(), scanMemberInvitation, `SELECT `+memberInvitationColumns+`
		FROM member_invitations WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
}

// changeMemberInvitation runs update, a conditional UPDATE … RETURNING
// of one invitation, with args, on q. When nothing matched, existsQuery
// (a SELECT 1 by key, $1) tells an unknown invitation (ErrNotFound) from
// one in another state, or expired (ErrConflict).
func changeMemberInvitation(ctx context.Context, q Querier, update string, args []any, existsQuery, key string) (*store.MemberInvitation, error) {
	inv, err := scanMemberInvitation(q.QueryRow(ctx, update, args...))
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

// cancelMailByID cancels and erases the pending mail with id ($1).
const cancelMailByID = cancelMail + ` AND id = $1`

// ResendMemberInvitation swaps a pending, unexpired invitation's token
// hash and mail, in one transaction that begins with the conditional
// update (an acceptance with the old token racing it: see
// ResendInvitation).
func (s *Store) ResendMemberInvitation(ctx context.Context, id, tokenHash string, mail *store.Mail, now time.Time) (*store.MemberInvitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	if !store.ValidText(tokenHash) || mail == nil || !validMemberMail(mail.ID, mail) {
		return nil, fmt.Errorf("resend member invitation: %w", store.ErrInvalid)
	}
	var inv *store.MemberInvitation
	err := s.b.Tx(ctx, func(q Querier) error {
		// RETURNING gives the row as updated, so the old mail's id is read
		// first, locking the row (PostgreSQL) as the update would.
		var oldMail string
		if err := q.QueryRow(ctx, `SELECT mail_id FROM member_invitations WHERE id = $1`+s.f.ForUpdate, id).Scan(&oldMail); err != nil {
			return err
		}
		var err error
		inv, err = changeMemberInvitation(ctx, q, `UPDATE member_invitations SET token_hash = $2, mail_id = $4
			WHERE id = $1 AND status = 'pending' AND expires_at > $3 RETURNING `+memberInvitationColumns,
			[]any{id, tokenHash, now.UnixMilli(), mail.ID}, `SELECT 1 FROM member_invitations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, cancelMailByID, oldMail); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		m := *mail
		m.ExpiresAt = inv.ExpiresAt // the link works as long as the invitation
		return s.insertMail(ctx, q, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("resend member invitation: %w", err)
	}
	return inv, nil
}

// RevokeMemberInvitation moves a pending invitation to revoked and cancels
// its unsent mail, in one transaction.
func (s *Store) RevokeMemberInvitation(ctx context.Context, id string, now time.Time) (*store.MemberInvitation, error) {
	if !store.ValidText(id) {
		return nil, store.ErrNotFound
	}
	var inv *store.MemberInvitation
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		inv, err = changeMemberInvitation(ctx, q, `UPDATE member_invitations SET status = 'revoked', decided_at = $2
			WHERE id = $1 AND status = 'pending' RETURNING `+memberInvitationColumns,
			[]any{id, now.UnixMilli()}, `SELECT 1 FROM member_invitations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, cancelMailByID, inv.MailID); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke member invitation: %w", err)
	}
	return inv, nil
}

// AcceptMemberInvitation uses up a pending, unexpired invitation for
// userID and makes them a member, in one transaction that begins with the
// conditional update: of concurrent acceptances, on any number of
// instances, exactly one finds it pending (PostgreSQL: the row lock and
// READ COMMITTED's re-check of the WHERE clause; SQLite: the one writer).
// A member already keeps the admin role; a missing user (the foreign key)
// rolls it all back.
func (s *Store) AcceptMemberInvitation(ctx context.Context, tokenHash, userID string, now time.Time) (*store.MemberInvitation, error) {
	if !store.ValidText(tokenHash, userID) {
		return nil, store.ErrNotFound
	}
	var inv *store.MemberInvitation
	err := s.b.Tx(ctx, func(q Querier) error {
		var err error
		inv, err = changeMemberInvitation(ctx, q, `UPDATE member_invitations SET status = 'accepted', decided_at = $1, user_id = $2
			WHERE token_hash = $3 AND status = 'pending' AND expires_at > $1 RETURNING `+memberInvitationColumns,
			[]any{now.UnixMilli(), userID, tokenHash}, `SELECT 1 FROM member_invitations WHERE token_hash = $1`, tokenHash)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO org_members (`+memberColumns+`) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = CASE WHEN org_members.role = 'admin' THEN org_members.role ELSE excluded.role END`,
			inv.OrgID, userID, inv.Role, now.UnixMilli()); err != nil {
			return fmt.Errorf("membership: %w", err)
		}
		if _, err := q.Exec(ctx, cancelMailByID, inv.MailID); err != nil {
			return fmt.Errorf("cancel mail: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept member invitation: %w", err)
	}
	return inv, nil
}
