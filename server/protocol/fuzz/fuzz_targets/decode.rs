//! Decoding arbitrary bytes never panics, and whatever decodes is the canonical encoding of what
//! it decodes to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pharos_protocol::Message;

fuzz_target!(|datagram: &[u8]| {
    if let Ok(message) = Message::decode(datagram) {
        let encoded = message.to_bytes().expect("a decoded message encodes");
        assert_eq!(encoded, datagram, "encoding is canonical");
        assert_eq!(Message::decode(&encoded), Ok(message));
    }
});
