//! `pharos-devsim`: many simulated thin-client devices on consecutive loopback addresses,
//! speaking the Pharos device protocol (`docs/protocol.md`) from one UDP socket. Each reply comes
//! from its device's own address, so a server under test sees thousands of distinct devices.
#![forbid(unsafe_code)]

mod enroll;
mod fleet;
mod net;
mod tally;

use anyhow::{Context, bail};
use clap::Parser;
use enroll::{Enrollment, EnrollmentKey};
use fleet::Fleet;
use net::{Batch, Received};
use nix::{
    poll::{PollFd, PollFlags, PollTimeout, poll},
    sys::{
        signal::{SigSet, Signal},
        signalfd::{SfdFlags, SignalFd},
    },
};
use pharos_protocol::{
    Body, Command, DEFAULT_DEVICE_PORT, DEFAULT_WOL_PORT, MAX_DATAGRAM, Message, Outcome,
    parse_magic_packet,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{
    collections::VecDeque,
    io::{ErrorKind, IsTerminal, Write},
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::AsFd,
    path::PathBuf,
    time::{Duration, Instant},
};
use tally::Tally;

/// Simulated Pharos devices for tests and benchmarks.
///
/// Devices get consecutive IPv4 addresses from --first-ip. One UDP socket (bound to --bind and
/// --port) answers for all of them: a datagram sent to a device's address is handled by that
/// device and answered from that address, to the request's source address at the reply port the
/// request names. A scan request sent to a broadcast address (127.255.255.255, loopback's, or
/// 255.255.255.255) is answered by every awake device. Other addresses that are no device's get
/// no answer, so a range scan beyond the devices is answered only by them.
///
/// Prints `ready devices=N first=A port=P` once it listens; on SIGINT or SIGTERM it prints its
/// counters and exits.
///
/// With --enroll-url, once ready, the first --enroll-count devices enroll for a client
/// certificate over EST, each with a new P-256 key and its host name as the common name, then
/// call `GET /device/v1/whoami` with it; the simulator prints
/// `enrolled=N whoami_ok=N failed=F` (failures are logged) and goes on answering.
///
/// With --tally, it keeps count of who asked what, for tests of several servers sharing the
/// devices: the file holds, per device address, the status queries from each source address
/// (`count`, `first_ms`, `last_ms`, Unix milliseconds), and per MAC the Wake-on-LAN magic
/// packets received; see --tally.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// How many devices to simulate.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1 << 24))]
    devices: u32,

    /// The first device's address; the others follow it (127.1.0.1, 127.1.0.2, …). The range
    /// must stay inside 127.0.0.0/8 unless --allow-non-loopback is given.
    #[arg(long, default_value = "127.1.0.1")]
    first_ip: Ipv4Addr,

    /// Let the address range leave 127.0.0.0/8 (the addresses must then be configured on this
    /// machine for replies to be sent from them).
    #[arg(long)]
    allow_non_loopback: bool,

    /// UDP port the devices listen on; 0 picks a free one (the ready line names it).
    #[arg(long, env = "PHAROS_DEVICE_PORT", default_value_t = DEFAULT_DEVICE_PORT)]
    port: u16,

    /// Address to bind the device and Wake-on-LAN sockets to.
    #[arg(long, default_value = "0.0.0.0")]
    bind: Ipv4Addr,

    /// Share of devices (0 to 1) that start asleep: they answer nothing until a Wake-on-LAN
    /// magic packet with their MAC arrives. Which ones is chosen by the seed.
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    offline_fraction: f64,

    /// Delay every reply by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,

    /// Drop each reply with this probability (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = fraction)]
    loss: f64,

    /// Seed for everything random: the same seed and addresses give the same MACs, host names,
    /// serial numbers, OS versions and the same devices asleep.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// UDP port for Wake-on-LAN magic packets (any destination, broadcast included); 0 turns
    /// Wake-on-LAN off.
    #[arg(long, default_value_t = DEFAULT_WOL_PORT)]
    wol_port: u16,

    /// After a Reboot command a device acknowledges it, then answers nothing for this many
    /// seconds.
    #[arg(long, default_value_t = 5)]
    reboot_secs: u64,

    /// Write every device (ip, mac, hostname, os_generation, os_version, serial, asleep) to this
    /// file as a JSON array before listening.
    #[arg(long)]
    manifest: Option<PathBuf>,

    /// The Pharos server to enroll at (https://host:port, followed by the enrollment path
    /// prefix if one is set); needs --enroll-ca and an enrollment key.
    #[arg(long)]
    enroll_url: Option<url::Url>,

    /// PEM file of the root certificate(s) the server's certificate must chain to (a Pharos
    /// server serves its root at /ca.pem).
    #[arg(long)]
    enroll_ca: Option<PathBuf>,

    /// The enrollment key the devices authenticate with, as ID:SECRET. Best given in the
    /// environment, where `ps` does not show it.
    #[arg(long, env = "PHAROS_ENROLLMENT_KEY", hide_env_values = true)]
    enroll_key: Option<EnrollmentKey>,

    /// How many devices enroll, from the first one on (default: all).
    #[arg(long)]
    enroll_count: Option<u32>,

    /// Where enrolled devices call /device/v1/whoami (https://host:port; default: the
    /// server of --enroll-url without its path).
    #[arg(long)]
    device_url: Option<url::Url>,

    /// Keep count in this JSON file, replaced whole (written beside it, then renamed) at most
    /// every 250 ms while something changes, and at exit: `{"written_ms", "status_queries":
    /// {DEVICE_IP: {SOURCE_IP: {"count", "first_ms", "last_ms"}}}, "magic_packets": {MAC:
    /// N}}`. Queries to asleep or rebooting devices count too (they were received).
    #[arg(long)]
    tally: Option<PathBuf>,
}

