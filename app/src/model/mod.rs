//! The typed models the page shares with the server, and their rules.

mod accounts;
mod addresses;
mod backup;
pub mod certificates;
mod discovery;
mod document;
mod enrollment;
mod fields;
mod rules;
#[cfg(test)]
mod testing;
mod types;

pub use accounts::{
    Access, Area, Effect, GROUP_NAME_MAX_LEN, Grant, PASSWORD_MIN_LEN, Rights, SUPERUSER,
    TOKEN_MAX_DAYS, USERNAME_FORBIDDEN, USERNAME_MAX_LEN, check_password, username_key,
    validate_group_name, validate_new_user, validate_token_name, validate_username,
};
pub use addresses::{
    AddressSource, Endpoint, OwnAddress, RequestKind, device_endpoint, est_path, host_port,
};
pub use backup::{
    BACKUP_FORMAT_VERSION, Backup, Restore, parse_backup, upgrade_online_check_timeout,
};
pub use certificates::KeyAlgorithm;
pub use discovery::{
    AddressRange, CheckedDevice, CheckedJob, JOB_NAME_MAX_LEN, JobTargets, MAX_SCAN_ADDRESSES,
    REPEAT_MAX_MINUTES, ScanTarget, normalize_mac, parse_ranges, validate_device, validate_job,
    validate_scan,
};
pub use document::{Change, apply_changes, changes, parse_document};
pub use enrollment::{
    ENROLLMENT_KEY_MAX_MINUTES, ENROLLMENT_KEY_MAX_USES, ENROLLMENT_NOTE_MAX_LEN,
    validate_enrollment_key,
};
pub use fields::{Field, FieldKind};
pub use rules::{
    FieldError, check_broadcast_ip, check_distributed, check_host, check_job_expiration,
    check_number, check_online_check_timeout, check_path_prefix, check_port, check_reply_port,
    check_scan_timeout, sort_in_page_order, validate,
};
pub use types::{
    ClusterAddress, DEFAULT_BROADCAST_IP, DatabaseKind, Distributed, EST_PATH, EnrollmentAddress,
    HOST_MAX_LEN, Installation, JOB_EXPIRATION, LABEL_MAX_LEN, NetworkSettings, NumberRule,
    ONLINE_CHECK_TIMEOUT, OnlineCheck, PATH_PREFIX_MAX_LEN, PORT, SCAN_TIMEOUT, Scan,
    ScheduledJobs, ValidationContext,
};
