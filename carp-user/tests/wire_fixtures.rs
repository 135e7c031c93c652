//! Byte-level fixtures for the wire codec and HMAC, both ways: the vectors
//! from docs/protocol.md §2 and frames captured from the real ucarp
//! (`tests/data`, see its README), plus malformed inputs.

use std::net::Ipv4Addr;

use xcarp::{
    auth::{AuthError, CarpAuth},
    engine::{LogLevel, ReceivedAdvert},
    wire::{
        AdvertFrameParams, CarpHeader, DecodeError, Ipv4Carp, RxError, RxFilter,
        build_advert_frame, build_garp_frame, internet_checksum, ipv4_payload, multicast_mac,
    },
};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const NOTES_VIP: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 252);
const REFERENCE_SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);
/// NIC MACs the capture script gives the veth ends.
const V0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x99, 0x01];
const V1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x99, 0x02];

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The receiver of the reference frames (docs/protocol.md §2): VHID 42,
/// default group, untagged, multicast mode, its own address 10.1.1.2.
fn reference_filter() -> RxFilter {
    RxFilter {
        own_src: Ipv4Addr::new(10, 1, 1, 2),
        vhid: 42,
        group: GROUP,
        broadcast: false,
        vlan: 0,
    }
}

fn reference_auth() -> CarpAuth {
    CarpAuth::new(b"love", 42, &[NOTES_VIP]).expect("valid password")
}

// ------------------------------------------------- docs/protocol.md §2

#[test]
fn hmac_vector_counter_0() {
    assert_eq!(
        reference_auth().digest(0).to_vec(),
        hex("a586229ddb7a84e1b47330485555199833cddf11")
    );
}

#[test]
fn hmac_vector_counter_1() {
    assert_eq!(
        reference_auth().digest(1).to_vec(),
        hex("bed06b842dc2fcede38f5139bf18d984f1276796")
    );
}

#[test]
fn hmac_vector_captured_counter() {
    let auth = reference_auth();
    let md = hex("d779100a4149a63502820de2f6e94682221f5df6");
    assert_eq!(auth.digest(0x3b16_9f75_6f5c_f193).to_vec(), md);
    assert!(auth.verify(0x3b16_9f75_6f5c_f193, &md));
    assert!(!auth.verify(0x3b16_9f75_6f5c_f194, &md));
}

#[test]
fn carp_header_vector_counter_0() {
    let header = CarpHeader::advert(42, 1, 0, 0, reference_auth().digest(0));
    let expected = hex("212a000700014fc50000000000000000a586229ddb7a84e1b47330485555199833cddf11");
    assert_eq!(header.encode().to_vec(), expected);
    assert_eq!(CarpHeader::decode(&expected), Ok(header));
}

#[test]
fn carp_header_vector_counter_1_checksum() {
    let bytes = CarpHeader::advert(42, 1, 0, 1, reference_auth().digest(1)).encode();
    assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), 0x63a2);
}

#[test]
fn carp_header_vector_captured_checksum() {
    let counter = 0x3b16_9f75_6f5c_f193;
    let bytes = CarpHeader::advert(42, 1, 0, counter, reference_auth().digest(counter)).encode();
    assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), 0x0669);
}

#[test]
fn carp_header_vector_advbase_2_advskew_100() {
    let bytes = CarpHeader::advert(42, 2, 100, 0, reference_auth().digest(0)).encode();
    assert_eq!(bytes[..8].to_vec(), hex("212a64070002ebc3"));
    // The skew is not authenticated: same digest as with 1/0.
    assert_eq!(
        bytes[16..].to_vec(),
        hex("a586229ddb7a84e1b47330485555199833cddf11")
    );
}

fn reference_frame_hex() -> String {
    "01005e00001200005e00002a08004510003800004000ff7090310a010101e0000012".to_owned()
        + "212a000700014fc50000000000000000a586229ddb7a84e1b47330485555199833cddf11"
}

#[test]
fn full_frame_vector_encodes() {
    let frame = build_advert_frame(&AdvertFrameParams {
        src_ip: REFERENCE_SRC,
        group: GROUP,
        broadcast: false,
        vhid: 42,
        advbase: 1,
        advskew: 0,
        demote: 0,
        counter: 0,
        ip_id: 0,
        digest: reference_auth().digest(0),
    });
    assert_eq!(frame.len(), 70);
    assert_eq!(frame.to_vec(), hex(&reference_frame_hex()));
}

