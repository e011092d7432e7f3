//! The change bus. Every committed change publishes an [`Event`](LiveEvent) to this server's
//! subscribers (the event stream of the pages, the areas' own followers), and the areas that
//! keep a copy of shared state follow [`Remote`] signals.
//!
//! How a change reaches the followers depends on how the server runs:
//! - **SQLite**: one server; the writer publishes its event itself.
//! - **PostgreSQL, not distributed**: servers sharing the database exchange nothing (as the
//!   reference product has it). A change notifies this server's own channel, so its followers
//!   hear of it once it is committed.
//! - **PostgreSQL, distributed** (or a High Availability installation): the change writes a
//!   message row in its own transaction and a notification wakes every server, which reads the
//!   new messages in order ([`messages`](super::messages)). A server that was away reads what it
//!   missed when it comes back.

use super::messages;
use crate::db::{Backend, Tx};
use crate::workers::Workers;
use app::api::LiveEvent;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// The notification channel of servers in distributed mode.
pub(super) const SHARED_CHANNEL: &str = "pharos_changes";

/// What a message says changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Settings,
    Servers,
    /// Devices registered or removed.
    Devices,
    /// Statuses found by another server's online check (the message carries the changes).
    DeviceStatus,
    Jobs,
    /// Scans started, progressing or finished on some server.
    Scans,
    /// Accounts, groups, rights, sessions or tokens changed: cached sign-ins are read again.
    Accounts,
    /// Web certificates or their assignments changed: servers pick up what they present.
    Certificates,
    /// Enrollment keys or device certificates changed (a revocation among them).
    Enrollment,
}

impl Topic {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Topic::Settings => "settings",
            Topic::Servers => "servers",
            Topic::Devices => "devices",
            Topic::DeviceStatus => "device_status",
            Topic::Jobs => "jobs",
            Topic::Scans => "scans",
            Topic::Accounts => "accounts",
            Topic::Certificates => "certificates",
            Topic::Enrollment => "enrollment",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Topic> {
        Some(match name {
            "settings" => Topic::Settings,
            "servers" => Topic::Servers,
            "devices" => Topic::Devices,
            "device_status" => Topic::DeviceStatus,
            "jobs" => Topic::Jobs,
            "scans" => Topic::Scans,
            "accounts" => Topic::Accounts,
            "certificates" => Topic::Certificates,
            "enrollment" => Topic::Enrollment,
            _ => return None,
        })
    }

    /// `settings:42` or `servers` (the payload of a notification on a server's own channel).
    fn parse(payload: &str) -> Option<(Topic, Option<i64>)> {
        let (topic, version) = match payload.split_once(':') {
            Some((topic, version)) => (topic, Some(version.parse().ok()?)),
            None => (payload, None),
        };
        Some((Topic::from_name(topic)?, version))
    }
}

/// A signal from the database to this server's followers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// A server (this one too) committed a change of this kind, making this the area's version
    /// (its revision, where the area counts them), so a follower that has it already need not
    /// read again.
    Changed(Topic, Option<i64>),
    /// Another server's online check found these status changes (JSON, as its event had them;
    /// `None`: too many to list).
    Statuses(Option<Arc<str>>),
    /// Anything may have changed while nobody listened (at start, or after messages this server
    /// had not read were pruned): followers re-read.
    Reconnected,
}

/// How this server exchanges changes, fixed when it joins.
#[derive(Clone, Debug)]
struct Link {
    server: String,
    shared: bool,
    /// The command line: no server listens to its own channel.
    tool: bool,
}

