-- 0004: organizations, their members and device client groups, invitations
-- of device clients into those groups, and the outbox of invitation emails
-- (store/org.go): the same tables, keys and cascades as the SQLite backend's
-- 0004_organizations.sql, with 0001's conventions.
--
-- clients.org_id: the organization that owns the client (a device enrolled
--   by invitation); NULL for none. An organization that owns clients cannot
--   be deleted (DeleteOrganization checks, the foreign key backs it up).
-- invitations.group_ids: a JSON array of client_groups ids of org_id, like
--   the other lists; deleting a group revokes the pending invitations naming
--   it (DeleteClientGroup). client_id is the client that accepted, a record
--   of what happened: no foreign key.
-- outbox.body and outbox.link hold the invitation link, and so the token,
--   until the mail is sent or cancelled; then both are erased.

CREATE TABLE organizations (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL,
	app_link   TEXT COLLATE "C" NOT NULL,
	created_at BIGINT,
	updated_at BIGINT
);

ALTER TABLE clients ADD COLUMN org_id TEXT COLLATE "C" REFERENCES organizations(id);
CREATE INDEX clients_org_id ON clients(org_id) WHERE org_id IS NOT NULL;

CREATE TABLE org_members (
	org_id     TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	role       TEXT COLLATE "C" NOT NULL,
	created_at BIGINT,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user_id ON org_members(user_id);

CREATE TABLE client_groups (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name        TEXT COLLATE "C" NOT NULL,
	description TEXT COLLATE "C" NOT NULL,
	scopes      TEXT             NOT NULL,
	created_at  BIGINT,
	updated_at  BIGINT,
	UNIQUE (org_id, name)
);

CREATE TABLE client_group_members (
	group_id   TEXT COLLATE "C" NOT NULL REFERENCES client_groups(id) ON DELETE CASCADE,
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	created_at BIGINT,
	PRIMARY KEY (group_id, client_id)
);
CREATE INDEX client_group_members_client_id ON client_group_members(client_id);

CREATE TABLE invitations (
	id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	token_hash         TEXT COLLATE "C" NOT NULL UNIQUE,
	org_id             TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	group_ids          TEXT             NOT NULL,
	email              TEXT COLLATE "C" NOT NULL,
	message            TEXT COLLATE "C" NOT NULL,
	device_name        TEXT COLLATE "C" NOT NULL,
	allow_rename       BOOLEAN          NOT NULL,
	existing_only      BOOLEAN          NOT NULL,
	restrict_client_id TEXT COLLATE "C" NOT NULL,
	app_link           TEXT COLLATE "C" NOT NULL,
	invited_by         TEXT COLLATE "C" NOT NULL,
	status             TEXT             NOT NULL,
	created_at         BIGINT,
	expires_at         BIGINT           NOT NULL,
	decided_at         BIGINT,
	client_id          TEXT COLLATE "C"
);
CREATE INDEX invitations_org_id ON invitations(org_id, created_at);

CREATE TABLE outbox (
	id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	invitation_id   TEXT COLLATE "C" NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
	recipient       TEXT COLLATE "C" NOT NULL,
	subject         TEXT COLLATE "C" NOT NULL,
	body            TEXT COLLATE "C" NOT NULL,
	link            TEXT COLLATE "C" NOT NULL,
	status          TEXT             NOT NULL,
	attempts        INTEGER          NOT NULL,
	next_attempt_at BIGINT           NOT NULL,
	last_error      TEXT COLLATE "C" NOT NULL,
	created_at      BIGINT,
	sent_at         BIGINT
);
CREATE INDEX outbox_invitation_id ON outbox(invitation_id);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
