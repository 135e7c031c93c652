//! The XDP program on hand-built frames through BPF_PROG_TEST_RUN: the
//! verdict, the one counter that moved, and for accepted frames the exact
//! record in the ring buffer. Needs root and the real eBPF object
//! (`XCARP_EBPF=build cargo test -p carp-user --test xdp_prog_test_run`).
//!
//! Frames are built here byte by byte (with correct checksums) rather than
//! with the daemon's wire codec, so that the two check each other.
#![allow(clippy::too_many_lines)]

mod xdp_common;

use std::net::Ipv4Addr;

use carp_common::{AdvertRecord, counter};
use xcarp::xdp::{AttachMode, VhidSettings, XdpAttachment, XdpCounters};
use xdp_common::{Carp, Frame, XDP_DROP, XDP_PASS, lo_ifindex, monotonic_ns, setup};

const VHID: u8 = 42;
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const OWN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OWN_2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

/// The fixture's instance: VHID 42, untagged, multicast mode, own
/// 192.0.2.1/.11, no kernel HMAC (the frames carry made-up digests), no
/// ring budget. Tests vary it with `..fixture_settings()`.
fn fixture_settings() -> VhidSettings<'static> {
    VhidSettings {
        vhid: VHID,
        vlan: 0,
        group: GROUP,
        broadcast: false,
        own_addrs: &[OWN, OWN_2],
        hmac: None,
        ring_budget: 0,
        reject_replays: false,
    }
}

/// A loaded, unattached program with [`fixture_settings`] configured for
/// the loopback device (where test-run frames arrive).
fn fixture() -> Option<XdpAttachment> {
    let mut xdp = setup()?;
    xdp.configure_vhid(fixture_settings())
        .expect("configure VHID 42");
    Some(xdp)
}

fn valid() -> Frame {
    Frame::carp(PEER, GROUP, Carp::advert(VHID))
}

/// Runs `frame` once; asserts the verdict and that exactly counter `moved`
/// went up by one (or, with `None`, that no counter moved).
fn run(xdp: &XdpAttachment, frame: &[u8], verdict: u32, moved: Option<u32>) {
    let before = xdp.counters().expect("read counters");
    let result = xdp.test_run(frame, 1).expect("BPF_PROG_TEST_RUN");
    let after = xdp.counters().expect("read counters");
    assert_eq!(
        result.return_value, verdict,
        "verdict for frame {:02x?}",
        frame
    );
    assert_moved(&before, &after, moved, 1);
}

fn assert_moved(before: &XdpCounters, after: &XdpCounters, moved: Option<u32>, by: u64) {
    for index in 0..counter::COUNT {
        let delta = after.by_index(index) - before.by_index(index);
        let expected = if Some(index) == moved { by } else { 0 };
        assert_eq!(
            delta, expected,
            "counter {index} moved by {delta}, expected {expected} (before: {before}; after: {after})"
        );
    }
}

/// Runs a frame that must be accepted and returns the record it produced,
/// checking the fields that do not depend on the frame.
fn accept(xdp: &mut XdpAttachment, frame: &[u8]) -> AdvertRecord {
    let mut reader = xdp_common::reader(xdp);
    let t0 = monotonic_ns();
    run(xdp, frame, XDP_DROP, Some(counter::ACCEPTED));
    let t1 = monotonic_ns();
    let record = reader
        .try_next()
        .expect("read the ring")
        .expect("an accepted frame leaves a record");
    assert!(
        reader.try_next().expect("read the ring").is_none(),
        "exactly one record"
    );
    assert!(
        (t0..=t1).contains(&record.timestamp_ns),
        "timestamp {} not within [{t0}, {t1}]",
        record.timestamp_ns
    );
    assert_eq!(record.ifindex, lo_ifindex());
    record
}

fn expected_record(frame: &Frame, ts: u64) -> AdvertRecord {
    AdvertRecord {
        timestamp_ns: ts,
        ifindex: lo_ifindex(),
        src_ip: frame.ip_src.octets(),
        dst_ip: frame.ip_dst.octets(),
        src_mac: frame.eth_src,
        vlan_id: frame.vlan.unwrap_or(0),
        carp: frame.carp.bytes(),
    }
}

#[test]
fn not_carp_frames_pass_and_are_counted() {
    let Some(xdp) = fixture() else { return };
    // ARP request.
    let mut arp = vec![0xff; 6];
    arp.extend([0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend([0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1]);
    arp.extend([0; 6]);
    arp.extend([192, 0, 2, 2]);
    arp.resize(60, 0);
    run(&xdp, &arp, XDP_PASS, Some(counter::NOT_CARP));

    // IPv6 with next header 112 (still not IPv4 CARP).
    let mut ipv6 = vec![0x33, 0x33, 0, 0, 0, 0x12, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd];
    ipv6.extend([0x60, 0, 0, 0, 0, 36, 112, 255]);
    ipv6.extend(
        [0xfe, 0x80]
            .iter()
            .chain([0u8; 13].iter())
            .chain([1u8].iter()),
    );
    ipv6.extend(
        [0xff, 0x02]
            .iter()
            .chain([0u8; 13].iter())
            .chain([0x12u8].iter()),
    );
    ipv6.extend(Carp::advert(VHID).bytes());
    run(&xdp, &ipv6, XDP_PASS, Some(counter::NOT_CARP));

    // UDP over IPv4, VLAN-tagged UDP, and a frame too short for any header.
    let mut udp = valid();
    udp.protocol = 17;
    run(&xdp, &udp.build(), XDP_PASS, Some(counter::NOT_CARP));
    udp.vlan = Some(7);
    run(&xdp, &udp.build(), XDP_PASS, Some(counter::NOT_CARP));
    // An IPv4 frame that ends before the protocol byte (the kernel's test
    // run needs at least an Ethernet header).
    let mut cut = valid().build();
    cut.truncate(14 + 6);
    run(&xdp, &cut, XDP_PASS, Some(counter::NOT_CARP));
}

#[test]
fn valid_advert_is_accepted_with_its_exact_record() {
    let Some(mut xdp) = fixture() else { return };
    let mut frame = valid();
    frame.carp.advskew = 7;
    frame.carp.counter = 0x0102_0304_0506_0708;
    frame.carp.md = [0xab; 20];
    let record = accept(&mut xdp, &frame.build());
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));
    assert_eq!(record.src_ip, [192, 0, 2, 2]);
    assert_eq!(record.src_mac, [0x00, 0x00, 0x5e, 0x00, 0x00, VHID]);
    assert_eq!(
        record.carp[..8],
        [0x21, VHID, 7, 7, 0, 1, record.carp[6], record.carp[7]]
    );
    assert_eq!(record.carp[8..16], [1, 2, 3, 4, 5, 6, 7, 8]);
}

