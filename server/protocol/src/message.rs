//! The messages of version 1 and their encoding.

use crate::{
    DecodeError, EncodeError, HEADER_LEN, MAGIC, MAX_DATAGRAM, MAX_HOSTNAME_LEN,
    MAX_OS_VERSION_LEN, MAX_SERIAL_LEN, Mac, VERSION,
};
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    num::NonZeroU16,
};

/// One datagram: the header's reply port and nonce, and the body its kind announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Random per request; a reply carries its request's nonce.
    pub nonce: u64,
    /// In a request, the UDP port to answer to (never 0); in a reply, 0.
    pub reply_port: u16,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Server → devices: who is there? Usually broadcast.
    ScanRequest,
    /// Server → device: are you there, and as what?
    StatusQuery,
    /// Server → device: do this.
    Command(Command),
    /// Device → server: the answer to a [`Body::ScanRequest`].
    ScanReply(DeviceInfo),
    /// Device → server: the answer to a [`Body::StatusQuery`].
    StatusReply(DeviceInfo),
    /// Device → server: what the device does with a [`Body::Command`].
    CommandAck { command: Command, outcome: Outcome },
}

/// The header's kind byte: requests below `0x80`, replies from `0x80` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    ScanRequest = 0x01,
    StatusQuery = 0x02,
    Command = 0x03,
    ScanReply = 0x81,
    StatusReply = 0x82,
    CommandAck = 0x83,
}

impl Kind {
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            0x01 => Kind::ScanRequest,
            0x02 => Kind::StatusQuery,
            0x03 => Kind::Command,
            0x81 => Kind::ScanReply,
            0x82 => Kind::StatusReply,
            0x83 => Kind::CommandAck,
            _ => return None,
        })
    }

    pub fn is_request(self) -> bool {
        (self as u8) < 0x80
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// Restart the device: it acknowledges, then is silent until it is back.
    Reboot = 0x01,
}

impl Command {
    pub fn from_byte(byte: u8) -> Option<Command> {
        match byte {
            0x01 => Some(Command::Reboot),
            _ => None,
        }
    }
}

/// What a device does with a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Outcome {
    /// The device carries it out.
    Accepted = 0,
    /// The device knows the command but cannot carry it out.
    Unsupported = 1,
    /// The device cannot carry it out now (for example: an update is running); ask again later.
    Busy = 2,
}

impl Outcome {
    pub fn from_byte(byte: u8) -> Option<Outcome> {
        Some(match byte {
            0 => Outcome::Accepted,
            1 => Outcome::Unsupported,
            2 => Outcome::Busy,
            _ => return None,
        })
    }
}

/// What a device reports about itself in a scan or status reply. The strings come from the
/// device: show them as text, trust them no further.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub mac: Mac,
    /// The address the device answers from.
    pub ip: IpAddr,
    /// The generation of the device's operating system (its major line, as a number).
    pub os_generation: u8,
    /// At most [`MAX_OS_VERSION_LEN`] bytes.
    pub os_version: String,
    /// At most [`MAX_HOSTNAME_LEN`] bytes.
    pub hostname: String,
    /// At most [`MAX_SERIAL_LEN`] bytes.
    pub serial: String,
}

/// The longest body: MAC, family and IPv6 address, generation, three length-prefixed strings.
const MAX_DEVICE_INFO_LEN: usize =
    6 + 1 + 16 + 1 + (1 + MAX_HOSTNAME_LEN) + (1 + MAX_OS_VERSION_LEN) + (1 + MAX_SERIAL_LEN);
// Every encodable message fits in a datagram, so `encode` has no size to refuse.
const _: () = assert!(HEADER_LEN + MAX_DEVICE_INFO_LEN <= MAX_DATAGRAM);

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::ScanRequest => Kind::ScanRequest,
            Body::StatusQuery => Kind::StatusQuery,
            Body::Command(_) => Kind::Command,
            Body::ScanReply(_) => Kind::ScanReply,
            Body::StatusReply(_) => Kind::StatusReply,
            Body::CommandAck { .. } => Kind::CommandAck,
        }
    }

    pub fn is_request(&self) -> bool {
        self.kind().is_request()
    }
}

