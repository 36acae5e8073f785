-- Wrapped tenant data keys: one row per tenant. `wrapped` is an envelope (never a raw key).
CREATE TABLE IF NOT EXISTS palisade_tenant_keys (
    tenant     TEXT   NOT NULL PRIMARY KEY,
    kek        TEXT   NOT NULL,
    wrapped    BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
)