/// Tagged/untagged × served/unserved: an instance serves its own VLAN only
/// (0 = untagged), so a same-VHID cluster on another VLAN of the interface
/// keeps its adverts instead of losing them to us (split brain there).
#[test]
fn vlan_tags_select_the_instance_and_unserved_vlans_pass() {
    let Some(mut xdp) = fixture() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let tagged = |vlan: u16| {
        let mut frame = valid();
        frame.vlan = Some(vlan);
        frame.vlan_pcp = 0xe; // priority bits must not leak into the id
        frame
    };
    let mut accepted = |xdp: &XdpAttachment, frame: &Frame| {
        run(xdp, &frame.build(), XDP_DROP, Some(counter::ACCEPTED));
        let record = reader
            .try_next()
            .expect("read the ring")
            .expect("an accepted frame leaves a record");
        assert_eq!(record, expected_record(frame, record.timestamp_ns));
    };

    // Only the untagged instance is configured.
    run(
        &xdp,
        &tagged(0x0abc).build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
    run(
        &xdp,
        &tagged(7).build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
    accepted(&xdp, &valid());
    // A priority tag (VLAN id 0) is an untagged frame with a priority.
    accepted(&xdp, &tagged(0));

    // Serve VLAN 0xabc too: its frames are ours, VLAN 7's still pass.
    xdp.configure_vhid(VhidSettings {
        vlan: 0x0abc,
        own_addrs: &[OWN],
        ..fixture_settings()
    })
    .expect("configure VHID 42 on VLAN 0xabc");
    accepted(&xdp, &tagged(0x0abc));
    run(
        &xdp,
        &tagged(7).build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
    accepted(&xdp, &valid());

    // Serve VLAN 0xabc only: untagged frames of the VHID now pass.
    xdp.remove_vhid(0, VHID)
        .expect("remove the untagged instance");
    run(
        &xdp,
        &valid().build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
    accepted(&xdp, &tagged(0x0abc));

    // 4095 is reserved and cannot be configured.
    let err = xdp
        .configure_vhid(VhidSettings {
            vlan: 4095,
            own_addrs: &[OWN],
            ..fixture_settings()
        })
        .expect_err("VLAN 4095 is reserved");
    assert!(err.to_string().contains("4095"), "{err}");
}

/// The IPv4 header checksum (with options) and the CARP checksum are
/// verified in the kernel, so the daemon never sees a corrupted advert.
#[test]
fn bad_ip_or_carp_checksums_are_dropped() {
    let Some(mut xdp) = fixture() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let good = valid().build();
    let l3 = 14;
    for (what, offset) in [
        ("IP checksum field", l3 + 10),
        ("IP id", l3 + 4),
        ("CARP checksum field", l3 + 20 + 6),
        ("CARP counter", l3 + 20 + 12),
        ("CARP digest", l3 + 20 + 30),
    ] {
        let mut bad = good.clone();
        bad[offset] ^= 0x01;
        let before = xdp.counters().expect("read counters");
        let result = xdp.test_run(&bad, 1).expect("BPF_PROG_TEST_RUN");
        let after = xdp.counters().expect("read counters");
        assert_eq!(result.return_value, XDP_DROP, "{what}");
        assert_moved(&before, &after, Some(counter::BAD_CHECKSUM), 1);
    }
    // With options, the options are summed too.
    let mut with_options = valid();
    with_options.ip_options = vec![1, 1, 1, 0, 0x94, 4, 0, 0];
    let mut bytes = with_options.build();
    run(&xdp, &bytes, XDP_DROP, Some(counter::ACCEPTED));
    let record = reader.try_next().expect("read the ring").expect("a record");
    assert_eq!(record, expected_record(&with_options, record.timestamp_ns));
    bytes[l3 + 20 + 5] ^= 0x40; // inside the options
    run(&xdp, &bytes, XDP_DROP, Some(counter::BAD_CHECKSUM));
}

#[test]
fn ip_options_ihl_6_is_accepted() {
    let Some(mut xdp) = fixture() else { return };
    let mut frame = valid();
    frame.ip_options = vec![0x94, 0x04, 0x00, 0x00]; // Router Alert
    let bytes = frame.build();
    assert_eq!(bytes[14], 0x46);
    let record = accept(&mut xdp, &bytes);
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));

    // The longest header (IHL 15, 40 option bytes) too.
    let mut frame = valid();
    frame.ip_options = vec![1; 40]; // NOPs
    let bytes = frame.build();
    assert_eq!(bytes[14], 0x4f);
    let Some(mut xdp) = fixture() else { return };
    let record = accept(&mut xdp, &bytes);
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));
}

#[test]
fn ethernet_padding_after_the_ip_packet_is_accepted() {
    let Some(mut xdp) = fixture() else { return };
    let frame = valid();
    let mut bytes = frame.build();
    bytes.extend([0; 6]);
    let record = accept(&mut xdp, &bytes);
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));
}

