//! Discovery: the devices Pharos manages, the online check that knows which of them answer, the
//! scans that find new ones, and the scheduled jobs that send them commands. The wire protocol
//! is in the `pharos-protocol` crate (and `docs/protocol.md`).

pub mod api;
mod commands;
pub mod devices;
pub mod history;
pub mod jobs;
mod online;
mod page;
mod round;
mod scan;
pub mod udp;

pub use online::{OnlineCheck, RunError};
pub use page::Pages;
pub use scan::{ScanRun, Scans};

use crate::cluster::{Bus, Registry, Remote, Topic};
use crate::config::Config;
use crate::db::Db;
use crate::settings::Settings;
use crate::workers::Workers;
use anyhow::Context;
use app::api::{ExecutionStatus, JobCommand, LiveEvent, ScanState};
use app::model::{ScanTarget, parse_ranges};
use jobs::Due;
use pharos_protocol::{DeviceInfo, Mac};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How many due executions one scheduler tick takes on.
const DUE_PER_TICK: i64 = 50;

pub struct Discovery {
    db: Db,
    bus: Bus,
    settings: Arc<Settings>,
    net: udp::Net,
    pub online: Arc<OnlineCheck>,
    pub scans: Scans,
    server_id: String,
    /// How long a claimed execution stays this server's without a renewal: the heartbeat
    /// timeout.
    lease_millis: i64,
    /// The executions this server is carrying out now: only their leases are renewed.
    executing: std::sync::Mutex<std::collections::HashSet<i64>>,
    workers: Workers,
    metrics: Arc<crate::metrics::Metrics>,
}

/// A device's operating system as shown: generation and version.
pub fn os_label(info: &DeviceInfo) -> String {
    if info.os_version.is_empty() {
        format!("OS {}", info.os_generation)
    } else {
        format!("OS {} ({})", info.os_generation, info.os_version)
    }
}

/// What a device reported about itself; an empty string is "not reported", never a value.
impl From<&DeviceInfo> for devices::Details {
    fn from(info: &DeviceInfo) -> Self {
        let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        devices::Details {
            mac: Some(info.mac.to_string()),
            hostname: given(&info.hostname),
            os: Some(os_label(info)),
            serial: given(&info.serial),
        }
    }
}

