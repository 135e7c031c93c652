use hmac::{Hmac, Mac as _};
use sha1::Sha1;

use super::*;
use crate::auth::CarpAuth;

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn one_address_is_hashed_as_ucarp_hashes_it() {
    for addr in ["10.1.1.252", "0.0.0.0", "255.255.255.255"] {
        assert_eq!(hmac_order(&[a(addr)]), [a(addr)]);
    }
    assert_eq!(hmac_order(&[]), Vec::<Ipv4Addr>::new());
}

#[test]
fn several_addresses_are_hashed_in_bsds_ascending_order() {
    // Numeric order of the whole address, most significant octet first,
    // not the order given and not the octet-reversed order of ucarp's
    // tie-break.
    assert_eq!(
        hmac_order(&[
            a("10.1.1.253"),
            a("10.1.1.252"),
            a("9.255.255.255"),
            a("10.1.2.1")
        ]),
        [
            a("9.255.255.255"),
            a("10.1.1.252"),
            a("10.1.1.253"),
            a("10.1.2.1")
        ]
    );
    assert_eq!(
        hmac_order(&[a("192.168.0.10"), a("192.168.0.9")]),
        [a("192.168.0.9"), a("192.168.0.10")],
        "numeric, not textual"
    );
    // BSD's selection loop takes each address once and can never pick
    // 0.0.0.0 or 255.255.255.255.
    assert_eq!(
        hmac_order(&[
            a("10.0.0.2"),
            a("0.0.0.0"),
            a("10.0.0.1"),
            a("10.0.0.2"),
            a("255.255.255.255")
        ]),
        [a("10.0.0.1"), a("10.0.0.2")]
    );
}

fn digest(password: &[u8], vhid: u8, addrs: &[Ipv4Addr], counter: u64) -> [u8; 20] {
    let mut mac = Hmac::<Sha1>::new_from_slice(password).unwrap();
    mac.update(&[2, 1, vhid]);
    for addr in addrs {
        mac.update(&addr.octets());
    }
    mac.update(&counter.to_be_bytes());
    mac.finalize().into_bytes().into()
}

#[test]
fn the_order_gives_the_reference_digests() {
    // docs/protocol.md §2: "love", vhid 42, 10.1.1.252, counter 0.
    let one = digest(b"love", 42, &hmac_order(&[a("10.1.1.252")]), 0);
    let hex: String = one.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "a586229ddb7a84e1b47330485555199833cddf11");
    // With several addresses, the daemon's HMAC (auth.rs) agrees with the
    // order given here, whatever order the addresses were written in.
    let written = [a("10.1.1.253"), a("10.1.1.9"), a("10.1.1.252")];
    let auth = CarpAuth::new(b"love", 42, &written).unwrap();
    for counter in [0, 1, u64::MAX] {
        assert_eq!(
            auth.digest(counter),
            digest(b"love", 42, &hmac_order(&written), counter)
        );
        assert_ne!(auth.digest(counter), digest(b"love", 42, &written, counter));
    }
}

#[test]
fn facility_names_read_back() {
    for name in ["none", "auth", "daemon", "local0", "local7", "uucp"] {
        assert_eq!(Facility::from_name(name).map(Facility::name), Some(name));
    }
    assert_eq!(
        Facility::from_name("LOCAL3"),
        Some(Facility::Syslog(syslog::Facility::LOG_LOCAL3))
    );
    assert_eq!(Facility::from_name("local8"), None);
    assert_eq!(Facility::default().name(), "daemon");
}

#[test]
fn names_read_back() {
    for mode in [XdpMode::Auto, XdpMode::Driver, XdpMode::Skb] {
        assert_eq!(XdpMode::from_name(mode.name()), Some(mode));
    }
    for rule in [TieBreak::Ucarp, TieBreak::Numeric] {
        assert_eq!(TieBreak::from_name(rule.name()), Some(rule));
    }
}

#[test]
fn default_names_say_where_the_instance_runs() {
    assert_eq!(Instance::default_name(Some("eth0"), 0, 42), "eth0/vhid42");
    assert_eq!(
        Instance::default_name(Some("eth0"), 100, 42),
        "eth0/vlan100/vhid42"
    );
    assert_eq!(Instance::default_name(None, 0, 7), "vhid7");
}

#[test]
fn passwords_are_never_shown() {
    assert_eq!(format!("{:?}", Password::new(b"hunter2")), "<redacted>");
}
