//! P2: what only the BSDs do: OpenBSD's bow-out and demote byte, and a
//! VHID of three addresses against OpenBSD and FreeBSD.
use std::{
    thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    carp::{Impl::Xcarp as X, Node, State as NodeState},
    lan::Lan,
    multi::{ConfigDaemon, InstanceConf, held, vip},
    peers::{Kind, Peer, PeerConfig, State, seen},
    probe::{Adverts, epoch_now},
    run_variants, wait_until,
};

use super::{
    BACKUP_SKEW, CONVERGE, MASTER_SKEW, PeerCounters, SLACK, VHID, first_from, hold,
    replay_reports, report, secs, xcarp_opts,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BsdCase {
    BowOut,
    Demote,
    ThreeAddresses(Kind),
}

#[test]
fn p2_bsd_bow_out_demote_and_several_addresses() {
    run_variants(
        "P2 bsd_bow_out_demote_and_several_addresses",
        &[
            (BsdCase::BowOut, &[X]),
            (BsdCase::Demote, &[X]),
            (BsdCase::ThreeAddresses(Kind::OpenBsd), &[X]),
            (BsdCase::ThreeAddresses(Kind::FreeBsd), &[X]),
        ],
        |&case| match case {
            BsdCase::BowOut => bow_out(),
            BsdCase::Demote => demote(),
            BsdCase::ThreeAddresses(kind) => three_addresses(kind),
        },
    );
}

/// An OpenBSD master leaving sends a bow-out: xcarp takes over within 0.5 s
/// of it on the wire, not after master-down.
fn bow_out() {
    let lan = Lan::with_hosts(2);
    let (xhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
    let wire = Adverts::start(&lan, VHID);
    let mut peer = Peer::start(
        phost,
        PeerCounters::OpenBsdCookie.config(phost, MASTER_SKEW),
    );
    assert!(peer.wait_state(State::Master, CONVERGE));
    let xopts = xcarp_opts(BACKUP_SKEW, false);
    let xcarp = Node::start(xhost, X, xopts.clone());
    assert!(xcarp.wait_state(NodeState::Backup, Duration::from_secs(5)));
    // Past xcarp's master-down: it keeps taking the adverts.
    hold(
        &wire,
        phost.addr,
        xopts.master_down() + Duration::from_secs(2),
        || {
            (xcarp.state() != Some(NodeState::Backup)).then(|| {
                format!(
                    "xcarp left BACKUP beside a live OpenBSD master ({})",
                    replay_reports(&xcarp.log.text())
                )
            })
        },
    );
    let t0 = epoch_now();
    peer.leave();
    assert_eq!(peer.state(), State::Stopped);
    let mut bow = None;
    wait_until(Duration::from_secs(2), || {
        bow = seen(&wire).into_iter().find(|a| {
            a.advert.src == phost.addr
                && a.advert.at >= t0
                && (a.advert.advbase, a.advert.advskew) == (255, 255)
        });
        bow.is_some()
    });
    let bow = bow.unwrap_or_else(|| panic!("no bow-out on the wire:\n{}", wire.text()));
    let first = first_from(&wire, xhost.addr, bow.advert.at, SLACK);
    let after = first - bow.advert.at;
    assert!(
        after <= SLACK.as_secs_f64(),
        "xcarp's first advert came {after:.3}s after the bow-out"
    );
    assert!(wait_until(Duration::from_secs(3), || xcarp.holds_vip()));
    assert!(peer.held().is_empty());
    report(
        "P2",
        "openbsd_bow_out",
        &BsdCase::BowOut,
        &format!("bow_out_to_first_advert={}", secs(after)),
    );
}

/// An OpenBSD master advertising demote 1: xcarp (demote 0, longer
/// interval, no preempt) takes over on the first advert it hears, as an
/// OpenBSD backup would, and the peer yields to xcarp's demote 0. The peer
/// is demoted from its start, so the first advert xcarp hears carries it.
fn demote() {
    let lan = Lan::with_hosts(2);
    let (xhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
    let wire = Adverts::start(&lan, VHID);
    let peer = Peer::start(
        phost,
        PeerConfig {
            demote: 1,
            ..PeerCounters::OpenBsdCookie.config(phost, MASTER_SKEW)
        },
    );
    assert!(peer.wait_state(State::Master, CONVERGE));
    let xopts = xcarp_opts(BACKUP_SKEW, false);
    let (t_start, epoch_start) = (Instant::now(), epoch_now());
    let xcarp = Node::start(xhost, X, xopts.clone());
    let backup = xcarp
        .log
        .wait_for_since(
            "Switching to state: BACKUP",
            t_start,
            Duration::from_secs(5),
        )
        .expect("xcarp starts as BACKUP");
    let backup_epoch = epoch_start + (backup - t_start).as_secs_f64();
    // The peer's next advert comes within its interval of xcarp's start.
    let bound = peer.cfg.interval() + SLACK;
    // Waits past master-down, to tell "late" from "never".
    let first = wire.wait_first_from(xhost.addr, backup_epoch, 3 * xopts.master_down());
    let took = first.map(|f| f - backup_epoch);
    assert!(
        took.is_some_and(|t| t <= bound.as_secs_f64()),
        "xcarp took over after {took:.3?}s as BACKUP (None: never), not on the first demote-1 \
         advert (bound {bound:?}; its master-down is {:?}): it ignored the demote byte",
        xopts.master_down()
    );
    let took = took.unwrap_or_default();
    assert!(
        peer.wait_state(State::Backup, Duration::from_secs(3)),
        "the demoted OpenBSD did not yield to xcarp's demote 0"
    );
    thread::sleep(Duration::from_secs(1));
    hold(&wire, xhost.addr, Duration::from_secs(10), || {
        (peer.state() != State::Backup || !peer.held().is_empty() || !xcarp.holds_vip())
            .then(|| format!("peer {:?}, xcarp {:?}", peer.state(), xcarp.state()))
    });
    report(
        "P2",
        "openbsd_demote",
        &BsdCase::Demote,
        &format!("backup_to_first_advert={}", secs(took)),
    );
}

/// A VHID of three addresses (configured out of order) between xcarp (from
/// a configuration file) and a BSD: the HMAC over the sorted addresses is
/// accepted both ways; one master; failover both ways with all three.
fn three_addresses(kind: Kind) {
    let case = BsdCase::ThreeAddresses(kind);
    let lan = Lan::with_hosts(2);
    let (xhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
    let wire = Adverts::start(&lan, VHID);
    let addresses = [vip(10), vip(9), vip(200)];
    let mut all = addresses.to_vec();
    all.sort_unstable();
    let mut xcarp = ConfigDaemon::start(
        xhost,
        &[InstanceConf {
            addresses: addresses.to_vec(),
            preempt: false,
            ..InstanceConf::new(VHID, addresses[0], MASTER_SKEW)
        }],
    );
    assert!(xcarp.wait_masters(&[VHID], CONVERGE), "xcarp alone");
    assert!(wait_until(Duration::from_secs(5), || held(xhost, &all) == all));
    let pcfg = PeerConfig {
        advskew: BACKUP_SKEW,
        ..PeerConfig::new(kind, phost.addr, &addresses)
    };
    let mut peer = Peer::start(phost, pcfg.clone());
    assert!(peer.wait_state(State::Backup, Duration::from_secs(2)));
    let window = Duration::from_secs(10);
    hold(&wire, xhost.addr, window, || {
        (peer.state() != State::Backup || !peer.held().is_empty())
            .then(|| format!("the {kind:?} peer took a live xcarp master's VHID"))
    });
    let stats = peer.stats();
    assert!(
        stats.bad_digest == 0 && stats.accepted >= 8,
        "the {kind:?} peer rejected xcarp's three-address adverts: {stats:?}"
    );

    let t0 = epoch_now();
    xcarp.kill();
    lan.carrier_off(0);
    let bound = pcfg.master_down() + SLACK;
    let to_peer = first_from(&wire, phost.addr, t0, bound) - t0;
    assert!(to_peer <= bound.as_secs_f64(), "peer took {to_peer:.3}s");
    assert!(wait_until(Duration::from_secs(2), || peer.held() == all));

    // xcarp back, as backup of the peer: it must take the peer's adverts.
    lan.carrier_on(0);
    xcarp.restart();
    assert!(
        wait_until(Duration::from_secs(10), || xcarp.states().get(&VHID)
            == Some(&"BACKUP".to_owned())),
        "xcarp did not come back as BACKUP: {:?}",
        xcarp.states()
    );
    assert!(wait_until(Duration::from_secs(5), || held(xhost, &all).is_empty()));
    hold(&wire, phost.addr, window, || {
        let states = xcarp.states();
        (states.get(&VHID) != Some(&"BACKUP".to_owned()) || peer.held() != all).then(|| {
            format!(
                "xcarp left BACKUP beside a live {kind:?} master: {states:?} ({})",
                replay_reports(&xcarp.log.text())
            )
        })
    });
    assert_eq!(xcarp.log.count("Bad digest"), 0, "{}", xcarp.log.text());

    let t1 = epoch_now();
    peer.kill();
    let bound = Duration::from_secs(3) + SLACK;
    let to_xcarp = first_from(&wire, xhost.addr, t1, bound) - t1;
    assert!(to_xcarp <= bound.as_secs_f64(), "xcarp took {to_xcarp:.3}s");
    assert!(wait_until(Duration::from_secs(5), || held(xhost, &all) == all));
    report(
        "P2",
        "three_addresses",
        &case,
        &format!(
            "peer_accepted={} xcarp_to_peer={} peer_to_xcarp={}",
            stats.accepted,
            secs(to_peer),
            secs(to_xcarp)
        ),
    );
}