fn fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| format!("not a number: {text}"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

impl Args {
    /// The last device's address, once the range is checked.
    fn last_ip(&self) -> anyhow::Result<Ipv4Addr> {
        let last = u32::from(self.first_ip)
            .checked_add(self.devices - 1)
            .map(Ipv4Addr::from)
            .context("the address range passes 255.255.255.255")?;
        let on_loopback = self.first_ip.is_loopback() && last.is_loopback();
        if !(on_loopback || self.allow_non_loopback) {
            bail!(
                "devices {}–{last} leave 127.0.0.0/8 (--allow-non-loopback to allow it)",
                self.first_ip
            );
        }
        if last >= Ipv4Addr::new(127, 255, 255, 255) && self.first_ip.is_loopback() {
            bail!(
                "devices {}–{last} include 127.255.255.255, the broadcast address",
                self.first_ip
            );
        }
        Ok(last)
    }

    /// The enrollment to run once ready, and how many devices take part.
    fn enrollment(&self) -> anyhow::Result<Option<(Enrollment, usize)>> {
        let Some(url) = &self.enroll_url else {
            if self.enroll_count.is_some() || self.device_url.is_some() {
                bail!("--enroll-count and --device-url need --enroll-url");
            }
            return Ok(None);
        };
        let ca = self
            .enroll_ca
            .as_ref()
            .context("--enroll-url needs --enroll-ca: the server's certificate is verified")?;
        let key = self.enroll_key.clone().context(
            "--enroll-url needs an enrollment key: PHAROS_ENROLLMENT_KEY or --enroll-key",
        )?;
        let count = self.enroll_count.unwrap_or(self.devices);
        if count > self.devices {
            bail!(
                "--enroll-count {count} is more than the {} devices",
                self.devices
            );
        }
        let enrollment = Enrollment::new(url, self.device_url.as_ref(), ca, key)?;
        Ok(Some((enrollment, count as usize)))
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // the one crypto provider of the enrollment's TLS
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let last = args.last_ip()?;
    let enrollment = args.enrollment()?;

    // Blocked before anything else, so the signals only ever arrive through the signalfd.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
        .thread_block()
        .context("blocking SIGINT and SIGTERM")?;
    let signal_fd = SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("signalfd")?;

    let fleet = Fleet::generate(
        args.first_ip,
        args.devices,
        args.seed,
        args.offline_fraction,
    );
    if let Some(path) = &args.manifest {
        let json = serde_json::to_vec_pretty(&fleet.manifest())?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    let socket = net::bind_device_socket(SocketAddrV4::new(args.bind, args.port))?;
    let port = socket.local_addr()?.port();
    let wol = match args.wol_port {
        0 => None,
        wol_port => {
            let wol = UdpSocket::bind(SocketAddrV4::new(args.bind, wol_port))
                .with_context(|| format!("binding the Wake-on-LAN port {wol_port}"))?;
            wol.set_nonblocking(true)?;
            Some(wol)
        }
    };
    tracing::info!(
        devices = args.devices,
        first = %args.first_ip,
        %last,
        port,
        wol_port = args.wol_port,
        asleep = fleet.devices.iter().filter(|device| device.asleep).count(),
        "simulating"
    );

    let tally = args.tally.clone().map(Tally::create).transpose()?;
    let mut simulator = Simulator {
        fleet,
        tally,
        pending: VecDeque::new(),
        latency: Duration::from_millis(args.latency_ms),
        loss: args.loss,
        reboot: Duration::from_secs(args.reboot_secs),
        rng: StdRng::seed_from_u64(args.seed ^ 0x5eed),
        scratch: Vec::with_capacity(MAX_DATAGRAM),
        counters: Counters::default(),
    };
    {
        // not held beyond the line: the enrollment thread prints its own
        let mut stdout = std::io::stdout().lock();
        writeln!(
            stdout,
            "ready devices={} first={} port={port}",
            args.devices, args.first_ip
        )?;
        stdout.flush()?;
    }
    if let Some((enrollment, count)) = enrollment {
        let hostnames = simulator.fleet.devices[..count]
            .iter()
            .map(|device| device.info.hostname.clone())
            .collect();
        // it inherits the blocked signals, so they still reach only the signalfd
        std::thread::Builder::new()
            .name("enroll".into())
            .spawn(move || enrollment.run(hostnames))
            .context("starting the enrollment thread")?;
    }

    simulator.run(&socket, wol.as_ref(), &signal_fd)?;
    if let Some(tally) = &mut simulator.tally {
        tally.write()?;
    }
    let c = &simulator.counters;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "stopped requests={} replies={} dropped={} ignored={} silent={} woken={} rebooted={} send_errors={}",
        c.requests, c.replies, c.dropped, c.ignored, c.silent, c.woken, c.rebooted, c.send_errors
    )?;
    stdout.flush()?;
    Ok(())
}

#[derive(Default, Debug)]
struct Counters {
    /// Valid requests to a device or broadcast.
    requests: u64,
    /// Replies sent.
    replies: u64,
    /// Replies dropped on purpose (--loss).
    dropped: u64,
    /// Datagrams that are no request to a device: undecodable, replies, unknown addresses.
    ignored: u64,
    /// Requests to a device that was asleep or restarting.
    silent: u64,
    /// Devices woken by a magic packet.
    woken: u64,
    /// Reboot commands accepted.
    rebooted: u64,
    /// Replies the kernel refused.
    send_errors: u64,
}

/// A reply waiting for its latency.
struct Pending {
    due: Instant,
    from: Ipv4Addr,
    to: SocketAddrV4,
    datagram: Vec<u8>,
}

struct Simulator {
    fleet: Fleet,
    /// What was received, by whom (--tally).
    tally: Option<Tally>,
    /// Replies in the order they are due (every reply waits the same time).
    pending: VecDeque<Pending>,
    latency: Duration,
    loss: f64,
    reboot: Duration,
    rng: StdRng,
    scratch: Vec<u8>,
    counters: Counters,
}

impl Simulator {
    /// Serves until SIGINT or SIGTERM.
    fn run(
        &mut self,
        socket: &UdpSocket,
        wol: Option<&UdpSocket>,
        signals: &SignalFd,
    ) -> anyhow::Result<()> {
        let mut batch = Batch::new();
        let mut more_waiting = false;
        loop {
            let timeout = if more_waiting {
                PollTimeout::ZERO
            } else {
                let now = Instant::now();
                let reply = self
                    .pending
                    .front()
                    .map(|next| next.due.saturating_duration_since(now));
                let tally = self.tally.as_ref().and_then(|tally| tally.wait(now));
                match reply.into_iter().chain(tally).min() {
                    None => PollTimeout::NONE,
                    // Rounded up, so a reply is never sent early.
                    Some(wait) => PollTimeout::try_from(wait + Duration::from_micros(999))
                        .unwrap_or(PollTimeout::MAX),
                }
            };
            let mut fds = vec![
                PollFd::new(socket.as_fd(), PollFlags::POLLIN),
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            ];
            if let Some(wol) = wol {
                fds.push(PollFd::new(wol.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(error) => return Err(error).context("poll"),
            }
            let readable = |fd: &PollFd| fd.any().unwrap_or(false);
            let (device_ready, signal_ready) = (readable(&fds[0]), readable(&fds[1]));
            let wol_ready = fds.get(2).is_some_and(readable);
            drop(fds);
            if signal_ready && signals.read_signal()?.is_some() {
                return Ok(());
            }
            if let (true, Some(wol)) = (wol_ready, wol) {
                self.read_magic_packets(wol);
            }
            if device_ready || more_waiting {
                more_waiting = batch.receive(socket).context("receiving")?;
                let now = Instant::now();
                for (received, datagram) in batch.datagrams() {
                    self.handle(socket, now, received, datagram);
                }
            }
            self.send_due(socket, Instant::now());
            if let Some(tally) = &mut self.tally {
                tally.tick(Instant::now())?;
            }
        }
    }

    fn read_magic_packets(&mut self, wol: &UdpSocket) {
        let mut buffer = [0u8; 256];
        loop {
            match wol.recv_from(&mut buffer) {
                Ok((len, from)) => match parse_magic_packet(&buffer[..len]) {
                    Some(mac) => {
                        if let Some(tally) = &mut self.tally {
                            tally.magic_packet(&mac);
                        }
                        if self.fleet.wake(&mac) {
                            tracing::debug!(%mac, %from, "woken");
                            self.counters.woken += 1;
                        }
                    }
                    None => self.counters.ignored += 1,
                },
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) => {
                    tracing::warn!(%error, "receiving on the Wake-on-LAN port");
                    return;
                }
            }
        }
    }

    fn handle(&mut self, socket: &UdpSocket, now: Instant, received: Received, datagram: &[u8]) {
        let request = match Message::decode(datagram) {
            Ok(request) if request.body.is_request() => request,
            _ => {
                self.counters.ignored += 1;
                return;
            }
        };
        let reply_to = SocketAddrV4::new(*received.from.ip(), request.reply_port);
        if received.from.ip().is_unspecified() {
            self.counters.ignored += 1;
        } else if let Some(index) = self.fleet.index_of(received.to) {
            self.counters.requests += 1;
            if let (Some(tally), Body::StatusQuery) = (&mut self.tally, &request.body) {
                tally.status_query(received.to, *received.from.ip());
            }
            if self.fleet.devices[index].is_silent(now) {
                self.counters.silent += 1;
            } else {
                self.answer(socket, now, index, &request, reply_to);
            }
        } else if is_broadcast(received.to) && request.body == Body::ScanRequest {
            self.counters.requests += 1;
            for index in 0..self.fleet.devices.len() {
                if !self.fleet.devices[index].is_silent(now) {
                    self.answer(socket, now, index, &request, reply_to);
                }
            }
        } else {
            self.counters.ignored += 1;
        }
    }

    fn answer(
        &mut self,
        socket: &UdpSocket,
        now: Instant,
        index: usize,
        request: &Message,
        to: SocketAddrV4,
    ) {
        let device = &mut self.fleet.devices[index];
        let body = match request.body {
            Body::ScanRequest => Body::ScanReply(device.info.clone()),
            Body::StatusQuery => Body::StatusReply(device.info.clone()),
            Body::Command(command @ Command::Reboot) => {
                device.rebooting_until = Some(now + self.reboot);
                self.counters.rebooted += 1;
                Body::CommandAck {
                    command,
                    outcome: Outcome::Accepted,
                }
            }
            // Replies were turned away by `handle`.
            _ => return,
        };
        if self.loss > 0.0 && self.rng.random_bool(self.loss) {
            self.counters.dropped += 1;
            return;
        }
        self.scratch.clear();
        if let Err(error) = request.reply(body).encode(&mut self.scratch) {
            tracing::error!(%error, "encoding a reply");
            return;
        }
        let from = self.fleet.ip(index);
        if self.latency.is_zero() {
            self.send(socket, from, to);
        } else {
            self.pending.push_back(Pending {
                due: now + self.latency,
                from,
                to,
                datagram: self.scratch.clone(),
            });
        }
    }

    fn send_due(&mut self, socket: &UdpSocket, now: Instant) {
        while self.pending.front().is_some_and(|next| next.due <= now) {
            let Some(next) = self.pending.pop_front() else {
                break;
            };
            self.scratch = next.datagram;
            self.send(socket, next.from, next.to);
        }
    }

    /// Sends the datagram in `scratch`.
    fn send(&mut self, socket: &UdpSocket, from: Ipv4Addr, to: SocketAddrV4) {
        match net::send_from(socket, from, to, &self.scratch) {
            Ok(()) => self.counters.replies += 1,
            Err(error) => {
                self.counters.send_errors += 1;
                tracing::debug!(%error, %from, %to, "sending a reply");
            }
        }
    }
}

/// Addresses a scan may be broadcast to: loopback's broadcast address and the limited one.
fn is_broadcast(ip: Ipv4Addr) -> bool {
    ip.is_broadcast() || ip == Ipv4Addr::new(127, 255, 255, 255)
}
