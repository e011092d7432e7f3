//! Network scans: a scan request to the configured broadcast address, or to every address of the
//! ranges the admin gave, at the configured rate; replies are collected on the scan reply port
//! until the scan timeout has passed after the last datagram. What they find becomes lasting
//! only when the admin registers it.
//!
//! A scan runs on the server it was started on, and every server sharing the database sees it:
//! the running server writes the scan's row in `scans` when it starts, its progress at most
//! every [`PROGRESS_EVERY`] while it runs (only when something changed), and its final state and
//! results when it ends, each write telling the other servers ([`Topic::Scans`]). The API reads
//! the rows. Another server cancels by setting `cancel_requested`, which the running server reads
//! at its progress writes. A row left running by a server that is gone is failed: by the server
//! itself when it starts again ([`abandon`]), and by the scheduler of any live server once the
//! server's heartbeat is older than the timeout ([`fail_orphans`]). The newest [`KEPT`] rows stay.

use super::os_label;
use super::udp::{self, Socket4};
use crate::cluster::{Bus, Topic};
use crate::db::{Db, DbError, rfc3339};
use crate::metrics::{self, Metrics};
use crate::on_backend;
use crate::settings::Settings;
use crate::workers::Workers;
use app::api::{Scan, ScanList, ScanResult, ScanState};
use app::model::{AddressRange, MAX_SCAN_ADDRESSES, ScanTarget};
use pharos_protocol::{Body, DeviceInfo, Mac, Message, scan_request};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

mod store;
use store::*;
pub use store::{abandon, fail_orphans, get, list, with_results};

/// Scans kept in the database (running ones are never deleted).
const KEPT: i64 = 100;
/// How often a running scan writes its progress, at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A device that answered.
#[derive(Clone, Debug)]
pub struct Found {
    pub ip: Ipv4Addr,
    pub info: DeviceInfo,
}

struct Progress {
    state: ScanState,
    finished_at: Option<i64>,
    error: Option<String>,
    /// When the first and the last datagram went out.
    sending_started: Option<Instant>,
    sending_done: Option<Instant>,
    found: Vec<Found>,
    by_mac: HashMap<Mac, usize>,
    by_ip: HashSet<Ipv4Addr>,
    /// Datagrams that were not a first reply to this scan from an address it asked.
    ignored: u64,
}

pub struct ScanRun {
    pub id: String,
    server_id: String,
    server_name: String,
    broadcast: bool,
    ranges: Vec<String>,
    target: ScanTarget,
    total: u64,
    sent: AtomicU64,
    started_at: i64,
    started: Instant,
    timeout: Duration,
    rate: u32,
    cancel: CancellationToken,
    /// The server is stopping (the scan ends as failed, not as cancelled).
    stopping: CancellationToken,
    /// The scan has ended in memory.
    ended: CancellationToken,
    /// ... and its row says so.
    finished: CancellationToken,
    progress: Mutex<Progress>,
    metrics: Arc<Metrics>,
}

