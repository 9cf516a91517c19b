-- 0013: where a device's grant came from, for the person's account page:
-- the same columns as the SQLite backend's 0012_grant_origin.sql.
--
-- grants.origin_ip, grants.origin_user_agent: copied from the device
--   authorization when its code is redeemed; '' when unknown.
ALTER TABLE grants ADD COLUMN origin_ip TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN origin_user_agent TEXT COLLATE "C" NOT NULL DEFAULT '';
