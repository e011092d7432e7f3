-- SQLite has one server, which sends no messages; these columns keep both schemas alike.
-- How far the server's clock is from the database's (milliseconds, at its last heartbeat).
ALTER TABLE servers ADD COLUMN message_cursor INTEGER;
ALTER TABLE servers ADD COLUMN clock_offset_ms INTEGER;

-- A running job execution belongs to its server until this time (Unix milliseconds).
ALTER TABLE job_executions ADD COLUMN lease_until INTEGER;
