-- 0017: revoking every token of a client (store.Client.TokensRevokedAt,
-- ClientStore.RevokeClientTokens): a client's own access tokens (client
-- credentials) carry no grant, so the time of the revocation is kept on
-- the client, and a grantless token issued at or before it is not live.
-- NULL: never revoked.

ALTER TABLE clients ADD COLUMN tokens_revoked_at INTEGER;