impl ScanRun {
    /// Waits until the scan has ended (done, cancelled or failed) and its row says so.
    pub async fn finished(&self) {
        self.finished.cancelled().await
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn found(&self) -> Vec<Found> {
        self.progress.lock().expect("scan lock").found.clone()
    }

    pub fn state(&self) -> ScanState {
        self.progress.lock().expect("scan lock").state
    }

    /// The scan as the API shows it; `registered` tells which MACs are registered already.
    pub fn view(&self, with_results: bool, registered: &HashSet<String>) -> Scan {
        let progress = self.progress.lock().expect("scan lock");
        let sent = self.sent.load(Ordering::Relaxed);
        let remaining_ms = (progress.state == ScanState::Running).then(|| {
            let timeout = self.timeout.as_millis() as u64;
            match progress.sending_done {
                Some(done) => timeout.saturating_sub(done.elapsed().as_millis() as u64),
                None => {
                    let elapsed = self.started.elapsed().as_secs_f64();
                    let observed = (sent > 0 && elapsed > 0.0).then(|| sent as f64 / elapsed);
                    let rate = match (observed, self.rate) {
                        (Some(observed), 0) => observed,
                        (Some(observed), limit) => observed.min(f64::from(limit)),
                        (None, 0) => 100_000.0,
                        (None, limit) => f64::from(limit),
                    };
                    let left = self.total.saturating_sub(sent) as f64 / rate;
                    (left * 1000.0) as u64 + timeout
                }
            }
        });
        Scan {
            id: self.id.clone(),
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            state: progress.state,
            broadcast: self.broadcast,
            ranges: self.ranges.clone(),
            sent,
            total: self.total,
            started_at: rfc3339(self.started_at),
            finished_at: progress.finished_at.map(rfc3339),
            remaining_ms,
            sending_ms: progress
                .sending_started
                .zip(progress.sending_done)
                .map(|(start, done)| (done - start).as_secs_f64() * 1000.0),
            found: progress.found.len() as u64,
            ignored: progress.ignored,
            results: if with_results {
                progress
                    .found
                    .iter()
                    .map(|f| Stored::from(f).result(registered))
                    .collect()
            } else {
                Vec::new()
            },
            error: progress.error.clone(),
        }
    }

    fn end(&self, state: ScanState, error: Option<String>) {
        let mut progress = self.progress.lock().expect("scan lock");
        progress.state = state;
        progress.error = error;
        progress.finished_at = Some(super::round::unix_millis());
        drop(progress);
        self.ended.cancel();
    }

    /// The devices found so far, as stored.
    fn stored(&self) -> Vec<Stored> {
        let progress = self.progress.lock().expect("scan lock");
        progress.found.iter().map(Stored::from).collect()
    }

    /// Sends and listens on `socket` until the timeout after the last datagram (or a cancel).
    fn run(&self, socket: &Socket4, device_port: u16, broadcast_ip: Ipv4Addr) {
        let nonce: u64 = rand::random();
        let request = match socket.reply_port() {
            Ok(port) => scan_request(nonce, port),
            Err(e) => return self.end(ScanState::Failed, Some(e.to_string())),
        };
        let (unsent, receive_error) = std::thread::scope(|scope| {
            let sender = scope.spawn(|| self.send_all(socket, &request, device_port, broadcast_ip));
            let received = self.receive(socket, nonce);
            (sender.join().unwrap_or_default(), received.err())
        });
        let stopped = self.stopping.is_cancelled();
        let state = if receive_error.is_some() || (unsent.is_some() && self.sent() == 0) || stopped
        {
            ScanState::Failed
        } else if self.cancel.is_cancelled() {
            ScanState::Cancelled
        } else {
            ScanState::Done
        };
        let problems: Vec<String> = stopped
            .then(|| STOPPED.to_owned())
            .into_iter()
            .chain(unsent.map(|(count, first)| {
                format!("{count} datagrams could not be sent (the first: {first})")
            }))
            .chain(receive_error.map(|e| format!("receiving failed: {e}")))
            .collect();
        self.end(state, (!problems.is_empty()).then(|| problems.join("; ")));
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends to every address at the configured rate; an address that cannot be sent to is
    /// counted and skipped. Answers how many failed and the first reason, if any did.
    fn send_all(
        &self,
        socket: &Socket4,
        request: &[u8],
        device_port: u16,
        broadcast_ip: Ipv4Addr,
    ) -> Option<(u64, String)> {
        let start = Instant::now();
        self.progress.lock().expect("scan lock").sending_started = Some(start);
        let mut failed: Option<(u64, String)> = None;
        let mut send = |ip: Ipv4Addr, n: u64| -> bool {
            if self.rate > 0 {
                let due = Duration::from_secs_f64(n as f64 / f64::from(self.rate));
                while let Some(wait) = due.checked_sub(start.elapsed()) {
                    if self.cancel.is_cancelled() {
                        return false;
                    }
                    std::thread::sleep(wait.min(udp::POLL));
                }
            }
            if self.cancel.is_cancelled() {
                return false;
            }
            match socket.send(request, SocketAddr::from((ip, device_port))) {
                Ok(()) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    self.metrics.datagrams(metrics::SCAN, 1, 0);
                }
                Err(e) => {
                    self.metrics.datagrams(metrics::SCAN, 0, 1);
                    match &mut failed {
                        Some((count, _)) => *count += 1,
                        None => failed = Some((1, format!("{ip}: {e}"))),
                    }
                }
            }
            true
        };
        match &self.target {
            ScanTarget::Broadcast => {
                send(broadcast_ip, 0);
            }
            ScanTarget::Ranges(ranges) => {
                let mut n = 0;
                'all: for range in ranges {
                    for ip in range.addresses() {
                        if !send(ip, n) {
                            break 'all;
                        }
                        n += 1;
                    }
                }
            }
        }
        self.progress.lock().expect("scan lock").sending_done = Some(Instant::now());
        failed
    }

