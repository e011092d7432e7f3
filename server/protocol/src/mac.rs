//! MAC addresses and Wake-on-LAN magic packets.

use std::{fmt, str::FromStr};

/// A device's Ethernet address. Shown as `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

/// The text is not six two-digit hex octets separated by all `:` or all `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseMacError;

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a MAC address: expected six hex octets such as aa:bb:cc:dd:ee:ff or AA-BB-CC-DD-EE-FF"
        )
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for Mac {
    type Err = ParseMacError;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff` in any case; one separator throughout.
    fn from_str(text: &str) -> Result<Mac, ParseMacError> {
        let bytes = text.as_bytes();
        if bytes.len() != 17 {
            return Err(ParseMacError);
        }
        let separator = bytes[2];
        if separator != b':' && separator != b'-' {
            return Err(ParseMacError);
        }
        let mut mac = [0u8; 6];
        for (i, octet) in mac.iter_mut().enumerate() {
            let at = i * 3;
            if i > 0 && bytes[at - 1] != separator {
                return Err(ParseMacError);
            }
            *octet = (hex_digit(bytes[at])? << 4) | hex_digit(bytes[at + 1])?;
        }
        Ok(Mac(mac))
    }
}

fn hex_digit(byte: u8) -> Result<u8, ParseMacError> {
    match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        b'A'..=b'F' => Ok(byte - b'A' + 10),
        _ => Err(ParseMacError),
    }
}

/// Six bytes of `0xff`, then the MAC sixteen times.
pub const MAGIC_PACKET_LEN: usize = 6 + 16 * 6;

/// The Wake-on-LAN magic packet that wakes the device with this MAC (a UDP payload).
pub fn magic_packet(mac: &Mac) -> [u8; MAGIC_PACKET_LEN] {
    let mut packet = [0xff; MAGIC_PACKET_LEN];
    for copy in packet[6..].chunks_exact_mut(6) {
        copy.copy_from_slice(&mac.0);
    }
    packet
}

/// The MAC a magic packet is for, or `None` if `payload` is not one. Accepts the bare packet and
/// a packet followed by a SecureOn password of 4 or 6 bytes (the password itself is not checked).
pub fn parse_magic_packet(payload: &[u8]) -> Option<Mac> {
    if ![MAGIC_PACKET_LEN, MAGIC_PACKET_LEN + 4, MAGIC_PACKET_LEN + 6].contains(&payload.len()) {
        return None;
    }
    let (sync, rest) = payload.split_first_chunk::<6>()?;
    let (first, _) = rest.split_first_chunk::<6>()?;
    let copies = &rest[..16 * 6];
    let valid = *sync == [0xff; 6] && copies.chunks_exact(6).all(|copy| copy == first);
    valid.then_some(Mac(*first))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = Mac([0x00, 0x1b, 0x2c, 0xaa, 0xfe, 0x09]);

    #[test]
    fn display_is_lower_case_with_colons() {
        assert_eq!(MAC.to_string(), "00:1b:2c:aa:fe:09");
        assert_eq!(format!("{MAC:?}"), "Mac(00:1b:2c:aa:fe:09)");
    }

    #[test]
    fn parses_either_separator_in_any_case() {
        for text in [
            "00:1b:2c:aa:fe:09",
            "00-1B-2C-AA-FE-09",
            "00:1B:2c:Aa:fE:09",
        ] {
            assert_eq!(text.parse::<Mac>(), Ok(MAC), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_text() {
        for text in [
            "",
            "00:1b:2c:aa:fe",
            "00:1b:2c:aa:fe:09:",
            "00:1b-2c:aa:fe:09",
            "00.1b.2c.aa.fe.09",
            "001b2caafe09",
            "0g:1b:2c:aa:fe:09",
            "00:1b:2c:aa:fe:0",
            "+0:1b:2c:aa:fe:09",
            "é0:1b:2c:aa:fe:0",
        ] {
            assert_eq!(text.parse::<Mac>(), Err(ParseMacError), "{text:?}");
        }
    }

    #[test]
    fn magic_packet_round_trips() {
        let packet = magic_packet(&MAC);
        assert_eq!(packet[..6], [0xff; 6]);
        assert_eq!(packet[6..12], MAC.0);
        assert_eq!(packet[96..], MAC.0);
        assert_eq!(parse_magic_packet(&packet), Some(MAC));
    }

    #[test]
    fn magic_packet_may_carry_a_secure_on_password() {
        let mut packet = magic_packet(&MAC).to_vec();
        packet.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(parse_magic_packet(&packet), Some(MAC));
        packet.extend_from_slice(&[5, 6]);
        assert_eq!(parse_magic_packet(&packet), Some(MAC));
        packet.push(7);
        assert_eq!(parse_magic_packet(&packet), None);
    }

    #[test]
    fn refuses_what_is_not_a_magic_packet() {
        let packet = magic_packet(&MAC);
        assert_eq!(parse_magic_packet(&packet[..101]), None);
        assert_eq!(parse_magic_packet(&[]), None);
        let mut bad_sync = packet;
        bad_sync[3] = 0xfe;
        assert_eq!(parse_magic_packet(&bad_sync), None);
        let mut bad_copy = packet;
        bad_copy[100] ^= 1;
        assert_eq!(parse_magic_packet(&bad_copy), None);
    }
}
