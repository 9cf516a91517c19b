-- 0016: the TOTP second factor (store/totp.go).
--
-- totp: one enrolment per user; secret is sealed when a secrets key is set
--   (sqlstore/sealed.go, "totp/<user_id>"); confirmed_at is NULL until the
--   person entered a code from the app; last_step is the last RFC 6238 time
--   step a code was accepted for, so a code works once.
-- recovery_codes: ten per confirmed enrolment, SHA-256 hashes, each used once.

CREATE TABLE totp (
	user_id      TEXT    NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret       BLOB    NOT NULL,
	created_at   INTEGER,
	confirmed_at INTEGER,
	last_step    INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
	user_id TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash    TEXT    NOT NULL,
	used_at INTEGER,
	PRIMARY KEY (user_id, hash)
) STRICT;
