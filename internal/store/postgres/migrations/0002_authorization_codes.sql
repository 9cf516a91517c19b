-- 0002: the authorization code flow (RFC 6749 §4.1, RFC 7636, OpenID Connect
-- Core §3.1): requests waiting for a person, remembered consent, and codes.
-- The same tables, columns, keys and cascades as the SQLite backend's
-- 0002_authorization_codes.sql, in PostgreSQL's types; conventions as in 0001.

-- A request the person is signing in for or deciding on. session_hash is ''
-- until a signed-in browser session continues it; then only that session may
-- decide it. max_age_s is -1 when max_age was not sent.
CREATE TABLE authorization_requests (
	id_hash               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	client_id             TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	redirect_uri          TEXT COLLATE "C" NOT NULL,
	redirect_uri_sent     BOOLEAN          NOT NULL,
	scopes                TEXT             NOT NULL,
	state                 TEXT COLLATE "C" NOT NULL,
	nonce                 TEXT COLLATE "C" NOT NULL,
	code_challenge        TEXT COLLATE "C" NOT NULL,
	code_challenge_method TEXT COLLATE "C" NOT NULL,
	prompt                TEXT COLLATE "C" NOT NULL,
	max_age_s             BIGINT           NOT NULL,
	login_hint            TEXT COLLATE "C" NOT NULL,
	error_code            TEXT COLLATE "C" NOT NULL,
	error_description     TEXT COLLATE "C" NOT NULL,
	status                TEXT             NOT NULL,
	session_hash          TEXT COLLATE "C" NOT NULL,
	created_at            BIGINT,
	expires_at            BIGINT           NOT NULL
);
CREATE INDEX authorization_requests_expires_at ON authorization_requests(expires_at);
CREATE INDEX authorization_requests_client_id ON authorization_requests(client_id);

-- One row per scope a user allowed a client: remembering more is an insert
-- that cannot lose a concurrent one's scopes.
CREATE TABLE consents (
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scope      TEXT COLLATE "C" NOT NULL,
	created_at BIGINT,
	PRIMARY KEY (user_id, client_id, scope)
);
CREATE INDEX consents_client_id ON consents(client_id);

-- grant_id records what the first redemption stored, to revoke it when the
-- code comes back (RFC 6749 §4.1.2); like device_authorizations.grant_id it
-- carries no foreign key.
CREATE TABLE authorization_codes (
	hash                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	client_id             TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	user_id               TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	redirect_uri          TEXT COLLATE "C" NOT NULL,
	redirect_uri_sent     BOOLEAN          NOT NULL,
	scopes                TEXT             NOT NULL,
	nonce                 TEXT COLLATE "C" NOT NULL,
	code_challenge        TEXT COLLATE "C" NOT NULL,
	code_challenge_method TEXT COLLATE "C" NOT NULL,
	auth_time             BIGINT,
	session_hash          TEXT COLLATE "C" NOT NULL,
	created_at            BIGINT,
	expires_at            BIGINT           NOT NULL,
	used_at               BIGINT,
	grant_id              TEXT COLLATE "C"
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes(expires_at);
CREATE INDEX authorization_codes_client_id ON authorization_codes(client_id);
CREATE INDEX authorization_codes_user_id ON authorization_codes(user_id);
