-- Registered devices and what the online check last concluded. Times are Unix milliseconds.
CREATE TABLE devices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ip              TEXT NOT NULL UNIQUE,
    mac             TEXT UNIQUE,
    hostname        TEXT,
    os              TEXT,
    serial          TEXT,
    status          TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
    last_seen       BIGINT,
    status_since    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX devices_by_status ON devices (status, id);

-- Scheduled jobs; `targets` is a JSON array (device ids, or address ranges for a scan).
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    command         TEXT NOT NULL,
    targets         TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    repeat_minutes  BIGINT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL
);

-- One row per run of a job, due or done.
CREATE TABLE job_executions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    due_at          BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'expired')),
    started_at      BIGINT,
    finished_at     BIGINT,
    result          TEXT,
    server_id       TEXT
);
CREATE INDEX job_executions_due ON job_executions (status, due_at);
CREATE INDEX job_executions_of_job ON job_executions (job_id, id);
