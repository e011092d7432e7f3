use crate::{MAX_DATAGRAM, VERSION};
use std::fmt;

/// Why a datagram is not a valid version-1 message. Receivers count these and drop the datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than [`MAX_DATAGRAM`]; nothing was parsed.
    TooLong {
        len: usize,
    },
    /// The datagram ends before `field` is complete.
    Truncated {
        field: &'static str,
    },
    /// The first four bytes are not `PHRS`.
    BadMagic([u8; 4]),
    /// Another version of the protocol (see "Versioning" in `docs/protocol.md`).
    UnsupportedVersion(u8),
    UnknownKind(u8),
    /// A request whose reply port is 0: nobody to answer to.
    MissingReplyPort,
    /// A reply whose reply port is not 0.
    UnexpectedReplyPort(u16),
    UnknownCommand(u8),
    UnknownOutcome(u8),
    UnknownAddressFamily(u8),
    StringTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    InvalidUtf8 {
        field: &'static str,
    },
    /// Bytes left over after the body.
    TrailingBytes {
        count: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLong { len } => write!(
                f,
                "datagram of {len} bytes is longer than the limit of {MAX_DATAGRAM}"
            ),
            DecodeError::Truncated { field } => write!(f, "datagram ends inside the {field}"),
            DecodeError::BadMagic(magic) => {
                write!(f, "not a Pharos datagram (starts with {magic:02x?})")
            }
            DecodeError::UnsupportedVersion(version) => write!(
                f,
                "protocol version {version} is not supported (this is version {VERSION})"
            ),
            DecodeError::UnknownKind(kind) => write!(f, "unknown message kind 0x{kind:02x}"),
            DecodeError::MissingReplyPort => write!(f, "request with reply port 0"),
            DecodeError::UnexpectedReplyPort(port) => {
                write!(f, "reply with reply port {port} (replies carry 0)")
            }
            DecodeError::UnknownCommand(command) => write!(f, "unknown command 0x{command:02x}"),
            DecodeError::UnknownOutcome(outcome) => {
                write!(f, "unknown command outcome {outcome}")
            }
            DecodeError::UnknownAddressFamily(family) => {
                write!(f, "unknown address family {family} (4 or 6)")
            }
            DecodeError::StringTooLong { field, len, max } => {
                write!(
                    f,
                    "{field} of {len} bytes is longer than the limit of {max}"
                )
            }
            DecodeError::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            DecodeError::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the message")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a message cannot be encoded: it would not decode back to itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A request must name the port to answer to.
    MissingReplyPort,
    /// A reply's reply port must be 0.
    UnexpectedReplyPort(u16),
    StringTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::MissingReplyPort => write!(f, "a request needs a non-zero reply port"),
            EncodeError::UnexpectedReplyPort(port) => {
                write!(f, "a reply must carry reply port 0, not {port}")
            }
            EncodeError::StringTooLong { field, len, max } => {
                write!(
                    f,
                    "{field} of {len} bytes is longer than the limit of {max}"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}
