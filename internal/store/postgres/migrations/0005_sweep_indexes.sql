-- Grants made by the client credentials grant back one access token each
-- and have no user: the sweeper deletes them once expired, so a busy device
-- fleet does not grow the table without bound. Grants a user made stay as
-- the record of what was allowed.
CREATE INDEX grants_machine_expires_at ON grants(expires_at) WHERE user_id IS NULL;