#[test]
fn full_frame_vector_decodes_and_authenticates() {
    let frame = hex(&reference_frame_hex());
    let filter = reference_filter();
    let packet = filter
        .accept_frame(&frame, &reference_auth())
        .expect("valid advert");
    assert_eq!(packet.src, REFERENCE_SRC);
    assert_eq!(packet.dst, GROUP);
    assert_eq!(packet.ttl, 255);
    assert_eq!(packet.tos, 0x10);
    assert_eq!(packet.flags_fragment, 0x4000);
    assert_eq!(packet.carp.counter, 0);
    let advert = ReceivedAdvert::from_packet(&packet);
    assert_eq!((advert.advbase, advert.advskew, advert.demote), (1, 0, 0));
}

// ------------------------------------------------------------------- HMAC

#[test]
fn password_of_19_bytes_is_accepted_20_rejected() {
    assert!(CarpAuth::new(&[b'x'; 19], 1, &[NOTES_VIP]).is_ok());
    assert_eq!(
        CarpAuth::new(&[b'x'; 20], 1, &[NOTES_VIP]).err(),
        Some(AuthError::PasswordTooLong { len: 20 })
    );
}

#[test]
fn auth_needs_an_address() {
    assert_eq!(
        CarpAuth::new(b"love", 1, &[]).err(),
        Some(AuthError::NoAddresses)
    );
}

#[test]
fn addresses_are_hashed_sorted_ascending() {
    let a = Ipv4Addr::new(10, 1, 1, 252);
    let b = Ipv4Addr::new(10, 1, 2, 1);
    let c = Ipv4Addr::new(192, 0, 2, 7);
    let sorted = CarpAuth::new(b"love", 42, &[a, b, c]).expect("auth");
    let shuffled = CarpAuth::new(b"love", 42, &[c, a, b]).expect("auth");
    assert_eq!(sorted.digest(7), shuffled.digest(7));
    // More addresses change the digest (BSD would reject ucarp's advert).
    assert_ne!(sorted.digest(7), reference_auth().digest(7));
}

#[test]
fn verify_rejects_other_vhid_password_address_and_short_tags() {
    let md = reference_auth().digest(5);
    assert!(reference_auth().verify(5, &md));
    assert!(
        !CarpAuth::new(b"love", 43, &[NOTES_VIP])
            .expect("auth")
            .verify(5, &md)
    );
    assert!(
        !CarpAuth::new(b"lovf", 42, &[NOTES_VIP])
            .expect("auth")
            .verify(5, &md)
    );
    assert!(
        !CarpAuth::new(b"love", 42, &[Ipv4Addr::new(10, 1, 1, 253)])
            .expect("auth")
            .verify(5, &md)
    );
    // A truncated tag never verifies, even if it is a correct prefix.
    assert!(!reference_auth().verify(5, &md[..19]));
    assert!(!reference_auth().verify(5, &[]));
}

// ---------------------------------------------------------- ucarp captures

#[path = "xdp_common/pcap.rs"]
mod pcap;
use pcap::read_pcap;

struct Capture {
    file: &'static str,
    src: Ipv4Addr,
    nic_mac: [u8; 6],
    vhid: u8,
    password: &'static [u8],
    vip: Ipv4Addr,
    group: Ipv4Addr,
    broadcast: bool,
    advbase: u8,
    advskew: u8,
}

const DEFAULT: Capture = Capture {
    file: "ucarp_default.pcap",
    src: Ipv4Addr::new(10, 99, 0, 1),
    nic_mac: V0_MAC,
    vhid: 42,
    password: b"love",
    vip: Ipv4Addr::new(10, 99, 0, 252),
    group: GROUP,
    broadcast: false,
    advbase: 1,
    advskew: 0,
};

const NOMCAST: Capture = Capture {
    file: "ucarp_nomcast.pcap",
    broadcast: true,
    ..DEFAULT
};

const ADVSKEW: Capture = Capture {
    file: "ucarp_advskew.pcap",
    vhid: 7,
    password: b"secret",
    vip: Ipv4Addr::new(10, 99, 0, 253),
    advbase: 2,
    advskew: 100,
    ..DEFAULT
};

const MCAST: Capture = Capture {
    file: "ucarp_mcast.pcap",
    vhid: 200,
    vip: Ipv4Addr::new(10, 99, 0, 254),
    group: Ipv4Addr::new(239, 192, 0, 1),
    ..DEFAULT
};

fn is_arp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06])
}

