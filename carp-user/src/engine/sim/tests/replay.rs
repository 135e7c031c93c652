//! Freshness (docs/xdp.md, "Freshness") on whole clusters: replays of
//! captured adverts neither hold a backup down nor push a master out, and
//! no legitimate sequence — restarts, partitions healed with either side
//! preferred, counter wrap-around, ucarp peers — ends with two masters or
//! a blocked takeover.

use std::{net::Ipv4Addr, time::Duration};

use carp_common::freshness::{self, VALUE_MASK};

use super::{ms, node, secs};
use crate::engine::{
    CounterScheme, EngineConfig, State,
    sim::{NodeSpec, Sim, WireModel},
};

const A: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// A node as xcarp runs it by default: sequenced counters, replays dropped.
pub(super) fn xcarp(config: EngineConfig, wall_ms_at_zero: u64, seed: u64) -> NodeSpec {
    NodeSpec {
        config: EngineConfig {
            counters: CounterScheme::Sequenced { wall_ms_at_zero },
            ..config
        },
        start_at: Duration::ZERO,
        seed,
        reject_replays: true,
    }
}

/// A node as ucarp (and FreeBSD's carp) runs: random-then-adopted
/// counters, nothing dropped.
pub(super) fn ucarp(config: EngineConfig, seed: u64) -> NodeSpec {
    NodeSpec {
        config,
        start_at: Duration::ZERO,
        seed,
        reject_replays: false,
    }
}

/// FreeBSD's variant: one random start, + 1 per advert, adopting.
pub(super) fn freebsd(config: EngineConfig, seed: u64) -> NodeSpec {
    ucarp(
        EngineConfig {
            counters: CounterScheme::RandomStart,
            ..config
        },
        seed,
    )
}

/// OpenBSD: one fixed cookie in every advert, nothing dropped.
pub(super) fn openbsd(config: EngineConfig, seed: u64) -> NodeSpec {
    ucarp(
        EngineConfig {
            counters: CounterScheme::FixedCookie,
            ..config
        },
        seed,
    )
}

/// A (better, advskew 0) master, started by `master`, and B (advskew 100)
/// backup, xcarp when `protected`; A is killed at 20 s and from then on an
/// attacker sends `replays` of what A sent, ten frames a second. Returns
/// the simulation at 60 s.
fn replay_after_the_master_dies(
    master: impl Fn(EngineConfig, u64) -> NodeSpec,
    protected: bool,
    replays: impl Fn(&[Vec<u8>]) -> Vec<Vec<u8>>,
) -> Sim {
    let backup = node(B, 1, 100, 3, true);
    let backup = if protected {
        xcarp(backup, 1_700_000_000_000, 2)
    } else {
        ucarp(backup, 2)
    };
    let mut sim = Sim::new(
        &[
            master(node(A, 1, 0, 3, true), 1),
            NodeSpec {
                start_at: secs(2),
                ..backup
            },
        ],
        WireModel::fixed(ms(1)),
        7,
    );
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![0], "A is master before the attack");
    assert!(sim.legitimate_dropped(1).is_empty());
    sim.kill(0);
    let captured = sim.frames_from(0);
    assert!(captured.len() > 10, "{} frames captured", captured.len());
    for (i, frame) in replays(&captured).into_iter().enumerate() {
        sim.inject_at(secs(20) + ms(100 * i as u64), frame);
    }
    sim.run_until(secs(60));
    sim
}

fn xcarp_master(config: EngineConfig, seed: u64) -> NodeSpec {
    xcarp(config, 1_700_000_000_000, seed)
}

/// Everything captured, over and over.
fn cycle_all(captured: &[Vec<u8>]) -> Vec<Vec<u8>> {
    captured.iter().cycle().take(400).cloned().collect()
}

/// The last five captured, over and over (as scenario 16 does).
fn cycle_last_five(captured: &[Vec<u8>]) -> Vec<Vec<u8>> {
    captured[captured.len() - 5..]
        .iter()
        .cycle()
        .take(400)
        .cloned()
        .collect()
}

/// The master's last advert, over and over: what a fixed cookie looks like.
fn repeat_last(captured: &[Vec<u8>]) -> Vec<Vec<u8>> {
    captured[captured.len() - 1..]
        .iter()
        .cycle()
        .take(400)
        .cloned()
        .collect()
}

