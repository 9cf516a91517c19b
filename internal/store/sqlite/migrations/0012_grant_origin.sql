-- 0012: where a device's grant came from, for the person's account page.
--
-- grants.origin_ip, grants.origin_user_agent: the device authorization's
--   request_ip and user agent, copied when its code is redeemed; '' when
--   unknown (a grant of another flow, or made before this migration).
ALTER TABLE grants ADD COLUMN origin_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN origin_user_agent TEXT NOT NULL DEFAULT '';