    /// Collects replies until the timeout after the last datagram: one per device (by address
    /// and by MAC), from an address the scan asked, with the scan's nonce; the rest is counted.
    fn receive(&self, socket: &Socket4, nonce: u64) -> std::io::Result<()> {
        let mut buf = [0u8; pharos_protocol::MAX_DATAGRAM + 1];
        loop {
            if self.cancel.is_cancelled() {
                return Ok(());
            }
            let done = self.progress.lock().expect("scan lock").sending_done;
            if done.is_some_and(|done| done.elapsed() >= self.timeout) {
                return Ok(());
            }
            let Some((len, ip)) = socket.receive(&mut buf)? else {
                continue;
            };
            let m = &self.metrics;
            m.datagrams_received.get_or_create(&metrics::SCAN).inc();
            let info = match Message::decode(&buf[..len]) {
                _ if !self.expects(ip) => {
                    m.ignored(metrics::SCAN, "stranger", 1);
                    None
                }
                Ok(Message {
                    nonce: got,
                    body: Body::ScanReply(info),
                    ..
                }) if got == nonce => Some(info),
                Ok(_) => {
                    m.ignored(metrics::SCAN, "unexpected", 1);
                    None
                }
                Err(_) => {
                    m.ignored(metrics::SCAN, "malformed", 1);
                    None
                }
            };
            let mut progress = self.progress.lock().expect("scan lock");
            let found = info.is_some();
            let fresh = info.filter(|info| {
                !progress.by_mac.contains_key(&info.mac)
                    && !progress.by_ip.contains(&ip)
                    && (progress.found.len() as u64) < MAX_SCAN_ADDRESSES
            });
            let Some(info) = fresh else {
                progress.ignored += 1;
                if found {
                    // a second answer, or past the most a scan keeps
                    m.ignored(metrics::SCAN, "unexpected", 1);
                }
                continue;
            };
            let index = progress.found.len();
            progress.by_mac.insert(info.mac, index);
            progress.by_ip.insert(ip);
            progress.found.push(Found { ip, info });
        }
    }

    /// Whether a reply from `ip` can belong to this scan: anyone may answer a broadcast; a range
    /// scan hears only the addresses it asked.
    fn expects(&self, ip: Ipv4Addr) -> bool {
        match &self.target {
            ScanTarget::Broadcast => true,
            ScanTarget::Ranges(ranges) => ranges.iter().any(|r| r.contains(ip)),
        }
    }
}

/// Why a scan ends as failed when its server stops while it runs.
const STOPPED: &str = "the server stopped while it ran";

/// A device that answered, as the scan's row keeps it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Stored {
    pub ip: Ipv4Addr,
    pub mac: String,
    pub hostname: String,
    pub os: String,
    pub serial: String,
}

impl From<&Found> for Stored {
    fn from(f: &Found) -> Self {
        Stored {
            ip: f.ip,
            mac: f.info.mac.to_string(),
            hostname: f.info.hostname.clone(),
            os: os_label(&f.info),
            serial: f.info.serial.clone(),
        }
    }
}

impl Stored {
    fn result(self, registered: &HashSet<String>) -> ScanResult {
        ScanResult {
            ip: self.ip.to_string(),
            registered: registered.contains(&self.mac),
            mac: self.mac,
            hostname: self.hostname,
            os: self.os,
            serial: self.serial,
        }
    }
}

/// Why a scan did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The reply port could not be opened (taken, say): the admin can change it.
    #[error("the scan could not start: {0}")]
    Socket(std::io::Error),
    #[error("the stored broadcast address is not IPv4")]
    Broadcast,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for StartError {
    fn from(e: sqlx::Error) -> Self {
        StartError::Db(e.into())
    }
}

/// The scans this server runs, and the rows of every server's scans.
pub struct Scans {
    db: Db,
    bus: Bus,
    settings: Arc<Settings>,
    net: udp::Net,
    workers: Workers,
    server_id: String,
    server_name: String,
    /// This server's running scans, until their final row is written.
    running: Arc<Mutex<Vec<Arc<ScanRun>>>>,
    metrics: Arc<Metrics>,
}

