-- 0008: system administrators (issue 15, roles).
--
-- users.sysadmin: 1 for a system administrator, who may use the SysAdmin
--   console; set by the CLI and the admin API only. Existing users are not.

ALTER TABLE users ADD COLUMN sysadmin INTEGER NOT NULL DEFAULT 0;