#[test]
fn foreign_vhid_and_vrrp_pass_and_are_counted() {
    let Some(xdp) = fixture() else { return };
    run(
        &xdp,
        &Frame::carp(PEER, GROUP, Carp::advert(43)).build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
    // A keepalived VRRPv3 advert for VRID 7 (not configured): 0x31, VRID,
    // priority, count, max advert interval, checksum, one address.
    let mut vrrp = Frame::carp(PEER, GROUP, Carp::advert(7));
    vrrp.eth_src = [0x00, 0x00, 0x5e, 0x00, 0x01, 7];
    vrrp.payload_override = Some(vec![0x31, 7, 100, 1, 0x00, 0x64, 0, 0, 192, 0, 2, 100]);
    run(&xdp, &vrrp.build(), XDP_PASS, Some(counter::FOREIGN_VHID));
    // VRRPv2 for VRID 42 on another host's link would look like CARP for our
    // VHID; it arrives here only if configured so, and then fails as short.
}

#[test]
fn vhid_configured_for_another_interface_passes() {
    let Some(_) = setup() else { return };
    let mut xdp = XdpAttachment::load_unattached(lo_ifindex() + 1000).expect("load");
    xdp.configure_vhid(VhidSettings {
        own_addrs: &[OWN],
        ..fixture_settings()
    })
    .expect("configure VHID 42 for another ifindex");
    run(
        &xdp,
        &valid().build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
}

#[test]
fn disabled_vhid_passes_like_a_foreign_one() {
    use aya::maps::HashMap;
    use carp_common::{MAP_VHIDS, VHID_FLAG_ENABLED, VhidConfig, VhidKey};

    let Some(mut xdp) = fixture() else { return };
    let key = VhidKey {
        ifindex: lo_ifindex(),
        vlan: 0,
        vhid: u16::from(VHID),
    };
    let mut vhids: HashMap<_, VhidKey, VhidConfig> =
        HashMap::try_from(xdp.ebpf_mut().map_mut(MAP_VHIDS).expect("VHIDS map"))
            .expect("a hash map");
    let mut config = vhids.get(&key, 0).expect("VHID 42 is configured");
    assert_eq!(config.flags, VHID_FLAG_ENABLED);
    assert_eq!(config.group, GROUP.octets());
    assert_eq!(config.own_count, 2);
    assert_eq!(&config.own_addrs[..2], &[OWN.octets(), OWN_2.octets()]);
    config.flags = 0;
    vhids.insert(key, config, 0).expect("disable VHID 42");
    run(
        &xdp,
        &valid().build(),
        XDP_PASS,
        Some(counter::FOREIGN_VHID),
    );
}

#[test]
fn bad_ttl_is_dropped_and_other_protocol_112_frames_of_our_id_pass() {
    let Some(xdp) = fixture() else { return };
    let mut frame = valid();
    frame.ttl = 254;
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::BAD_TTL));
    frame.ttl = 1;
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::BAD_TTL));

    // Not CARP v2 adverts (VRRPv3 is version 3): someone else's, passed.
    let mut frame = valid();
    frame.carp.version_type = 0x31; // version 3
    run(&xdp, &frame.build(), XDP_PASS, Some(counter::NOT_ADVERT));
    frame.carp.version_type = 0x25; // type 5 (ucarp would accept it)
    run(&xdp, &frame.build(), XDP_PASS, Some(counter::NOT_ADVERT));
    frame.carp.version_type = 0x22;
    run(&xdp, &frame.build(), XDP_PASS, Some(counter::NOT_ADVERT));
    // VRRPv2 shares CARP's first byte (0x21); its fourth is the address
    // count, where CARP always has authlen 7.
    let mut frame = valid();
    frame.carp.authlen = 3;
    run(&xdp, &frame.build(), XDP_PASS, Some(counter::NOT_ADVERT));
}

#[test]
fn short_frames_pass_and_inconsistent_lengths_are_dropped() {
    let Some(xdp) = fixture() else { return };
    // 20 of the 36 CARP bytes.
    let mut bytes = valid().build();
    bytes.truncate(14 + 20 + 20);
    run(&xdp, &bytes, XDP_PASS, Some(counter::TRUNCATED));
    // 35 bytes.
    let mut bytes = valid().build();
    bytes.truncate(14 + 20 + 35);
    run(&xdp, &bytes, XDP_PASS, Some(counter::TRUNCATED));
    // A VRRPv2 advert (one address, 16 bytes) for VRID = our VHID, as
    // keepalived sends it: first byte 0x21 like CARP, count 1 where CARP has
    // authlen 7. It must reach the host.
    let mut vrrp = valid();
    vrrp.payload_override = Some(vec![
        0x21, VHID, 100, 1, 0, 1, 0, 0, 192, 0, 2, 100, 0, 0, 0, 0,
    ]);
    run(&xdp, &vrrp.build(), XDP_PASS, Some(counter::NOT_ADVERT));
    // The same with authlen 7 but cut short: passes as too short for CARP.
    let mut short = valid();
    short.payload_override = Some(vec![0x21, VHID, 100, 7, 0, 1, 0, 0, 192, 0, 2, 100]);
    run(&xdp, &short.build(), XDP_PASS, Some(counter::TRUNCATED));

    // IP total length below header + 36, or beyond the frame.
    let mut frame = valid();
    frame.tot_len_override = Some(55);
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::BAD_LENGTH));
    frame.tot_len_override = Some(57);
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::BAD_LENGTH));
    frame.tot_len_override = Some(0xffff);
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::BAD_LENGTH));
}

#[test]
fn malformed_protocol_112_passes_and_is_counted() {
    let Some(xdp) = fixture() else { return };
    // IHL 4.
    let mut bytes = valid().build();
    bytes[14] = 0x44;
    run(&xdp, &bytes, XDP_PASS, Some(counter::MALFORMED));
    // IP version 6 under ethertype IPv4.
    let mut bytes = valid().build();
    bytes[14] = 0x65;
    run(&xdp, &bytes, XDP_PASS, Some(counter::MALFORMED));
    // Ends inside the IP header; ends before the VHID byte.
    let mut bytes = valid().build();
    bytes.truncate(14 + 19);
    run(&xdp, &bytes, XDP_PASS, Some(counter::MALFORMED));
    let mut bytes = valid().build();
    bytes.truncate(14 + 20 + 1);
    run(&xdp, &bytes, XDP_PASS, Some(counter::MALFORMED));
    // IHL 15 pointing past the end of a 70-byte frame.
    let mut bytes = valid().build();
    bytes[14] = 0x4f;
    run(&xdp, &bytes, XDP_PASS, Some(counter::MALFORMED));
}

#[test]
fn fragments_are_dropped() {
    let Some(xdp) = fixture() else { return };
    let mut frame = valid();
    frame.frag = 0x2000; // MF
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::FRAGMENT));
    frame.frag = 0x4000 | 0x0001; // DF, offset 8
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::FRAGMENT));
    frame.frag = 0x4000; // DF alone is what ucarp sends
    let mut xdp = xdp;
    accept(&mut xdp, &frame.build());
}

#[test]
fn wrong_group_is_dropped() {
    let Some(xdp) = fixture() else { return };
    let frame = Frame::carp(PEER, Ipv4Addr::new(224, 0, 0, 19), Carp::advert(VHID));
    run(
        &xdp,
        &frame.build(),
        XDP_DROP,
        Some(counter::BAD_DESTINATION),
    );
    let frame = Frame::carp(PEER, Ipv4Addr::new(192, 0, 2, 1), Carp::advert(VHID));
    run(
        &xdp,
        &frame.build(),
        XDP_DROP,
        Some(counter::BAD_DESTINATION),
    );
}

#[test]
fn own_source_addresses_are_dropped() {
    let Some(xdp) = fixture() else { return };
    for own in [OWN, OWN_2] {
        let frame = Frame::carp(own, GROUP, Carp::advert(VHID));
        run(&xdp, &frame.build(), XDP_DROP, Some(counter::OWN_FRAME));
    }
}

