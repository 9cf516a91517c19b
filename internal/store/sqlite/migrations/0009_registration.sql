-- 0009: dynamic client registration (RFC 7591, RFC 7592).
--
-- registration_tokens: initial access tokens an admin makes (RFC 7591 §3),
--   stored by hash, each good for uses_left registrations until expires_at;
--   the sweeper deletes expired ones.
-- client_registrations: the hash of a dynamically registered client's
--   registration access token (RFC 7592 §3); it goes with its client.

CREATE TABLE registration_tokens (
	id          TEXT    NOT NULL PRIMARY KEY,
	hash        TEXT    NOT NULL UNIQUE,
	description TEXT    NOT NULL,
	uses_left   INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX registration_tokens_expires_at ON registration_tokens(expires_at);

CREATE TABLE client_registrations (
	client_id   TEXT    NOT NULL PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
	access_hash TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;