impl Message {
    /// The reply to this message: same nonce, reply port 0.
    pub fn reply(&self, body: Body) -> Message {
        Message {
            nonce: self.nonce,
            reply_port: 0,
            body,
        }
    }

    /// Reads one datagram. Never panics; refuses anything that is not exactly one valid
    /// version-1 message.
    pub fn decode(datagram: &[u8]) -> Result<Message, DecodeError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(DecodeError::TooLong {
                len: datagram.len(),
            });
        }
        let mut input = Reader(datagram);
        let magic = input.array::<4>("magic")?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = input.byte("version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind_byte = input.byte("kind")?;
        let kind = Kind::from_byte(kind_byte).ok_or(DecodeError::UnknownKind(kind_byte))?;
        let reply_port = u16::from_be_bytes(input.array("reply port")?);
        let nonce = u64::from_be_bytes(input.array("nonce")?);
        match (kind.is_request(), reply_port) {
            (true, 0) => return Err(DecodeError::MissingReplyPort),
            (false, port @ 1..) => return Err(DecodeError::UnexpectedReplyPort(port)),
            _ => {}
        }
        let body = match kind {
            Kind::ScanRequest => Body::ScanRequest,
            Kind::StatusQuery => Body::StatusQuery,
            Kind::Command => Body::Command(input.command()?),
            Kind::ScanReply => Body::ScanReply(input.device_info()?),
            Kind::StatusReply => Body::StatusReply(input.device_info()?),
            Kind::CommandAck => {
                let command = input.command()?;
                let byte = input.byte("outcome")?;
                let outcome = Outcome::from_byte(byte).ok_or(DecodeError::UnknownOutcome(byte))?;
                Body::CommandAck { command, outcome }
            }
        };
        if !input.0.is_empty() {
            return Err(DecodeError::TrailingBytes {
                count: input.0.len(),
            });
        }
        Ok(Message {
            nonce,
            reply_port,
            body,
        })
    }

    /// Appends the datagram to `out`. Refuses (and leaves `out` as it was) what would not decode
    /// back to this message.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let kind = self.body.kind();
        match (kind.is_request(), self.reply_port) {
            (true, 0) => return Err(EncodeError::MissingReplyPort),
            (false, port @ 1..) => return Err(EncodeError::UnexpectedReplyPort(port)),
            _ => {}
        }
        if let Body::ScanReply(info) | Body::StatusReply(info) = &self.body {
            info.check()?;
        }
        out.reserve(HEADER_LEN + MAX_DEVICE_INFO_LEN);
        out.extend_from_slice(&header(kind, self.reply_port, self.nonce));
        match &self.body {
            Body::ScanRequest | Body::StatusQuery => {}
            Body::Command(command) => out.push(*command as u8),
            Body::ScanReply(info) | Body::StatusReply(info) => info.write(out),
            Body::CommandAck { command, outcome } => {
                out.extend_from_slice(&[*command as u8, *outcome as u8]);
            }
        }
        Ok(())
    }

    /// The datagram in a vector of its own.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A status query as bytes, without building a [`Message`]: for querying many devices.
pub fn status_query(nonce: u64, reply_port: NonZeroU16) -> [u8; HEADER_LEN] {
    header(Kind::StatusQuery, reply_port.get(), nonce)
}

/// A scan request as bytes, without building a [`Message`].
pub fn scan_request(nonce: u64, reply_port: NonZeroU16) -> [u8; HEADER_LEN] {
    header(Kind::ScanRequest, reply_port.get(), nonce)
}

fn header(kind: Kind, reply_port: u16, nonce: u64) -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4] = VERSION;
    header[5] = kind as u8;
    header[6..8].copy_from_slice(&reply_port.to_be_bytes());
    header[8..].copy_from_slice(&nonce.to_be_bytes());
    header
}

const HOSTNAME: &str = "host name";
const OS_VERSION: &str = "OS version";
const SERIAL: &str = "serial number";