#[test]
fn broadcast_mode_needs_ethernet_broadcast() {
    let Some(mut xdp) = fixture() else { return };
    xdp.configure_vhid(VhidSettings {
        broadcast: true,
        own_addrs: &[OWN],
        ..fixture_settings()
    })
    .expect("reconfigure");
    // ucarp --nomcast: Ethernet broadcast, IP destination still the group.
    let mut frame = valid();
    frame.eth_dst = [0xff; 6];
    let record = accept(&mut xdp, &frame.build());
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));
    // The multicast MAC in broadcast mode.
    run(
        &xdp,
        &valid().build(),
        XDP_DROP,
        Some(counter::BAD_DESTINATION),
    );
    // Broadcast MAC but another IP destination.
    let mut frame = Frame::carp(PEER, Ipv4Addr::new(224, 0, 0, 19), Carp::advert(VHID));
    frame.eth_dst = [0xff; 6];
    run(
        &xdp,
        &frame.build(),
        XDP_DROP,
        Some(counter::BAD_DESTINATION),
    );
}

#[test]
fn broadcast_frame_in_multicast_mode_is_accepted_like_ucarp() {
    // ucarp checks only the IP destination, so a --nomcast peer and a
    // multicast peer understand each other; so does xcarp.
    let Some(mut xdp) = fixture() else { return };
    let mut frame = valid();
    frame.eth_dst = [0xff; 6];
    let record = accept(&mut xdp, &frame.build());
    assert_eq!(record, expected_record(&frame, record.timestamp_ns));
}

#[test]
fn runtime_configuration_changes_apply_without_reload() {
    let Some(mut xdp) = fixture() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let group2 = Ipv4Addr::new(239, 192, 0, 1);
    let frame9 = Frame::carp(PEER, group2, Carp::advert(9)).build();
    run(&xdp, &frame9, XDP_PASS, Some(counter::FOREIGN_VHID));

    xdp.configure_vhid(VhidSettings {
        vhid: 9,
        own_addrs: &[],
        ..fixture_settings()
    })
    .expect("add VHID 9");
    run(&xdp, &frame9, XDP_DROP, Some(counter::BAD_DESTINATION));

    xdp.configure_vhid(VhidSettings {
        vhid: 9,
        group: group2,
        own_addrs: &[],
        ..fixture_settings()
    })
    .expect("change VHID 9's group");
    run(&xdp, &frame9, XDP_DROP, Some(counter::ACCEPTED));
    let record = reader.try_next().expect("ring").expect("record");
    assert_eq!(record.carp[1], 9);
    assert_eq!(record.dst_ip, group2.octets());

    xdp.configure_vhid(VhidSettings {
        vhid: 9,
        group: group2,
        own_addrs: &[PEER],
        ..fixture_settings()
    })
    .expect("make the peer an own address");
    run(&xdp, &frame9, XDP_DROP, Some(counter::OWN_FRAME));

    xdp.remove_vhid(0, 9).expect("remove VHID 9");
    run(&xdp, &frame9, XDP_PASS, Some(counter::FOREIGN_VHID));
    xdp.remove_vhid(0, 9).expect("removing twice is fine");
    // VHID 42 was untouched throughout.
    run(&xdp, &valid().build(), XDP_DROP, Some(counter::ACCEPTED));
    assert!(reader.try_next().expect("ring").is_some());
    assert!(reader.try_next().expect("ring").is_none());
}

#[test]
fn configuration_limits_are_enforced() {
    let Some(mut xdp) = fixture() else { return };
    let many = [OWN; carp_common::MAX_OWN_ADDRS + 1];
    let err = xdp
        .configure_vhid(VhidSettings {
            vhid: 5,
            own_addrs: &many,
            ..fixture_settings()
        })
        .expect_err("too many own addresses");
    assert!(err.to_string().contains("at most"), "{err}");
    xdp.configure_vhid(VhidSettings {
        vhid: 5,
        own_addrs: &many[..carp_common::MAX_OWN_ADDRS],
        ..fixture_settings()
    })
    .expect("the maximum fits");
    // The last slot is honoured.
    let frame = Frame::carp(OWN, GROUP, Carp::advert(5));
    run(&xdp, &frame.build(), XDP_DROP, Some(counter::OWN_FRAME));
    assert!(
        xdp.configure_vhid(VhidSettings {
            vhid: 0,
            own_addrs: &[],
            ..fixture_settings()
        })
        .is_err()
    );
}

#[test]
fn full_ring_is_counted_and_never_blocks() {
    let Some(mut xdp) = fixture() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let repeat = 5000;
    let before = xdp.counters().expect("counters");
    let result = xdp.test_run(&valid().build(), repeat).expect("test run");
    assert_eq!(result.return_value, XDP_DROP);
    let after = xdp.counters().expect("counters");
    let accepted = after.accepted - before.accepted;
    let full = after.ring_full - before.ring_full;
    assert_eq!(accepted + full, u64::from(repeat), "{after}");
    // 256 KiB of 64-byte records with an 8-byte header each.
    let capacity = u64::from(carp_common::EVENTS_RING_BYTES) / 72;
    assert_eq!(accepted, capacity, "{after}");
    let mut records = Vec::new();
    let n = reader.drain_into(&mut records).expect("drain");
    assert_eq!(n as u64, accepted);
    assert!(records.iter().all(|r| r.carp[1] == VHID));
    assert!(
        records
            .windows(2)
            .all(|w| w[0].timestamp_ns <= w[1].timestamp_ns)
    );
    // Room again.
    run(&xdp, &valid().build(), XDP_DROP, Some(counter::ACCEPTED));
}

#[test]
fn async_reader_wakes_on_a_new_record() {
    let Some(mut xdp) = fixture() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut reader = xdp.advert_reader().expect("ring");
        // Nothing yet: `next` must wait, not return.
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(100), reader.next()).await;
        assert!(waited.is_err(), "next() returned without a record");
        let frame = valid().build();
        let (result, record) = tokio::join!(
            async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                xdp.test_run(&frame, 1).expect("test run")
            },
            async {
                tokio::time::timeout(std::time::Duration::from_secs(5), reader.next())
                    .await
                    .expect("woken within 5 s")
                    .expect("record")
            }
        );
        assert_eq!(result.return_value, XDP_DROP);
        assert_eq!(record.src_ip, PEER.octets());
    });
}

