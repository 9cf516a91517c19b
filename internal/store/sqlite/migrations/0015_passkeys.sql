-- 0015: passkeys (store/passkey.go), a person's WebAuthn credentials.
--
-- id: the credential id, base64url without padding. public_key: the COSE
-- key (not secret). sign_count: the authenticator's counter at the last
-- use, advanced only by a conditional update. transports: a JSON list.
-- aaguid: the authenticator model. flags: the credential flags (user
-- verified, backup eligible, backup state) that WebAuthn checks at each
-- use. A user's passkeys go with the user.

CREATE TABLE passkeys (
	id               TEXT    NOT NULL PRIMARY KEY,
	user_id          TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	public_key       BLOB    NOT NULL,
	sign_count       INTEGER NOT NULL,
	transports       TEXT    NOT NULL,
	aaguid           BLOB    NOT NULL,
	flags            INTEGER NOT NULL,
	attestation_format TEXT    NOT NULL,
	name             TEXT    NOT NULL,
	created_at       INTEGER,
	last_used_at     INTEGER
) STRICT;
CREATE INDEX passkeys_user_id ON passkeys(user_id);
