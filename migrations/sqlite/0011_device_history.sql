-- The fleet's online-check history, small whatever the number of devices: one row per time
-- bucket, never one per device. `span_ms` is the bucket's width: 300000 (five minutes, kept a
-- day) or 3600000 (an hour, kept a week); `bucket` its start (Unix milliseconds). Every scheduled
-- round merges into the current bucket of each width: the fleet's counts (read from `devices`, so
-- servers sharing the database record the same ones) as last seen, the fewest and most devices
-- online in the bucket, and the rounds' times: the longest, their sum (for the mean), and the
-- response timeout they ran with.
CREATE TABLE device_history (
    span_ms       BIGINT NOT NULL,
    bucket        BIGINT NOT NULL,
    online        BIGINT NOT NULL,
    offline       BIGINT NOT NULL,
    unknown       BIGINT NOT NULL,
    online_min    BIGINT NOT NULL,
    online_max    BIGINT NOT NULL,
    rounds        BIGINT NOT NULL,
    round_ms_max  BIGINT NOT NULL,
    round_ms_sum  BIGINT NOT NULL,
    checked_max   BIGINT NOT NULL,
    timeout_ms    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (span_ms, bucket)
);