/// The real ucarp's adverts, sent on a veth pair between two namespaces of
/// our own, arrive through the XDP program and the ring buffer.
fn ucarp_adverts_arrive(mode: AttachMode, expected_mode: &str) {
    let _limit = xcarp_tests::test_time_limit();
    use std::{path::Path, process::Command, time::Duration};
    use xcarp_tests::{Netns, ProcessGuard, unique_name};

    let ucarp = "/usr/sbin/ucarp";
    if !Path::new(ucarp).exists() {
        xcarp_tests::skip_or_fail(&format!("{ucarp} is not installed"));
        return;
    }
    if setup().is_none() {
        return;
    }
    let peer_ns = Netns::new("p");
    let local_ns = Netns::new("l");
    let peer_if = unique_name("a");
    let local_if = unique_name("b");
    peer_ns.ip(&[
        "link",
        "add",
        &peer_if,
        "type",
        "veth",
        "peer",
        "name",
        &local_if,
        "netns",
        &local_ns.name,
    ]);
    peer_ns.ip(&["addr", "add", "10.99.0.1/24", "dev", &peer_if]);
    local_ns.ip(&["addr", "add", "10.99.0.2/24", "dev", &local_if]);
    peer_ns.ip(&["link", "set", &peer_if, "up"]);
    local_ns.ip(&["link", "set", &local_if, "up"]);

    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &peer_ns.name, ucarp])
        .args([
            "-i",
            &peer_if,
            "-s",
            "10.99.0.1",
            "-v",
            "42",
            "-p",
            "secret",
        ])
        .args(["-a", "10.99.0.100", "-u", "/bin/true", "-d", "/bin/true"])
        .args(["-b", "1", "-r", "1", "-k", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _ucarp = ProcessGuard::spawn(cmd);

    // Attach and read from a thread inside the local namespace; everything
    // the thread creates is dropped when it ends.
    let local = local_ns.name.clone();
    let iface = local_if.clone();
    let expected_mode = expected_mode.to_owned();
    let (records, counters, ifindex) = std::thread::spawn(move || {
        xcarp_tests::enter_netns(&local);
        let ifindex = lo_ifindex_of(&iface);
        let mut xdp = XdpAttachment::attach(&iface, mode).expect("attach XDP");
        assert_eq!(xdp.mode_name(), expected_mode);
        xdp.configure_vhid(VhidSettings {
            vhid: 42,
            own_addrs: &[Ipv4Addr::new(10, 99, 0, 2)],
            ..fixture_settings()
        })
        .expect("configure VHID 42");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let records = runtime.block_on(async {
            let mut reader = xdp.advert_reader().expect("ring");
            let mut records = Vec::new();
            // ucarp becomes master after about 1 s, then advertises every
            // 1 s + 3/256 s.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            while records.len() < 3 {
                match tokio::time::timeout_at(deadline, reader.next()).await {
                    Ok(record) => records.push(record.expect("read the ring")),
                    Err(_) => break,
                }
            }
            records
        });
        let counters = xdp.counters().expect("counters");
        (records, counters, ifindex)
    })
    .join()
    .expect("the XDP thread panicked");

    assert!(
        records.len() >= 3,
        "only {} adverts from ucarp arrived in 15 s ({counters})",
        records.len()
    );
    for r in &records {
        assert_eq!(r.src_ip, [10, 99, 0, 1]);
        assert_eq!(r.dst_ip, GROUP.octets());
        assert_eq!(r.src_mac, [0x00, 0x00, 0x5e, 0x00, 0x00, 42]);
        assert_eq!(r.ifindex, ifindex);
        assert_eq!(r.vlan_id, 0);
        assert_eq!(&r.carp[..6], &[0x21, 42, 3, 7, 0, 1]);
        assert_eq!(
            xdp_common::checksum(&r.carp),
            0,
            "CARP checksum of {:02x?}",
            r.carp
        );
    }
    assert!(
        records
            .windows(2)
            .all(|w| w[1].timestamp_ns - w[0].timestamp_ns > 900_000_000),
        "adverts about 1 s apart"
    );
    assert!(counters.accepted >= 3, "{counters}");
    assert_eq!(counters.dropped(), 0, "{counters}");
    assert_eq!(counters.foreign_vhid, 0, "{counters}");
}

/// The interface's index in the calling thread's namespace.
fn lo_ifindex_of(iface: &str) -> u32 {
    nix::net::if_::if_nametoindex(iface).expect("interface exists")
}

#[test]
fn ucarp_adverts_arrive_in_driver_mode() {
    ucarp_adverts_arrive(AttachMode::Driver, "driver");
}

#[test]
fn ucarp_adverts_arrive_in_skb_mode() {
    ucarp_adverts_arrive(AttachMode::Skb, "skb");
}

/// The daemon falls back to a socket filter when another xcarp holds the
/// interface's XDP slot; it recognises that case by EEXIST/EBUSY somewhere
/// in the error's source chain.
#[test]
fn second_attach_on_one_interface_reports_the_slot_taken() {
    let _limit = xcarp_tests::test_time_limit();
    use xcarp_tests::{Netns, unique_name};

    if setup().is_none() {
        return;
    }
    let ns = Netns::new("s");
    let a = unique_name("x");
    let b = unique_name("y");
    ns.ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    ns.ip(&["link", "set", &a, "up"]);
    ns.ip(&["link", "set", &b, "up"]);
    let name = ns.name.clone();
    std::thread::spawn(move || {
        xcarp_tests::enter_netns(&name);
        for mode in [AttachMode::Driver, AttachMode::Skb] {
            let first = XdpAttachment::attach(&a, mode).expect("first attach");
            let Err(err) = XdpAttachment::attach(&a, mode) else {
                panic!("a second {mode:?} attach on {a} succeeded");
            };
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            let mut errnos = Vec::new();
            while let Some(e) = source {
                if let Some(io) = e.downcast_ref::<std::io::Error>() {
                    errnos.push(io.raw_os_error());
                }
                source = e.source();
            }
            assert!(
                errnos
                    .iter()
                    .any(|e| matches!(e, Some(libc::EEXIST | libc::EBUSY))),
                "{mode:?}: {err} (errnos in chain: {errnos:?})"
            );
            drop(first);
        }
    })
    .join()
    .expect("the attach thread panicked");
}

