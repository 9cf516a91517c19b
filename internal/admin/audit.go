package admin

import (
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// AuditEntry is an entry of the audit log as the API shows it. Before and
// After are the record's settings as JSON objects, secrets redacted;
// absent when there were none.
type AuditEntry struct {
	ID        string          `json:"id"`
	At        string          `json:"at"` // RFC 3339, milliseconds
	ActorKind string          `json:"actor_kind"`
	ActorID   string          `json:"actor_id"`
	Address   string          `json:"address,omitempty"`
	Kind      string          `json:"kind"`
	TargetID  string          `json:"target_id"`
	OrgID     string          `json:"organization_id,omitempty"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
}

// AuditList is a page of the audit log, newest first. NextCursor, when
// set, is the cursor that gives the next page.
type AuditList struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// ListAudit serves GET /admin/v1/audit: the audit log, newest first, filtered
// by actor, organization, kind and time (audit.ParseQuery), limit entries
// at a time after cursor.
func (a *API) ListAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := audit.ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	limit := q.Limit
	q.Limit++
	es, err := a.Store.QueryAudit(r.Context(), q)
	if err != nil {
		return err
	}
	es, next := audit.Page(es, limit)
	out := AuditList{Entries: make([]AuditEntry, 0, len(es)), NextCursor: next}
	for _, e := range es {
		out.Entries = append(out.Entries, auditJSON(e))
	}
	return oauth.WriteJSON(w, http.StatusOK, out)
}

func auditJSON(e *store.AuditEntry) AuditEntry {
	raw := func(s string) json.RawMessage {
		if s == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	return AuditEntry{
		ID: e.ID, At: e.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), ActorKind: e.ActorKind, ActorID: e.ActorID,
		Address: e.Address, Kind: e.Kind, TargetID: e.TargetID, OrgID: e.OrgID,
		Before: raw(e.Before), After: raw(e.After),
	}
}
