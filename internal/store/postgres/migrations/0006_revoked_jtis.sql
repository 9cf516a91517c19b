-- Access tokens a client gets for itself (client credentials) have no grant
-- row behind them: they are checked by signature and expiry alone, so that
-- issuing one writes nothing. Revoking one (RFC 7009) records its jti here
-- until it would have expired anyway; the sweeper then deletes the row.
-- client_id is a record of whose token it was, not ownership.
CREATE TABLE revoked_jtis (
	jti        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	client_id  TEXT COLLATE "C" NOT NULL,
	expires_at BIGINT           NOT NULL
);
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis(expires_at);
