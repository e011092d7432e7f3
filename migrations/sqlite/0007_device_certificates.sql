-- The scanned or registered device an enrolled certificate names (its common name is the
-- device's host name, serial number or MAC address), when one does; unlinked when the device
-- is removed (and linked again when one of that name shows up).
ALTER TABLE device_certificates ADD COLUMN device_id BIGINT REFERENCES devices (id) ON DELETE SET NULL;

-- The device CA's certificate revocation list as last signed (one row): made again at every
-- revocation, and when it nears its next update or the device CA changed.
CREATE TABLE device_crl (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    ca_fingerprint  TEXT NOT NULL,
    number          BIGINT NOT NULL,
    der             BLOB NOT NULL,
    this_update     BIGINT NOT NULL,
    next_update     BIGINT NOT NULL
);
