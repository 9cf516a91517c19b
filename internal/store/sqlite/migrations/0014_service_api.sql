-- 0013: the service API (Authlete's API for front ends of their own).
--
-- service_api_keys: its credentials; the secret is stored as its hex
--   SHA-256, and looked up by it.
-- device_authorizations.subject, claims, auth_time, error_code,
--   error_description: a decision made through the API, for a person the
--   front end names (no users row), with the ID token's claims as a JSON
--   object, or the error a denied device's poll gets.
-- grants.subject, claims: the same person and claims, kept with the grant
--   so that refreshed tokens carry them. user_id is NULL for such a grant.

CREATE TABLE service_api_keys (
	id          TEXT    NOT NULL PRIMARY KEY,
	name        TEXT    NOT NULL,
	secret_hash TEXT    NOT NULL UNIQUE,
	created_at  INTEGER,
	rotated_at  INTEGER
) STRICT;

ALTER TABLE device_authorizations ADD COLUMN subject TEXT;
ALTER TABLE device_authorizations ADD COLUMN claims TEXT;
ALTER TABLE device_authorizations ADD COLUMN auth_time INTEGER;
ALTER TABLE device_authorizations ADD COLUMN error_code TEXT;
ALTER TABLE device_authorizations ADD COLUMN error_description TEXT;
ALTER TABLE grants ADD COLUMN subject TEXT;
ALTER TABLE grants ADD COLUMN claims TEXT;
