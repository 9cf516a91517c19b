-- 0013: the audit log (issue 15): who changed what, when and from where.
--
-- One row per change, written after it succeeded and never updated; the
-- sweeper deletes rows older than audit.retention. org_id and the actor
-- are plain text, not foreign keys: an entry outlives what it names.
-- before_json and after_json are JSON objects with secrets redacted, ''
-- for none. The indexes serve the newest-first keyset pages, unfiltered
-- and by organization, actor or kind.

CREATE TABLE audit_log (
	id          TEXT    NOT NULL PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor_kind  TEXT    NOT NULL,
	actor_id    TEXT    NOT NULL,
	address     TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	org_id      TEXT    NOT NULL,
	before_json TEXT    NOT NULL,
	after_json  TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_org ON audit_log (org_id, at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_kind ON audit_log (kind, at, id);
