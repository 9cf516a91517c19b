-- 0004: organizations, their members and device client groups, invitations
-- of device clients into those groups, and the outbox of invitation emails
-- (store/org.go).
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
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	app_link   TEXT    NOT NULL,
	created_at INTEGER,
	updated_at INTEGER
) STRICT;

ALTER TABLE clients ADD COLUMN org_id TEXT REFERENCES organizations(id);
CREATE INDEX clients_org_id ON clients(org_id) WHERE org_id IS NOT NULL;

CREATE TABLE org_members (
	org_id     TEXT    NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	user_id    TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	role       TEXT    NOT NULL,
	created_at INTEGER,
	PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX org_members_user_id ON org_members(user_id);

CREATE TABLE client_groups (
	id          TEXT    NOT NULL PRIMARY KEY,
	org_id      TEXT    NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,
	description TEXT    NOT NULL,
	scopes      TEXT    NOT NULL,
	created_at  INTEGER,
	updated_at  INTEGER,
	UNIQUE (org_id, name)
) STRICT;

CREATE TABLE client_group_members (
	group_id   TEXT    NOT NULL REFERENCES client_groups(id) ON DELETE CASCADE,
	client_id  TEXT    NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	created_at INTEGER,
	PRIMARY KEY (group_id, client_id)
) STRICT;
CREATE INDEX client_group_members_client_id ON client_group_members(client_id);

CREATE TABLE invitations (
	id                 TEXT    NOT NULL PRIMARY KEY,
	token_hash         TEXT    NOT NULL UNIQUE,
	org_id             TEXT    NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	group_ids          TEXT    NOT NULL,
	email              TEXT    NOT NULL,
	message            TEXT    NOT NULL,
	device_name        TEXT    NOT NULL,
	allow_rename       INTEGER NOT NULL,
	existing_only      INTEGER NOT NULL,
	restrict_client_id TEXT    NOT NULL,
	app_link           TEXT    NOT NULL,
	invited_by         TEXT    NOT NULL,
	status             TEXT    NOT NULL,
	created_at         INTEGER,
	expires_at         INTEGER NOT NULL,
	decided_at         INTEGER,
	client_id          TEXT
) STRICT;
CREATE INDEX invitations_org_id ON invitations(org_id, created_at);

CREATE TABLE outbox (
	id              TEXT    NOT NULL PRIMARY KEY,
	invitation_id   TEXT    NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
	recipient       TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	body            TEXT    NOT NULL,
	link            TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	created_at      INTEGER,
	sent_at         INTEGER
) STRICT;
CREATE INDEX outbox_invitation_id ON outbox(invitation_id);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';
