//! The online check: a round over every registered device at each interval while it is enabled,
//! or on demand. Statuses and their changes go to the database and onto the change bus.

use super::devices::{self, Details, Known, RoundWrite};
use super::udp::{self, Socket4};
use super::{history, round};
use crate::cluster::registry::Share;
use crate::cluster::{Bus, Registry};
use crate::db::{Db, DbError};
use crate::metrics::{self, Metrics};
use crate::settings::Settings;
use crate::workers::Workers;
use anyhow::Context;
use app::api::{DeviceStatus, LastRound, LiveEvent, RoundReport, StatusChange, StatusCounts};
use arc_swap::ArcSwapOption;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// More status changes than this in one round travel as "re-read" instead of a list.
const MAX_LISTED_CHANGES: usize = 500;

pub struct OnlineCheck {
    db: Db,
    bus: Bus,
    settings: Arc<Settings>,
    registry: Arc<Registry>,
    net: udp::Net,
    workers: Workers,
    metrics: Arc<Metrics>,
    /// The share of the devices the last scheduled round checked: when the live servers
    /// change, the devices are read again (statuses found meanwhile by others included).
    share: Mutex<Option<Share>>,
    /// The devices as last read, with what the last round concluded. Held for the whole round:
    /// one round at a time.
    devices: Mutex<Option<Vec<Known>>>,
    /// A device was registered or removed since the list was read.
    stale: AtomicBool,
    /// The last scheduled round, as `GET /api/v1/server` shows it.
    last: ArcSwapOption<LastRound>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the online check is turned off in the Server Network Settings")]
    Disabled,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl OnlineCheck {
    pub fn new(
        db: Db,
        bus: Bus,
        settings: Arc<Settings>,
        registry: Arc<Registry>,
        net: udp::Net,
        workers: Workers,
        metrics: Arc<Metrics>,
    ) -> OnlineCheck {
        OnlineCheck {
            db,
            bus,
            settings,
            registry,
            net,
            workers,
            metrics,
            share: Mutex::new(None),
            devices: Mutex::new(None),
            stale: AtomicBool::new(true),
            last: ArcSwapOption::empty(),
        }
    }

    /// Another server's round found these status changes (`None`: too many to list): the
    /// statuses kept here follow, so this server's next round compares with what is stored.
    /// While a round runs here, the next one reads the devices again instead.
    pub fn found_elsewhere(&self, changes: Option<&[StatusChange]>) {
        let (Some(changes), Ok(mut cache)) = (changes, self.devices.try_lock()) else {
            self.devices_changed();
            return;
        };
        let Some(devices) = cache.as_mut() else {
            return; // read at the next round anyway
        };
        for change in changes {
            // kept in id order
            if let Ok(i) = devices.binary_search_by_key(&change.id, |d| d.id) {
                devices[i].status = change.status;
            }
        }
    }

    /// Registered devices changed: the next round reads them again.
    pub fn devices_changed(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Runs the rounds every `interval`.
    pub fn start(self: &Arc<Self>, workers: &Workers, interval: Duration) {
        workers.every("online-check", interval, {
            let check = self.clone();
            move || {
                let check = check.clone();
                async move { check.step().await }
            }
        });
    }

    /// One scheduled step: a round over this server's share of the devices while the check is
    /// on; while it is off, no datagram and no status (a stale "online" would mislead).
    pub async fn step(&self) -> anyhow::Result<()> {
        if self.settings.snapshot().view.online_check.enabled {
            let share = self.registry.share();
            {
                let mut last = self.share.lock().await;
                if last.as_ref() != Some(&share) {
                    if last.is_some() {
                        tracing::info!(
                            servers = share.servers(),
                            "the live servers changed: the online check's share changes"
                        );
                    }
                    // statuses of devices new to this share were found by another server
                    self.devices_changed();
                    *last = Some(share.clone());
                }
            }
            match self.round(Scope::Share(&share)).await {
                Ok(report) => {
                    let timeout_ms = u64::from(
                        self.settings
                            .snapshot()
                            .view
                            .online_check
                            .response_timeout_ms,
                    );
                    self.record_history(&report, timeout_ms).await;
                    self.last.store(Some(Arc::new(LastRound {
                        report,
                        at: crate::db::rfc3339(round::unix_millis()),
                        servers: share.servers() as u64,
                        timeout_ms,
                    })));
                    Ok(())
                }
                Err(RunError::Disabled) => Ok(()),
                Err(RunError::Failed(e)) => Err(e),
            }
        } else {
            self.forget().await
        }
    }

    /// Adds a scheduled round to the fleet's history. The round stands if this fails: a gap
    /// in a chart is no reason to check again.
    async fn record_history(&self, report: &RoundReport, timeout_ms: u64) {
        let counts = {
            let cache = self.devices.lock().await;
            fleet_counts(&self.db, &self.bus, cache.as_deref().unwrap_or_default()).await
        };
        let sample = counts.map(|counts| history::Sample {
            counts,
            round_ms: report.duration_ms.round() as u64,
            timeout_ms,
            checked: report.checked,
        });
        let recorded = match sample {
            Ok(sample) => history::record(&self.db, round::unix_millis(), &sample).await,
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "the round was not added to the device history");
        }
    }

    /// The last scheduled round (none while the check is off).
    pub fn last_round(&self) -> Option<LastRound> {
        self.last.load_full().map(|last| (*last).clone())
    }

    async fn forget(&self) -> anyhow::Result<()> {
        self.last.store(None);
        let mut devices = self.devices.lock().await;
        let now = round::unix_millis();
        let changed = devices::forget_statuses(&self.db, now).await?;
        if let Some(devices) = devices.as_mut() {
            for device in devices {
                device.status = DeviceStatus::Unknown;
            }
        }
        if changed > 0 {
            tracing::info!(devices = changed, "online check off: statuses now unknown");
            let counts = devices::counts(&self.db).await?;
            self.bus.publish(LiveEvent::DeviceStatus {
                changes: Vec::new(),
                complete: false,
                counts,
            });
        }
        Ok(())
    }

    /// Runs a round now over every device (or the given ones) and records what it found.
    pub async fn run(&self, only: Option<&[i64]>) -> Result<RoundReport, RunError> {
        match only {
            Some(ids) => self.round(Scope::Only(ids)).await,
            None => self.round(Scope::All).await,
        }
    }

    async fn round(&self, scope: Scope<'_>) -> Result<RoundReport, RunError> {
        let settings = self.settings.snapshot().view.online_check.clone();
        if !settings.enabled {
            return Err(RunError::Disabled);
        }
        let mut cache = self.devices.lock().await;
        if cache.is_none() || self.stale.swap(false, Ordering::AcqRel) {
            match devices::all(&self.db).await {
                Ok(devices) => *cache = Some(devices),
                Err(e) => {
                    // read again next time, not the old list for ever
                    self.stale.store(true, Ordering::Release);
                    return Err(anyhow::Error::new(e).context("reading the devices").into());
                }
            }
        }
        let all = cache.as_mut().expect("just read");
        let only: Option<HashSet<i64>> = match scope {
            Scope::Only(ids) => Some(ids.iter().copied().collect()),
            _ => None,
        };
        let (chosen, targets): (Vec<usize>, Vec<Ipv4Addr>) = all
            .iter()
            .enumerate()
            .filter(|(_, d)| match scope {
                Scope::All => true,
                Scope::Only(_) => only.as_ref().is_some_and(|ids| ids.contains(&d.id)),
                Scope::Share(share) => share.owns(d.id),
            })
            .filter_map(|(i, d)| match d.ip {
                IpAddr::V4(ip) => Some((i, ip)),
                IpAddr::V6(_) => None,
            })
            .unzip();
        let timeout = Duration::from_millis(u64::from(settings.response_timeout_ms));
        let port = settings.reply_port.unwrap_or(0) as u16;
        let (net, stop) = (self.net, self.workers.shutdown().clone());
        let outcome = self
            .workers
            .spawn_blocking(move || {
                let socket = Socket4::open(net.bind, port, false)?;
                round::run(&socket, net.device_port, &targets, timeout, &stop)
            })
            .await
            .context("the round's thread failed")?
            .context("online-check round")?;
        if self.workers.shutdown().is_cancelled() {
            // cut short: what it found is incomplete
            return Err(RunError::Failed(anyhow::anyhow!("the server is stopping")));
        }

        // What changed, applied to the list only once it is stored.
        let now = round::unix_millis();
        let mut write = RoundWrite::default();
        let mut updated: Vec<(usize, Known)> = Vec::new();
        let mut changes = Vec::new();
        let mut online = 0;
        for (&i, answer) in chosen.iter().zip(&outcome.answers) {
            let mut device = all[i].clone();
            let status = match answer {
                Some(answer) => {
                    online += 1;
                    write.seen.push((device.id, answer.at));
                    device.last_seen = Some(answer.at);
                    let details = device.details.merged(&Details::from(&answer.info));
                    if device.details != details {
                        write.details.push((device.id, details.clone()));
                        device.details = details;
                    }
                    DeviceStatus::Online
                }
                None => DeviceStatus::Offline,
            };
            if device.status != status {
                device.status = status;
                write.transitions.push((device.id, status));
                changes.push(StatusChange {
                    id: device.id,
                    status,
                    last_seen: device.last_seen.map(crate::db::rfc3339),
                    status_since: crate::db::rfc3339(now),
                });
            }
            if device != all[i] {
                updated.push((i, device));
            }
        }
        // the datagrams went out and came back whether or not the round is stored
        self.record(&outcome, online, timeout);
        // the other servers' pages hear of the changes through the database
        let message = (self.bus.shared() && !changes.is_empty()).then(|| {
            (changes.len() <= MAX_LISTED_CHANGES)
                .then(|| serde_json::to_string(&changes).expect("changes serialize"))
        });
        if let Err(e) = devices::write_round(&self.db, &self.bus, &write, now, message).await {
            return Err(anyhow::Error::new(e).context("recording the round").into());
        }
        for (i, device) in updated {
            all[i] = device;
        }
        let checked = outcome.answers.len() as u64;
        tracing::debug!(
            checked,
            online,
            ignored = outcome.ignored,
            late = outcome.late,
            unsent = outcome.unsent,
            ms = outcome.duration.as_millis() as u64,
            "online-check round"
        );
        if !changes.is_empty() {
            let complete = changes.len() <= MAX_LISTED_CHANGES;
            if !complete {
                changes.clear();
            }
            let counts = fleet_counts(&self.db, &self.bus, all)
                .await
                .context("counting")?;
            self.bus.publish(LiveEvent::DeviceStatus {
                changes,
                complete,
                counts,
            });
        }
        Ok(RoundReport {
            checked,
            online,
            offline: checked - online,
            duration_ms: outcome.duration.as_secs_f64() * 1000.0,
            ignored: outcome.ignored,
        })
    }
}

impl OnlineCheck {
    /// A round's figures, for `/metrics`.
    fn record(&self, outcome: &round::Outcome, online: u64, timeout: Duration) {
        let m = &self.metrics;
        let checked = outcome.answers.len() as u64;
        m.round(
            checked,
            online,
            outcome.duration.as_secs_f64(),
            timeout.as_secs_f64(),
            outcome.sending.as_secs_f64(),
        );
        m.datagrams(
            metrics::ONLINE_CHECK,
            checked - outcome.unsent,
            outcome.unsent,
        );
        let unexpected = outcome.ignored - outcome.strangers - outcome.malformed;
        m.datagrams_received
            .get_or_create(&metrics::ONLINE_CHECK)
            .inc_by(online + outcome.ignored + outcome.late);
        for (reason, count) in [
            ("stranger", outcome.strangers),
            ("malformed", outcome.malformed),
            ("unexpected", unexpected),
            ("late", outcome.late),
        ] {
            m.ignored(metrics::ONLINE_CHECK, reason, count);
        }
    }
}

/// Which devices a round checks.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every registered device (a job's round, or a round asked for through the API).
    All,
    Only(&'a [i64]),
    /// This server's share among the live servers (the scheduled rounds).
    Share(&'a Share),
}

/// Every device's status: sharing the devices, this server knows only its share's for sure, and
/// the database has them all.
async fn fleet_counts(db: &Db, bus: &Bus, devices: &[Known]) -> Result<StatusCounts, DbError> {
    if bus.shared() {
        devices::counts(db).await
    } else {
        Ok(counts_of(devices))
    }
}

fn counts_of(devices: &[Known]) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for device in devices {
        match device.status {
            DeviceStatus::Online => counts.online += 1,
            DeviceStatus::Offline => counts.offline += 1,
            DeviceStatus::Unknown => counts.unknown += 1,
        }
    }
    counts
}
