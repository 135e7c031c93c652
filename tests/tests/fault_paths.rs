//! Fault paths that must not leave a VIP behind or take a daemon down:
//! the order of the first gratuitous ARP and the up-script, exits while
//! MASTER, and receive errors caused by the link going down.
use std::time::Duration;

use xcarp_tests::{
    carp::{CarpOpts, Impl, Node, State, UpScript},
    lan::Lan,
    needs_xcarp,
    probe::Capture,
    wait_until,
};

const CONVERGE: Duration = Duration::from_secs(20);

/// The capture timestamp (`tcpdump -tt`) of a frame line, in seconds.
fn stamp(line: &str) -> f64 {
    line.split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
}

/// ucarp's order: the first gratuitous ARP announces a VIP the up-script
/// has configured, so it goes out when the script has ended (here: been
/// killed at its timeout), not at the takeover. Adverts do not wait.
#[test]
fn first_garp_waits_for_the_up_script() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let host = &lan.hosts[0];
    let capture = Capture::start(&lan.client, "arp or ip proto 112");
    let node = Node::start(
        host,
        Impl::Xcarp,
        CarpOpts {
            upscript: UpScript::Hang,
            extra: vec!["--script-timeout".into(), "2".into()],
            ..CarpOpts::default()
        },
    );
    assert!(
        node.wait_state(State::Master, CONVERGE),
        "{}",
        node.full_log()
    );
    assert!(
        wait_until(Duration::from_secs(10), || capture
            .frames()
            .iter()
            .any(|(_, l)| l.contains("ARP"))),
        "no gratuitous ARP: {}",
        node.full_log()
    );
    let frames = capture.frames();
    let first_advert = frames
        .iter()
        .find(|(_, l)| !l.contains("ARP"))
        .map(|(_, l)| stamp(l))
        .unwrap_or_else(|| panic!("no advert captured: {frames:?}"));
    let first_garp = frames
        .iter()
        .find(|(_, l)| l.contains("ARP"))
        .map(|(_, l)| stamp(l))
        .expect("a GARP");
    let adverts_before_garp = frames
        .iter()
        .filter(|(_, l)| !l.contains("ARP") && stamp(l) < first_garp)
        .count();
    assert!(
        first_garp - first_advert >= 1.8,
        "GARP {:.3}s after the takeover advert; the up-script ran for 2 s",
        first_garp - first_advert
    );
    assert!(adverts_before_garp >= 2, "adverts waited for the script");
    eprintln!(
        "FAULT first_garp_waits_for_the_up_script: garp_after_takeover={:.3}s adverts_before={adverts_before_garp}",
        first_garp - first_advert
    );
}

/// Any exit while MASTER other than a signal without --shutdown gives the
/// VIP up first. Here the interface is deleted under a master that ignores
/// carrier loss (`-S`), so only the exit path can run the downscript.
#[test]
fn exit_on_a_lost_interface_runs_the_downscript() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(1);
    let mut node = Node::start(
        &lan.hosts[0],
        Impl::Xcarp,
        CarpOpts {
            neutral: true,
            extra: vec!["-S".into()],
            ..CarpOpts::default()
        },
    );
    assert!(
        node.wait_state(State::Master, CONVERGE),
        "{}",
        node.full_log()
    );
    assert!(wait_until(Duration::from_secs(5), || node.marker().len() == 1));
    lan.delete_link(0);
    let status = node
        .wait_exit(Duration::from_secs(15))
        .expect("xcarp did not exit after its interface went away");
    assert_eq!(status.code(), Some(2), "{}", node.full_log());
    let marker = node.marker();
    assert_eq!(marker.len(), 2, "scripts run: {marker:?}");
    assert!(marker[0].starts_with("up "), "{marker:?}");
    assert!(
        marker[1].starts_with("down "),
        "{marker:?}\n{}",
        node.full_log()
    );
}

/// A packet socket reports ENETDOWN when its interface goes down (on the
/// next read, once a frame arrives): for the socket-filter receiver (the
/// second xcarp on an interface) that is a link event, not a reason to exit.
#[test]
fn socket_receiver_survives_the_link_going_down_and_up() {
    if !needs_xcarp() {
        return;
    }
    let _limit = xcarp_tests::test_time_limit();
    let lan = Lan::with_hosts(2);
    let (host, peer_host) = (&lan.hosts[0], &lan.hosts[1]);
    let vip_43: std::net::Ipv4Addr = "10.99.0.253".parse().expect("address");
    // VHID 43's master lives on the other host: its adverts keep arriving
    // at the socket receiver after the link comes back.
    let peer = Node::start(
        peer_host,
        Impl::Xcarp,
        CarpOpts {
            vhid: 43,
            vip: vip_43,
            ..CarpOpts::default()
        },
    );
    assert!(
        peer.wait_state(State::Master, CONVERGE),
        "{}",
        peer.full_log()
    );
    let mut xdp_holder = Node::start(host, Impl::Xcarp, CarpOpts::default());
    assert!(
        wait_until(Duration::from_secs(10), || xdp_holder
            .full_log()
            .contains("XDP program attached")),
        "{}",
        xdp_holder.full_log()
    );
    let mut fallback = Node::start(
        host,
        Impl::Xcarp,
        CarpOpts {
            vhid: 43,
            vip: vip_43,
            advskew: 100,
            ..CarpOpts::default()
        },
    );
    assert!(
        wait_until(Duration::from_secs(10), || fallback
            .full_log()
            .contains("socket filter")),
        "the second xcarp did not fall back to the socket filter: {}",
        fallback.full_log()
    );
    assert!(
        fallback.wait_state(State::Backup, CONVERGE),
        "{}",
        fallback.full_log()
    );
    for _ in 0..2 {
        host.ns.ip(&["link", "set", "dev", &host.dev, "down"]);
        std::thread::sleep(Duration::from_secs(2));
        host.ns.ip(&["link", "set", "dev", &host.dev, "up"]);
        std::thread::sleep(Duration::from_secs(2));
    }
    // The peer's adverts have been arriving again for a while.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        fallback.running(),
        "the socket receiver exited: {}",
        fallback.full_log()
    );
    assert!(xdp_holder.running(), "{}", xdp_holder.full_log());
    assert_eq!(
        fallback.state(),
        Some(State::Backup),
        "{}",
        fallback.full_log()
    );
    assert_eq!(peer.state(), Some(State::Master), "{}", peer.full_log());
    assert!(
        xdp_holder.wait_state(State::Master, CONVERGE),
        "{}",
        xdp_holder.full_log()
    );
}
