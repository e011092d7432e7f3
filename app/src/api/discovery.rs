//! The discovery area's REST API: devices, the online check, scans and scheduled jobs.

use super::DeviceCertificateState;
use serde::{Deserialize, Serialize};

pub const DEVICES_URL: &str = "/api/v1/devices";
pub const ONLINE_CHECK_RUN_URL: &str = "/api/v1/online-check/run";
pub const SCANS_URL: &str = "/api/v1/scans";
pub const JOBS_URL: &str = "/api/v1/jobs";

/// What the online check last concluded about a device.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    Online,
    Offline,
    /// Not checked since it was registered, or the online check is off.
    Unknown,
}

impl DeviceStatus {
    pub const ALL: [DeviceStatus; 3] = [
        DeviceStatus::Online,
        DeviceStatus::Offline,
        DeviceStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "online",
            DeviceStatus::Offline => "offline",
            DeviceStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        DeviceStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One registered device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: i64,
    /// Known once the device has answered (or when it was registered from a scan).
    pub mac: Option<String>,
    pub ip: String,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub serial: Option<String>,
    pub status: DeviceStatus,
    /// RFC 3339: the last time it answered a status query or a scan.
    pub last_seen: Option<String>,
    /// RFC 3339: when `status` last changed.
    pub status_since: Option<String>,
    /// The newest certificate the device CA issued to it over EST, if any.
    #[serde(default)]
    pub certificate: Option<CurrentCertificate>,
}

/// A device's newest certificate, as the device list shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CurrentCertificate {
    /// Hex, lower case.
    pub serial: String,
    /// RFC 3339.
    pub not_after: String,
    pub state: DeviceCertificateState,
}

/// How many devices have each status.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusCounts {
    pub online: u64,
    pub offline: u64,
    pub unknown: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.online + self.offline + self.unknown
    }
}

/// `GET /api/v1/devices?status=online&offset=0&limit=100`, or `?id=7` for one device.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DevicePage {
    pub devices: Vec<Device>,
    /// Devices matching the filter, over all pages.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// Over all devices, whatever the filter.
    pub counts: StatusCounts,
}

/// The query of `GET /api/v1/devices`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    #[serde(default)]
    pub status: Option<DeviceStatus>,
    /// Only this device (a link to it finds it whatever page of the list it is on).
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub offset: Option<u64>,
    /// Default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`].
    #[serde(default)]
    pub limit: Option<u64>,
}

pub const DEFAULT_PAGE_SIZE: u64 = 100;
pub const MAX_PAGE_SIZE: u64 = 1000;

/// `POST /api/v1/devices`: register a device by its address.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub ip: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mac: Option<String>,
}

/// `POST /api/v1/online-check/run`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoundReport {
    pub checked: u64,
    pub online: u64,
    pub offline: u64,
    /// From the first query sent to the last verdict.
    pub duration_ms: f64,
    /// Datagrams that were ignored: unknown nonce, unexpected sender, or not a status reply.
    pub ignored: u64,
}

/// The last scheduled online-check round of a server (in `GET /api/v1/server`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LastRound {
    #[serde(flatten)]
    pub report: RoundReport,
    /// When it ended (RFC 3339).
    pub at: String,
    /// How many live servers shared the devices (1: this server checked them all).
    pub servers: u64,
    /// The response timeout it ran with.
    pub timeout_ms: u64,
}

/// `POST /api/v1/scans`: `{"broadcast": true}` or `{"ranges": [...]}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewScan {
    #[serde(default)]
    pub broadcast: bool,
    #[serde(default)]
    pub ranges: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ScanState {
    Running,
    Done,
    Cancelled,
    Failed,
}

/// A device that answered a scan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScanResult {
    pub ip: String,
    pub mac: String,
    pub hostname: String,
    pub os: String,
    pub serial: String,
    /// A device with this MAC is already registered.
    pub registered: bool,
}

