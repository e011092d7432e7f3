//! The UDP sockets of discovery: where they bind, how large their buffers are, and how a
//! blocking loop learns that the server is stopping.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

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

/// A UDP socket on `bind:port` (`port` 0: any free port) with large buffers, whose receives
/// wait at most [`POLL`].
pub fn open(bind: IpAddr, port: u16, broadcast: bool) -> io::Result<UdpSocket> {
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
    Ok(socket)
}

/// As large as the system allows: a privileged server may exceed the system's limit
/// (`SO_RCVBUFFORCE`), others get what `net.core.rmem_max` permits.
fn grow_buffers(socket: &Socket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(socket, sockopt::RcvBufForce, &BUFFER_BYTES).is_err() {
        let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    }
    if setsockopt(socket, sockopt::SndBufForce, &BUFFER_BYTES).is_err() {
        let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    }
}

/// Sends one datagram, waiting while the send buffer is full.
pub fn send(socket: &UdpSocket, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
    loop {
        match socket.send_to(datagram, to) {
            Ok(_) => return Ok(()),
            // ENOBUFS: the interface queue is full for a moment
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(105) => {
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A receive that timed out rather than failed.
pub fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The IPv4 address of a reply's sender; discovery speaks IPv4 only.
pub fn sender_v4(from: SocketAddr) -> Option<Ipv4Addr> {
    match from {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped(),
    }
}
