//! One UDP socket answering for every device: `IP_PKTINFO` tells which device address a datagram
//! was sent to, and sets the source address of each reply.

use anyhow::Context;
use nix::{
    errno::Errno,
    libc,
    sys::socket::{
        ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, getsockopt,
        recvmmsg, sendmsg, setsockopt, sockopt,
    },
};
use pharos_protocol::MAX_DATAGRAM;
use std::{
    io::{IoSlice, IoSliceMut},
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::AsRawFd,
};

/// Datagrams taken per `recvmmsg`.
const BATCH: usize = 64;
/// One byte more than any valid datagram, so an over-long one is seen as such.
const BUFFER: usize = MAX_DATAGRAM + 1;
/// Asked for; the kernel may grant less (without `CAP_NET_ADMIN`, at most `net.core.*mem_max`).
const SOCKET_BUFFER: usize = 64 << 20;

/// Binds the device socket, with `IP_PKTINFO` on and buffers as large as allowed.
pub fn bind_device_socket(addr: SocketAddrV4) -> anyhow::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr).with_context(|| format!("binding UDP {addr}"))?;
    setsockopt(&socket, sockopt::Ipv4PacketInfo, &true).context("enabling IP_PKTINFO")?;
    if setsockopt(&socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER).context("SO_RCVBUF")?;
    }
    if setsockopt(&socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        setsockopt(&socket, sockopt::SndBuf, &SOCKET_BUFFER).context("SO_SNDBUF")?;
    }
    tracing::debug!(
        receive_buffer = getsockopt(&socket, sockopt::RcvBuf).ok(),
        send_buffer = getsockopt(&socket, sockopt::SndBuf).ok(),
        "device socket bound"
    );
    Ok(socket)
}

/// A received datagram: who sent it, to which address, and its bytes (in [`Batch::data`]).
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub from: SocketAddrV4,
    pub to: Ipv4Addr,
    len: usize,
}

/// Buffers for receiving many datagrams with one system call.
pub struct Batch {
    headers: MultiHeaders<SockaddrIn>,
    buffers: Vec<[u8; BUFFER]>,
    received: Vec<Received>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            headers: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(libc::in_pktinfo))),
            buffers: vec![[0; BUFFER]; BATCH],
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Takes what is waiting on `socket` without blocking; true if the batch was filled (more
    /// may be waiting).
    pub fn receive(&mut self, socket: &UdpSocket) -> nix::Result<bool> {
        self.received.clear();
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buffers
            .iter_mut()
            .map(|buffer| [IoSliceMut::new(buffer)])
            .collect();
        let messages = match recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(messages) => messages,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(false),
            Err(error) => return Err(error),
        };
        for message in messages {
            let to = message.cmsgs().ok().and_then(|mut cmsgs| {
                cmsgs.find_map(|cmsg| match cmsg {
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)))
                    }
                    _ => None,
                })
            });
            // Without its destination or its sender a datagram cannot be answered; it still
            // takes its slot so the buffers stay in step.
            let from = message.address.map(SocketAddrV4::from);
            self.received.push(Received {
                from: from.unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
                to: to.unwrap_or(Ipv4Addr::UNSPECIFIED),
                len: message.bytes,
            });
        }
        Ok(self.received.len() == BATCH)
    }

    /// The datagrams of the last [`Batch::receive`].
    pub fn datagrams(&self) -> impl Iterator<Item = (Received, &[u8])> {
        self.received
            .iter()
            .zip(&self.buffers)
            .map(|(received, buffer)| (*received, &buffer[..received.len.min(BUFFER)]))
    }
}

/// Sends `datagram` to `to` with `from` as its source address (a local address: on Linux every
/// 127.x address is).
pub fn send_from(
    socket: &UdpSocket,
    from: Ipv4Addr,
    to: SocketAddrV4,
    datagram: &[u8],
) -> nix::Result<()> {
    let info = libc::in_pktinfo {
        ipi_ifindex: 0,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(from).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(datagram)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&SockaddrIn::from(to)),
    )?;
    Ok(())
}