impl Discovery {
    /// Starts the online check and the scheduler.
    pub async fn start(
        db: Db,
        bus: Bus,
        settings: Arc<Settings>,
        config: &Config,
        registry: Arc<Registry>,
        workers: &Workers,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Arc<Discovery>> {
        let server_id = registry.identity().id.clone();
        let net = udp::Net {
            bind: config.udp_bind,
            device_port: config.device_port,
            wake_on_lan: SocketAddr::from((config.wake_on_lan_address, config.wake_on_lan_port)),
            scan_rate: config.scan_send_rate,
        };
        let scans = Scans::new(
            db.clone(),
            bus.clone(),
            settings.clone(),
            net,
            workers.clone(),
            registry.identity(),
            metrics.clone(),
        );
        let online = Arc::new(OnlineCheck::new(
            db.clone(),
            bus.clone(),
            settings.clone(),
            registry,
            net,
            workers.clone(),
            metrics.clone(),
        ));
        let stopped_scans = scan::abandon(&db, &bus, &server_id)
            .await
            .context("closing the scans of the last run")?;
        if stopped_scans > 0 {
            tracing::warn!(scans = stopped_scans, "scans were cut off by the last stop");
        }
        let abandoned = jobs::abandon(&db, &server_id)
            .await
            .context("closing the job executions of the last run")?;
        if abandoned > 0 {
            tracing::warn!(
                executions = abandoned,
                "job executions were cut off by the last stop"
            );
        }
        let discovery = Arc::new(Discovery {
            scans,
            db,
            bus,
            settings,
            net,
            online: online.clone(),
            server_id,
            lease_millis: i64::try_from(config.heartbeat_timeout().as_millis()).unwrap_or(i64::MAX),
            executing: std::sync::Mutex::new(std::collections::HashSet::new()),
            workers: workers.clone(),
            metrics,
        });
        online.start(
            workers,
            Duration::from_secs(config.online_check_interval_secs.max(1)),
        );
        discovery.follow(workers);
        workers.every("job-leases", config.heartbeat_interval(), {
            let discovery = discovery.clone();
            move || {
                let discovery = discovery.clone();
                async move { discovery.renew_leases().await }
            }
        });
        workers.every(
            "scheduler",
            Duration::from_millis(config.scheduler_tick_millis.max(50)),
            {
                let discovery = discovery.clone();
                move || {
                    let discovery = discovery.clone();
                    async move { discovery.schedule().await }
                }
            },
        );
        Ok(discovery)
    }

    /// Devices and jobs changed by other servers sharing the database: the online check reads
    /// the devices again, and the pages here re-read.
    fn follow(self: &Arc<Self>, workers: &Workers) {
        let discovery = self.clone();
        let mut remote = self.bus.follow();
        workers.spawn("discovery-follower", async move {
            loop {
                match remote.recv().await {
                    Ok(Remote::Changed(Topic::Devices, _) | Remote::Reconnected)
                    | Err(RecvError::Lagged(_)) => discovery.devices_changed(),
                    Ok(Remote::Changed(Topic::Jobs, _)) => discovery.jobs_changed(),
                    Ok(Remote::Statuses(changes)) => discovery.statuses_found(changes).await,
                    Ok(_) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Registered devices changed on this server.
    pub fn devices_changed(&self) {
        self.online.devices_changed();
        self.bus.publish(LiveEvent::DevicesChanged);
    }

    /// Another server's online check changed statuses: the pages here hear of them.
    async fn statuses_found(&self, changes: Option<Arc<str>>) {
        let listed: Option<Vec<app::api::StatusChange>> =
            changes.and_then(|c| serde_json::from_str(&c).ok());
        self.online.found_elsewhere(listed.as_deref());
        match devices::counts(&self.db).await {
            Ok(counts) => self.bus.publish(LiveEvent::DeviceStatus {
                complete: listed.is_some(),
                changes: listed.unwrap_or_default(),
                counts,
            }),
            Err(e) => tracing::warn!(error = %e, "counting the devices failed"),
        }
    }

    pub fn jobs_changed(&self) {
        self.bus.publish(LiveEvent::JobsChanged);
    }

    /// A scan of this server with its results, each marked when its MAC is registered.
    pub async fn scan_view(&self, run: &ScanRun) -> anyhow::Result<app::api::Scan> {
        let macs: Vec<String> = run.found().iter().map(|f| f.info.mac.to_string()).collect();
        let registered = devices::registered_macs(&self.db, &macs).await?;
        Ok(run.view(true, &registered))
    }

    /// A scan of any server as last stored, with its results, each marked when its MAC is
    /// registered.
    pub async fn stored_scan(&self, id: &str) -> anyhow::Result<Option<app::api::Scan>> {
        let Some((scan, found)) = scan::get(&self.db, id).await? else {
            return Ok(None);
        };
        let macs: Vec<String> = found.iter().map(|f| f.mac.clone()).collect();
        let registered = devices::registered_macs(&self.db, &macs).await?;
        Ok(Some(scan::with_results(scan, found, &registered)))
    }

    /// One scheduler tick: executions and scans whose server died are failed, and every due
    /// execution this server claims is expired or started.
    pub async fn schedule(self: &Arc<Self>) -> anyhow::Result<()> {
        let orphans =
            scan::fail_orphans(&self.db, &self.bus, &self.server_id, self.lease_millis).await?;
        if orphans > 0 {
            tracing::warn!(
                scans = orphans,
                "scans of a server that stopped answering were failed"
            );
        }
        // this server's own executions first: after the database was away longer than the
        // lease, what still runs here is not taken for dead
        self.renew_leases().await?;
        let now = self.db.now_millis().await?;
        let lapsed = jobs::fail_lapsed(&self.db, &self.bus, now, self.lease_millis).await?;
        if lapsed > 0 {
            tracing::warn!(
                executions = lapsed,
                "job executions of a server that stopped answering were failed"
            );
            self.jobs_changed();
        }
        let rules = self.settings.snapshot().view.scheduled_jobs.clone();
        let expiry = jobs::Expiry {
            minutes: (!rules.never_expire).then_some(rules.expiration_minutes),
        };
        let claimed = jobs::claim_due(
            &self.db,
            &self.bus,
            now,
            DUE_PER_TICK,
            &self.server_id,
            now + self.lease_millis,
            expiry,
        )
        .await?;
        if claimed.is_empty() {
            return Ok(());
        }
        self.jobs_changed();
        for claimed in claimed {
            let due = match claimed {
                jobs::Claimed::Expired(due, result) => {
                    tracing::info!(job = due.job, name = due.name, "{result}");
                    self.metrics.execution_ended("expired");
                    continue;
                }
                jobs::Claimed::Run(due) => due,
            };
            let discovery = self.clone();
            self.executing_now().insert(due.execution);
            self.workers.spawn("job", async move {
                let (status, result) = discovery.execute(&due).await;
                tracing::info!(job = due.job, name = due.name, ?status, "{result}");
                discovery.record_end(&due, status, &result).await;
                discovery.metrics.execution_ended(match status {
                    ExecutionStatus::Done => "done",
                    _ => "failed",
                });
                // no longer renewed: if its end could not be recorded, the lease runs out and
                // the execution is failed, by this server or another
                discovery.executing_now().remove(&due.execution);
                discovery.jobs_changed();
            });
        }
        Ok(())
    }

    /// How many job executions run on this server now.
    pub fn executing_here(&self) -> usize {
        self.executing_now().len()
    }

    fn executing_now(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.executing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records how an execution ended, trying again for as long as its lease would last (the
    /// database may be restarting).
    async fn record_end(&self, due: &Due, status: ExecutionStatus, result: &str) {
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(u64::try_from(self.lease_millis).unwrap_or(u64::MAX));
        let mut wait = Duration::from_millis(100);
        loop {
            let finished = jobs::finish(
                &self.db,
                &self.bus,
                due.execution,
                &self.server_id,
                status,
                result,
            )
            .await;
            match finished {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        job = due.job,
                        "the execution's lease ran out while it ran; another server failed it"
                    );
                    return;
                }
                Err(e) if tokio::time::Instant::now() + wait < deadline => {
                    tracing::warn!(error = %e, "could not record a job's result; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    tracing::error!(error = %e, job = due.job, "could not record a job's result");
                    return;
                }
            }
        }
    }

    /// Extends the leases of the executions running here (at each heartbeat, and before the
    /// scheduler looks for lapsed ones).
    pub async fn renew_leases(&self) -> anyhow::Result<()> {
        let running: Vec<i64> = self.executing_now().iter().copied().collect();
        if running.is_empty() {
            return Ok(());
        }
        let now = self.db.now_millis().await?;
        jobs::renew_leases(&self.db, &running, now + self.lease_millis).await?;
        Ok(())
    }

    /// Carries out one execution: its status and what happened, in words.
    async fn execute(&self, due: &Due) -> (ExecutionStatus, String) {
        match self.run_command(due).await {
            Ok(result) => result,
            Err(e) => (ExecutionStatus::Failed, format!("{e:#}")),
        }
    }

    async fn run_command(&self, due: &Due) -> anyhow::Result<(ExecutionStatus, String)> {
        use ExecutionStatus::{Done, Failed};
        let ids: Vec<i64> = due.targets.iter().filter_map(|t| t.as_i64()).collect();
        match due.command {
            JobCommand::OnlineCheck => {
                let only = (!ids.is_empty()).then_some(ids.as_slice());
                match self.online.run(only).await {
                    Ok(report) => Ok((
                        Done,
                        format!(
                            "checked {} devices: {} online, {} offline ({:.0} ms)",
                            report.checked, report.online, report.offline, report.duration_ms
                        ),
                    )),
                    Err(RunError::Disabled) => Ok((Failed, RunError::Disabled.to_string())),
                    Err(RunError::Failed(e)) => Err(e),
                }
            }
            JobCommand::Scan => {
                let texts: Vec<String> = due
                    .targets
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
                let ranges = parse_ranges(&texts).map_err(|errors| {
                    anyhow::anyhow!(
                        "{}",
                        errors
                            .into_iter()
                            .map(|e| e.message)
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                })?;
                let run = self.scans.start(ScanTarget::Ranges(ranges), texts).await?;
                run.finished().await;
                let view = self.scan_view(&run).await?;
                let new = view.results.iter().filter(|r| !r.registered).count();
                let status = if view.state == ScanState::Done {
                    Done
                } else {
                    Failed
                };
                Ok((
                    status,
                    format!(
                        "scan {}: {} addresses, {} devices answered ({new} not registered){}",
                        view.id,
                        view.sent,
                        view.found,
                        view.error.map(|e| format!("; {e}")).unwrap_or_default()
                    ),
                ))
            }
            JobCommand::WakeOnLan => {
                let devices = devices::some(&self.db, &ids).await?;
                let missing = ids.len() - devices.len();
                let macs: Vec<Mac> = devices
                    .iter()
                    .filter_map(|d| d.details.mac.as_deref()?.parse().ok())
                    .collect();
                let unknown = devices.len() - macs.len();
                if !macs.is_empty() {
                    let net = self.net;
                    let send = macs.clone();
                    self.workers
                        .spawn_blocking(move || commands::wake(&net, &send))
                        .await??;
                    self.metrics
                        .datagrams(crate::metrics::COMMAND, macs.len() as u64, 0);
                }
                let mut result = format!(
                    "magic packets sent for {} devices to {}",
                    macs.len(),
                    self.net.wake_on_lan
                );
                if unknown > 0 {
                    result += &format!("; {unknown} without a known MAC address");
                }
                if missing > 0 {
                    result += &format!("; {missing} no longer registered");
                }
                Ok((if macs.is_empty() { Failed } else { Done }, result))
            }
            JobCommand::Reboot => {
                let devices = devices::some(&self.db, &ids).await?;
                let missing = ids.len() - devices.len();
                let targets: Vec<_> = devices
                    .iter()
                    .filter_map(|d| match d.ip {
                        IpAddr::V4(ip) => Some(ip),
                        IpAddr::V6(_) => None,
                    })
                    .collect();
                let timeout = Duration::from_millis(u64::from(
                    self.settings
                        .snapshot()
                        .view
                        .online_check
                        .response_timeout_ms,
                ));
                let (net, stop, asked) =
                    (self.net, self.workers.shutdown().clone(), targets.clone());
                let (outcomes, ignored) = self
                    .workers
                    .spawn_blocking(move || commands::reboot(&net, &asked, timeout, &stop))
                    .await??;
                let m = &self.metrics;
                let answered = outcomes.iter().flatten().count() as u64;
                m.datagrams(crate::metrics::COMMAND, targets.len() as u64, 0);
                m.datagrams_received
                    .get_or_create(&crate::metrics::COMMAND)
                    .inc_by(answered + ignored);
                m.ignored(crate::metrics::COMMAND, "unexpected", ignored);
                if ignored > 0 {
                    tracing::info!(
                        ignored,
                        "datagrams ignored while waiting for reboot acknowledgements"
                    );
                }
                let accepted = outcomes
                    .iter()
                    .filter(|o| matches!(o, Some(pharos_protocol::Outcome::Accepted)))
                    .count();
                let silent: Vec<String> = targets
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| o.is_none())
                    .map(|(ip, _)| ip.to_string())
                    .collect();
                let mut result = format!("{accepted} of {} devices acknowledged", ids.len());
                if !silent.is_empty() {
                    result += &format!("; no answer from {}", silent.join(", "));
                }
                let refused = outcomes.iter().flatten().count() - accepted;
                if refused > 0 {
                    result += &format!("; {refused} refused (busy or unsupported)");
                }
                if missing > 0 {
                    result += &format!("; {missing} no longer registered");
                }
                let status = if accepted == ids.len() { Done } else { Failed };
                Ok((status, result))
            }
        }
    }
}
