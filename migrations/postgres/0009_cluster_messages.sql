-- Distributed mode: the messages servers sharing this database send each other. A change that
-- other servers must act on writes its message in its own transaction; `tx` is that
-- transaction's id, and readers take messages in the order of `tx`, only once no transaction
-- older than the message can still commit (so no message is skipped while another commits late).
CREATE TABLE cluster_messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx          BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    origin      TEXT NOT NULL,
    topic       TEXT NOT NULL,
    version     BIGINT,
    payload     TEXT,
    created_at  BIGINT NOT NULL DEFAULT ((EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT)
);
CREATE INDEX cluster_messages_order ON cluster_messages (tx, id);

-- Messages of transactions below `below` have been pruned: a server whose cursor is older
-- missed some, and re-reads all shared state instead.
CREATE TABLE cluster_message_floor (
    one    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    below  BIGINT NOT NULL
);
INSERT INTO cluster_message_floor (below) VALUES (0);

-- How far each server has read the messages, and how far its clock is from the database's
-- (its clock minus the database's, in milliseconds, measured at its last heartbeat).
ALTER TABLE servers ADD COLUMN message_cursor BIGINT;
ALTER TABLE servers ADD COLUMN clock_offset_ms BIGINT;

-- A running job execution belongs to its server until this time (Unix milliseconds, the
-- database's clock); the server extends it while it lives.
ALTER TABLE job_executions ADD COLUMN lease_until BIGINT;
