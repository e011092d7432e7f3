//! The dashboard: `GET /api/v1/dashboard?range=24h|7d`. Each section is there only for an
//! administrator who may read its area.

use super::{AuditEntry, LastRound, ServerEntry, StatusCounts};
use serde::{Deserialize, Serialize};

pub const DASHBOARD_URL: &str = "/api/v1/dashboard";

/// How far back the device history goes, and how finely.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum HistoryRange {
    /// The last 24 hours in five-minute buckets.
    #[default]
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days in one-hour buckets.
    #[serde(rename = "7d")]
    Week,
}

const MINUTE_MS: i64 = 60_000;

impl HistoryRange {
    pub const ALL: [HistoryRange; 2] = [HistoryRange::Day, HistoryRange::Week];

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Day => "24h",
            HistoryRange::Week => "7d",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryRange> {
        HistoryRange::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// As the page names it.
    pub fn label(self) -> &'static str {
        match self {
            HistoryRange::Day => "24 hours",
            HistoryRange::Week => "7 days",
        }
    }

    /// How far back it goes, in milliseconds.
    pub fn span_ms(self) -> i64 {
        match self {
            HistoryRange::Day => 24 * 60 * MINUTE_MS,
            HistoryRange::Week => 7 * 24 * 60 * MINUTE_MS,
        }
    }

    /// The width of one bucket, in milliseconds.
    pub fn bucket_ms(self) -> i64 {
        match self {
            HistoryRange::Day => 5 * MINUTE_MS,
            HistoryRange::Week => 60 * MINUTE_MS,
        }
    }
}

/// The query of `GET /api/v1/dashboard`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct DashboardQuery {
    pub range: Option<HistoryRange>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// When it was read (RFC 3339): the right end of the history.
    pub at: String,
    pub range: HistoryRange,
    /// Needs the Devices area's Read right, as do the scans.
    pub devices: Option<DeviceOverview>,
    /// Today's scans (since midnight UTC) by state.
    pub scans_today: Option<Vec<StateCount>>,
    /// Today's job runs (due since midnight UTC) by status; needs the Jobs area.
    pub jobs_today: Option<Vec<StateCount>>,
    /// The servers and their heartbeats; needs the Server Network Settings area.
    pub servers: Option<Vec<ServerEntry>>,
    /// Certificates expired or expiring within [`EXPIRY_WARNING_DAYS`]; needs the Certificates
    /// area.
    pub certificates: Option<Vec<ExpiringCertificate>>,
    /// The newest audit entries; needs the Audit area.
    pub audit: Option<Vec<AuditEntry>>,
}

/// Certificates with fewer days left than this are listed.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// How many audit entries the dashboard shows.
pub const DASHBOARD_AUDIT_ENTRIES: i64 = 10;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceOverview {
    /// The statuses now.
    pub counts: StatusCounts,
    /// The range's buckets, oldest first (none where no round ran).
    pub history: Vec<HistoryPoint>,
    /// This server's last scheduled round.
    pub last_round: Option<LastRound>,
}

/// One bucket of the device history.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryPoint {
    /// The bucket's start (RFC 3339).
    pub at: String,
    /// As the last round of the bucket left them.
    pub counts: StatusCounts,
    pub online_min: u64,
    pub online_max: u64,
    /// Rounds recorded in the bucket (by every server).
    pub rounds: u64,
    pub round_ms_max: u64,
    pub round_ms_mean: u64,
    /// The response timeout of the bucket's last round.
    pub timeout_ms: u64,
}

/// How many of something are in one state (`done`, `failed`, …).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StateCount {
    pub state: String,
    pub count: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExpiringCertificate {
    /// `web` or `device_ca` (the role names of the metrics).
    pub kind: String,
    pub subject: String,
    pub fingerprint_sha256: String,
    /// RFC 3339.
    pub not_after: String,
    /// Negative once expired.
    pub days_left: i64,
}
