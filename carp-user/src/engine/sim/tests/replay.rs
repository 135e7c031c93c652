//! Freshness (docs/xdp.md, "Freshness") on whole clusters: replays of
//! captured adverts neither hold a backup down nor push a master out, and
//! no legitimate sequence — restarts, partitions healed with either side
//! preferred, counter wrap-around, ucarp peers — ends with two masters or
//! a blocked takeover.

use std::{net::Ipv4Addr, time::Duration};

use carp_common::freshness::VALUE_MASK;
use proptest::prelude::*;

use super::{HORIZON_AFTER_SETTLE, assert_settles, best, jittery, ms, node, secs};
use crate::engine::{
    CounterScheme, EngineConfig, State,
    sim::{NodeSpec, Sim, WireModel, settle_bound},
};

const A: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// A node as xcarp runs it by default: sequenced counters, replays dropped.
fn xcarp(config: EngineConfig, wall_ms_at_zero: u64, seed: u64) -> NodeSpec {
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

/// A node as ucarp runs: random-then-adopted counters, nothing dropped.
fn ucarp(config: EngineConfig, seed: u64) -> NodeSpec {
    NodeSpec {
        config,
        start_at: Duration::ZERO,
        seed,
        reject_replays: false,
    }
}

/// A (better, advskew 0) master and B (advskew 100) backup; A is killed at
/// 20 s and from then on an attacker replays everything A sent, cycling,
/// ten frames a second. Returns the simulation at 60 s.
fn replay_after_the_master_dies(protected: bool) -> Sim {
    let spec = |config, seed| {
        if protected {
            xcarp(config, 1_700_000_000_000, seed)
        } else {
            ucarp(config, seed)
        }
    };
    let mut sim = Sim::new(
        &[
            spec(node(A, 1, 0, 3, true), 1),
            NodeSpec {
                start_at: secs(2),
                ..spec(node(B, 1, 100, 3, true), 2)
            },
        ],
        WireModel::fixed(ms(1)),
        7,
    );
    sim.run_until(secs(20));
    assert_eq!(sim.masters(), vec![0], "A is master before the attack");
    sim.kill(0);
    let captured = sim.frames_from(0);
    assert!(captured.len() > 10, "{} frames captured", captured.len());
    for (i, frame) in captured.iter().cycle().take(400).enumerate() {
        sim.inject_at(secs(20) + ms(100 * i as u64), frame.clone());
    }
    sim.run_until(secs(60));
    sim
}

#[test]
fn replays_of_a_dead_master_do_not_hold_the_backup_down() {
    let sim = replay_after_the_master_dies(true);
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

/// The same attack without freshness (ucarp's behaviour): the replays of
/// the better master keep B in BACKUP, or push it out each time it takes
/// over. This is what the check above prevents.
#[test]
fn without_freshness_the_same_replays_keep_the_backup_down() {
    let sim = replay_after_the_master_dies(false);
    let b_master_time: Duration = {
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
    };
    assert!(
        b_master_time < secs(10),
        "with replays and no check B held the VIP for {b_master_time:?} of 40 s"
    );
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

/// One node's part in the matrix.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Xcarp,
    Ucarp,
}

/// Something that happens to the cluster.
#[derive(Clone, Debug)]
enum Disturbance {
    /// The node's process restarts (killed, then started again after
    /// `down` ms).
    Restart { node: usize, down: u64 },
    /// The link splits in two (`side` lists who stays with node 0) for
    /// `for_ms`, then heals.
    Partition { side: Vec<bool>, for_ms: u64 },
}

#[derive(Clone, Debug)]
struct Case {
    kinds: Vec<Kind>,
    skews: Vec<u8>,
    preempt: bool,
    /// Per-node wall clock at zero, some right below the 40-bit wrap.
    clocks: Vec<u64>,
    disturbances: Vec<(u64, Disturbance)>,
    max_delay: u64,
    seed: u64,
}

fn case(all_xcarp: bool) -> impl Strategy<Value = Case> {
    (2usize..=3)
        .prop_flat_map(move |n| {
            let kinds = if all_xcarp {
                Just(vec![Kind::Xcarp; n]).boxed()
            } else {
                proptest::collection::vec(prop_oneof![Just(Kind::Xcarp), Just(Kind::Ucarp)], n)
                    .prop_filter("at least one of each", |k| {
                        k.iter().any(|k| matches!(k, Kind::Xcarp))
                            && k.iter().any(|k| matches!(k, Kind::Ucarp))
                    })
                    .boxed()
            };
            let clock = prop_oneof![
                Just(1_700_000_000_000u64),
                (0u64..60_000).prop_map(|d| VALUE_MASK - d),
                any::<u64>(),
            ];
            let disturbance = prop_oneof![
                (0..n, 0u64..8_000).prop_map(|(node, down)| Disturbance::Restart { node, down }),
                (
                    proptest::collection::vec(any::<bool>(), n),
                    1_000u64..30_000
                )
                    .prop_map(|(side, for_ms)| Disturbance::Partition { side, for_ms }),
            ];
            (
                kinds,
                proptest::collection::vec(0u8..=255, n),
                any::<bool>(),
                proptest::collection::vec(clock, n),
                proptest::collection::vec((0u64..40_000, disturbance), 1..=4),
                0u64..=100,
                any::<u64>(),
            )
        })
        .prop_map(
            |(kinds, skews, preempt, clocks, disturbances, max_delay, seed)| Case {
                kinds,
                skews,
                preempt,
                clocks,
                disturbances,
                max_delay,
                seed,
            },
        )
}

/// Runs a case: the cluster settles, the disturbances happen one after the
/// other (each over before the next), and the cluster must settle again.
fn run_case(c: &Case) -> Result<Sim, TestCaseError> {
    let configs: Vec<EngineConfig> = c
        .skews
        .iter()
        .enumerate()
        .map(|(i, skew)| {
            node(
                Ipv4Addr::new(10, 99, 0, i as u8 + 1),
                1,
                *skew,
                3,
                c.preempt,
            )
        })
        .collect();
    let specs: Vec<NodeSpec> = c
        .kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            Kind::Xcarp => xcarp(configs[i].clone(), c.clocks[i], 100 + i as u64),
            Kind::Ucarp => ucarp(configs[i].clone(), 100 + i as u64),
        })
        .collect();
    let mut sim = Sim::new(&specs, jittery(ms(c.max_delay)), c.seed);
    let bound = settle_bound(&configs, ms(c.max_delay));
    let mut t = bound;
    sim.run_until(t);
    for (i, (after, disturbance)) in c.disturbances.iter().enumerate() {
        t += ms(*after);
        sim.run_until(t);
        match disturbance {
            Disturbance::Restart { node, down } => {
                sim.kill(*node);
                t += ms(*down);
                sim.run_until(t);
                sim.restart(*node, 7_000 + i as u64);
            }
            Disturbance::Partition { side, for_ms } => {
                let left: Vec<usize> = (0..side.len()).filter(|&n| side[n]).collect();
                let right: Vec<usize> = (0..side.len()).filter(|&n| !side[n]).collect();
                sim.partition(&[&left, &right]);
                t += ms(*for_ms);
                sim.run_until(t);
                sim.heal();
            }
        }
        // Settled again before the next one (so each is judged alone).
        t += bound;
        sim.run_until(t);
    }
    let master = assert_settles(&mut sim, t + bound)?;
    // With preempt the node with the strictly shortest interval ends up
    // master (equal intervals do not preempt each other, §4.3).
    let intervals: Vec<Duration> = configs
        .iter()
        .map(|c| crate::engine::interval(c.advbase, c.advskew))
        .collect();
    let shortest = intervals.iter().min().copied().unwrap_or_default();
    if c.preempt && intervals.iter().filter(|i| **i == shortest).count() == 1 {
        let all: Vec<usize> = (0..configs.len()).collect();
        prop_assert_eq!(Some(master), best(&configs, &all), "preempt: the best node");
    }
    let _ = HORIZON_AFTER_SETTLE;
    Ok(sim)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// xcarp clusters: any restarts and partitions, clocks anywhere
    /// (wrap-around included): one master in the end, and no legitimate
    /// advert ever taken for a replay.
    #[test]
    fn xcarp_clusters_never_drop_a_legitimate_advert(c in case(true)) {
        let sim = run_case(&c)?;
        for node in 0..c.kinds.len() {
            prop_assert_eq!(sim.replays_dropped(node), 0, "node {} dropped adverts", node);
        }
    }

    /// Mixed with ucarp peers (which adopt and continue xcarp's counters):
    /// the same disturbances still end with exactly one master.
    #[test]
    fn mixed_clusters_with_ucarp_settle_to_one_master(c in case(false)) {
        run_case(&c)?;
    }
}