/// Decodes, authenticates and re-encodes every advert of a capture; checks
/// its GARPs against the builder. Returns the adverts' counters.
fn check_capture(c: &Capture) -> Vec<u64> {
    let frames = read_pcap(c.file);
    let auth = CarpAuth::new(c.password, c.vhid, &[c.vip]).expect("auth");
    let filter = RxFilter {
        own_src: Ipv4Addr::new(10, 99, 0, 99),
        vhid: c.vhid,
        group: c.group,
        broadcast: false,
        vlan: 0,
    };
    let mut counters = Vec::new();
    let mut garps = 0;
    for frame in &frames {
        if is_arp(frame) {
            assert_eq!(
                frame[..],
                build_garp_frame(c.nic_mac, c.vip)[..],
                "{}: GARP",
                c.file
            );
            garps += 1;
            continue;
        }
        let packet = filter
            .accept_frame(frame, &auth)
            .unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert_eq!(packet.src, c.src);
        assert_eq!(
            (packet.carp.advbase, packet.carp.advskew),
            (c.advbase, c.advskew)
        );
        let rebuilt = build_advert_frame(&AdvertFrameParams {
            src_ip: packet.src,
            group: packet.dst,
            broadcast: c.broadcast,
            vhid: packet.carp.vhid,
            advbase: packet.carp.advbase,
            advskew: packet.carp.advskew,
            demote: packet.carp.demote,
            counter: packet.carp.counter,
            ip_id: packet.ip_id,
            digest: auth.digest(packet.carp.counter),
        });
        assert_eq!(
            rebuilt[..],
            frame[..],
            "{}: re-encoded advert differs",
            c.file
        );
        counters.push(packet.carp.counter);
    }
    // GARP at takeover and the delayed one two adverts later (§4.3).
    assert_eq!(garps, 2, "{}: GARPs", c.file);
    assert!(counters.len() >= 3, "{}: adverts", c.file);
    counters
}

#[test]
fn captured_default_roundtrips() {
    let counters = check_capture(&DEFAULT);
    // A lone master draws a fresh random counter for every advert (§1).
    assert!(counters.windows(2).all(|w| w[1] != w[0].wrapping_add(1)));
}

#[test]
fn captured_nomcast_roundtrips_with_broadcast_mac() {
    check_capture(&NOMCAST);
    let frame = &read_pcap(NOMCAST.file)[1];
    assert_eq!(frame[..6], [0xff; 6]);
    assert_eq!(
        frame[30..34],
        GROUP.octets(),
        "IP destination stays the group"
    );
}

#[test]
fn captured_advskew_roundtrips() {
    check_capture(&ADVSKEW);
}

#[test]
fn captured_mcast_roundtrips_with_mapped_mac() {
    check_capture(&MCAST);
    assert_eq!(
        multicast_mac(MCAST.group),
        [0x01, 0x00, 0x5e, 0x40, 0x00, 0x01]
    );
    assert_eq!(read_pcap(MCAST.file)[1][..6], multicast_mac(MCAST.group));
}

#[test]
fn captured_delayed_garp_follows_second_advert() {
    // GARP, advert, advert, advert + GARP, advert (§4.3).
    let kinds: Vec<bool> = read_pcap(DEFAULT.file).iter().map(|f| is_arp(f)).collect();
    assert_eq!(kinds, [true, false, false, false, true, false]);
}

#[test]
fn captured_pair_new_master_continues_old_counter() {
    let frames = read_pcap("ucarp_pair.pcap");
    let auth = CarpAuth::new(b"pairpw", 9, &[Ipv4Addr::new(10, 99, 0, 250)]).expect("auth");
    let mut from_a = Vec::new();
    let mut from_b = Vec::new();
    for frame in frames.iter().filter(|f| !is_arp(f)) {
        let packet = Ipv4Carp::decode(ipv4_payload(frame).expect("IPv4")).expect("valid");
        assert!(auth.verify(packet.carp.counter, &packet.carp.digest));
        match packet.src.octets()[3] {
            1 => from_a.push(packet.carp.counter),
            2 => from_b.push(packet.carp.counter),
            other => panic!("unexpected source .{other}"),
        }
    }
    assert!(from_a.len() >= 2 && from_b.len() >= 2);
    // B adopted A's counter as BACKUP, so its first advert is A's last + 1,
    // and then it increments.
    let a_last = *from_a.last().expect("A sent");
    let expected: Vec<u64> = (1..=from_b.len() as u64)
        .map(|i| a_last.wrapping_add(i))
        .collect();
    assert_eq!(from_b, expected);
    // B's GARPs carry its own NIC MAC.
    let garp_b = build_garp_frame(V1_MAC, Ipv4Addr::new(10, 99, 0, 250));
    assert!(frames.iter().any(|f| f[..] == garp_b[..]));
}

