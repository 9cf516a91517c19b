-- 0012: accounts people can live with (store/account.go): the same columns
-- and tables as the SQLite backend's 0011_accounts.sql.
--
-- users.email_verified: TRUE once the person used a link mailed to the
--   address (or an admin vouched for it); existing users start unverified.
-- account_tokens: single-use links mailed to a person, stored by hash
--   ('verify_email', whose email becomes the account's on use, and
--   'reset_password').
-- outbox: account mail joins invitation mail; invitation_id becomes
--   optional, and expires_at is when an unsent account mail stops being
--   worth sending.

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE account_tokens (
	hash       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	purpose    TEXT COLLATE "C" NOT NULL,
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	email      TEXT COLLATE "C" NOT NULL,
	created_at BIGINT,
	expires_at BIGINT           NOT NULL,
	used_at    BIGINT
);
CREATE INDEX account_tokens_user_id ON account_tokens(user_id);
CREATE INDEX account_tokens_expires_at ON account_tokens(expires_at);

ALTER TABLE outbox ALTER COLUMN invitation_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN expires_at BIGINT;
