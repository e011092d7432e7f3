-- The device list shows each device's newest certificate: found by its device and issue time.
CREATE INDEX device_certificates_by_device ON device_certificates (device_id, issued_at);
