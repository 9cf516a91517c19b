-- 0017: the TOTP second factor (store/totp.go): the same tables as the
-- SQLite backend's 0016_totp.sql.

CREATE TABLE totp (
	user_id      TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret       BYTEA            NOT NULL,
	created_at   BIGINT,
	confirmed_at BIGINT,
	last_step    BIGINT           NOT NULL
);

CREATE TABLE recovery_codes (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash    TEXT COLLATE "C" NOT NULL,
	used_at BIGINT,
	PRIMARY KEY (user_id, hash)
);