/// `GET /api/v1/scans/{id}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Scan {
    pub id: String,
    /// The server it runs (or ran) on: only that one sends and listens for it.
    #[serde(default)]
    pub server_id: String,
    #[serde(default)]
    pub server_name: String,
    pub state: ScanState,
    pub broadcast: bool,
    pub ranges: Vec<String>,
    /// Datagrams sent so far, of `total`.
    pub sent: u64,
    pub total: u64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Estimated milliseconds until the scan ends, while it runs.
    pub remaining_ms: Option<u64>,
    pub results: Vec<ScanResult>,
    /// How long sending took, once every datagram is out (sent / this = the send rate).
    pub sending_ms: Option<f64>,
    /// Devices found so far (the length of `results`, which lists leave empty).
    pub found: u64,
    /// Datagrams ignored: not a first reply to this scan from an address it asked.
    pub ignored: u64,
    /// Why it failed, or what went wrong while it ran (addresses it could not send to).
    pub error: Option<String>,
}

/// `GET /api/v1/scans`: the newest scans of every server sharing the database, newest first,
/// without their results.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScanList {
    pub scans: Vec<Scan>,
}

/// `POST /api/v1/scans` answers 202 with this.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScanStarted {
    pub id: String,
}

/// `POST /api/v1/scans/{id}/register`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterFound {
    pub macs: Vec<String>,
}

/// What registering found devices did.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Registered {
    pub registered: Vec<Device>,
    /// MACs that were already registered (left as they are).
    pub already: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobCommand {
    OnlineCheck,
    Scan,
    WakeOnLan,
    Reboot,
}

impl JobCommand {
    pub const ALL: [JobCommand; 4] = [
        JobCommand::OnlineCheck,
        JobCommand::Scan,
        JobCommand::WakeOnLan,
        JobCommand::Reboot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobCommand::OnlineCheck => "online_check",
            JobCommand::Scan => "scan",
            JobCommand::WakeOnLan => "wake_on_lan",
            JobCommand::Reboot => "reboot",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            JobCommand::OnlineCheck => "Online check now",
            JobCommand::Scan => "Scan ranges",
            JobCommand::WakeOnLan => "Wake-on-LAN",
            JobCommand::Reboot => "Reboot",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        JobCommand::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// Scans target address ranges; the other commands target registered devices.
    pub fn targets_ranges(self) -> bool {
        self == JobCommand::Scan
    }
}

/// `POST /api/v1/jobs`. `targets` holds device ids, or range strings for a scan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewJob {
    pub name: String,
    pub command: JobCommand,
    #[serde(default)]
    pub targets: Vec<serde_json::Value>,
    /// RFC 3339.
    pub due_at: String,
    #[serde(default)]
    pub repeat_minutes: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    Pending,
    Running,
    Done,
    Failed,
    Expired,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Pending => "pending",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Done => "done",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ExecutionStatus::Pending,
            ExecutionStatus::Running,
            ExecutionStatus::Done,
            ExecutionStatus::Failed,
            ExecutionStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Execution {
    pub id: i64,
    pub status: ExecutionStatus,
    pub due_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// What happened, in words (for example "12 of 12 devices acknowledged").
    pub result: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub command: JobCommand,
    pub targets: Vec<serde_json::Value>,
    pub due_at: String,
    pub repeat_minutes: Option<u32>,
    pub enabled: bool,
    pub created_at: String,
    /// Newest first; the list (`GET /api/v1/jobs`) carries the last few only.
    pub executions: Vec<Execution>,
}

/// `GET /api/v1/jobs`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobList {
    pub jobs: Vec<Job>,
}

/// `POST /api/v1/jobs/{id}/enabled` body.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobEnabled {
    pub enabled: bool,
}

/// Status transitions of one online-check round, as one live event.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub id: i64,
    pub status: DeviceStatus,
    pub last_seen: Option<String>,
    /// RFC 3339, the server's time of the change (as `Device::status_since`).
    pub status_since: String,
}
