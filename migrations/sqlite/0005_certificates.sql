-- Certificates, named by the SHA-256 of their DER form. `purpose` keeps the web chain (what
-- servers present) apart from the device CA (what enrolls devices). A private key is stored
-- sealed with a key kept outside the database. `issuer` is the issuing certificate when it is
-- stored too (NULL for a self-signed root).
CREATE TABLE certificates (
    fingerprint     TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL CHECK (purpose IN ('web', 'device')),
    der             BLOB NOT NULL,
    sealed_key      BLOB,
    issuer          TEXT REFERENCES certificates (fingerprint),
    is_ca           BOOLEAN NOT NULL,
    not_after       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX certificates_issuer ON certificates (issuer);

-- Which certificate a server presents: its own row, else the row of '*' (every server).
CREATE TABLE certificate_assignments (
    server_id       TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL REFERENCES certificates (fingerprint),
    assigned_at     BIGINT NOT NULL
);
CREATE INDEX certificate_assignments_fingerprint ON certificate_assignments (fingerprint);

-- The installation's generated CAs: 'web_root' (made at first start) and 'device_ca'. The first
-- server to store one wins; a server starting at the same moment uses the winner's.
CREATE TABLE certificate_roles (
    role            TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL REFERENCES certificates (fingerprint)
);
