-- Wrapped tenant data keys: one row per tenant. `wrapped` is an envelope (never a raw key).
CREATE TABLE IF NOT EXISTS palisade_tenant_keys (
    tenant     TEXT    NOT NULL PRIMARY KEY,
    kek        TEXT    NOT NULL,
    wrapped    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
)
