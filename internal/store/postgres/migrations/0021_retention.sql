-- 0021: what the sweeper deletes grows to everything that can never be
-- used again, so that a database holds what is live and a record of what
-- ended for a set time, not every row ever made.
--
-- grants_expires_at: every grant past its absolute expiry, a person's as
--   well as a client's own (0005's partial index covered only those).
-- outbox_link_expires_at: mail of no device invitation (account links,
--   member invitations) once its link has expired; a device invitation's
--   mail goes with its invitation.
-- invitations_ended, member_invitations_ended: an invitation ends when it
--   is decided (accepted, declined, revoked) or, pending, when it expires;
--   the sweeper deletes those that ended invitations.retention ago.

DROP INDEX grants_machine_expires_at;
CREATE INDEX grants_expires_at ON grants(expires_at);
CREATE INDEX outbox_link_expires_at ON outbox(expires_at) WHERE invitation_id IS NULL;
CREATE INDEX invitations_ended ON invitations(COALESCE(decided_at, expires_at));
CREATE INDEX member_invitations_ended ON member_invitations(COALESCE(decided_at, expires_at));
