//! Commands jobs send to devices: Wake-on-LAN magic packets and reboot.

use super::udp::{Net, Socket4};
use pharos_protocol::{Body, Command, Mac, Message, Outcome, magic_packet};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Sends one magic packet per MAC to the configured Wake-on-LAN address.
pub fn wake(net: &Net, macs: &[Mac]) -> io::Result<()> {
    let socket = Socket4::open(net.bind, 0, true)?;
    for mac in macs {
        socket.send(&magic_packet(mac), net.wake_on_lan)?;
    }
    Ok(())
}

/// Asks each device to reboot: for each, what it answered within `timeout`, or `None`. Other
/// datagrams are counted (the second number) and ignored.
pub fn reboot(
    net: &Net,
    targets: &[Ipv4Addr],
    timeout: Duration,
    stop: &CancellationToken,
) -> io::Result<(Vec<Option<Outcome>>, u64)> {
    let socket = Socket4::open(net.bind, 0, false)?;
    let reply_port = socket.reply_port()?;
    let mut expected: HashMap<Ipv4Addr, (usize, u64)> = HashMap::new();
    let mut request = Vec::new();
    for (i, ip) in targets.iter().enumerate() {
        let nonce = rand::random();
        expected.insert(*ip, (i, nonce));
        request.clear();
        Message {
            nonce,
            reply_port: reply_port.get(),
            body: Body::Command(Command::Reboot),
        }
        .encode(&mut request)
        .map_err(io::Error::other)?;
        socket.send(&request, SocketAddr::from((*ip, net.device_port)))?;
    }
    let deadline = Instant::now() + timeout;
    let mut outcomes = vec![None; targets.len()];
    let mut left = targets.len();
    let mut buf = [0u8; pharos_protocol::MAX_DATAGRAM + 1];
    let mut ignored = 0;
    while left > 0 && Instant::now() < deadline && !stop.is_cancelled() {
        let Some((len, from)) = socket.receive(&mut buf)? else {
            continue;
        };
        let acknowledged =
            expected
                .get(&from)
                .and_then(|&(i, nonce)| match Message::decode(&buf[..len]) {
                    Ok(Message {
                        nonce: got,
                        body:
                            Body::CommandAck {
                                command: Command::Reboot,
                                outcome,
                            },
                        ..
                    }) if got == nonce && outcomes[i].is_none() => Some((i, outcome)),
                    _ => None,
                });
        match acknowledged {
            Some((i, outcome)) => {
                outcomes[i] = Some(outcome);
                left -= 1;
            }
            None => ignored += 1,
        }
    }
    Ok((outcomes, ignored))
}
