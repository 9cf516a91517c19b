-- A device authorization is updated on every poll (last_poll_at,
-- last_outcome, interval_ms), none of them indexed: such an update can be
-- HOT (heap-only: no new index entries) when the new row version fits on
-- the row's own page. At the default fillfactor (100) the pages a busy
-- table fills leave no room, and measured with a million live codes only a
-- third of the polls were HOT: the rest wrote a new entry into each of the
-- table's four indexes. Leaving a fifth of each page free made every poll
-- HOT. Pages written before this migration keep their fill until rewritten.
ALTER TABLE device_authorizations SET (fillfactor = 80);
