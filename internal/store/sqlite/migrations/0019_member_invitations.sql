-- 0019: invitations of people into organizations (store.MemberInvitation),
-- by email, with the role they join with. Not the device invitations of
-- 0004: accepting one makes the signed-in user a member (org_members), in
-- the same transaction as the conditional update that uses it up.
--
-- token_hash: hex SHA-256 of the lk_minv_ token, which only the email holds.
-- mail_id: the outbox row carrying the current link (mail of no device
--   invitation, expiring with this invitation), cancelled when the
--   invitation is resent, revoked or accepted, or its organization deleted.
-- user_id: who accepted, a record of what happened: no foreign key.
-- An invitation past expires_at is expired whatever status says, as 0004's.

CREATE TABLE member_invitations (
	id         TEXT    NOT NULL PRIMARY KEY,
	org_id     TEXT    NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	email      TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	token_hash TEXT    NOT NULL UNIQUE,
	invited_by TEXT    NOT NULL,
	status     TEXT    NOT NULL,
	mail_id    TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER NOT NULL,
	decided_at INTEGER,
	user_id    TEXT
) STRICT;
CREATE INDEX member_invitations_org_id ON member_invitations(org_id, created_at);