/// Detaching is symmetric: the first interface (`attach`) is detached as
/// any other (`attach_also`), its XDP slot is free again, and the same
/// attachment takes it again (the daemon does so when a reload removes
/// every instance of an interface, then adds one back).
#[test]
fn detaching_the_first_interface_frees_its_slot_for_a_later_attach() {
    let _limit = xcarp_tests::test_time_limit();
    use xcarp_tests::{Netns, unique_name};

    if setup().is_none() {
        return;
    }
    let ns = Netns::new("d");
    let a = unique_name("x");
    let b = unique_name("y");
    ns.ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    ns.ip(&["link", "set", &a, "up"]);
    ns.ip(&["link", "set", &b, "up"]);
    let name = ns.name.clone();
    let (a2, b2) = (a.clone(), b.clone());
    let (attached_before, attached_after_detach, attached_again) = std::thread::spawn(move || {
        let (a, b) = (a2, b2);
        xcarp_tests::enter_netns(&name);
        let shown = |dev: &str| {
            let out = std::process::Command::new("ip")
                .args(["-d", "link", "show", "dev", dev])
                .output()
                .expect("ip link");
            String::from_utf8_lossy(&out.stdout).contains("xdpgeneric")
        };
        let mut xdp = XdpAttachment::attach(&a, AttachMode::Skb).expect("first attach");
        xdp.attach_also(&b, AttachMode::Skb).expect("second attach");
        let index_a = lo_ifindex_of(&a);
        xdp.configure_vhid_on(
            index_a,
            VhidSettings {
                vhid: 42,
                ..fixture_settings()
            },
        )
        .expect("configure VHID 42 on the first interface");
        let before = (shown(&a), shown(&b));
        xdp.detach_from(index_a)
            .expect("detach the first interface");
        let after = (shown(&a), shown(&b), xdp.mode_on(index_a));
        // Its slot is free: the same attachment takes it again, in skb mode
        // (which never falls back).
        let reattached = xdp
            .attach_also(&a, AttachMode::Skb)
            .map_err(|e| e.to_string());
        let again = (reattached, shown(&a), xdp.mode_on(index_a));
        (before, after, again)
    })
    .join()
    .expect("the attach thread panicked");
    assert_eq!(attached_before, (true, true));
    assert_eq!(
        attached_after_detach,
        (false, true, None),
        "{a} keeps the program after detach_from"
    );
    assert_eq!(attached_again, (Ok("skb"), true, Some("skb")));
}

/// The daemon's object carries the `xcarp` program and its maps only:
/// the benchmark's baselines are built into an object of their own.
#[test]
fn daemon_object_holds_only_the_xcarp_program() {
    use carp_common::{
        MAP_COUNTERS, MAP_EVENTS, MAP_REPLAY_SOURCES, MAP_REPLAY_STATE, MAP_VHIDS, XDP_PROGRAM_NAME,
    };

    if setup().is_none() {
        return;
    }
    let ebpf = aya::Ebpf::load(xcarp::xdp::object_bytes()).expect("load the daemon's object");
    let programs: Vec<&str> = ebpf.programs().map(|(name, _)| name).collect();
    assert_eq!(programs, [XDP_PROGRAM_NAME]);
    let mut maps: Vec<&str> = ebpf
        .maps()
        .map(|(name, _)| name)
        .filter(|name| !name.starts_with('.'))
        .collect();
    maps.sort_unstable();
    assert_eq!(
        maps,
        [
            MAP_COUNTERS,
            MAP_EVENTS,
            MAP_REPLAY_SOURCES,
            MAP_REPLAY_STATE,
            "RING_BUDGETS",
            "SHA1_SCHEDULE",
            MAP_VHIDS
        ]
    );
}

/// One ucarp capture and the instance that produced it (tests/data).
struct UcarpCapture {
    file: &'static str,
    vhid: u8,
    password: &'static [u8],
    vip: Ipv4Addr,
    group: Ipv4Addr,
    broadcast: bool,
}

const UCARP_CAPTURES: [UcarpCapture; 5] = [
    UcarpCapture {
        file: "ucarp_default.pcap",
        vhid: 42,
        password: b"love",
        vip: Ipv4Addr::new(10, 99, 0, 252),
        group: GROUP,
        broadcast: false,
    },
    UcarpCapture {
        file: "ucarp_nomcast.pcap",
        vhid: 42,
        password: b"love",
        vip: Ipv4Addr::new(10, 99, 0, 252),
        group: GROUP,
        broadcast: true,
    },
    UcarpCapture {
        file: "ucarp_advskew.pcap",
        vhid: 7,
        password: b"secret",
        vip: Ipv4Addr::new(10, 99, 0, 253),
        group: GROUP,
        broadcast: false,
    },
    UcarpCapture {
        file: "ucarp_mcast.pcap",
        vhid: 200,
        password: b"love",
        vip: Ipv4Addr::new(10, 99, 0, 254),
        group: Ipv4Addr::new(239, 192, 0, 1),
        broadcast: false,
    },
    UcarpCapture {
        file: "ucarp_pair.pcap",
        vhid: 9,
        password: b"pairpw",
        vip: Ipv4Addr::new(10, 99, 0, 250),
        group: GROUP,
        broadcast: false,
    },
];

/// Recomputes the CARP checksum of an untagged, option-less frame after an
/// edit, so that the edit reaches the digest check.
fn fix_carp_checksum(frame: &mut [u8]) {
    frame[34 + 6..34 + 8].fill(0);
    let sum = xdp_common::checksum(&frame[34..70]);
    frame[34 + 6..34 + 8].copy_from_slice(&sum.to_be_bytes());
}

/// The kernel's HMAC-SHA1 against the real ucarp: every captured advert
/// passes; every single-bit flip of its digest or counter, of its VHID (with
/// that VHID configured under the same key), or of the configured address
/// fails it, and is counted as `bad_digest`.
#[test]
fn kernel_hmac_accepts_real_ucarp_adverts_and_no_single_bit_flip() {
    use xcarp::auth::CarpAuth;

    let Some(mut xdp) = setup() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let configure = |xdp: &mut XdpAttachment, c: &UcarpCapture, vhid: u8, vip: Ipv4Addr| {
        let auth = CarpAuth::new(c.password, vhid, &[vip]).expect("valid password");
        xdp.configure_vhid(VhidSettings {
            vhid,
            vlan: 0,
            group: c.group,
            broadcast: c.broadcast,
            own_addrs: &[],
            hmac: auth.kernel_hmac(),
            ring_budget: 0,
            reject_replays: false,
        })
        .expect("configure the capture's VHID");
    };
    let mut adverts = 0;
    let mut flips = 0;
    for c in &UCARP_CAPTURES {
        configure(&mut xdp, c, c.vhid, c.vip);
        for frame in xdp_common::pcap::read_pcap(c.file) {
            if frame.len() < 70 || frame[23] != 112 {
                continue; // gratuitous ARP
            }
            adverts += 1;
            run(&xdp, &frame, XDP_DROP, Some(counter::ACCEPTED));
            assert!(reader.try_next().expect("ring").is_some(), "{}", c.file);
            // Digest (CARP bytes 16..36) and counter (8..16), every bit.
            for byte in 34 + 8..34 + 36 {
                for bit in 0..8 {
                    let mut bad = frame.clone();
                    bad[byte] ^= 1 << bit;
                    fix_carp_checksum(&mut bad);
                    run(&xdp, &bad, XDP_DROP, Some(counter::BAD_DIGEST));
                    flips += 1;
                }
            }
            // The VHID, configured under the same key and address.
            for bit in 0..8 {
                let other = c.vhid ^ (1 << bit);
                if other == 0 {
                    continue;
                }
                configure(&mut xdp, c, other, c.vip);
                let mut bad = frame.clone();
                bad[34 + 1] = other;
                fix_carp_checksum(&mut bad);
                run(&xdp, &bad, XDP_DROP, Some(counter::BAD_DIGEST));
                xdp.remove_vhid(0, other).expect("remove");
                flips += 1;
            }
            // The address the digest covers.
            for bit in 0..32 {
                let vip = Ipv4Addr::from(u32::from(c.vip) ^ (1 << bit));
                configure(&mut xdp, c, c.vhid, vip);
                run(&xdp, &frame, XDP_DROP, Some(counter::BAD_DIGEST));
                flips += 1;
            }
            configure(&mut xdp, c, c.vhid, c.vip);
        }
        xdp.remove_vhid(0, c.vhid).expect("remove");
    }
    assert!(adverts >= 20, "only {adverts} adverts in the captures");
    assert!(
        reader.try_next().expect("ring").is_none(),
        "a rejected frame left a record"
    );
    eprintln!("kernel HMAC: {adverts} real adverts accepted, {flips} flips rejected");
}

