-- 0011: DPoP (RFC 9449).
--
-- clients.dpop_bound_access_tokens: RFC 9449 §5.2's client metadata; when
--   set, the token endpoint refuses the client's requests without a proof.
-- grants.dpop_jkt: the thumbprint (RFC 7638) of the key a public client's
--   refresh tokens are bound to (RFC 9449 §5); NULL for unbound grants.

ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT COLLATE "C";