impl DeviceInfo {
    fn strings(&self) -> [(&'static str, &str, usize); 3] {
        [
            (HOSTNAME, &self.hostname, MAX_HOSTNAME_LEN),
            (OS_VERSION, &self.os_version, MAX_OS_VERSION_LEN),
            (SERIAL, &self.serial, MAX_SERIAL_LEN),
        ]
    }

    fn check(&self) -> Result<(), EncodeError> {
        for (field, text, max) in self.strings() {
            if text.len() > max {
                return Err(EncodeError::StringTooLong {
                    field,
                    len: text.len(),
                    max,
                });
            }
        }
        Ok(())
    }

    /// Writes the body; [`DeviceInfo::check`] has passed.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mac.0);
        match self.ip {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.push(self.os_generation);
        for (_, text, _) in self.strings() {
            // Checked against limits below 256.
            out.push(text.len() as u8);
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// The unread rest of a datagram.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < len {
            return Err(DecodeError::Truncated { field });
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated { field })?;
        self.0 = rest;
        Ok(*head)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let [byte] = self.array::<1>(field)?;
        Ok(byte)
    }

    fn command(&mut self) -> Result<Command, DecodeError> {
        let byte = self.byte("command")?;
        Command::from_byte(byte).ok_or(DecodeError::UnknownCommand(byte))
    }

    fn string(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let len = usize::from(self.byte(field)?);
        if len > max {
            return Err(DecodeError::StringTooLong { field, len, max });
        }
        let bytes = self.take(len, field)?;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { field })?;
        Ok(text.to_owned())
    }

