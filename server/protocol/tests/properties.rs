//! Properties of the codec over arbitrary messages and arbitrary bytes.

use pharos_protocol::{
    Body, Command, DeviceInfo, MAX_DATAGRAM, MAX_HOSTNAME_LEN, MAX_OS_VERSION_LEN, MAX_SERIAL_LEN,
    Mac, Message, Outcome,
};
use proptest::prelude::*;
use std::net::IpAddr;

/// Any text of at most `max` bytes (cut at a character boundary).
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=max).prop_map(move |chars| {
        let mut text: String = chars.into_iter().collect();
        let mut end = text.len().min(max);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text
    })
}

fn device_info() -> impl Strategy<Value = DeviceInfo> {
    (
        any::<[u8; 6]>(),
        any::<IpAddr>(),
        any::<u8>(),
        text(MAX_OS_VERSION_LEN),
        text(MAX_HOSTNAME_LEN),
        text(MAX_SERIAL_LEN),
    )
        .prop_map(
            |(mac, ip, os_generation, os_version, hostname, serial)| DeviceInfo {
                mac: Mac(mac),
                ip,
                os_generation,
                os_version,
                hostname,
                serial,
            },
        )
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Accepted),
        Just(Outcome::Unsupported),
        Just(Outcome::Busy)
    ]
}

/// Every message `encode` accepts: requests with a reply port, replies without.
fn message() -> impl Strategy<Value = Message> {
    let request = prop_oneof![
        Just(Body::ScanRequest),
        Just(Body::StatusQuery),
        Just(Body::Command(Command::Reboot)),
    ];
    let reply = prop_oneof![
        device_info().prop_map(Body::ScanReply),
        device_info().prop_map(Body::StatusReply),
        outcome().prop_map(|outcome| Body::CommandAck {
            command: Command::Reboot,
            outcome
        }),
    ];
    prop_oneof![
        (any::<u64>(), 1..=u16::MAX, request).prop_map(|(nonce, reply_port, body)| Message {
            nonce,
            reply_port,
            body
        }),
        (any::<u64>(), reply).prop_map(|(nonce, body)| Message {
            nonce,
            reply_port: 0,
            body
        }),
    ]
}

/// A decoded datagram is exactly the encoding of what it decoded to.
fn check_canonical(datagram: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(message) = Message::decode(datagram) {
        let again = message.to_bytes().expect("a decoded message encodes");
        prop_assert_eq!(&again[..], datagram);
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(datagram: &mut Vec<u8>, mutation: &Mutation) {
    let len = datagram.len();
    match *mutation {
        Mutation::Set(at, byte) if len > 0 => datagram[at % len] = byte,
        Mutation::Flip(at, bit) if len > 0 => datagram[at % len] ^= 1 << bit,
        Mutation::Insert(at, byte) => datagram.insert(at % (len + 1), byte),
        Mutation::Remove(at) if len > 0 => {
            datagram.remove(at % len);
        }
        Mutation::Truncate(at) => datagram.truncate(at % (len + 1)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_then_decode_round_trips(message in message()) {
        let datagram = message.to_bytes().expect("encodable");
        prop_assert!(datagram.len() <= MAX_DATAGRAM);
        prop_assert_eq!(Message::decode(&datagram), Ok(message));
    }

    #[test]
    fn arbitrary_bytes_never_panic(datagram in prop::collection::vec(any::<u8>(), 0..600)) {
        check_canonical(&datagram)?;
    }

    #[test]
    fn mutated_encodings_never_panic(
        message in message(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let mut datagram = message.to_bytes().expect("encodable");
        for mutation in &mutations {
            apply(&mut datagram, mutation);
            check_canonical(&datagram)?;
        }
    }
}
