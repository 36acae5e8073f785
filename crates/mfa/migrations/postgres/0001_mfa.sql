-- TOTP factors: the seed only as an envelope-crypto armor bound to the user and the
-- enrollment id. Times are Unix seconds; steps are Unix time / period.
CREATE TABLE IF NOT EXISTS palisade_mfa_totp (
    user_id     TEXT    PRIMARY KEY NOT NULL,
    id          TEXT    NOT NULL,
    sealed_seed TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL,
    digits      BIGINT NOT NULL,
    period      BIGINT NOT NULL,
    confirmed   BOOLEAN NOT NULL,
    last_step   BIGINT,
    created_at  BIGINT NOT NULL
);

-- Recovery codes: hashes only. One set per user; a new set replaces the old one.
CREATE TABLE IF NOT EXISTS palisade_mfa_recovery (
    user_id    TEXT    NOT NULL,
    set_id     TEXT    NOT NULL,
    idx        BIGINT NOT NULL,
    scheme     TEXT    NOT NULL,
    salt       BYTEA   NOT NULL,
    hash       BYTEA   NOT NULL CHECK (length(hash) = 32),
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, set_id, idx)
);

-- WebAuthn ceremonies in progress; a row is deleted when it is taken.
CREATE TABLE IF NOT EXISTS palisade_mfa_ceremonies (
    id         TEXT    PRIMARY KEY NOT NULL,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS palisade_mfa_ceremonies_by_expiry
    ON palisade_mfa_ceremonies (expires_at);

-- WebAuthn credentials (public keys and counters; nothing secret).
CREATE TABLE IF NOT EXISTS palisade_mfa_credentials (
    id           TEXT    PRIMARY KEY NOT NULL,
    user_id      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    counter      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX IF NOT EXISTS palisade_mfa_credentials_by_user
    ON palisade_mfa_credentials (user_id, created_at);
