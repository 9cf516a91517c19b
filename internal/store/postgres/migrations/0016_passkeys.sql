-- 0016: passkeys (store/passkey.go): the same table as the SQLite
-- backend's 0015_passkeys.sql, a person's WebAuthn credentials.

CREATE TABLE passkeys (
	id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	user_id          TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	public_key       BYTEA            NOT NULL,
	sign_count       BIGINT           NOT NULL,
	transports       TEXT             NOT NULL,
	aaguid           BYTEA            NOT NULL,
	flags            INTEGER          NOT NULL,
	attestation_format TEXT             NOT NULL,
	name             TEXT             NOT NULL,
	created_at       BIGINT,
	last_used_at     BIGINT
);
CREATE INDEX passkeys_user_id ON passkeys(user_id);
