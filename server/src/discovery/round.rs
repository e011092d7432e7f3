//! One online-check round on the wire: a status query to every device, each with its own random
//! nonce, and the replies collected while the queries still go out. A device is online when its
//! reply (right nonce, from the address the query went to) arrives within the timeout of its own
//! query. The round ends when every device has answered, or when the timeout has passed since
//! the last query.
//!
//! This runs on two plain threads (one sends, one receives) outside the async runtime: the
//! datagrams of tens of thousands of devices go out at the rate of a plain send loop. Replies
//! are judged by the time the kernel stamped on their arrival, not by when the receiving thread
//! got to them, so a busy machine does not turn a timely answer into a late one.

use super::udp::{self, Socket4};
use pharos_protocol::{Body, DeviceInfo, Message, status_query};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
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
    /// Of those: from an address not queried, not a Pharos datagram at all.
    pub strangers: u64,
    pub malformed: u64,
    /// Right replies that came after their device's timeout.
    pub late: u64,
    /// Queries that could not be sent (the device counts as not answering).
    pub unsent: u64,
    /// From the first query to the verdict.
    pub duration: Duration,
    /// From the first query to the last.
    pub sending: Duration,
}

/// Queries `targets` on `device_port` through `socket` (whose own port is the reply port).
pub fn run(
    socket: &Socket4,
    device_port: u16,
    targets: &[Ipv4Addr],
    timeout: Duration,
    stop: &CancellationToken,
) -> io::Result<Outcome> {
    let reply_port = socket.reply_port()?;
    socket.stamp_arrivals()?;
    let nonces: Vec<u64> = (0..targets.len()).map(|_| rand::random()).collect();
    let index: HashMap<Ipv4Addr, usize> =
        targets.iter().enumerate().map(|(i, ip)| (*ip, i)).collect();
    // When each query went out, on the clock the kernel stamps arrivals with (nanoseconds since
    // the Unix epoch; 0: not sent, or never).
    let sent_at: Vec<AtomicU64> = (0..targets.len()).map(|_| AtomicU64::new(0)).collect();
    let sending_done = AtomicBool::new(false);
    let last_sent = AtomicU64::new(0);
    let unsent = AtomicU64::new(0);
    let start = Instant::now();
    let elapsed = || start.elapsed().as_nanos() as u64;
    let timeout_ns = timeout.as_nanos() as u64;

    let mut tally = Tally {
        answers: vec![None; targets.len()],
        answered: 0,
        ignored: 0,
        strangers: 0,
        malformed: 0,
        late: 0,
    };
    std::thread::scope(|scope| -> io::Result<()> {
        scope.spawn(|| {
            for (i, ip) in targets.iter().enumerate() {
                if stop.is_cancelled() {
                    break;
                }
                let query = status_query(nonces[i], reply_port);
                // stamped before it goes: the answer may arrive before `send` returns
                sent_at[i].store(udp::unix_nanos(), Ordering::Release);
                if let Err(e) = socket.send(&query, SocketAddr::from((*ip, device_port))) {
                    tracing::debug!(%ip, error = %e, "status query not sent");
                    sent_at[i].store(0, Ordering::Release);
                    unsent.fetch_add(1, Ordering::Relaxed);
                }
            }
            last_sent.store(elapsed(), Ordering::Release);
            sending_done.store(true, Ordering::Release);
        });

        let mut buf = [0u8; pharos_protocol::MAX_DATAGRAM + 1];
        loop {
            if tally.answered == targets.len() || stop.is_cancelled() {
                // (when everyone answered, the sender is done too: it answered after its query)
                break;
            }
            if sending_done.load(Ordering::Acquire)
                && elapsed() >= last_sent.load(Ordering::Acquire) + timeout_ns
            {
                // what arrived in time may still be queued: it counts by its arrival stamp
                while let Some(datagram) = socket.receive_stamped(&mut buf, false)? {
                    tally.judge(datagram, &buf, &index, &nonces, &sent_at, timeout_ns);
                }
                break;
            }
            if let Some(datagram) = socket.receive_stamped(&mut buf, true)? {
                tally.judge(datagram, &buf, &index, &nonces, &sent_at, timeout_ns);
            }
        }
        Ok(())
    })?;

    Ok(Outcome {
        answers: tally.answers,
        ignored: tally.ignored,
        strangers: tally.strangers,
        malformed: tally.malformed,
        late: tally.late,
        unsent: unsent.into_inner(),
        duration: start.elapsed(),
        sending: Duration::from_nanos(last_sent.into_inner()),
    })
}

/// The replies of a round so far.
struct Tally {
    answers: Vec<Option<Answer>>,
    answered: usize,
    ignored: u64,
    strangers: u64,
    malformed: u64,
    late: u64,
}

impl Tally {
    /// Counts one datagram: a device's first status reply with its query's nonce, from the
    /// address the query went to, that arrived within the timeout of its query.
    fn judge(
        &mut self,
        (len, from, arrived): (usize, Ipv4Addr, u64),
        buf: &[u8],
        index: &HashMap<Ipv4Addr, usize>,
        nonces: &[u64],
        sent_at: &[AtomicU64],
        timeout_ns: u64,
    ) {
        let Some(&i) = index.get(&from) else {
            self.ignored += 1;
            self.strangers += 1;
            return;
        };
        let info = match Message::decode(&buf[..len]) {
            Ok(Message {
                nonce,
                body: Body::StatusReply(info),
                ..
            }) if nonce == nonces[i] && self.answers[i].is_none() => info,
            decoded => {
                self.ignored += 1;
                self.malformed += u64::from(decoded.is_err());
                return;
            }
        };
        let sent = sent_at[i].load(Ordering::Acquire);
        if sent == 0 || arrived.saturating_sub(sent) > timeout_ns {
            self.late += 1;
            return;
        }
        self.answers[i] = Some(Answer {
            at: (arrived / 1_000_000) as i64,
            info,
        });
        self.answered += 1;
    }
}

pub use crate::workers::unix_millis;
