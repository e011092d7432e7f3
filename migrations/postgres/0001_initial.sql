-- Settings documents, one row per area; `revision` is the optimistic-concurrency version (ETag).
CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    document    TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- One row per changed value. Times are Unix milliseconds.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    source      TEXT,
    action      TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT NOT NULL,
    new_value   TEXT NOT NULL
);

-- Every server that has used this database, with its heartbeat.
CREATE TABLE servers (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    addresses       TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    last_heartbeat  BIGINT NOT NULL
);
