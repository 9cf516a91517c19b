-- 0014: the audit log (issue 15): who changed what, when and from where.
--
-- One row per change, written after it succeeded and never updated; the
-- sweeper deletes rows older than audit.retention. org_id and the actor
-- are plain text, not foreign keys: an entry outlives what it names.
-- before_json and after_json are JSON objects with secrets redacted, ''
-- for none. The indexes serve the newest-first keyset pages, unfiltered
-- and by organization, actor or kind.

CREATE TABLE audit_log (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	at          BIGINT  NOT NULL,
	actor_kind  TEXT COLLATE "C" NOT NULL,
	actor_id    TEXT COLLATE "C" NOT NULL,
	address     TEXT COLLATE "C" NOT NULL,
	kind        TEXT COLLATE "C" NOT NULL,
	target_id   TEXT COLLATE "C" NOT NULL,
	org_id      TEXT COLLATE "C" NOT NULL,
	before_json TEXT COLLATE "C" NOT NULL,
	after_json  TEXT COLLATE "C" NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_org ON audit_log (org_id, at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_kind ON audit_log (kind, at, id);
