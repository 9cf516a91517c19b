-- 0001: the tables store.go describes: the same tables, columns, keys and
-- cascades as the SQLite backend's 0001_init.sql, in PostgreSQL's types.
--
-- Conventions, the same in every table:
--   strings    TEXT COLLATE "C", so psql shows them as they are. TEXT refuses
--              NUL and invalid UTF-8; the backend never sends either (see
--              store.ValidText: a lookup with one is simply not found, a write
--              is store.ErrInvalid). "C" compares and orders bytewise, as
--              SQLite's TEXT does, whatever the database's collation, so
--              ListClients and ListUsers come back in the same order.
--              The database must be UTF8, which Migrate checks.
--   status     TEXT for device states and poll outcomes: literals the SQL
--              itself compares and writes.
--   times      BIGINT unix milliseconds (UTC), as in SQLite, so the polling
--              arithmetic is the same in both; NULL is the zero time.Time
--   durations  BIGINT milliseconds
--   lists      TEXT holding a JSON array of strings, as in SQLite.
--   hashes     lower-case hex SHA-256 of a secret we never store
--   secrets    BYTEA: private keys and server secrets are bytes, not text.

CREATE TABLE clients (
	id                      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	name                    TEXT COLLATE "C" NOT NULL,
	secret_hash             TEXT COLLATE "C" NOT NULL,
	auth_method             TEXT COLLATE "C" NOT NULL,
	grant_types             TEXT             NOT NULL,
	redirect_uris           TEXT             NOT NULL,
	scopes                  TEXT             NOT NULL,
	user_code_alphabet      TEXT COLLATE "C" NOT NULL,
	user_code_length        INTEGER          NOT NULL,
	user_code_group         INTEGER          NOT NULL,
	device_code_lifetime_ms BIGINT           NOT NULL,
	poll_interval_ms        BIGINT           NOT NULL,
	created_at              BIGINT,
	updated_at              BIGINT
);

CREATE TABLE users (
	id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	email         TEXT COLLATE "C" NOT NULL UNIQUE, -- lower-cased by the backend
	name          TEXT COLLATE "C" NOT NULL,
	password_hash TEXT COLLATE "C" NOT NULL,
	disabled      BOOLEAN          NOT NULL,
	created_at    BIGINT,
	updated_at    BIGINT
);

CREATE TABLE sessions (
	hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT           NOT NULL
);
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

-- user_id is NULL (read back as "") for a client acting on its own behalf.
CREATE TABLE grants (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	user_id    TEXT COLLATE "C" REFERENCES users(id) ON DELETE CASCADE,
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scopes     TEXT             NOT NULL,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT,
	revoked_at BIGINT
);
CREATE INDEX grants_user_id ON grants(user_id, created_at);
CREATE INDEX grants_client_id ON grants(client_id);

-- user_id and grant_id are records of what happened, not ownership, so they
-- carry no foreign key: deleting a user or grant leaves the history alone.
CREATE TABLE device_authorizations (
	device_code_hash   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	user_code_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
	client_id          TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	client_public      BOOLEAN          NOT NULL,
	scopes             TEXT             NOT NULL,
	status             TEXT             NOT NULL,
	user_id            TEXT COLLATE "C",
	interval_ms        BIGINT           NOT NULL,
	last_poll_at       BIGINT,
	last_outcome       TEXT,            -- what the latest poll decided; see PollDeviceAuth
	created_at         BIGINT,
	expires_at         BIGINT           NOT NULL,
	decided_at         BIGINT,
	grant_id           TEXT COLLATE "C",
	request_ip         TEXT COLLATE "C" NOT NULL,
	request_user_agent TEXT COLLATE "C" NOT NULL
);
CREATE INDEX device_authorizations_expires_at ON device_authorizations(expires_at);
CREATE INDEX device_authorizations_client_id ON device_authorizations(client_id);

-- The grant is the token family: revoking or deleting it ends every refresh
-- token issued under it.
CREATE TABLE refresh_tokens (
	hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	grant_id   TEXT COLLATE "C" NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
	client_id  TEXT COLLATE "C" NOT NULL,
	scopes     TEXT             NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens(grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

CREATE TABLE signing_keys (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	algorithm   TEXT COLLATE "C" NOT NULL,
	private_key BYTEA            NOT NULL,
	created_at  BIGINT,
	not_before  BIGINT,
	not_after   BIGINT
);

CREATE TABLE server_secrets (
	name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	value      BYTEA            NOT NULL,
	created_at BIGINT           NOT NULL
);

CREATE TABLE throttles (
	key          TEXT COLLATE "C" NOT NULL,
	window_start BIGINT           NOT NULL,
	count        BIGINT           NOT NULL,
	expires_at   BIGINT           NOT NULL,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX throttles_expires_at ON throttles(expires_at);