impl Scans {
    pub fn new(
        db: Db,
        bus: Bus,
        settings: Arc<Settings>,
        net: udp::Net,
        workers: Workers,
        server: &crate::cluster::Identity,
        metrics: Arc<Metrics>,
    ) -> Scans {
        Scans {
            db,
            bus,
            settings,
            net,
            workers,
            server_id: server.id.clone(),
            server_name: server.name.clone(),
            running: Arc::new(Mutex::new(Vec::new())),
            metrics,
        }
    }

    /// How many scans run on this server now.
    pub fn running_here(&self) -> usize {
        self.running.lock().expect("scans lock").len()
    }

    /// Opens the reply port, stores the scan's row and starts it; a port that cannot be opened
    /// is refused here.
    pub async fn start(
        &self,
        target: ScanTarget,
        texts: Vec<String>,
    ) -> Result<Arc<ScanRun>, StartError> {
        let settings = self.settings.snapshot().view.scan.clone();
        let broadcast_ip: Ipv4Addr = settings
            .broadcast_ip
            .parse()
            .map_err(|_| StartError::Broadcast)?;
        let socket = Socket4::open(
            self.net.bind,
            settings.reply_port.unwrap_or(0) as u16,
            target == ScanTarget::Broadcast,
        )
        .map_err(StartError::Socket)?;
        let total = match &target {
            ScanTarget::Broadcast => 1,
            ScanTarget::Ranges(ranges) => ranges.iter().map(AddressRange::len).sum(),
        };
        let run = Arc::new(ScanRun {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            server_id: self.server_id.clone(),
            server_name: self.server_name.clone(),
            broadcast: target == ScanTarget::Broadcast,
            ranges: texts,
            target,
            total,
            sent: AtomicU64::new(0),
            // the database's clock, which every server shows the rows by
            started_at: self.db.now_millis().await?,
            started: Instant::now(),
            timeout: Duration::from_millis(u64::from(settings.timeout_ms)),
            rate: self.net.scan_rate,
            cancel: self.workers.shutdown().child_token(),
            stopping: self.workers.shutdown().clone(),
            ended: CancellationToken::new(),
            finished: CancellationToken::new(),
            progress: Mutex::new(Progress {
                state: ScanState::Running,
                finished_at: None,
                error: None,
                sending_started: None,
                sending_done: None,
                found: Vec::new(),
                by_mac: HashMap::new(),
                by_ip: HashSet::new(),
                ignored: 0,
            }),
            metrics: self.metrics.clone(),
        });
        self.metrics.scans.inc();
        insert(&self.db, &self.bus, &run).await?;
        self.running.lock().expect("scans lock").push(run.clone());
        self.workers.spawn(
            "scan-progress",
            write_progress(self.db.clone(), self.bus.clone(), run.clone()),
        );
        let (device_port, task, db, bus, running) = (
            self.net.device_port,
            run.clone(),
            self.db.clone(),
            self.bus.clone(),
            self.running.clone(),
        );
        let runtime = tokio::runtime::Handle::current();
        // (stopping the server waits for it: it ends within a poll of the cancel, and writes the
        // final row before the database closes)
        drop(self.workers.spawn_blocking(move || {
            task.run(&socket, device_port, broadcast_ip);
            if let Err(e) = runtime.block_on(finish(&db, &bus, &task)) {
                tracing::warn!(scan = task.id, error = %e, "could not store the end of a scan");
            }
            running
                .lock()
                .expect("scans lock")
                .retain(|r| r.id != task.id);
            task.finished.cancel();
        }));
        Ok(run)
    }

    /// One of this server's scans, while it runs.
    pub fn running(&self, id: &str) -> Option<Arc<ScanRun>> {
        let running = self.running.lock().expect("scans lock");
        running.iter().find(|r| r.id == id).cloned()
    }

    /// Asks the server running the scan to stop it (at its next progress write). False when the
    /// scan does not run (any more).
    pub async fn request_cancel(&self, id: &str) -> Result<bool, DbError> {
        let mut tx = self.db.begin().await?;
        let asked = on_backend!(&mut tx, tx => {
            sqlx::query("UPDATE scans SET cancel_requested = TRUE WHERE id = $1 AND state = 'running'")
                .bind(id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
        });
        if asked == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        self.bus.notify(&mut tx, Topic::Scans, None).await?;
        tx.commit().await?;
        Ok(true)
    }
}
