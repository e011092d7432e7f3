//! The Server Network Settings: one document, served from memory, replaced whole, audited, and
//! followed across servers sharing a database.

pub mod api;
pub mod store;

use crate::audit::Actor;
use crate::cluster::{Bus, Remote, Topic};
use crate::db::{Db, DbError};
use crate::workers::Workers;
use app::api::LiveEvent;
use app::model::{Installation, NetworkSettings, ValidationContext, changes};
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use store::{Distributed, Replaced, StoredSettings};
use tokio::sync::broadcast::error::RecvError;

/// The settings as stored and as served, serialised once per change.
#[derive(Debug)]
pub struct Snapshot {
    pub stored: StoredSettings,
    /// What clients see: the stored document shaped for this installation.
    pub view: NetworkSettings,
    /// The entity tag of this version (without quotes).
    pub tag: String,
    pub json: Bytes,
}

impl Snapshot {
    fn new(stored: StoredSettings, installation: Installation, database_id: &str) -> Snapshot {
        let view = stored.settings.clone().for_installation(installation);
        let json = Bytes::from(serde_json::to_vec(&view).expect("settings serialize"));
        Snapshot {
            tag: tag(database_id, stored.revision),
            stored,
            view,
            json,
        }
    }

    /// The tag as an `ETag` header shows it.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.tag)
    }
}

/// A version's tag: the database's id and the revision, so a re-created database (whose
/// revisions start again at 1) never repeats a tag a client may still hold.
pub fn tag(database_id: &str, revision: i64) -> String {
    format!("{database_id}.{revision}")
}

pub struct Settings {
    db: Db,
    bus: Bus,
    pub ctx: ValidationContext,
    /// Distributed mode as read at start; a change takes effect at the next start.
    pub distributed_running: bool,
    current: ArcSwap<Snapshot>,
}

impl Settings {
    /// Reads the stored settings, storing the defaults on a new database.
    pub async fn load(db: Db, bus: Bus, ctx: ValidationContext) -> Result<Settings, DbError> {
        // Stored documents always keep the distributed section, so switching an installation
        // between kinds loses nothing.
        let stored = store::init(&db, &NetworkSettings::defaults(Installation::Standalone)).await?;
        let distributed_running =
            ctx.installation == Installation::Standalone && stored.settings.distributed_enabled();
        let snapshot = Snapshot::new(stored, ctx.installation, &db.id);
        Ok(Settings {
            db,
            bus,
            ctx,
            distributed_running,
            current: ArcSwap::from_pointee(snapshot),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn tag(&self, revision: i64) -> String {
        tag(&self.db.id, revision)
    }

    /// The revision stored now, which may be newer than this server's copy.
    /// Who saved the stored settings last, and when.
    pub async fn updated_by(&self) -> Result<app::api::ChangedBy, DbError> {
        store::updated(&self.db).await
    }

    pub async fn stored_revision(&self) -> Result<i64, DbError> {
        store::revision(&self.db).await
    }

    /// Installs newer stored settings and tells subscribers what changed; an older revision (a
    /// slower concurrent writer or reload) never replaces a newer one.
    fn install(&self, stored: StoredSettings) -> Arc<Snapshot> {
        let revision = stored.revision;
        let new = Arc::new(Snapshot::new(stored, self.ctx.installation, &self.db.id));
        let previous = self.current.rcu(|current| {
            if revision > current.stored.revision {
                new.clone()
            } else {
                current.clone()
            }
        });
        if previous.stored.revision < revision {
            let fields = changes(&previous.view, &new.view)
                .into_iter()
                .map(|c| c.field)
                .collect();
            self.bus.publish(LiveEvent::SettingsChanged {
                etag: new.etag(),
                fields,
                by: new.stored.updated_by.clone(),
            });
        }
        self.snapshot()
    }

    /// Stores a document from a client. The distributed section, which an HA installation
    /// cannot see, is kept as stored.
    pub async fn replace(
        &self,
        expected: Option<i64>,
        new: NetworkSettings,
        actor: &Actor,
    ) -> Result<(Arc<Snapshot>, Replaced), DbError> {
        self.store(expected, new, Distributed::AsSent, actor, "update")
            .await
    }

    /// Stores a restored backup over whatever is stored; `keep_distributed` when the backup
    /// comes from the other kind of installation.
    pub async fn restore(
        &self,
        new: NetworkSettings,
        keep_distributed: bool,
        actor: &Actor,
    ) -> Result<(Arc<Snapshot>, Replaced), DbError> {
        let distributed = if keep_distributed {
            Distributed::Keep
        } else {
            Distributed::AsSent
        };
        self.store(None, new, distributed, actor, "import").await
    }

    async fn store(
        &self,
        expected: Option<i64>,
        new: NetworkSettings,
        mut distributed: Distributed,
        actor: &Actor,
        action: &str,
    ) -> Result<(Arc<Snapshot>, Replaced), DbError> {
        if self.ctx.installation == Installation::Ha {
            distributed = Distributed::Keep;
        }
        let replaced = store::replace(
            &self.db,
            &self.bus,
            expected,
            new,
            distributed,
            actor,
            action,
        )
        .await?;
        let snapshot = self.install(replaced.stored.clone());
        Ok((snapshot, replaced))
    }

    /// Picks up settings saved by another server sharing the database.
    pub async fn reload(&self) -> Result<(), DbError> {
        if store::revision(&self.db).await? > self.snapshot().stored.revision {
            self.install(store::load(&self.db).await?);
        }
        Ok(())
    }

    /// Follows committed changes: at once when the database notifies, after a reconnection,
    /// and every `poll` as a safety net (`None`: not distributed, so the settings other servers
    /// save are not this server's to pick up).
    pub fn follow(self: &Arc<Self>, workers: &Workers, poll: Option<Duration>) {
        let this = self.clone();
        let mut signals = self.bus.follow();
        workers.spawn("settings-follower", async move {
            let mut ticker = crate::workers::poll_ticker(poll);
            loop {
                tokio::select! {
                    () = crate::workers::next_tick(&mut ticker) => {}
                    signal = signals.recv() => match signal {
                        // this server's own write, or one it has read already
                        Ok(Remote::Changed(Topic::Settings, Some(revision)))
                            if revision <= this.snapshot().stored.revision => continue,
                        Ok(Remote::Changed(Topic::Settings, _) | Remote::Reconnected)
                        | Err(RecvError::Lagged(_)) => {}
                        Ok(Remote::Changed(..) | Remote::Statuses(_)) => continue,
                        Err(RecvError::Closed) => break,
                    },
                }
                if let Err(e) = this.reload().await {
                    tracing::warn!(error = %e, "reading settings saved elsewhere failed");
                }
            }
        });
    }
}