/// B took over from the dead master within master-down, and never stepped
/// down again.
fn assert_took_over_for_good(sim: &Sim) {
    assert_eq!(sim.state(1), Some(State::Master));
    let takeover = sim
        .transitions()
        .iter()
        .find(|t| t.node == 1 && t.to == State::Master)
        .expect("B took over");
    // Master-down is 3 s + 100/256 s after A's last advert (≤ 20 s).
    assert!(takeover.at <= secs(24), "B took over at {:?}", takeover.at);
    assert_eq!(
        sim.transitions()
            .iter()
            .filter(|t| t.node == 1 && t.at > takeover.at)
            .count(),
        0,
        "B never stepped down again: {:?}",
        sim.transitions()
    );
    assert!(sim.replays_dropped(1) >= 390, "{}", sim.replays_dropped(1));
}

/// How long B held the VIP over the 40 s of the attack.
fn backup_master_time(sim: &Sim) -> Duration {
    let mut total = Duration::ZERO;
    let mut since = None;
    for t in sim.transitions().iter().filter(|t| t.node == 1) {
        match (t.to, since) {
            (State::Master, None) => since = Some(t.at),
            (State::Backup, Some(s)) => {
                total += t.at - s;
                since = None;
            }
            _ => {}
        }
    }
    total + since.map_or(Duration::ZERO, |s| secs(60) - s)
}

#[test]
fn replays_of_a_dead_master_do_not_hold_the_backup_down() {
    let sim = replay_after_the_master_dies(xcarp_master, true, cycle_all);
    assert_took_over_for_good(&sim);
}

/// The attacker repeats the protected master's last advert alone: to a
/// stream seen once that would be a fixed cookie, but this stream is
/// protected, and no number of repeats downgrades it.
#[test]
fn repeats_of_a_protected_stream_never_downgrade_it() {
    let sim = replay_after_the_master_dies(xcarp_master, true, repeat_last);
    assert_took_over_for_good(&sim);
    let last = *sim.counters_sent(0).last().expect("A sent adverts");
    assert_eq!(sim.stream_class(1, last), Some(freshness::ADVANCING));
}

/// A ucarp master that never heard a peer (its xcarp backup is silent)
/// sends a new random counter in every advert: each a stream seen once,
/// whose repeat cannot be told from a fixed cookie's. So a recording of
/// them holds the backup down as it would without freshness (docs/xdp.md,
/// "Freshness", limits); what must never happen is the opposite, a live
/// peer's advert dropped.
#[test]
fn replays_of_a_lone_ucarp_master_cannot_be_told_from_a_cookie() {
    let sim = replay_after_the_master_dies(ucarp, true, cycle_last_five);
    let held = backup_master_time(&sim);
    assert!(held < secs(10), "B held the VIP for {held:?} of 40 s");
}

/// The same attack without freshness (ucarp's behaviour): the replays of
/// the better master keep B in BACKUP, or push it out each time it takes
/// over. This is what the checks above prevent.
#[test]
fn without_freshness_the_same_replays_keep_the_backup_down() {
    let sim = replay_after_the_master_dies(ucarp, false, cycle_all);
    let held = backup_master_time(&sim);
    assert!(
        held < secs(10),
        "with replays and no check B held the VIP for {held:?} of 40 s"
    );
}

/// The limits (docs/xdp.md, "Freshness"): adverts that are all the same
/// (OpenBSD's cookie), or that count up by one from a random start
/// (FreeBSD's variant), cannot be protected; their replays hold the
/// backup down as they would without freshness.
#[test]
fn replays_of_an_unprotectable_master_keep_the_backup_down() {
    for master in [openbsd, freebsd] {
        let sim = replay_after_the_master_dies(master, true, cycle_all);
        let held = backup_master_time(&sim);
        assert!(held < secs(10), "B held the VIP for {held:?} of 40 s");
    }
}

/// Every advert a node sends with sequenced counters is newer than the one
/// before, across the 40-bit wrap, and never adopted from a peer.
#[test]
fn sequenced_counters_wrap_and_stay_their_own() {
    let near_wrap = VALUE_MASK - 3_000;
    let mut sim = Sim::new(
        &[
            xcarp(node(A, 1, 0, 3, true), near_wrap, 1),
            NodeSpec {
                start_at: secs(1),
                ..xcarp(node(B, 1, 100, 3, true), near_wrap + 500, 2)
            },
        ],
        WireModel::fixed(ms(1)),
        3,
    );
    sim.run_until(secs(30));
    let a = sim.counters_sent(0);
    assert!(a.len() > 20);
    assert!(
        a.windows(2).all(|w| carp_common::freshness::is_newer(
            carp_common::freshness::value(w[1]),
            carp_common::freshness::value(w[0])
        ) && carp_common::freshness::stream(w[0])
            == carp_common::freshness::stream(w[1])),
        "{a:x?}"
    );
    assert!(
        a.iter().any(|c| carp_common::freshness::value(*c) < 1_000),
        "wrapped: {a:x?}"
    );
    assert_eq!(sim.replays_dropped(1), 0);
    assert_eq!(sim.masters(), vec![0]);
}
