package store

import (
	"context"
	"time"
)

// The audit log (issue 15): who changed what through the admin API (and
// so the CLI), the 10Duke invitation API and the consoles. Entries are
// written after the change succeeded and never changed; the sweeper prunes
// those older than audit.retention. Package audit builds them, and keeps
// every secret out of them.

// Audit actor kinds: who made a change.
const (
	ActorUser       = "user"        // a signed-in person or their access token; ActorID is the user's id
	ActorAdminToken = "admin-token" // the admin API's token; ActorID is "admin-token"
	ActorServiceKey = "service-key" // a service API key; ActorID is the key's id
	ActorDevice     = "device"      // a device client acting for itself; ActorID is the client id
	ActorInvitation = "invitation"  // the holder of an invitation's token; ActorID is the invitation id
)

// AuditEntry is one change.
type AuditEntry struct {
	ID        string
	At        time.Time
	ActorKind string // ActorUser, ActorAdminToken, …
	ActorID   string
	Address   string // the client address the change came from ("" unknown)
	Kind      string // what was done, such as "client.update" (package audit's constants)
	TargetID  string // the record changed
	OrgID     string // the organization it belongs to; "" for none
	// Before and After are the record's settings before and after the
	// change as JSON objects, secrets redacted; "" when there was none
	// (a creation has no Before, a deletion no After).
	Before string
	After  string
}

// AuditQuery selects a page of the audit log, newest first (At, then ID,
// both descending). Empty fields do not filter.
type AuditQuery struct {
	ActorID string
	OrgID   string
	Kind    string
	// Since and Until bound At: Since <= At < Until; zero for no bound.
	Since, Until time.Time
	// BeforeAt and BeforeID, when BeforeID is set, are the At and ID of the
	// last entry of the previous page: this page begins after it.
	BeforeAt time.Time
	BeforeID string
	Limit    int // at most this many, from 1
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AddAuditEntry stores e; ErrConflict if its id is taken, ErrInvalid
	// if it holds a string that is not text.
	AddAuditEntry(ctx context.Context, e *AuditEntry) error
	// QueryAudit returns the page q selects. ErrInvalid for a Limit below 1.
	QueryAudit(ctx context.Context, q AuditQuery) ([]*AuditEntry, error)
	// PruneAudit deletes the entries older than before and returns how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}