#[derive(Clone, Debug)]
pub struct Bus {
    events: broadcast::Sender<LiveEvent>,
    remote: broadcast::Sender<Remote>,
    link: Arc<OnceLock<Link>>,
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
            remote: broadcast::channel(256).0,
            link: Arc::new(OnceLock::new()),
        }
    }

    /// Fixes who this server is and whether it shares its changes with the other servers on
    /// the database (distributed mode, or a High Availability installation). Before this, a
    /// change notifies nobody.
    pub fn join(&self, server: &str, shared: bool) {
        let _ = self.link.set(Link {
            server: server.to_owned(),
            shared,
            tool: false,
        });
    }

    /// Joins as the command line: its changes reach every running server, distributed or not
    /// (a message, and a notification on each server's own channel).
    pub fn join_tool(&self, name: &str) {
        let _ = self.link.set(Link {
            server: name.to_owned(),
            shared: false,
            tool: true,
        });
    }

    /// Whether changes travel between the servers sharing the database.
    pub fn shared(&self) -> bool {
        self.link.get().is_some_and(|l| l.shared)
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

    pub(super) fn signal(&self, remote: Remote) {
        let _ = self.remote.send(remote);
    }

    /// Makes the transaction tell the followers when it commits: in distributed mode every
    /// server's, else this server's own (PostgreSQL delivers notifications only on commit). On
    /// SQLite there is only this server: the writer publishes its event itself.
    pub async fn notify(
        &self,
        tx: &mut Tx,
        topic: Topic,
        version: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        self.notify_with(tx, topic, version, None).await
    }

    /// [`Bus::notify`] with a payload for the other servers (distributed mode only).
    pub async fn notify_with(
        &self,
        tx: &mut Tx,
        topic: Topic,
        version: Option<i64>,
        payload: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let (Backend::Postgres(tx), Some(link)) = (tx, self.link.get()) else {
            return Ok(());
        };
        if link.tool {
            // whatever mode the running servers are in: distributed ones read the messages,
            // the others listen on their own channels
            messages::send(tx, &link.server, topic, version, payload).await?;
        } else if link.shared {
            return messages::send(tx, &link.server, topic, version, payload).await;
        }
        let payload = match version {
            Some(version) => format!("{}:{version}", topic.as_str()),
            None => topic.as_str().to_owned(),
        };
        if link.tool {
            // each server's channel, named as `own_channel` names it
            sqlx::query(
                "SELECT pg_notify('pharos_own_' || left(regexp_replace(id, '[^A-Za-z0-9]', '', 'g'), 40), $1) \
                 FROM servers WHERE stopped_at IS NULL",
            )
            .bind(payload)
            .execute(&mut **tx)
            .await?;
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(own_channel(&link.server))
            .bind(payload)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Listens for changes until the server stops, reconnecting after a lost connection: in
    /// distributed mode the messages of every server, else this server's own notifications.
    /// `lag`: how long messages of other servers took to arrive, in seconds (distributed mode).
    pub fn listen(
        &self,
        workers: &Workers,
        pool: PgPool,
        heartbeat_timeout: Duration,
        lag: prometheus_client::metrics::histogram::Histogram,
    ) {
        let Some(link) = self.link.get().cloned() else {
            tracing::warn!("the bus was not joined: no changes are followed");
            return;
        };
        let bus = self.clone();
        if link.shared {
            messages::listen(bus, workers, pool, link.server, heartbeat_timeout, lag);
            return;
        }
        workers.spawn("bus-listener", async move {
            loop {
                match listen_own(&pool, &bus, &link.server).await {
                    Ok(()) => tracing::warn!("lost the database notification connection"),
                    Err(e) => tracing::warn!(error = %e, "database notifications failed"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
}

/// The channel of one server's own notifications (not distributed).
fn own_channel(server: &str) -> String {
    // a channel name is at most 63 bytes; ids are UUIDs, but the file holding one can be edited
    let id: String = server
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    format!("pharos_own_{id}")
}

/// One connection's worth of this server's own notifications; returns when it is lost.
async fn listen_own(pool: &PgPool, bus: &Bus, server: &str) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(&own_channel(server)).await?;
    // Whatever was committed before this connection listened (at start: between reading the
    // state and now) came with no notification here: followers re-read.
    bus.signal(Remote::Reconnected);
    // `try_recv` answers `None` when the connection is lost. sqlx would reconnect on the next
    // call, silently; a new listener instead lets the loop say "re-read everything".
    while let Some(notification) = listener.try_recv().await? {
        match Topic::parse(notification.payload()) {
            Some((topic, version)) => bus.signal(Remote::Changed(topic, version)),
            None => tracing::debug!(payload = notification.payload(), "unknown notification"),
        }
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

    #[test]
    fn every_topic_reads_back() {
        for topic in [
            Topic::Settings,
            Topic::Servers,
            Topic::Devices,
            Topic::DeviceStatus,
            Topic::Jobs,
            Topic::Scans,
            Topic::Accounts,
            Topic::Certificates,
            Topic::Enrollment,
        ] {
            assert_eq!(Topic::from_name(topic.as_str()), Some(topic));
        }
    }
}
