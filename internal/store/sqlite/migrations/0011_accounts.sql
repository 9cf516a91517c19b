-- 0011: accounts people can live with (store/account.go).
--
-- users.email_verified: 1 once the person used a link mailed to the address
--   (or an admin vouched for it). Existing users start unverified: nothing
--   proved their address, and the ID token said so (email_verified false).
-- account_tokens: single-use links mailed to a person, stored by hash:
--   purpose 'verify_email' proves email (the address it was sent to, which
--   becomes the account's on use: an email change) and 'reset_password'
--   sets a new password. used_at is set by the one use that counts.
-- outbox: mail of accounts joins invitation mail. invitation_id becomes
--   optional (SQLite cannot drop NOT NULL, so the table is rebuilt) and
--   expires_at, when set, is when an unsent mail stops being worth sending
--   (its link expires); invitation mail keeps following its invitation.

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_tokens (
	hash       TEXT    NOT NULL PRIMARY KEY,
	purpose    TEXT    NOT NULL,
	user_id    TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	email      TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT;
CREATE INDEX account_tokens_user_id ON account_tokens(user_id);
CREATE INDEX account_tokens_expires_at ON account_tokens(expires_at);

CREATE TABLE outbox_new (
	id              TEXT    NOT NULL PRIMARY KEY,
	invitation_id   TEXT    REFERENCES invitations(id) ON DELETE CASCADE,
	recipient       TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	body            TEXT    NOT NULL,
	link            TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	created_at      INTEGER,
	sent_at         INTEGER,
	expires_at      INTEGER
) STRICT;
INSERT INTO outbox_new (id, invitation_id, recipient, subject, body, link, status, attempts, next_attempt_at,
	last_error, created_at, sent_at)
	SELECT id, invitation_id, recipient, subject, body, link, status, attempts, next_attempt_at,
	last_error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_invitation_id ON outbox(invitation_id);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
