-- WebAuthn user handles: 16 random bytes per user, drawn at the user's first registration
-- and sent to authenticators in place of the user id. Never two users with one handle.
CREATE TABLE IF NOT EXISTS palisade_mfa_user_handles (
    user_id TEXT PRIMARY KEY NOT NULL,
    handle  BYTEA NOT NULL UNIQUE CHECK (octet_length(handle) = 16)
);