/// A burst for one instance takes at most its budget of the shared ring
/// (the rest counted `over_budget`), and another instance's advert still
/// gets in.
#[test]
fn ring_budget_bounds_one_instance_and_spares_the_others() {
    let Some(mut xdp) = setup() else { return };
    let mut reader = xdp_common::reader(&mut xdp);
    let budget = 50;
    for vhid in [VHID, 43] {
        xdp.configure_vhid(VhidSettings {
            vhid,
            ring_budget: budget,
            reject_replays: false,
            ..fixture_settings()
        })
        .expect("configure");
    }
    let burst = valid().build();
    let before = xdp.counters().expect("counters");
    xdp.test_run(&burst, budget + 200)
        .expect("BPF_PROG_TEST_RUN");
    let after = xdp.counters().expect("counters");
    assert_eq!(after.accepted - before.accepted, u64::from(budget));
    assert_eq!(after.over_budget - before.over_budget, 200);
    let mut records = Vec::new();
    reader.drain_into(&mut records).expect("drain");
    assert_eq!(records.len(), budget as usize);
    // VHID 43 has a budget of its own.
    let other = Frame::carp(PEER, GROUP, Carp::advert(43)).build();
    run(&xdp, &other, XDP_DROP, Some(counter::ACCEPTED));
    assert_eq!(
        reader.try_next().expect("ring").map(|r| r.carp[1]),
        Some(43)
    );
    // Budget 0 is no limit.
    xdp.configure_vhid(VhidSettings {
        own_addrs: &[OWN],
        ..fixture_settings()
    })
    .expect("configure");
    let before = xdp.counters().expect("counters");
    xdp.test_run(&burst, 300).expect("BPF_PROG_TEST_RUN");
    let after = xdp.counters().expect("counters");
    assert_eq!(after.accepted - before.accepted, 300);
}

/// Frames for the freshness tests: adverts of VHID 42 (and 43) under the
/// kernel's HMAC check with replays rejected.
struct Freshness {
    auth_42: xcarp::auth::CarpAuth,
    auth_43: xcarp::auth::CarpAuth,
    reader: xcarp::xdp::AdvertReader,
}

impl Freshness {
    fn new(xdp: &mut XdpAttachment) -> Self {
        use xcarp::auth::CarpAuth;
        let vip = Ipv4Addr::new(192, 0, 2, 252);
        let this = Self {
            auth_42: CarpAuth::new(b"love", VHID, &[vip]).expect("valid password"),
            auth_43: CarpAuth::new(b"love", 43, &[vip]).expect("valid password"),
            reader: xdp_common::reader(xdp),
        };
        for (vhid, auth) in [(VHID, &this.auth_42), (43, &this.auth_43)] {
            xdp.configure_vhid(VhidSettings {
                vhid,
                hmac: auth.kernel_hmac(),
                reject_replays: true,
                ..fixture_settings()
            })
            .expect("configure");
        }
        this
    }

    /// An authentic advert of VHID 42 from `src`.
    fn advert(&self, src: Ipv4Addr, counter: u64) -> Vec<u8> {
        self.advert_for(VHID, src, counter)
    }

    fn advert_for(&self, vhid: u8, src: Ipv4Addr, counter: u64) -> Vec<u8> {
        let auth = if vhid == VHID {
            &self.auth_42
        } else {
            &self.auth_43
        };
        let mut carp = Carp::advert(vhid);
        carp.counter = counter;
        carp.md = auth.digest(counter);
        Frame::carp(src, GROUP, carp).build()
    }

    /// Runs `frame`, which must be accepted (and leave a record), or else
    /// be dropped as `replayed`.
    fn fresh(&mut self, xdp: &XdpAttachment, frame: &[u8], accepted: bool) {
        if accepted {
            run(xdp, frame, XDP_DROP, Some(counter::ACCEPTED));
            assert!(self.reader.try_next().expect("ring").is_some(), "a record");
        } else {
            run(xdp, frame, XDP_DROP, Some(counter::REPLAYED));
        }
    }
}

/// Longer than the kernel's rule needs to judge a stream's growth
/// (`carp_common::freshness::MIN_SPAN_NS`).
const CLOCK_SPAN: std::time::Duration = std::time::Duration::from_millis(600);

