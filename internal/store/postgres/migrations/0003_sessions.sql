-- 0003: browser sessions and what hangs on them; the same columns as the
-- SQLite backend's 0003_sessions.sql, in PostgreSQL's types.
--
-- clients.post_logout_redirect_uris: where RP-initiated logout may return to
--   (OpenID Connect RP-Initiated Logout 1.0 §3.1), a JSON array like the others.
-- clients.session_attachment: 'detached' (grants outlive the browser session)
--   or 'attached' (they are revoked when it signs out); existing clients
--   keep today's behaviour, detached.
-- grants.session_hash, device_authorizations.session_hash: the browser
--   session the user approved in; NULL when there was none.
-- sessions.last_seen_at: for the idle timeout; existing sessions count as
--   last seen when they were created.

ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN session_attachment TEXT COLLATE "C" NOT NULL DEFAULT 'detached';

ALTER TABLE grants ADD COLUMN session_hash TEXT COLLATE "C";
-- Sign-out finds the session's grants by it; most grants have none.
CREATE INDEX grants_session_hash ON grants(session_hash) WHERE session_hash IS NOT NULL;

ALTER TABLE device_authorizations ADD COLUMN session_hash TEXT COLLATE "C";

ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
UPDATE sessions SET last_seen_at = created_at;
