-- 0001: the tables store.go describes.
--
-- Conventions, the same in every table:
--   times      INTEGER unix milliseconds (UTC); NULL is the zero time.Time
--   durations  INTEGER milliseconds
--   lists      TEXT holding a JSON array of strings
--   hashes     TEXT, lower-case hex SHA-256 of a secret we never store
-- STRICT makes SQLite refuse a value of the wrong type instead of storing it.

CREATE TABLE clients (
	id                      TEXT    NOT NULL PRIMARY KEY,
	name                    TEXT    NOT NULL,
	secret_hash             TEXT    NOT NULL,
	auth_method             TEXT    NOT NULL,
	grant_types             TEXT    NOT NULL,
	redirect_uris           TEXT    NOT NULL,
	scopes                  TEXT    NOT NULL,
	user_code_alphabet      TEXT    NOT NULL,
	user_code_length        INTEGER NOT NULL,
	user_code_group         INTEGER NOT NULL,
	device_code_lifetime_ms INTEGER NOT NULL,
	poll_interval_ms        INTEGER NOT NULL,
	created_at              INTEGER,
	updated_at              INTEGER
) STRICT;

CREATE TABLE users (
	id            TEXT    NOT NULL PRIMARY KEY,
	email         TEXT    NOT NULL UNIQUE, -- lower-cased by the backend
	name          TEXT    NOT NULL,
	password_hash TEXT    NOT NULL,
	disabled      INTEGER NOT NULL,
	created_at    INTEGER,
	updated_at    INTEGER
) STRICT;

CREATE TABLE sessions (
	hash       TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	auth_time  INTEGER,
	created_at INTEGER,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

-- user_id is NULL (read back as "") for a client acting on its own behalf.
CREATE TABLE grants (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    REFERENCES users(id) ON DELETE CASCADE,
	client_id  TEXT    NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scopes     TEXT    NOT NULL,
	auth_time  INTEGER,
	created_at INTEGER,
	expires_at INTEGER,
	revoked_at INTEGER
) STRICT;
CREATE INDEX grants_user_id ON grants(user_id, created_at);
CREATE INDEX grants_client_id ON grants(client_id);

-- user_id and grant_id are records of what happened, not ownership, so they
-- carry no foreign key: deleting a user or grant leaves the history alone.
CREATE TABLE device_authorizations (
	device_code_hash   TEXT    NOT NULL PRIMARY KEY,
	user_code_hash     TEXT    NOT NULL UNIQUE,
	client_id          TEXT    NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	client_public      INTEGER NOT NULL,
	scopes             TEXT    NOT NULL,
	status             TEXT    NOT NULL,
	user_id            TEXT,
	interval_ms        INTEGER NOT NULL,
	last_poll_at       INTEGER,
	last_outcome       TEXT,   -- what the latest poll decided; see PollDeviceAuth
	created_at         INTEGER,
	expires_at         INTEGER NOT NULL,
	decided_at         INTEGER,
	grant_id           TEXT,
	request_ip         TEXT    NOT NULL,
	request_user_agent TEXT    NOT NULL
) STRICT;
CREATE INDEX device_authorizations_expires_at ON device_authorizations(expires_at);
CREATE INDEX device_authorizations_client_id ON device_authorizations(client_id);

-- The grant is the token family: revoking or deleting it ends every refresh
-- token issued under it.
CREATE TABLE refresh_tokens (
	hash       TEXT    NOT NULL PRIMARY KEY,
	grant_id   TEXT    NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
	client_id  TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens(grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

CREATE TABLE signing_keys (
	id          TEXT    NOT NULL PRIMARY KEY,
	algorithm   TEXT    NOT NULL,
	private_key BLOB    NOT NULL,
	created_at  INTEGER,
	not_before  INTEGER,
	not_after   INTEGER
) STRICT;

CREATE TABLE server_secrets (
	name       TEXT    NOT NULL PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE throttles (
	key          TEXT    NOT NULL,
	window_start INTEGER NOT NULL,
	count        INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;
CREATE INDEX throttles_expires_at ON throttles(expires_at);
