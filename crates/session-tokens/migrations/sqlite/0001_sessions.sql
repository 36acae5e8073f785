-- Session records, keyed by the SHA-256 of the session id: no session id or token is
-- ever stored. Times are Unix seconds.
CREATE TABLE IF NOT EXISTS palisade_sessions (
    id_hash          BLOB    PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
    tenant           TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    generation       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    aal              INTEGER NOT NULL,
    amr              TEXT    NOT NULL,
    ip               TEXT,
    user_agent       TEXT,
    label            TEXT,
    revoked_at       INTEGER
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS palisade_sessions_by_user
    ON palisade_sessions (tenant, user_id, created_at);

CREATE INDEX IF NOT EXISTS palisade_sessions_by_expiry
    ON palisade_sessions (expires_at);

-- Each user's session generation; a missing row is generation 0.
CREATE TABLE IF NOT EXISTS palisade_session_generations (
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
) WITHOUT ROWID;
