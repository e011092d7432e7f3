-- Network scans. A scan runs on the server it was started on, which writes its row when it
-- starts, its progress at most every 250 ms while it runs, and its final state and results when
-- it ends; every server reads them from here. Times are Unix milliseconds (the database's clock).
-- `ranges` is a JSON array of the range texts (empty for a broadcast); `results` a JSON array of
-- the devices that answered (ip, mac, hostname, os, serial); `remaining_ms` the estimate of the
-- time left as of `updated_at`. Another server asks the running one to stop with
-- `cancel_requested`, which the running server reads at its progress writes. The newest 100
-- scans are kept.
CREATE TABLE scans (
    id                TEXT PRIMARY KEY,
    server_id         TEXT NOT NULL,
    server_name       TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('running', 'done', 'cancelled', 'failed')),
    broadcast         BOOLEAN NOT NULL,
    ranges            TEXT NOT NULL,
    sent              BIGINT NOT NULL DEFAULT 0,
    total             BIGINT NOT NULL,
    found             BIGINT NOT NULL DEFAULT 0,
    ignored           BIGINT NOT NULL DEFAULT 0,
    results           TEXT NOT NULL DEFAULT '[]',
    error             TEXT,
    remaining_ms      BIGINT,
    sending_ms        DOUBLE PRECISION,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    started_at        BIGINT NOT NULL,
    finished_at       BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX scans_newest ON scans (started_at, id);
CREATE INDEX scans_by_state ON scans (state, server_id);
