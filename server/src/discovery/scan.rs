//! Network scans: a scan request to the configured broadcast address, or to every address of the
//! ranges the admin gave, at the configured rate; replies are collected on the scan reply port
//! until the scan timeout has passed after the last datagram. Scans live in this server's memory
//! (the last [`KEPT`]); what they find becomes lasting only when the admin registers it.

use super::os_label;
use super::udp::{self, Socket4};
use crate::settings::Settings;
use crate::workers::Workers;
use app::api::{Scan, ScanList, ScanResult, ScanState};
use app::model::{AddressRange, MAX_SCAN_ADDRESSES, ScanTarget};
use pharos_protocol::{Body, DeviceInfo, Mac, Message, scan_request};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Scans kept for `GET /api/v1/scans`.
const KEPT: usize = 20;

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
    finished: CancellationToken,
    progress: Mutex<Progress>,
}

impl ScanRun {
    /// Waits until the scan has ended (done, cancelled or failed).
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
            state: progress.state,
            broadcast: self.broadcast,
            ranges: self.ranges.clone(),
            sent,
            total: self.total,
            started_at: crate::db::rfc3339(self.started_at),
            finished_at: progress.finished_at.map(crate::db::rfc3339),
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
                    .map(|f| {
                        let mac = f.info.mac.to_string();
                        ScanResult {
                            ip: f.ip.to_string(),
                            registered: registered.contains(&mac),
                            mac,
                            hostname: f.info.hostname.clone(),
                            os: os_label(&f.info),
                            serial: f.info.serial.clone(),
                        }
                    })
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
        self.finished.cancel();
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
        let state = if receive_error.is_some() || (unsent.is_some() && self.sent() == 0) {
            ScanState::Failed
        } else if self.cancel.is_cancelled() {
            ScanState::Cancelled
        } else {
            ScanState::Done
        };
        let problems: Vec<String> = unsent
            .map(|(count, first)| {
                format!("{count} datagrams could not be sent (the first: {first})")
            })
            .into_iter()
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
                }
                Err(e) => match &mut failed {
                    Some((count, _)) => *count += 1,
                    None => failed = Some((1, format!("{ip}: {e}"))),
                },
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
            let info = match Message::decode(&buf[..len]) {
                Ok(Message {
                    nonce: got,
                    body: Body::ScanReply(info),
                    ..
                }) if got == nonce && self.expects(ip) => Some(info),
                _ => None,
            };
            let mut progress = self.progress.lock().expect("scan lock");
            let fresh = info.filter(|info| {
                !progress.by_mac.contains_key(&info.mac)
                    && !progress.by_ip.contains(&ip)
                    && (progress.found.len() as u64) < MAX_SCAN_ADDRESSES
            });
            let Some(info) = fresh else {
                progress.ignored += 1;
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

/// The scans of this server.
pub struct Scans {
    settings: Arc<Settings>,
    net: udp::Net,
    workers: Workers,
    runs: Mutex<VecDeque<Arc<ScanRun>>>,
}

impl Scans {
    pub fn new(settings: Arc<Settings>, net: udp::Net, workers: Workers) -> Scans {
        Scans {
            settings,
            net,
            workers,
            runs: Mutex::new(VecDeque::new()),
        }
    }

    /// Opens the reply port and starts the scan; a port that cannot be opened is refused here.
    pub fn start(&self, target: ScanTarget, texts: Vec<String>) -> std::io::Result<Arc<ScanRun>> {
        let settings = self.settings.snapshot().view.scan.clone();
        let broadcast_ip: Ipv4Addr = settings.broadcast_ip.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the stored broadcast address is not IPv4",
            )
        })?;
        let socket = Socket4::open(
            self.net.bind,
            settings.reply_port.unwrap_or(0) as u16,
            target == ScanTarget::Broadcast,
        )?;
        let total = match &target {
            ScanTarget::Broadcast => 1,
            ScanTarget::Ranges(ranges) => ranges.iter().map(AddressRange::len).sum(),
        };
        let run = Arc::new(ScanRun {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            broadcast: target == ScanTarget::Broadcast,
            ranges: texts,
            target,
            total,
            sent: AtomicU64::new(0),
            started_at: super::round::unix_millis(),
            started: Instant::now(),
            timeout: Duration::from_millis(u64::from(settings.timeout_ms)),
            rate: self.net.scan_rate,
            cancel: self.workers.shutdown().child_token(),
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
        });
        {
            let mut runs = self.runs.lock().expect("scans lock");
            runs.push_front(run.clone());
            while runs.len() > KEPT {
                // the oldest ended scan goes; running ones stay
                match runs.iter().rposition(|r| r.state() != ScanState::Running) {
                    Some(i) => drop(runs.remove(i)),
                    None => break,
                }
            }
        }
        let device_port = self.net.device_port;
        let task = run.clone();
        // (stopping the server waits for it: it ends within a poll of the cancel)
        drop(
            self.workers
                .spawn_blocking(move || task.run(&socket, device_port, broadcast_ip)),
        );
        Ok(run)
    }

    pub fn get(&self, id: &str) -> Option<Arc<ScanRun>> {
        let runs = self.runs.lock().expect("scans lock");
        runs.iter().find(|r| r.id == id).cloned()
    }

    pub fn list(&self) -> ScanList {
        let runs: Vec<_> = self
            .runs
            .lock()
            .expect("scans lock")
            .iter()
            .cloned()
            .collect();
        let none = HashSet::new();
        ScanList {
            scans: runs.iter().map(|r| r.view(false, &none)).collect(),
        }
    }
}
