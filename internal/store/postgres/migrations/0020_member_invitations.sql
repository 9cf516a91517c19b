-- 0020: invitations of people into organizations: the same table as the
-- SQLite backend's 0019_member_invitations.sql.

CREATE TABLE member_invitations (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	org_id     TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	email      TEXT COLLATE "C" NOT NULL,
	role       TEXT COLLATE "C" NOT NULL,
	token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
	invited_by TEXT COLLATE "C" NOT NULL,
	status     TEXT COLLATE "C" NOT NULL,
	mail_id    TEXT COLLATE "C" NOT NULL,
	created_at BIGINT,
	expires_at BIGINT           NOT NULL,
	decided_at BIGINT,
	user_id    TEXT COLLATE "C"
);
CREATE INDEX member_invitations_org_id ON member_invitations(org_id, created_at);