/// docs/xdp.md, "Freshness": a stream whose values advance like xcarp's
/// clock is protected from its second advert on; after that its repeats
/// and old values are dropped as `replayed`, from any source, and no
/// number of repeats downgrades it. Streams and instances keep separate
/// state, values wrap, and neither a forged counter nor an instance without
/// the kernel HMAC teaches the program anything.
#[test]
fn an_advancing_stream_is_protected_and_never_downgraded() {
    use carp_common::freshness::{VALUE_MASK, counter as compose};

    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let other = Ipv4Addr::new(192, 0, 2, 3);

    let first = f.advert(PEER, compose(5, 100_000));
    f.fresh(&xdp, &first, true);
    std::thread::sleep(CLOCK_SPAN);
    let second = f.advert(PEER, compose(5, 110_000));
    f.fresh(&xdp, &second, true);
    // Protected: the same advert again, twice in a row from its source
    // (what a fixed cookie would look like), older ones, from any source.
    for _ in 0..3 {
        f.fresh(&xdp, &second, false);
        f.fresh(&xdp, &second, false);
        f.fresh(&xdp, &first, false);
        f.fresh(&xdp, &f.advert(other, compose(5, 110_000)), false);
        f.fresh(&xdp, &f.advert(other, compose(5, 99)), false);
    }
    // Still protected, still moving on: newer values pass, a jump too
    // (adverts missed).
    f.fresh(&xdp, &f.advert(PEER, compose(5, 111_000)), true);
    f.fresh(&xdp, &f.advert(PEER, compose(5, 118_000)), true);
    f.fresh(&xdp, &f.advert(PEER, compose(5, 112_000)), false);
    // A ucarp node continuing it (another source, + 1) passes.
    f.fresh(&xdp, &f.advert(other, compose(5, 118_001)), true);
    // An advert overtaken by that continuation passes, once.
    let late = f.advert(PEER, compose(5, 117_990));
    f.fresh(&xdp, &late, true);
    f.fresh(&xdp, &late, false);
    // The same advert for another instance is that instance's first.
    f.fresh(&xdp, &f.advert_for(43, PEER, compose(5, 110_000)), true);
    // Across the 40-bit wrap.
    f.fresh(&xdp, &f.advert(PEER, compose(7, VALUE_MASK - 4_999)), true);
    std::thread::sleep(CLOCK_SPAN);
    f.fresh(&xdp, &f.advert(PEER, compose(7, 5_000)), true);
    f.fresh(&xdp, &f.advert(PEER, compose(7, VALUE_MASK - 4_999)), false);
    f.fresh(&xdp, &f.advert(PEER, compose(7, 6_000)), true);
    // A forged advert far ahead in stream 5 is dropped for its digest and
    // does not move the stream: the next authentic one still passes.
    let mut forged = Carp::advert(VHID);
    forged.counter = compose(5, 1 << 38);
    run(
        &xdp,
        &Frame::carp(PEER, GROUP, forged).build(),
        XDP_DROP,
        Some(counter::BAD_DIGEST),
    );
    f.fresh(&xdp, &f.advert(PEER, compose(5, 118_100)), true);

    // Without the option (ucarp's behaviour) a replay is accepted again.
    xdp.configure_vhid(VhidSettings {
        hmac: f.auth_42.kernel_hmac(),
        reject_replays: false,
        ..fixture_settings()
    })
    .expect("reconfigure");
    f.fresh(&xdp, &second, true);
    f.fresh(&xdp, &second, true);
    // Nor without the kernel's HMAC check: the daemon then checks both.
    xdp.configure_vhid(VhidSettings {
        hmac: None,
        reject_replays: true,
        ..fixture_settings()
    })
    .expect("reconfigure");
    f.fresh(&xdp, &second, true);
    f.fresh(&xdp, &second, true);
}

/// OpenBSD sends one fixed cookie in every advert: every one of them is
/// accepted, and a ucarp node continuing the cookie (cookie + 1, + 2…)
/// neither is dropped nor makes the cookie a replay.
#[test]
fn a_fixed_cookie_is_accepted_every_time() {
    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let cookie = 0x7a3c_91d0_5eed_c00c;
    let openbsd = f.advert(PEER, cookie);
    for _ in 0..20 {
        f.fresh(&xdp, &openbsd, true);
    }
    let ucarp = Ipv4Addr::new(192, 0, 2, 3);
    std::thread::sleep(CLOCK_SPAN);
    for i in 1..=3 {
        f.fresh(&xdp, &f.advert(ucarp, cookie + i), true);
        f.fresh(&xdp, &openbsd, true);
    }
}

/// A ucarp node continuing an OpenBSD cookie, heard before the cookie
/// itself (this node started while the ucarp node was master): it counts
/// up by one per advert, which never protects a stream, so the cookie
/// passes when its sender is master again.
#[test]
fn a_cookie_heard_after_its_continuation_is_accepted() {
    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let cookie = 0x1c00_c1e5_0000_0100;
    let ucarp = Ipv4Addr::new(192, 0, 2, 3);
    for i in 1..=3 {
        f.fresh(&xdp, &f.advert(ucarp, cookie + i), true);
        std::thread::sleep(CLOCK_SPAN);
    }
    let openbsd = f.advert(PEER, cookie);
    for _ in 0..5 {
        f.fresh(&xdp, &openbsd, true);
    }
}

/// An attacker forging the cookie sender's IP source between its adverts
/// (another captured counter "from" it) never gets the cookie dropped.
#[test]
fn a_forged_source_between_cookie_adverts_never_drops_the_cookie() {
    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let cookie = f.advert(PEER, 0x6b1d_0000_0000_1234);
    let other = f.advert(PEER, 0x5e77_0000_0000_0042);
    for _ in 0..4 {
        f.fresh(&xdp, &cookie, true);
        f.fresh(&xdp, &other, true);
    }
}

/// ucarp and FreeBSD before they hear a peer: a new random counter in
/// every advert, each accepted; and so is a recording of them sent again
/// in a cycle, whatever the source: a repeat of a stream seen once looks
/// like a fixed cookie, which must never be dropped (docs/xdp.md,
/// "Freshness", limits). A FreeBSD node counting up by one from a random
/// start is accepted too.
#[test]
fn random_counters_are_accepted_and_so_is_a_recording_of_them() {
    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut recorded = Vec::new();
    for _ in 0..10 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let frame = f.advert(PEER, rng);
        f.fresh(&xdp, &frame, true);
        recorded.push(frame);
    }
    for frame in recorded[5..].iter().cycle().take(25) {
        f.fresh(&xdp, frame, true);
    }
    let freebsd = Ipv4Addr::new(192, 0, 2, 4);
    let start = 0x00c0_ffee_0000_0000;
    for i in 0..5 {
        f.fresh(&xdp, &f.advert(freebsd, start + i), true);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A random counter (a ucarp node that has not heard a peer) that lands in
/// a protected stream far ahead of its owner passes without carrying the
/// stream there: the owner's next advert still passes, and the stream is
/// still protected.
#[test]
fn a_random_counter_never_carries_a_protected_stream_ahead() {
    use carp_common::freshness::counter as compose;

    let Some(mut xdp) = setup() else { return };
    let mut f = Freshness::new(&mut xdp);
    let ucarp = Ipv4Addr::new(192, 0, 2, 3);
    f.fresh(&xdp, &f.advert(PEER, compose(9, 100_000)), true);
    std::thread::sleep(CLOCK_SPAN);
    let protected = f.advert(PEER, compose(9, 101_000));
    f.fresh(&xdp, &protected, true);
    f.fresh(
        &xdp,
        &f.advert(ucarp, compose(9, 100_000 + (1 << 38))),
        true,
    );
    f.fresh(&xdp, &f.advert(PEER, compose(9, 102_000)), true);
    f.fresh(&xdp, &protected, false);
}
