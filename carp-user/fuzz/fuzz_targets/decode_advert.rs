//! Feeds arbitrary bytes to every decoder and to the full receive path.
//! Decoders must never panic; whatever decodes must re-encode to a header
//! that decodes to the same value.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use xcarp::{
    auth::CarpAuth,
    wire::{CarpHeader, Ipv4Carp, RxFilter, ipv4_payload},
};

fuzz_target!(|data: &[u8]| {
    let _ = CarpHeader::decode(data);
    if let Ok(packet) = Ipv4Carp::decode(data) {
        let reencoded = packet.carp.encode();
        assert_eq!(CarpHeader::decode(&reencoded), Ok(packet.carp));
        assert!(packet.header_len >= 20 && packet.header_len <= 60);
    }
    if let Ok(payload) = ipv4_payload(data) {
        let _ = Ipv4Carp::decode(payload);
    }
    let Ok(auth) = CarpAuth::new(b"love", 42, &[Ipv4Addr::new(10, 1, 1, 252)]) else {
        return;
    };
    let filter = RxFilter {
        own_src: Ipv4Addr::new(10, 1, 1, 2),
        vhid: 42,
        group: Ipv4Addr::new(224, 0, 0, 18),
        broadcast: false,
        vlan: 0,
    };
    if let Err(e) = filter.accept(data, &auth) {
        let _ = e.ucarp_log();
    }
    let _ = filter.accept_frame(data, &auth);
    if data.len() >= 8 {
        let src = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        let dst = Ipv4Addr::new(data[4], data[5], data[6], data[7]);
        let _ = filter.accept_header(src, dst, &data[8..], &auth);
    }
});
