//! The UDP sockets of discovery: where they bind, how large their buffers are, how datagrams go
//! out and come in. Every socket of discovery is opened and used through this module.

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::num::NonZeroU16;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Where discovery sends and from where it listens, from the server's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Net {
    /// Local address of the reply sockets.
    pub bind: IpAddr,
    /// The port devices listen on.
    pub device_port: u16,
    pub wake_on_lan: SocketAddr,
    /// Scan datagrams per second; 0 = unthrottled.
    pub scan_rate: u32,
}

/// Replies of tens of thousands of devices arrive within milliseconds: a small receive buffer
/// would drop them while the receiving thread is not scheduled.
const BUFFER_BYTES: usize = 32 * 1024 * 1024;
/// How long a blocking receive waits before the loop looks at its clock and the shutdown flag.
pub const POLL: Duration = Duration::from_millis(5);
/// How long a send may wait for room in a full queue before it counts as failed.
const SEND_PATIENCE: Duration = Duration::from_secs(1);

/// A discovery socket. One bound to a loopback address sends only to loopback addresses: tests,
/// demos and benchmarks bind 127.0.0.1, and a mistake in them (a default broadcast address
/// left in place) then fails loudly instead of reaching a real network.
pub struct Socket4 {
    socket: UdpSocket,
    loopback_only: bool,
}

impl Socket4 {
    /// A socket on `bind:port` (`port` 0: any free port) with large buffers, whose receives wait
    /// at most [`POLL`].
    pub fn open(bind: IpAddr, port: u16, broadcast: bool) -> io::Result<Socket4> {
        let addr = SocketAddr::new(bind, port);
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        grow_buffers(&socket);
        if broadcast {
            socket.set_broadcast(true)?;
        }
        socket.bind(&addr.into()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot open UDP port {port} on {bind}: {e}"),
            )
        })?;
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(POLL))?;
        Ok(Socket4 {
            socket,
            loopback_only: bind.is_loopback(),
        })
    }

    /// The port replies come to: this socket's own.
    pub fn reply_port(&self) -> io::Result<NonZeroU16> {
        NonZeroU16::new(self.socket.local_addr()?.port())
            .ok_or_else(|| io::Error::other("the reply socket has no port"))
    }

    /// Sends one datagram, waiting (up to a second) while the send queue is full.
    pub fn send(&self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        if self.loopback_only && !to.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "discovery is bound to a loopback address and sends nowhere else (not to {})",
                    to.ip()
                ),
            ));
        }
        let started = Instant::now();
        loop {
            match self.socket.send_to(datagram, to) {
                Ok(_) => return Ok(()),
                // the interface queue is full for a moment
                Err(e)
                    if e.raw_os_error() == Some(Errno::ENOBUFS as i32)
                        && started.elapsed() < SEND_PATIENCE =>
                {
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next datagram and its IPv4 sender, or `None` when none came within [`POLL`] (or a
    /// signal interrupted the wait, or an earlier datagram bounced).
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<Option<(usize, Ipv4Addr)>> {
        match self.socket.recv_from(buf) {
            Ok((len, from)) => Ok(sender_v4(from).map(|ip| (len, ip))),
            Err(e) if quiet(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks the kernel to stamp each datagram with the time it arrived.
    pub fn stamp_arrivals(&self) -> io::Result<()> {
        setsockopt(&self.socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
    }

    /// Like [`Socket4::receive`], with the datagram's arrival time (nanoseconds since the Unix
    /// epoch, stamped by the kernel; see [`Socket4::stamp_arrivals`]). `wait: false` returns at
    /// once when nothing is queued.
    pub fn receive_stamped(
        &self,
        buf: &mut [u8],
        wait: bool,
    ) -> io::Result<Option<(usize, Ipv4Addr, u64)>> {
        let mut cmsg = nix::cmsg_space!(TimeSpec);
        let mut iov = [IoSliceMut::new(buf)];
        let flags = if wait {
            MsgFlags::empty()
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let message = match recvmsg::<SockaddrIn>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            flags,
        ) {
            Ok(message) => message,
            Err(errno) => {
                let e = io::Error::from(errno);
                return if quiet(&e) { Ok(None) } else { Err(e) };
            }
        };
        let Some(from) = message.address else {
            return Ok(None);
        };
        let arrived = message
            .cmsgs()
            .ok()
            .into_iter()
            .flatten()
            .find_map(|c| match c {
                nix::sys::socket::ControlMessageOwned::ScmTimestampns(t) => {
                    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
                }
                _ => None,
            })
            .unwrap_or_else(unix_nanos);
        Ok(Some((message.bytes, from.ip(), arrived)))
    }
}

/// As large as the system allows: a privileged server may exceed the system's limit
/// (`SO_RCVBUFFORCE`), others get what `net.core.rmem_max` permits.
fn grow_buffers(socket: &Socket) {
    if setsockopt(socket, sockopt::RcvBufForce, &BUFFER_BYTES).is_err() {
        let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    }
    if setsockopt(socket, sockopt::SndBufForce, &BUFFER_BYTES).is_err() {
        let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    }
}

/// A receive that found nothing rather than failed: a timeout, a signal, or an ICMP error left
/// by an earlier datagram.
fn quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionRefused
    )
}

/// The IPv4 address of a reply's sender; discovery speaks IPv4 only.
fn sender_v4(from: SocketAddr) -> Option<Ipv4Addr> {
    match from {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped(),
    }
}

/// Nanoseconds since the Unix epoch: the clock the kernel stamps arrivals with.
pub fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