// -------------------------------------------------------------- malformed

fn valid_packet() -> Vec<u8> {
    hex(&reference_frame_hex())[14..].to_vec()
}

/// Fixes the IP header checksum after a test edited the header.
fn fix_ip_checksum(packet: &mut [u8]) {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    packet[10..12].fill(0);
    let sum = internet_checksum(&packet[..ihl]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// Fixes the CARP checksum after a test edited the CARP header.
fn fix_carp_checksum(carp: &mut [u8]) {
    carp[6..8].fill(0);
    let sum = internet_checksum(&carp[..36]);
    carp[6..8].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn every_truncation_is_rejected() {
    let packet = valid_packet();
    for len in 0..packet.len() {
        let err = Ipv4Carp::decode(&packet[..len]).expect_err("truncated");
        assert!(
            matches!(
                err,
                DecodeError::TooShort { .. } | DecodeError::Truncated { .. }
            ),
            "len {len}: {err:?}"
        );
    }
    for len in 0..36 {
        assert!(matches!(
            CarpHeader::decode(&packet[20..20 + len]),
            Err(DecodeError::Truncated { .. })
        ));
    }
}

#[test]
fn truncation_reports_ucarp_bogus_size() {
    let packet = valid_packet();
    let err = Ipv4Carp::decode(&packet[..50]).expect_err("truncated");
    assert_eq!(
        err.ucarp_log(),
        Some((
            LogLevel::Debug,
            "Bogus size: caplen=[50], ip_len=[20] ch_len=[36]".to_owned()
        ))
    );
}

#[test]
fn bad_ip_checksum_is_rejected() {
    let mut packet = valid_packet();
    packet[11] ^= 0x01;
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadIpChecksum));
}

#[test]
fn bad_carp_checksum_is_rejected() {
    let mut packet = valid_packet();
    packet[20 + 7] ^= 0x01;
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadCarpChecksum));
    assert_eq!(
        CarpHeader::decode(&packet[20..]),
        Err(DecodeError::BadCarpChecksum)
    );
    // A flipped counter bit is caught by the checksum before the HMAC.
    let mut packet = valid_packet();
    packet[20 + 15] ^= 0x01;
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadCarpChecksum));
}

#[test]
fn bad_carp_version_is_rejected() {
    let mut packet = valid_packet();
    packet[20] = 0x31;
    fix_carp_checksum(&mut packet[20..]);
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadVersion(3)));
    assert_eq!(
        DecodeError::BadVersion(3).ucarp_log(),
        Some((LogLevel::Warning, "Bad version: [3]".to_owned()))
    );
}

#[test]
fn bad_carp_type_is_rejected() {
    let mut packet = valid_packet();
    packet[20] = 0x25;
    fix_carp_checksum(&mut packet[20..]);
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadType(5)));
}

#[test]
fn bad_ttl_is_rejected() {
    let mut packet = valid_packet();
    packet[8] = 64;
    fix_ip_checksum(&mut packet);
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadTtl(64)));
}

#[test]
fn other_protocol_and_ip_version_are_rejected() {
    let mut packet = valid_packet();
    packet[9] = 17;
    fix_ip_checksum(&mut packet);
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::NotCarp(17)));
    let mut packet = valid_packet();
    packet[0] = 0x65;
    assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadIpVersion(6)));
}

#[test]
fn ihl_below_five_is_rejected() {
    for ihl in 0..5 {
        let mut packet = valid_packet();
        packet[0] = 0x40 | ihl;
        assert_eq!(Ipv4Carp::decode(&packet), Err(DecodeError::BadIhl(ihl)));
    }
}

/// The valid packet with `words` 32-bit words of IP options (NOP).
fn packet_with_options(words: u8) -> Vec<u8> {
    let base = valid_packet();
    let mut packet = base[..20].to_vec();
    packet.extend(std::iter::repeat_n(0x01, usize::from(words) * 4));
    packet.extend_from_slice(&base[20..]);
    packet[0] = 0x45 + words;
    let total = u16::try_from(packet.len()).expect("fits");
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    fix_ip_checksum(&mut packet);
    packet
}

