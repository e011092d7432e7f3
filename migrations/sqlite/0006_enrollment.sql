-- One-time keys that authorise devices' first EST enrollment. `id` is the HTTP Basic user name
-- an EST client sends, the secret its password; only the secret's SHA-256 is stored (it is 256
-- random bits: no slow hash needed).
CREATE TABLE enrollment_keys (
    id              TEXT PRIMARY KEY,
    secret_hash     BLOB NOT NULL,
    uses            BIGINT NOT NULL,
    uses_left       BIGINT NOT NULL CHECK (uses_left >= 0),
    expires_at      BIGINT NOT NULL,
    note            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    revoked_at      BIGINT
);

-- Certificates the device CA issued over EST, by serial (hex). `enrollment_key` is the key a
-- first enrollment spent; `renews` the serial a re-enrollment replaced.
CREATE TABLE device_certificates (
    serial          TEXT PRIMARY KEY,
    subject         TEXT NOT NULL,
    der             BLOB NOT NULL,
    not_after       BIGINT NOT NULL,
    issued_at       BIGINT NOT NULL,
    enrollment_key  TEXT REFERENCES enrollment_keys (id),
    renews          TEXT,
    revoked_at      BIGINT
);
