-- 0008: per-client token policy (10Duke sets token lifetimes per client).
--
-- clients.id_token_signing_alg: the client's id_token_signed_response_alg
--   (RFC 7591 §2), ES256 or RS256; '' takes tokens.id_token_signing_alg.
-- clients.*_lifetime_ms: access token, ID token, refresh absolute and
--   refresh idle lifetimes in milliseconds; 0 takes the server's.
-- clients.refresh_token_policy: 'offline_access' or 'always'; '' is
--   'offline_access', what every client did before.
-- Existing clients get the defaults, so they behave as they did.

ALTER TABLE clients ADD COLUMN id_token_signing_alg TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN access_token_lifetime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN id_token_lifetime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_lifetime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_idle_lifetime_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_token_policy TEXT COLLATE "C" NOT NULL DEFAULT '';