#[test]
fn every_ihl_with_options_decodes() {
    for words in 0..=10 {
        let packet = packet_with_options(words);
        let decoded =
            Ipv4Carp::decode(&packet).unwrap_or_else(|e| panic!("IHL {}: {e}", 5 + words));
        assert_eq!(decoded.header_len, 20 + usize::from(words) * 4);
        assert_eq!(decoded.carp.vhid, 42);
        assert!(reference_auth().verify(decoded.carp.counter, &decoded.carp.digest));
    }
}

#[test]
fn ihl_that_overruns_the_packet_is_truncated() {
    // Options claimed but absent: the CARP header no longer fits.
    for ihl in 6..=15u8 {
        let mut packet = valid_packet();
        packet[0] = 0x40 | ihl;
        assert_eq!(
            Ipv4Carp::decode(&packet),
            Err(DecodeError::Truncated {
                len: 56,
                ip_len: usize::from(ihl) * 4,
                carp_len: 36
            })
        );
    }
}

#[test]
fn filter_rejects_wrong_vhid_group_and_own_source() {
    let packet = valid_packet();
    let auth = reference_auth();
    let ours = reference_filter();
    assert!(ours.accept(&packet, &auth).is_ok());
    let other_vhid = RxFilter { vhid: 43, ..ours };
    assert_eq!(
        other_vhid.accept(&packet, &auth),
        Err(RxError::OtherVhid(42))
    );
    let other_group = RxFilter {
        group: Ipv4Addr::new(239, 192, 0, 1),
        ..ours
    };
    assert_eq!(
        other_group.accept(&packet, &auth),
        Err(RxError::OtherGroup(GROUP))
    );
    let own = RxFilter {
        own_src: REFERENCE_SRC,
        ..ours
    };
    assert_eq!(own.accept(&packet, &auth), Err(RxError::OwnAdvert));
}

#[test]
fn filter_checks_vhid_before_checksum_like_ucarp() {
    let mut packet = valid_packet();
    packet[21] = 43; // vhid, checksum now wrong
    let filter = reference_filter();
    assert_eq!(
        filter.accept(&packet, &reference_auth()),
        Err(RxError::OtherVhid(43))
    );
}

#[test]
fn bad_digest_is_rejected_with_ucarp_log() {
    // The reference's (docs/protocol.md §2) forged counter-0 packet with a zeroed digest: ucarp logged
    // md2=[a586229d...] for it.
    let mut packet = valid_packet();
    packet[36..56].fill(0);
    fix_carp_checksum(&mut packet[20..]);
    let filter = reference_filter();
    let err = filter
        .accept(&packet, &reference_auth())
        .expect_err("bad digest");
    assert_eq!(
        err,
        RxError::BadDigest {
            expected: [0xa5, 0x86, 0x22, 0x9d],
            received: [0; 4]
        }
    );
    assert_eq!(
        err.ucarp_log(),
        Some((
            LogLevel::Warning,
            "Bad digest - md2=[a586229d...] md=[00000000...] - Check vhid, password and virtual IP address"
                .to_owned()
        ))
    );
    // A wrong password gives the same error on a pristine packet.
    let wrong = CarpAuth::new(b"hate", 42, &[NOTES_VIP]).expect("auth");
    assert!(matches!(
        filter.accept(&valid_packet(), &wrong),
        Err(RxError::BadDigest { .. })
    ));
}

#[test]
fn accept_header_checks_the_carp_part_alone() {
    let packet = valid_packet();
    let filter = reference_filter();
    let auth = reference_auth();
    let header = filter
        .accept_header(REFERENCE_SRC, GROUP, &packet[20..], &auth)
        .expect("valid");
    assert_eq!(
        ReceivedAdvert::from_header(&header, REFERENCE_SRC).counter,
        0
    );
    assert_eq!(
        filter.accept_header(Ipv4Addr::new(10, 1, 1, 2), GROUP, &packet[20..], &auth),
        Err(RxError::OwnAdvert)
    );
    assert_eq!(
        filter.accept_header(REFERENCE_SRC, GROUP, &packet[20..40], &auth),
        Err(RxError::Decode(DecodeError::Truncated {
            len: 20,
            ip_len: 0,
            carp_len: 36
        }))
    );
}

#[test]
fn non_ipv4_frames_are_rejected() {
    let mut frame = hex(&reference_frame_hex());
    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(
        ipv4_payload(&frame),
        Err(DecodeError::NotIpv4 { ethertype: 0x86dd })
    );
    assert!(matches!(
        ipv4_payload(&frame[..13]),
        Err(DecodeError::TooShort { .. })
    ));
}

