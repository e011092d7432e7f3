//! The baselines of the discovery benchmark: what a plain program does over the same simulated
//! devices, with nothing of Pharos around it. One thread, one socket, no bookkeeping beyond a
//! count: the classic C loop.
//!
//! `plain_udp round FIRST COUNT PORT TIMEOUT_MS`: a status query to each of COUNT consecutive
//!   addresses from FIRST, draining replies between sends, then waiting until every device
//!   answered or TIMEOUT_MS passed after the last query. Prints `{"ms": …, "answered": …}`.
//! `plain_udp send FIRST COUNT PORT`: one scan request to each address, as fast as the machine
//!   sends. Prints `{"ms": …, "sent": …, "per_second": …}`.

use pharos_protocol::{scan_request, status_query};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    let first: Ipv4Addr = arg(1).parse().unwrap_or_else(|_| usage());
    let count: u32 = arg(2).parse().unwrap_or_else(|_| usage());
    let port: u16 = arg(3).parse().unwrap_or_else(|_| usage());
    assert!(
        first.is_loopback(),
        "the baseline only talks to loopback addresses"
    );
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    grow(&socket);
    let reply_port = NonZeroU16::new(socket.local_addr().unwrap().port()).unwrap();
    let to = |i: u32| SocketAddr::from((Ipv4Addr::from(u32::from(first) + i), port));
    match arg(0) {
        "round" => {
            let timeout = Duration::from_millis(arg(4).parse().unwrap_or_else(|_| usage()));
            let query = status_query(1, reply_port);
            let mut buf = [0u8; 1024];
            let mut answered = 0u32;
            let start = Instant::now();
            socket.set_nonblocking(true).unwrap();
            for i in 0..count {
                while socket.send_to(&query, to(i)).is_err() {}
                while socket.recv_from(&mut buf).is_ok() {
                    answered += 1;
                }
            }
            let deadline = Instant::now() + timeout;
            socket.set_nonblocking(false).unwrap();
            while answered < count {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                socket.set_read_timeout(Some(deadline - now)).unwrap();
                if socket.recv_from(&mut buf).is_ok() {
                    answered += 1;
                }
            }
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            println!("{{\"ms\": {ms:.3}, \"answered\": {answered}}}");
        }
        "send" => {
            let request = scan_request(1, reply_port);
            let start = Instant::now();
            for i in 0..count {
                while socket.send_to(&request, to(i)).is_err() {}
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{{\"ms\": {:.3}, \"sent\": {count}, \"per_second\": {:.0}}}",
                secs * 1000.0,
                f64::from(count) / secs
            );
        }
        _ => usage(),
    }
}

/// The same buffers Pharos asks for, so the comparison is of the loops, not of the buffers.
fn grow(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let bytes = 32 * 1024 * 1024;
    let _ = setsockopt(socket, sockopt::RcvBufForce, &bytes);
    let _ = setsockopt(socket, sockopt::SndBufForce, &bytes);
}

fn usage() -> ! {
    eprintln!(
        "usage: plain_udp round FIRST COUNT PORT TIMEOUT_MS | plain_udp send FIRST COUNT PORT"
    );
    std::process::exit(2)
}
