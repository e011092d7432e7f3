//! The change bus. Every committed change publishes an [`Event`] to this server's subscribers
//! (the event stream of the pages, the areas' own followers). On PostgreSQL the writing
//! transaction also sends a notification, which every server sharing the database receives: each
//! re-reads what changed and publishes its own event. After a lost connection a server re-reads
//! everything, since notifications sent while it was away are gone.

use crate::db::{Backend, Tx};
use crate::workers::Workers;
use app::api::LiveEvent;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::broadcast;

/// The PostgreSQL notification channel of Pharos.
const CHANNEL: &str = "pharos_changes";

/// What a notification from the database says changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Settings,
    Servers,
    /// Devices registered or removed (their statuses travel with the online check's events).
    Devices,
    Jobs,
    /// Accounts, groups, rights, sessions or tokens changed: cached sign-ins are read again.
    Accounts,
    /// Web certificates or their assignments changed: servers pick up what they present.
    Certificates,
    /// Enrollment keys or device certificates changed (a revocation among them).
    Enrollment,
}

impl Topic {
    fn as_str(self) -> &'static str {
        match self {
            Topic::Settings => "settings",
            Topic::Servers => "servers",
            Topic::Devices => "devices",
            Topic::Jobs => "jobs",
            Topic::Accounts => "accounts",
            Topic::Certificates => "certificates",
            Topic::Enrollment => "enrollment",
        }
    }

    /// `settings:42` or `servers`.
    fn parse(payload: &str) -> Option<(Topic, Option<i64>)> {
        let (topic, version) = match payload.split_once(':') {
            Some((topic, version)) => (topic, Some(version.parse().ok()?)),
            None => (payload, None),
        };
        let topic = match topic {
            "settings" => Topic::Settings,
            "servers" => Topic::Servers,
            "devices" => Topic::Devices,
            "jobs" => Topic::Jobs,
            "accounts" => Topic::Accounts,
            "certificates" => Topic::Certificates,
            "enrollment" => Topic::Enrollment,
            _ => return None,
        };
        Some((topic, version))
    }
}

/// A signal from the database to this server's followers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// A server (this one too) committed a change of this kind, making this the area's version
    /// (its revision, where the area counts them), so a follower that has it already need not
    /// read again.
    Changed(Topic, Option<i64>),
    /// Listening (again): anything may have changed while nobody listened.
    Reconnected,
}

#[derive(Clone, Debug)]
pub struct Bus {
    events: broadcast::Sender<LiveEvent>,
    remote: broadcast::Sender<Remote>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    pub fn new() -> Bus {
        Bus {
            events: broadcast::channel(256).0,
            remote: broadcast::channel(64).0,
        }
    }

    /// Tells this server's subscribers about a committed change.
    pub fn publish(&self, event: LiveEvent) {
        tracing::debug!(?event, "event");
        // no subscriber is not an error
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// Signals from the database, for the areas that keep a copy of shared state.
    pub fn follow(&self) -> broadcast::Receiver<Remote> {
        self.remote.subscribe()
    }

    /// Listens for the notifications of every server sharing the PostgreSQL database until the
    /// server stops, reconnecting after a lost connection.
    pub fn listen(&self, workers: &Workers, pool: PgPool) {
        let remote = self.remote.clone();
        workers.spawn("bus-listener", async move {
            let mut connected_before = false;
            loop {
                match listen_once(&pool, &remote, &mut connected_before).await {
                    Ok(()) => tracing::warn!("lost the database notification connection"),
                    Err(e) => tracing::warn!(error = %e, "database notifications failed"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

/// One connection's worth of notifications; returns when the connection is lost.
async fn listen_once(
    pool: &PgPool,
    remote: &broadcast::Sender<Remote>,
    connected_before: &mut bool,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Whatever was committed before this connection listened (at start: between reading the
    // state and now) came with no notification here: followers re-read.
    if *connected_before {
        tracing::info!("database notifications are back; re-reading shared state");
    }
    let _ = remote.send(Remote::Reconnected);
    *connected_before = true;
    // `try_recv` answers `None` when the connection is lost. sqlx would reconnect on the next
    // call, silently; a new listener instead lets this loop say "re-read everything".
    while let Some(notification) = listener.try_recv().await? {
        match Topic::parse(notification.payload()) {
            Some((topic, version)) => {
                let _ = remote.send(Remote::Changed(topic, version));
            }
            None => tracing::debug!(payload = notification.payload(), "unknown notification"),
        }
    }
    Ok(())
}

/// Makes the transaction notify every server sharing the database when it commits (PostgreSQL
/// delivers notifications only on commit). On SQLite there is only this server: the writer
/// publishes its event itself.
pub async fn notify(tx: &mut Tx, topic: Topic, version: Option<i64>) -> Result<(), sqlx::Error> {
    if let Backend::Postgres(tx) = tx {
        let payload = match version {
            Some(version) => format!("{}:{version}", topic.as_str()),
            None => topic.as_str().to_owned(),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(
            Topic::parse("settings:42"),
            Some((Topic::Settings, Some(42)))
        );
        assert_eq!(Topic::parse("servers"), Some((Topic::Servers, None)));
        assert_eq!(Topic::parse("settings:x"), None);
        assert_eq!(Topic::parse("jobs"), Some((Topic::Jobs, None)));
        assert_eq!(Topic::parse("robots"), None);
    }
}
