-- 0019: an authorization request's dpop_jkt: the same columns as the
-- SQLite backend's 0018_dpop_jkt_codes.sql.

ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT;
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