#[test]
fn garbage_never_decodes() {
    // A few fixed garbage patterns; the fuzz target and the property below
    // cover the rest.
    for garbage in [
        vec![0u8; 56],
        vec![0xff; 56],
        vec![0x45; 100],
        (0..=255).collect(),
    ] {
        assert!(Ipv4Carp::decode(&garbage).is_err());
        assert!(CarpHeader::decode(&garbage).is_err());
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
        let _ = Ipv4Carp::decode(&bytes);
        let _ = CarpHeader::decode(&bytes);
        let _ = ipv4_payload(&bytes).map(Ipv4Carp::decode);
    }

    #[test]
    fn single_bit_flips_are_rejected(bit in 0usize..56 * 8) {
        let mut packet = valid_packet();
        packet[bit / 8] ^= 1 << (bit % 8);
        let filter = reference_filter();
        // Fields no check looks at (TOS, length, id, flags) are still
        // covered by the IP header checksum.
        let result = filter.accept(&packet, &reference_auth());
        proptest::prop_assert!(result.is_err(), "bit {} accepted: {:?}", bit, result);
    }

    #[test]
    fn encode_decode_roundtrip(vhid in 1u8.., advbase in 0u8.., advskew in 0u8.., counter in 0u64.., digest in proptest::array::uniform20(0u8..)) {
        let header = CarpHeader::advert(vhid, advbase, advskew, counter, digest);
        proptest::prop_assert_eq!(CarpHeader::decode(&header.encode()), Ok(header));
    }
}

/// The checks the XDP program makes beyond ucarp's, made the same way in
/// userspace (the socket-filter path and the simulator use them).
#[test]
fn fragments_total_length_authlen_vlan_and_broadcast_are_checked_like_the_kernel() {
    let frame = hex(&reference_frame_hex());
    let filter = reference_filter();
    let auth = reference_auth();
    assert!(filter.accept_frame(&frame, &auth).is_ok());
    let l3 = 14;

    for flags in [0x2000u16, 0x0001, 0x6001] {
        let mut f = frame.clone();
        f[l3 + 6..l3 + 8].copy_from_slice(&flags.to_be_bytes());
        fix_ip_checksum(&mut f[l3..l3 + 20]);
        assert_eq!(
            filter.accept_frame(&f, &auth),
            Err(RxError::Decode(DecodeError::Fragment)),
            "flags {flags:#06x}"
        );
    }
    for total in [55u16, 57, 1500] {
        let mut f = frame.clone();
        f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
        fix_ip_checksum(&mut f[l3..l3 + 20]);
        assert_eq!(
            filter.accept_frame(&f, &auth),
            Err(RxError::Decode(DecodeError::BadTotalLength {
                total_len: total,
                len: 56
            })),
            "total length {total}"
        );
    }
    // Ethernet padding after the packet is fine.
    let mut padded = frame.clone();
    padded.extend([0; 8]);
    assert!(filter.accept_frame(&padded, &auth).is_ok());

    let mut f = frame.clone();
    f[l3 + 20 + 3] = 6;
    fix_carp_checksum(&mut f[l3 + 20..]);
    assert_eq!(
        filter.accept_frame(&f, &auth),
        Err(RxError::Decode(DecodeError::BadAuthLen(6)))
    );

    // 802.1Q: VLAN 7 is not this instance's; a priority tag is untagged.
    let tagged = |tci: u16| {
        let mut f = frame[..12].to_vec();
        f.extend([0x81, 0x00]);
        f.extend(tci.to_be_bytes());
        f.extend(&frame[12..]);
        f
    };
    assert_eq!(
        filter.accept_frame(&tagged(0x2007), &auth),
        Err(RxError::OtherVlan(7))
    );
    assert!(filter.accept_frame(&tagged(0xe000), &auth).is_ok());
    let on_vlan_7 = RxFilter { vlan: 7, ..filter };
    assert!(on_vlan_7.accept_frame(&tagged(0x2007), &auth).is_ok());
    assert_eq!(
        on_vlan_7.accept_frame(&frame, &auth),
        Err(RxError::OtherVlan(0))
    );

    // --nomcast: the frame must be an Ethernet broadcast.
    let broadcast = RxFilter {
        broadcast: true,
        ..filter
    };
    assert_eq!(
        broadcast.accept_frame(&frame, &auth),
        Err(RxError::NotBroadcast)
    );
    let mut f = frame.clone();
    f[..6].copy_from_slice(&[0xff; 6]);
    assert!(broadcast.accept_frame(&f, &auth).is_ok());
}
