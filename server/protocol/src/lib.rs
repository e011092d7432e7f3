//! Pharos's own UDP device protocol, version 1: what the server and the thin-client devices say to
//! each other, byte for byte. The full description, with tables and a worked example, is
//! `docs/protocol.md` at the root of the repository.
//!
//! A datagram is a 16-byte [header](HEADER_LEN) followed by the body of one [`Message`]. The
//! server sends requests ([`Body::ScanRequest`], [`Body::StatusQuery`], [`Body::Command`]); a
//! device answers with the matching reply, echoing the request's nonce. Devices asleep are woken
//! with a Wake-on-LAN [`magic_packet`].
//!
//! Decoding is total: [`Message::decode`] never panics, refuses anything longer than
//! [`MAX_DATAGRAM`] before looking at it, and allocates no more than the datagram holds. Encoding
//! is canonical: whatever [`Message::encode`] accepts decodes to the same message, and whatever
//! decodes re-encodes to the same bytes.
#![forbid(unsafe_code)]

mod error;
mod mac;
mod message;

pub use error::{DecodeError, EncodeError};
pub use mac::{MAGIC_PACKET_LEN, Mac, ParseMacError, magic_packet, parse_magic_packet};
pub use message::{Body, Command, DeviceInfo, Kind, Message, Outcome, scan_request, status_query};

/// The first four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"PHRS";
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Magic, version, kind, reply port, nonce.
pub const HEADER_LEN: usize = 16;
/// No datagram of the protocol is longer; longer input is refused unread.
pub const MAX_DATAGRAM: usize = 512;
/// The UDP port devices listen on unless `PHAROS_DEVICE_PORT` says otherwise.
pub const DEFAULT_DEVICE_PORT: u16 = 30005;
/// The UDP port Wake-on-LAN magic packets go to unless configured otherwise ("discard").
pub const DEFAULT_WOL_PORT: u16 = 9;
/// Longest host name a device may report, in bytes (the DNS limit).
pub const MAX_HOSTNAME_LEN: usize = 253;
/// Longest OS version a device may report, in bytes.
pub const MAX_OS_VERSION_LEN: usize = 64;
/// Longest serial number a device may report, in bytes.
pub const MAX_SERIAL_LEN: usize = 64;
