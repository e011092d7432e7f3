//! One online-check round on the wire: a status query to every device, each with its own random
//! nonce, and the replies collected while the queries still go out. A device is online when its
//! reply (right nonce, from the address the query went to) arrives within the timeout of its own
//! query. The round ends when every device has answered, or when the timeout has passed since
//! the last query.
//!
//! This runs on two plain threads (one sends, one receives) outside the async runtime: the
//! datagrams of tens of thousands of devices go out at the rate of a plain send loop.

use super::udp;
use pharos_protocol::{Body, DeviceInfo, Message, status_query};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// A device's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Unix milliseconds.
    pub at: i64,
    pub info: DeviceInfo,
}

#[derive(Debug)]
pub struct Outcome {
    /// One per target, in the targets' order: `None` for no answer in time.
    pub answers: Vec<Option<Answer>>,
    /// Datagrams that were not a fresh status reply from a queried device with its nonce.
    pub ignored: u64,
    /// Right replies that came after their device's timeout.
    pub late: u64,
    /// Queries that could not be sent (the device counts as not answering).
    pub unsent: u64,
    /// From the first query to the verdict.
    pub duration: Duration,
}

/// Queries `targets` on `device_port` through `socket` (whose own port is the reply port).
pub fn run(
    socket: &UdpSocket,
    device_port: u16,
    targets: &[Ipv4Addr],
    timeout: Duration,
    stop: &CancellationToken,
) -> io::Result<Outcome> {
    let reply_port = NonZeroU16::new(socket.local_addr()?.port())
        .ok_or_else(|| io::Error::other("the reply socket has no port"))?;
    let nonces: Vec<u64> = (0..targets.len()).map(|_| rand::random()).collect();
    let index: HashMap<Ipv4Addr, usize> =
        targets.iter().enumerate().map(|(i, ip)| (*ip, i)).collect();
    // nanoseconds since `start` at which each query went out (u64::MAX: not yet, or never)
    let sent_at: Vec<AtomicU64> = (0..targets.len())
        .map(|_| AtomicU64::new(u64::MAX))
        .collect();
    let sending_done = AtomicBool::new(false);
    let last_sent = AtomicU64::new(0);
    let unsent = AtomicU64::new(0);
    let start = Instant::now();
    let elapsed = || start.elapsed().as_nanos() as u64;

    let mut answers: Vec<Option<Answer>> = vec![None; targets.len()];
    let mut answered = 0usize;
    let mut ignored = 0u64;
    let mut late = 0u64;
    let timeout_ns = timeout.as_nanos() as u64;

    std::thread::scope(|scope| -> io::Result<()> {
        scope.spawn(|| {
            for (i, ip) in targets.iter().enumerate() {
                if stop.is_cancelled() {
                    break;
                }
                let query = status_query(nonces[i], reply_port);
                sent_at[i].store(elapsed(), Ordering::Release);
                if let Err(e) = udp::send(socket, &query, SocketAddr::from((*ip, device_port))) {
                    tracing::debug!(%ip, error = %e, "status query not sent");
                    sent_at[i].store(u64::MAX, Ordering::Release);
                    unsent.fetch_add(1, Ordering::Relaxed);
                }
            }
            last_sent.store(elapsed(), Ordering::Release);
            sending_done.store(true, Ordering::Release);
        });

        let mut buf = [0u8; pharos_protocol::MAX_DATAGRAM + 1];
        loop {
            if answered == targets.len() || stop.is_cancelled() {
                // (when everyone answered, the sender is done too: it answered after its query)
                break;
            }
            if sending_done.load(Ordering::Acquire)
                && elapsed() >= last_sent.load(Ordering::Acquire) + timeout_ns
            {
                break;
            }
            let (len, from) = match socket.recv_from(&mut buf) {
                Ok(received) => received,
                Err(e) if udp::timed_out(&e) => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let now = elapsed();
            let Some(i) = udp::sender_v4(from).and_then(|ip| index.get(&ip).copied()) else {
                ignored += 1;
                continue;
            };
            let info = match Message::decode(&buf[..len]) {
                Ok(Message {
                    nonce,
                    body: Body::StatusReply(info),
                    ..
                }) if nonce == nonces[i] && answers[i].is_none() => info,
                _ => {
                    ignored += 1;
                    continue;
                }
            };
            let sent = sent_at[i].load(Ordering::Acquire);
            if sent == u64::MAX || now.saturating_sub(sent) > timeout_ns {
                late += 1;
                continue;
            }
            answers[i] = Some(Answer {
                at: unix_millis(),
                info,
            });
            answered += 1;
        }
        Ok(())
    })?;

    Ok(Outcome {
        answers,
        ignored,
        late,
        unsent: unsent.into_inner(),
        duration: start.elapsed(),
    })
}

pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
