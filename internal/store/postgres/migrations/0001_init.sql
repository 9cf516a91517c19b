-- 0001: the tables store.go describes: the same tables, columns, keys and
-- cascades as the SQLite backend's 0001_init.sql, in PostgreSQL's types.
--
-- Conventions, the same in every table:
--   strings    BYTEA. A Go string is bytes; PostgreSQL's TEXT refuses NUL and
--              invalid UTF-8, which SQLite stores and the conformance suite
--              round-trips (the client "tv\x00evil" is another client, not an
--              error). BYTEA also orders bytewise, as SQLite's TEXT does,
--              whatever the database's collation. In psql: convert_from(id, 'UTF8').
--   status     TEXT for device states and poll outcomes: literals the SQL
--              itself compares and writes.
--   times      BIGINT unix milliseconds (UTC), as in SQLite, so the polling
--              arithmetic is the same in both; NULL is the zero time.Time
--   durations  BIGINT milliseconds
--   lists      TEXT holding a JSON array of strings. encoding/json writes
--              valid UTF-8 and escapes NUL; JSONB would refuse "\u0000".
--   hashes     lower-case hex SHA-256 of a secret we never store (BYTEA, as
--              every string: a lookup with any bytes is simply not found)

CREATE TABLE clients (
	id                      BYTEA   NOT NULL PRIMARY KEY,
	name                    BYTEA   NOT NULL,
	secret_hash             BYTEA   NOT NULL,
	auth_method             BYTEA   NOT NULL,
	grant_types             TEXT    NOT NULL,
	redirect_uris           TEXT    NOT NULL,
	scopes                  TEXT    NOT NULL,
	user_code_alphabet      BYTEA   NOT NULL,
	user_code_length        INTEGER NOT NULL,
	user_code_group         INTEGER NOT NULL,
	device_code_lifetime_ms BIGINT  NOT NULL,
	poll_interval_ms        BIGINT  NOT NULL,
	created_at              BIGINT,
	updated_at              BIGINT
);

CREATE TABLE users (
	id            BYTEA   NOT NULL PRIMARY KEY,
	email         BYTEA   NOT NULL UNIQUE, -- lower-cased by the backend
	name          BYTEA   NOT NULL,
	password_hash BYTEA   NOT NULL,
	disabled      BOOLEAN NOT NULL,
	created_at    BIGINT,
	updated_at    BIGINT
);

CREATE TABLE sessions (
	hash       BYTEA  NOT NULL PRIMARY KEY,
	user_id    BYTEA  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	auth_time  BIGINT,
	created_at BIGINT,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

-- user_id is NULL (read back as "") for a client acting on its own behalf.
CREATE TABLE grants (
	id         BYTEA  NOT NULL PRIMARY KEY,
	user_id    BYTEA  REFERENCES users(id) ON DELETE CASCADE,
	client_id  BYTEA  NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scopes     TEXT   NOT NULL,
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
	device_code_hash   BYTEA   NOT NULL PRIMARY KEY,
	user_code_hash     BYTEA   NOT NULL UNIQUE,
	client_id          BYTEA   NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	client_public      BOOLEAN NOT NULL,
	scopes             TEXT    NOT NULL,
	status             TEXT    NOT NULL,
	user_id            BYTEA,
	interval_ms        BIGINT  NOT NULL,
	last_poll_at       BIGINT,
	last_outcome       TEXT,   -- what the latest poll decided; see PollDeviceAuth
	created_at         BIGINT,
	expires_at         BIGINT  NOT NULL,
	decided_at         BIGINT,
	grant_id           BYTEA,
	request_ip         BYTEA   NOT NULL,
	request_user_agent BYTEA   NOT NULL
);
CREATE INDEX device_authorizations_expires_at ON device_authorizations(expires_at);
CREATE INDEX device_authorizations_client_id ON device_authorizations(client_id);

-- The grant is the token family: revoking or deleting it ends every refresh
-- token issued under it.
CREATE TABLE refresh_tokens (
	hash       BYTEA  NOT NULL PRIMARY KEY,
	grant_id   BYTEA  NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
	client_id  BYTEA  NOT NULL,
	scopes     TEXT   NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant_id ON refresh_tokens(grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

CREATE TABLE signing_keys (
	id          BYTEA  NOT NULL PRIMARY KEY,
	algorithm   BYTEA  NOT NULL,
	private_key BYTEA  NOT NULL,
	created_at  BIGINT,
	not_before  BIGINT,
	not_after   BIGINT
);

CREATE TABLE server_secrets (
	name       BYTEA  NOT NULL PRIMARY KEY,
	value      BYTEA  NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE throttles (
	key          BYTEA  NOT NULL,
	window_start BIGINT NOT NULL,
	count        BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	PRIMARY KEY (key, window_start)
);
CREATE INDEX throttles_expires_at ON throttles(expires_at);
