-- One row per database: its id makes ETags differ between a database and its re-creation.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Set when a server stops cleanly, so the others see it leave at once (Unix milliseconds).
ALTER TABLE servers ADD COLUMN stopped_at BIGINT;
