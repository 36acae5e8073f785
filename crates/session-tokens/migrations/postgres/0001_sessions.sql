-- Session records, keyed by the SHA-256 of the session id: no session id or token is
-- ever stored. Times are Unix seconds.
CREATE TABLE IF NOT EXISTS palisade_sessions (
    id_hash          BYTEA  PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    tenant           TEXT   NOT NULL,
    user_id          TEXT   NOT NULL,
    generation       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    aal              BIGINT NOT NULL,
    amr              TEXT   NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    label            TEXT,
    revoked_at       BIGINT
);

CREATE INDEX IF NOT EXISTS palisade_sessions_by_user
    ON palisade_sessions (tenant, user_id, created_at);

CREATE INDEX IF NOT EXISTS palisade_sessions_by_expiry
    ON palisade_sessions (expires_at);

-- Each user's session generation; a missing row is generation 0.
CREATE TABLE IF NOT EXISTS palisade_session_generations (
    tenant     TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (tenant, user_id)
);
