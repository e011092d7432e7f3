//! Commands jobs send to devices: Wake-on-LAN magic packets and reboot.

use super::udp;
use pharos_protocol::{Body, Command, Mac, Message, Outcome, magic_packet};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Sends one magic packet per MAC to the configured Wake-on-LAN address.
pub fn wake(net: &udp::Net, macs: &[Mac]) -> io::Result<()> {
    let socket = udp::open(net.bind, 0, true)?;
    for mac in macs {
        udp::send(&socket, &magic_packet(mac), net.wake_on_lan)?;
    }
    Ok(())
}

/// Asks each device to reboot; `true` for each one that acknowledged within `timeout`.
pub fn reboot(
    net: &udp::Net,
    targets: &[Ipv4Addr],
    timeout: Duration,
    stop: &CancellationToken,
) -> io::Result<Vec<Option<Outcome>>> {
    let socket = udp::open(net.bind, 0, false)?;
    let reply_port = NonZeroU16::new(socket.local_addr()?.port())
        .ok_or_else(|| io::Error::other("the reply socket has no port"))?;
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
        udp::send(&socket, &request, SocketAddr::from((*ip, net.device_port)))?;
    }
    let deadline = Instant::now() + timeout;
    let mut outcomes = vec![None; targets.len()];
    let mut left = targets.len();
    let mut buf = [0u8; pharos_protocol::MAX_DATAGRAM + 1];
    while left > 0 && Instant::now() < deadline && !stop.is_cancelled() {
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if udp::timed_out(&e) => continue,
            Err(_) => continue,
        };
        let Some(&(i, nonce)) = udp::sender_v4(from).and_then(|ip| expected.get(&ip)) else {
            continue;
        };
        if let Ok(Message {
            nonce: got,
            body:
                Body::CommandAck {
                    command: Command::Reboot,
                    outcome,
                },
            ..
        }) = Message::decode(&buf[..len])
            && got == nonce
            && outcomes[i].is_none()
        {
            outcomes[i] = Some(outcome);
            left -= 1;
        }
    }
    Ok(outcomes)
}
