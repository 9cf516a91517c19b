-- 0018: an authorization request's dpop_jkt (RFC 9449 §10): the thumbprint
-- of the DPoP key its code must be redeemed with, kept with the request
-- and then with its code. NULL: not bound.

ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT;
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
