//! What the handlers share: the store, this server's identity and in-memory copies of what is read
//! on every request (settings, known servers), so reads never wait for the database.

use crate::config::Config;
use crate::db::{Actor, Replaced, ServerRow, Store, StoreError, StoredSettings, now_millis};
use app::addresses::OwnAddress;
use app::api::{DistributedStatus, PageData, ServerEntry, ServerStatus};
use app::settings::{Installation, NetworkSettings, ValidationContext};
use bytes::Bytes;
use std::sync::{Arc, RwLock};

/// The settings as stored and as served, serialised once per change.
#[derive(Debug)]
pub struct Snapshot {
    pub stored: StoredSettings,
    /// What clients see: the stored document shaped for this installation.
    pub view: NetworkSettings,
    pub etag: String,
    pub json: Bytes,
}

impl Snapshot {
    fn new(stored: StoredSettings, installation: Installation) -> Snapshot {
        let view = stored.settings.clone().for_installation(installation);
        let json = Bytes::from(serde_json::to_vec(&view).expect("settings serialize"));
        Snapshot {
            etag: etag_for(stored.revision),
            stored,
            view,
            json,
        }
    }
}

pub fn etag_for(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// Who this server is, fixed at start.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub addresses: Vec<String>,
    pub started_at: i64,
    pub device_address: OwnAddress,
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub ctx: ValidationContext,
    pub identity: Identity,
    /// Distributed mode as read at start; a change takes effect at the next start.
    pub distributed_running: bool,
    settings: RwLock<Arc<Snapshot>>,
    servers: RwLock<Arc<Vec<ServerRow>>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        ctx: ValidationContext,
        identity: Identity,
        stored: StoredSettings,
        servers: Vec<ServerRow>,
    ) -> AppState {
        let distributed_running =
            ctx.installation == Installation::Standalone && stored.settings.distributed_enabled();
        AppState {
            store,
            ctx,
            identity,
            distributed_running,
            settings: RwLock::new(Arc::new(Snapshot::new(stored, config.installation))),
            servers: RwLock::new(Arc::new(servers)),
            config,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.settings.read().expect("settings lock").clone()
    }

    /// Installs newer stored settings; an older revision (a slower concurrent writer or poll)
    /// never replaces a newer one.
    pub fn install(&self, stored: StoredSettings) -> Arc<Snapshot> {
        let mut slot = self.settings.write().expect("settings lock");
        if stored.revision > slot.stored.revision {
            *slot = Arc::new(Snapshot::new(stored, self.config.installation));
        }
        slot.clone()
    }

    /// Stores a document from a client, keeping values the client cannot see (the distributed
    /// section on an HA installation).
    pub async fn replace_settings(
        &self,
        expected: Option<i64>,
        mut new: NetworkSettings,
        actor: &Actor,
        action: &str,
    ) -> Result<(Arc<Snapshot>, Replaced), StoreError> {
        if self.ctx.installation == Installation::Ha {
            new.distributed = self.snapshot().stored.settings.distributed.clone();
        }
        let replaced = self
            .store
            .replace_settings(expected, &new, actor, action)
            .await?;
        let snapshot = self.install(replaced.stored.clone());
        Ok((snapshot, replaced))
    }

    /// Picks up settings saved by another server sharing the database.
    pub async fn poll_settings(&self) -> Result<(), StoreError> {
        let revision = self.store.settings_revision().await?;
        if revision != self.snapshot().stored.revision {
            let stored = self.store.load_settings().await?;
            self.install(stored);
        }
        Ok(())
    }

    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        self.store
            .heartbeat(&self.identity.id, now_millis())
            .await?;
        let servers = self.store.servers().await?;
        *self.servers.write().expect("servers lock") = Arc::new(servers);
        Ok(())
    }

    pub fn status(&self) -> ServerStatus {
        let now = now_millis();
        let timeout =
            i64::try_from(self.config.heartbeat_timeout().as_millis()).unwrap_or(i64::MAX);
        let entry = |row: &ServerRow| ServerEntry {
            id: row.id.clone(),
            name: row.name.clone(),
            addresses: row.addresses.clone(),
            started_at: rfc3339(row.started_at),
            last_heartbeat: rfc3339(row.last_heartbeat),
            alive: now - row.last_heartbeat <= timeout,
            this_server: row.id == self.identity.id,
        };
        let servers: Vec<ServerEntry> = self
            .servers
            .read()
            .expect("servers lock")
            .iter()
            .map(entry)
            .collect();
        let this = servers
            .iter()
            .find(|s| s.this_server)
            .cloned()
            .unwrap_or_else(|| {
                entry(&ServerRow {
                    id: self.identity.id.clone(),
                    name: self.identity.name.clone(),
                    addresses: self.identity.addresses.clone(),
                    started_at: self.identity.started_at,
                    last_heartbeat: now,
                })
            });
        let configured = self.snapshot().stored.settings.distributed_enabled();
        ServerStatus {
            server: this,
            device_address: self.identity.device_address.clone(),
            installation: self.ctx.installation,
            database: self.ctx.database,
            servers,
            distributed: (self.ctx.installation == Installation::Standalone).then_some(
                DistributedStatus {
                    configured,
                    running: self.distributed_running,
                    restart_required: configured != self.distributed_running,
                },
            ),
        }
    }

    pub fn page_data(&self) -> PageData {
        let snapshot = self.snapshot();
        PageData {
            settings: snapshot.view.clone(),
            etag: snapshot.etag.clone(),
            status: self.status(),
        }
    }
}

/// Unix milliseconds as an RFC 3339 UTC time.
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}
