-- 0018: revoking every token of a client: the same column as the SQLite
-- backend's 0017_client_tokens_revoked.sql.

ALTER TABLE clients ADD COLUMN tokens_revoked_at BIGINT;
