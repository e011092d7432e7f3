//! Data transfer objects of the REST API, shared by the server and the page.

use crate::model::{
    Area, Change, DatabaseKind, Field, FieldError, Installation, NetworkSettings, OwnAddress,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod accounts;
mod certificates;
mod dashboard;
mod discovery;
mod enrollment;
pub use accounts::*;
pub use certificates::*;
pub use dashboard::*;
pub use discovery::*;
pub use enrollment::*;

pub const SETTINGS_URL: &str = "/api/v1/settings/network";
pub const SERVER_URL: &str = "/api/v1/server";
pub const EXPORT_URL: &str = "/api/v1/settings/network/export";
pub const IMPORT_URL: &str = "/api/v1/settings/network/import";
/// `GET`, filtered by `user`, `area`, `from` and `to` (RFC 3339), paged by `before`.
pub const AUDIT_URL: &str = "/api/v1/audit";
/// The whole database as a download, for the superuser.
pub const BACKUP_URL: &str = "/api/v1/backup";
pub const EVENTS_URL: &str = "/api/v1/events";

/// Body of every refused request: field errors for 422, one field-less message otherwise.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub errors: Vec<FieldError>,
    /// On a 412: who saved the version that replaced the one the request was based on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<ChangedBy>,
}

/// Who saved a version, and when (RFC 3339).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChangedBy {
    pub user: String,
    pub at: String,
}

/// One server known in the database.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerEntry {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub started_at: String,
    pub last_heartbeat: String,
    /// Its heartbeat is recent enough to count it as running.
    pub alive: bool,
    /// The server answering this request.
    pub this_server: bool,
    /// Its clock minus the database's, in milliseconds, as measured at its last heartbeat
    /// (`None`: not measured yet).
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
}

/// How far a server's clock may be from the database's (the reference product requires the
/// servers' clocks to agree within a minute).
pub const CLOCK_TOLERANCE_MS: i64 = 60_000;

impl ServerEntry {
    /// Its clock is more than [`CLOCK_TOLERANCE_MS`] away from the database's.
    pub fn clock_off(&self) -> bool {
        self.clock_offset_ms
            .is_some_and(|offset| offset.abs() > CLOCK_TOLERANCE_MS)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DistributedStatus {
    /// The stored value, which takes effect at the next start.
    pub configured: bool,
    /// The value read at this server's start.
    pub running: bool,
    pub restart_required: bool,
}

/// `GET /api/v1/server`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    pub server: ServerEntry,
    /// The address devices reach this server at when no cluster address applies.
    pub device_address: OwnAddress,
    pub installation: Installation,
    pub database: DatabaseKind,
    pub servers: Vec<ServerEntry>,
    /// Absent on a High Availability installation.
    pub distributed: Option<DistributedStatus>,
    /// This server's last scheduled online-check round (none yet, or the check is off).
    #[serde(default)]
    pub online_check: Option<LastRound>,
}

impl ServerStatus {
    pub fn alive_servers(&self) -> usize {
        self.servers.iter().filter(|s| s.alive).count()
    }

    /// The other live servers on this database when this server does not run in distributed
    /// mode: they and this one exchange no changes.
    pub fn unsynchronised(&self) -> Vec<&ServerEntry> {
        let standalone_alone = self.distributed.as_ref().is_some_and(|d| !d.running);
        if !standalone_alone {
            return Vec::new();
        }
        self.servers
            .iter()
            .filter(|s| s.alive && !s.this_server)
            .collect()
    }
}

/// `POST /api/v1/settings/network/import`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportResult {
    pub settings: NetworkSettings,
    /// Values the format upgrade changed (empty for a current-format backup).
    pub upgraded: Vec<Change>,
    /// Sections kept as they are on this server, not taken from the backup: `distributed` when
    /// the backup comes from the other kind of installation.
    pub kept: Vec<String>,
}

/// One event of `GET /api/v1/events` (server-sent events, JSON data tagged by `type`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The settings were saved, on this server or another one sharing the database.
    SettingsChanged {
        etag: String,
        fields: Vec<Field>,
        /// The administrator who saved.
        by: String,
    },
    ServerJoined {
        server: ServerEntry,
    },
    ServerLeft {
        server: ServerEntry,
    },
    /// A device was registered or removed.
    DevicesChanged,
    /// Devices whose status changed in an online-check round, with the new counts. When too many
    /// changed to list, `changes` is empty and `complete` false: re-read the list.
    DeviceStatus {
        changes: Vec<StatusChange>,
        complete: bool,
        counts: StatusCounts,
    },
    /// A job was created, changed or deleted, or one of its executions changed.
    JobsChanged,
    /// An account or group, its rights or a lock-out changed.
    AccountsChanged,
    /// A web certificate was added, assigned, renewed or deleted (the cluster check may have
    /// changed with it).
    CertificatesChanged,
    /// An enrollment key was made or revoked, or a device certificate issued or revoked.
    EnrollmentChanged,
    /// Events may have been missed (the stream just opened, or fell behind): re-read what is shown.
    Resync,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// The client address the change came from, where known.
    pub source: Option<String>,
    pub area: Area,
    pub action: String,
    pub field: String,
    pub old_value: Value,
    pub new_value: Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The query of `GET /api/v1/audit` and `GET /api/v1/security-log`: every filter optional.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Only entries older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    pub limit: Option<i64>,
    /// Only this administrator's entries.
    pub user: Option<String>,
    /// Only this area's entries (audit log only).
    pub area: Option<Area>,
    /// RFC 3339: only entries at or after this time.
    pub from: Option<String>,
    /// RFC 3339: only entries before this time.
    pub to: Option<String>,
}

/// Everything the settings page needs, rendered on the server and handed to the browser.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PageData {
    pub settings: NetworkSettings,
    pub etag: String,
    pub status: ServerStatus,
}
