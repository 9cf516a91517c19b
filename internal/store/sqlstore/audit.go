package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

const auditColumns = `id, at, actor_kind, actor_id, address, kind, target_id, org_id, before_json, after_json`

func scanAudit(row Row) (*store.AuditEntry, error) {
	var e store.AuditEntry
	if err := row.Scan(&e.ID, TimeCol{&e.At}, &e.ActorKind, &e.ActorID, &e.Address, &e.Kind, &e.TargetID, &e.OrgID,
		&e.Before, &e.After); err != nil {
		return nil, err
	}
	return &e, nil
}

// AddAuditEntry stores e.
func (s *Store) AddAuditEntry(ctx context.Context, e *store.AuditEntry) error {
	if !store.ValidText(e.ID, e.ActorKind, e.ActorID, e.Address, e.Kind, e.TargetID, e.OrgID, e.Before, e.After) {
		return fmt.Errorf("add audit entry: %w", store.ErrInvalid)
	}
	_, err := s.b.Writer().Exec(ctx, `INSERT INTO audit_log (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.At.UnixMilli(), e.ActorKind, e.ActorID, e.Address, e.Kind, e.TargetID, e.OrgID, e.Before, e.After)
	if err != nil {
		return fmt.Errorf("add audit entry: %w", err)
	}
	return nil
}

// QueryAudit returns a page of the audit log, newest first, by keyset on
// (at, id): a page costs the same however deep it is, and entries written
// meanwhile neither repeat nor skip one.
func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEntry, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("query audit: limit %d: %w", q.Limit, store.ErrInvalid)
	}
	if !store.ValidText(q.ActorID, q.OrgID, q.Kind, q.BeforeID) {
		return nil, nil // nothing is stored under such a key
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	for _, f := range [...]struct{ col, v string }{{"actor_id", q.ActorID}, {"org_id", q.OrgID}, {"kind", q.Kind}} {
		if f.v != "" {
			where = append(where, f.col+` = `+arg(f.v))
		}
	}
	if !q.Since.IsZero() {
		where = append(where, `at >= `+arg(q.Since.UnixMilli()))
	}
	if !q.Until.IsZero() {
		where = append(where, `at < `+arg(q.Until.UnixMilli()))
	}
	if q.BeforeID != "" {
		at := arg(q.BeforeAt.UnixMilli())
		where = append(where, `(at < `+at+` OR (at = `+at+` AND id < `+arg(q.BeforeID)+`))`)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_log`
	for i, w := range where {
		if i == 0 {
			query += ` WHERE ` + w
		} else {
			query += ` AND ` + w
		}
	}
	query += ` ORDER BY at DESC, id DESC LIMIT ` + arg(q.Limit)
	es, err := queryAll(ctx, s.b.Reader(), scanAudit, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query audit: %w", err)
	}
	return es, nil
}

// PruneAudit deletes the entries older than before, in chunks
// (deleteChunked).
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.deleteChunked(ctx, `audit_log`, `at < $1`, before.UnixMilli())
	if err != nil {
		return n, fmt.Errorf("prune audit: %w", err)
	}
	return n, nil
}