    fn device_info(&mut self) -> Result<DeviceInfo, DecodeError> {
        let mac = Mac(self.array("MAC address")?);
        let ip = match self.byte("address family")? {
            4 => IpAddr::V4(Ipv4Addr::from(self.array::<4>("IPv4 address")?)),
            6 => IpAddr::V6(Ipv6Addr::from(self.array::<16>("IPv6 address")?)),
            family => return Err(DecodeError::UnknownAddressFamily(family)),
        };
        let os_generation = self.byte("OS generation")?;
        let hostname = self.string(HOSTNAME, MAX_HOSTNAME_LEN)?;
        let os_version = self.string(OS_VERSION, MAX_OS_VERSION_LEN)?;
        let serial = self.string(SERIAL, MAX_SERIAL_LEN)?;
        Ok(DeviceInfo {
            mac,
            ip,
            os_generation,
            os_version,
            hostname,
            serial,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> DeviceInfo {
        DeviceInfo {
            mac: Mac([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]),
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            os_generation: 3,
            os_version: "3.2.1".into(),
            hostname: "tc-0007".into(),
            serial: "SN7".into(),
        }
    }

    fn reply() -> Message {
        Message {
            nonce: 0x0102_0304_0506_0708,
            reply_port: 0,
            body: Body::StatusReply(info()),
        }
    }

    fn bytes(message: &Message) -> Vec<u8> {
        message.to_bytes().expect("encodable")
    }

    /// The worked example of `docs/protocol.md`.
    #[test]
    fn documented_example() {
        let query = status_query(0x0123_4567_89ab_cdef, NonZeroU16::new(40000).unwrap());
        assert_eq!(
            query,
            [
                0x50, 0x48, 0x52, 0x53, 0x01, 0x02, 0x9c, 0x40, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
                0xcd, 0xef
            ]
        );
        let request = Message::decode(&query).unwrap();
        assert_eq!(request.body, Body::StatusQuery);
        assert_eq!(request.reply_port, 40000);
        let answer = request.reply(Body::StatusReply(DeviceInfo {
            mac: Mac([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]),
            ip: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 23)),
            os_generation: 3,
            os_version: "3.2".into(),
            hostname: "tc-23".into(),
            serial: "A1".into(),
        }));
        let expected: Vec<u8> = [
            &b"PHRS"[..],
            &[0x01, 0x82, 0x00, 0x00],
            &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            &[0x02, 0x00, 0x5e, 0x10, 0x00, 0x01],
            &[0x04, 192, 168, 1, 23],
            &[0x03],
            &[0x05],
            b"tc-23",
            &[0x03],
            b"3.2",
            &[0x02],
            b"A1",
        ]
        .concat();
        assert_eq!(bytes(&answer), expected);
        assert_eq!(expected.len(), 41);
    }

    #[test]
    fn every_kind_round_trips() {
        let request = |body| Message {
            nonce: 9,
            reply_port: 30006,
            body,
        };
        let reply = |body| Message {
            nonce: 9,
            reply_port: 0,
            body,
        };
        let mut v6 = info();
        v6.ip = "fe80::1".parse().unwrap();
        for message in [
            request(Body::ScanRequest),
            request(Body::StatusQuery),
            request(Body::Command(Command::Reboot)),
            reply(Body::ScanReply(info())),
            reply(Body::StatusReply(v6)),
            reply(Body::CommandAck {
                command: Command::Reboot,
                outcome: Outcome::Busy,
            }),
        ] {
            assert_eq!(Message::decode(&bytes(&message)), Ok(message));
        }
    }

    #[test]
    fn cheap_requests_match_the_encoder() {
        let port = NonZeroU16::new(5).unwrap();
        let message = |body| Message {
            nonce: 77,
            reply_port: 5,
            body,
        };
        assert_eq!(
            status_query(77, port).to_vec(),
            bytes(&message(Body::StatusQuery))
        );
        assert_eq!(
            scan_request(77, port).to_vec(),
            bytes(&message(Body::ScanRequest))
        );
    }

    #[test]
    fn encode_appends() {
        let mut out = vec![0xaa];
        reply().encode(&mut out).unwrap();
        assert_eq!(out[0], 0xaa);
        assert_eq!(out[1..], bytes(&reply()));
    }

    #[test]
    fn too_long() {
        let mut datagram = bytes(&reply());
        datagram.resize(MAX_DATAGRAM + 1, 0);
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::TooLong { len: 513 })
        );
    }

    #[test]
    fn truncated_anywhere() {
        let datagram = bytes(&reply());
        for len in 0..datagram.len() {
            assert!(
                matches!(
                    Message::decode(&datagram[..len]),
                    Err(DecodeError::Truncated { .. })
                ),
                "{len}"
            );
        }
        assert_eq!(
            Message::decode(&datagram[..3]),
            Err(DecodeError::Truncated { field: "magic" })
        );
        assert_eq!(
            Message::decode(&datagram[..HEADER_LEN + 6]),
            Err(DecodeError::Truncated {
                field: "address family"
            })
        );
    }

    /// A valid status query with one byte changed.
    fn query_with(at: usize, byte: u8) -> Vec<u8> {
        let mut datagram = status_query(1, NonZeroU16::new(9).unwrap()).to_vec();
        datagram[at] = byte;
        datagram
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Message::decode(&query_with(0, b'X')),
            Err(DecodeError::BadMagic(*b"XHRS"))
        );
        assert_eq!(
            Message::decode(&query_with(4, 2)),
            Err(DecodeError::UnsupportedVersion(2))
        );
        // A later version is recognised as such even if its header is shorter.
        assert_eq!(
            Message::decode(b"PHRS\x02"),
            Err(DecodeError::UnsupportedVersion(2))
        );
        assert_eq!(
            Message::decode(&query_with(5, 0x04)),
            Err(DecodeError::UnknownKind(4))
        );
        assert_eq!(
            Message::decode(&query_with(5, 0x80)),
            Err(DecodeError::UnknownKind(0x80))
        );
        let mut no_port = query_with(6, 0);
        no_port[7] = 0;
        assert_eq!(
            Message::decode(&no_port),
            Err(DecodeError::MissingReplyPort)
        );
        let mut with_port = bytes(&reply());
        with_port[7] = 1;
        assert_eq!(
            Message::decode(&with_port),
            Err(DecodeError::UnexpectedReplyPort(1))
        );
    }

    #[test]
    fn trailing_bytes() {
        let mut datagram = status_query(1, NonZeroU16::new(9).unwrap()).to_vec();
        datagram.push(0);
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        let mut datagram = bytes(&reply());
        datagram.extend_from_slice(&[1, 2]);
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::TrailingBytes { count: 2 })
        );
    }

    #[test]
    fn unknown_command_and_outcome() {
        let mut command = bytes(&Message {
            nonce: 1,
            reply_port: 9,
            body: Body::Command(Command::Reboot),
        });
        command[HEADER_LEN] = 0x02;
        assert_eq!(
            Message::decode(&command),
            Err(DecodeError::UnknownCommand(2))
        );
        let ack = bytes(&Message {
            nonce: 1,
            reply_port: 0,
            body: Body::CommandAck {
                command: Command::Reboot,
                outcome: Outcome::Accepted,
            },
        });
        let mut bad_command = ack.clone();
        bad_command[HEADER_LEN] = 0;
        assert_eq!(
            Message::decode(&bad_command),
            Err(DecodeError::UnknownCommand(0))
        );
        let mut bad_outcome = ack;
        bad_outcome[HEADER_LEN + 1] = 3;
        assert_eq!(
            Message::decode(&bad_outcome),
            Err(DecodeError::UnknownOutcome(3))
        );
    }

    #[test]
    fn unknown_address_family() {
        let mut datagram = bytes(&reply());
        datagram[HEADER_LEN + 6] = 5;
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::UnknownAddressFamily(5))
        );
    }

    /// Offset of the host name's length byte in [`reply`]'s encoding (IPv4).
    const HOSTNAME_AT: usize = HEADER_LEN + 6 + 1 + 4 + 1;

    #[test]
    fn string_too_long() {
        let mut datagram = bytes(&reply());
        datagram[HOSTNAME_AT] = 254;
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::StringTooLong {
                field: "host name",
                len: 254,
                max: 253
            })
        );
        let serial_at = HOSTNAME_AT + 1 + "tc-0007".len() + 1 + "3.2.1".len();
        datagram = bytes(&reply());
        datagram[serial_at] = 65;
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::StringTooLong {
                field: "serial number",
                len: 65,
                max: 64
            })
        );
    }

    #[test]
    fn invalid_utf8() {
        let mut datagram = bytes(&reply());
        datagram[HOSTNAME_AT + 1] = 0xff;
        assert_eq!(
            Message::decode(&datagram),
            Err(DecodeError::InvalidUtf8 { field: "host name" })
        );
    }

    #[test]
    fn longest_reply_fits() {
        let mut info = info();
        info.ip = "2001:db8::1".parse().unwrap();
        info.hostname = "h".repeat(MAX_HOSTNAME_LEN);
        info.os_version = "é".repeat(MAX_OS_VERSION_LEN / 2);
        info.serial = "s".repeat(MAX_SERIAL_LEN);
        let message = reply().reply(Body::ScanReply(info));
        let datagram = bytes(&message);
        assert_eq!(datagram.len(), HEADER_LEN + MAX_DEVICE_INFO_LEN);
        assert_eq!(Message::decode(&datagram), Ok(message));
    }

    #[test]
    fn encode_refuses_what_would_not_decode() {
        let mut out = Vec::new();
        let no_port = Message {
            nonce: 1,
            reply_port: 0,
            body: Body::ScanRequest,
        };
        assert_eq!(no_port.encode(&mut out), Err(EncodeError::MissingReplyPort));
        let mut with_port = reply();
        with_port.reply_port = 30005;
        assert_eq!(
            with_port.encode(&mut out),
            Err(EncodeError::UnexpectedReplyPort(30005))
        );
        let mut long = info();
        long.os_version = "v".repeat(MAX_OS_VERSION_LEN + 1);
        assert_eq!(
            reply().reply(Body::ScanReply(long)).encode(&mut out),
            Err(EncodeError::StringTooLong {
                field: "OS version",
                len: 65,
                max: 64
            })
        );
        assert!(out.is_empty(), "nothing written on error");
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            DecodeError::Truncated { field: "nonce" }.to_string(),
            "datagram ends inside the nonce"
        );
        assert_eq!(
            DecodeError::UnsupportedVersion(2).to_string(),
            "protocol version 2 is not supported (this is version 1)"
        );
        assert_eq!(
            DecodeError::BadMagic(*b"GET ").to_string(),
            "not a Pharos datagram (starts with [47, 45, 54, 20])"
        );
        assert_eq!(
            EncodeError::MissingReplyPort.to_string(),
            "a request needs a non-zero reply port"
        );
    }
}
