//! Freshness (docs/xdp.md, "Freshness") with every kind of legitimate peer
//! in one cluster: xcarp (sequenced counters, replays dropped), ucarp and
//! FreeBSD (random counters until they hear a peer, then adopt + 1),
//! FreeBSD's variant counting up from one random start, and OpenBSD (one
//! fixed cookie in every advert). Through restarts, partitions healed with
//! either side preferred and clocks anywhere (wrap-around included), every
//! cluster ends with exactly one master, and the adverts xcarp drops are
//! never a legitimate peer's, but for the one limit the docs name.

use std::{net::Ipv4Addr, time::Duration};

use carp_common::freshness::{self, VALUE_MASK};
use proptest::prelude::*;

use super::{
    assert_settles, best, jittery, ms, node,
    replay::{freebsd, openbsd, ucarp, xcarp},
    secs,
};
use crate::engine::{
    EngineConfig,
    sim::{NodeSpec, Sim, settle_bound},
};

/// One node's part in the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Xcarp,
    /// ucarp, and FreeBSD's kernel carp (the same counters).
    Ucarp,
    /// FreeBSD counting up from one random start, adopting.
    FreeBsdRandomStart,
    OpenBsd,
}

impl Kind {
    fn adopts(self) -> bool {
        matches!(self, Self::Ucarp | Self::FreeBsdRandomStart)
    }
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
pub(super) struct Case {
    kinds: Vec<Kind>,
    skews: Vec<u8>,
    preempt: bool,
    /// Per-node wall clock at zero, some right below the 40-bit wrap.
    clocks: Vec<u64>,
    disturbances: Vec<(u64, Disturbance)>,
    max_delay: u64,
    seed: u64,
}

/// `n` nodes of the `kinds` given, mixed so that `fits` accepts them.
fn kinds_of(
    n: usize,
    kinds: &'static [Kind],
    fits: fn(&[Kind]) -> bool,
) -> impl Strategy<Value = Vec<Kind>> {
    proptest::collection::vec(proptest::sample::select(kinds), n)
        .prop_filter("kinds", move |k| fits(k))
}

/// Clusters of 2 to `max` nodes of the `kinds` given, mixed so that `fits`
/// accepts them.
fn case(
    max: usize,
    kinds: &'static [Kind],
    fits: fn(&[Kind]) -> bool,
) -> impl Strategy<Value = Case> {
    (2usize..=max)
        .prop_flat_map(move |n| {
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
                kinds_of(n, kinds, fits),
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
/// other (each over before the next), and the cluster must settle again to
/// exactly one master (the best one with preempt).
pub(super) fn run_case(c: &Case) -> Result<Sim, TestCaseError> {
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
        .map(|(i, kind)| {
            let (config, seed) = (configs[i].clone(), 100 + i as u64);
            match kind {
                Kind::Xcarp => xcarp(config, c.clocks[i], seed),
                Kind::Ucarp => ucarp(config, seed),
                Kind::FreeBsdRandomStart => freebsd(config, seed),
                Kind::OpenBsd => openbsd(config, seed),
            }
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
    Ok(sim)
}

/// Every advert a node sent that an xcarp node dropped, as (receiver,
/// sender, counter).
fn legitimate_drops(sim: &Sim, nodes: usize) -> Vec<(usize, usize, u64)> {
    (0..nodes)
        .flat_map(|node| {
            sim.legitimate_dropped(node)
                .iter()
                .map(move |(sender, counter)| (node, *sender, *counter))
        })
        .collect()
}

/// The drops that are not the one limit (docs/xdp.md, "Freshness"): a
/// ucarp or FreeBSD node continuing another node's stream from a value
/// older than one the receiver has already seen in it (it missed the newer
/// adverts: partition, or its continuation overtook nothing).
fn unexplained_drops(sim: &Sim, kinds: &[Kind]) -> Vec<(usize, usize, u64)> {
    let started_by_another = |sender: usize, counter: u64| {
        let stream = freshness::stream(counter);
        (0..kinds.len()).any(|other| {
            other != sender
                && sim
                    .counters_sent(other)
                    .iter()
                    .any(|c| freshness::stream(*c) == stream)
        })
    };
    legitimate_drops(sim, kinds.len())
        .into_iter()
        .filter(|(_, sender, counter)| {
            !(kinds[*sender].adopts() && started_by_another(*sender, *counter))
        })
        .collect()
}

const ALL: &[Kind] = &[
    Kind::Xcarp,
    Kind::Ucarp,
    Kind::FreeBsdRandomStart,
    Kind::OpenBsd,
];

fn any_mix(_: &[Kind]) -> bool {
    true
}

fn xcarp_and_others(kinds: &[Kind]) -> bool {
    kinds.contains(&Kind::Xcarp) && kinds.iter().any(|k| *k != Kind::Xcarp)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// xcarp clusters: one master in the end, and no legitimate advert
    /// ever taken for a replay.
    #[test]
    fn xcarp_clusters_never_drop_a_legitimate_advert(c in case(3, &[Kind::Xcarp], any_mix)) {
        let sim = run_case(&c)?;
        prop_assert_eq!(legitimate_drops(&sim, c.kinds.len()), vec![]);
    }

    /// xcarp with OpenBSD nodes (each its own fixed cookie): the same.
    #[test]
    fn xcarp_with_openbsd_never_drops_a_legitimate_advert(
        c in case(3, &[Kind::Xcarp, Kind::OpenBsd], xcarp_and_others)
    ) {
        let sim = run_case(&c)?;
        prop_assert_eq!(legitimate_drops(&sim, c.kinds.len()), vec![]);
    }

    /// Any mix of the four kinds with at least one xcarp node: one master
    /// in the end; an xcarp node's, an OpenBSD node's or a random counter
    /// is never dropped, only a node's stale continuation of another's
    /// stream.
    #[test]
    fn mixed_clusters_drop_only_stale_continuations(c in case(4, ALL, xcarp_and_others)) {
        let sim = run_case(&c)?;
        prop_assert_eq!(unexplained_drops(&sim, &c.kinds), vec![]);
    }
}

/// An OpenBSD master with two xcarp backups: its cookie, the same in every
/// advert, is never taken for a replay, so the backups stay backups; when
/// it dies the better backup takes over.
#[test]
fn an_openbsd_master_keeps_its_xcarp_backups_down() {
    let configs = [
        node(Ipv4Addr::new(10, 99, 0, 1), 1, 0, 3, false),
        node(Ipv4Addr::new(10, 99, 0, 2), 1, 50, 3, false),
        node(Ipv4Addr::new(10, 99, 0, 3), 1, 100, 3, false),
    ];
    let mut sim = Sim::new(
        &[
            openbsd(configs[0].clone(), 1),
            xcarp(configs[1].clone(), 1_700_000_000_000, 2),
            xcarp(configs[2].clone(), 1_700_000_000_000, 3),
        ],
        jittery(ms(5)),
        11,
    );
    let bound = settle_bound(&configs, ms(5));
    sim.run_until(bound);
    assert_eq!(sim.masters(), vec![0]);
    let changes = sim.transitions().len();
    sim.run_until(bound + secs(120));
    assert_eq!(sim.transitions().len(), changes, "{:?}", sim.transitions());
    let cookie = sim.counters_sent(0)[0];
    assert!(sim.counters_sent(0).iter().all(|c| *c == cookie));
    assert!(sim.counters_sent(0).len() > 100);
    for backup in [1, 2] {
        assert_eq!(legitimate_drops(&sim, 3), vec![]);
        assert_eq!(sim.stream_class(backup, cookie), Some(freshness::REPEATING));
    }
    let t = sim.now();
    sim.kill(0);
    sim.run_until(t + bound);
    assert_eq!(sim.masters(), vec![1]);
}

/// The sequence that makes a node continuing a cookie look like a sender
/// of its own: OpenBSD master O, ucarp U and xcarp X backups; O is cut off,
/// U takes over and counts up from O's cookie, X restarts meanwhile and
/// hears only U's counting; then O comes back and preempts. X must still
/// accept O's cookie (a stream that only counts is never protected), or it
/// would take over beside O for good.
#[test]
fn a_cookie_first_heard_through_a_continuation_still_passes() {
    let configs = [
        node(Ipv4Addr::new(10, 99, 0, 1), 1, 0, 3, true),
        node(Ipv4Addr::new(10, 99, 0, 2), 1, 50, 3, true),
        node(Ipv4Addr::new(10, 99, 0, 3), 1, 100, 3, true),
    ];
    let mut sim = Sim::new(
        &[
            openbsd(configs[0].clone(), 1),
            ucarp(configs[1].clone(), 2),
            xcarp(configs[2].clone(), 1_700_000_000_000, 3),
        ],
        jittery(ms(5)),
        12,
    );
    let bound = settle_bound(&configs, ms(5));
    let mut t = bound;
    sim.run_until(t);
    assert_eq!(sim.masters(), vec![0]);
    sim.partition(&[&[0], &[1, 2]]);
    t += bound;
    sim.run_until(t);
    assert_eq!(sim.masters(), vec![0, 1], "U took over on its side");
    sim.kill(2);
    sim.restart(2, 99);
    t += secs(60);
    sim.run_until(t);
    let cookie = sim.counters_sent(0)[0];
    let counted = *sim.counters_sent(1).last().expect("U sent adverts");
    assert_eq!(
        freshness::stream(counted),
        freshness::stream(cookie),
        "U continues the cookie"
    );
    assert_eq!(sim.stream_class(2, cookie), Some(freshness::FRESH));
    sim.heal();
    t += bound;
    sim.run_until(t);
    assert_eq!(
        sim.masters(),
        vec![0],
        "O preempted, and is the only master"
    );
    let changes = sim.transitions().len();
    sim.run_until(t + secs(60));
    assert_eq!(sim.transitions().len(), changes, "{:?}", sim.transitions());
    assert_eq!(legitimate_drops(&sim, 3), vec![]);
    assert_eq!(sim.stream_class(2, cookie), Some(freshness::REPEATING));
}

/// A ucarp node preempting an xcarp master sends the master's counter + 1
/// at once; the master, stepping down within the same millisecond, must
/// not send that very counter as its last advert (its clock has not moved,
/// so it would be its last value + 1 too), or a third node would take it
/// for a replay.
#[test]
fn a_master_stepping_down_never_repeats_the_counter_that_preempted_it() {
    let configs = [
        node(Ipv4Addr::new(10, 99, 0, 1), 1, 100, 3, true),
        node(Ipv4Addr::new(10, 99, 0, 2), 1, 0, 3, true),
        node(Ipv4Addr::new(10, 99, 0, 3), 1, 200, 3, true),
    ];
    let mut sim = Sim::new(
        &[
            xcarp(configs[0].clone(), 1_700_000_000_000, 1),
            NodeSpec {
                start_at: secs(10),
                ..ucarp(configs[1].clone(), 2)
            },
            xcarp(configs[2].clone(), 1_700_000_000_000, 3),
        ],
        crate::engine::sim::WireModel::fixed(Duration::from_micros(100)),
        13,
    );
    sim.run_until(secs(30));
    assert_eq!(sim.masters(), vec![1], "the ucarp node preempted");
    let x = sim.counters_sent(0);
    let u = sim.counters_sent(1);
    let continued = u
        .iter()
        .find(|c| freshness::stream(**c) == freshness::stream(x[0]))
        .expect("the ucarp node continued the xcarp master's counter");
    assert_eq!(
        x.iter().filter(|c| *c == continued).count(),
        0,
        "{x:x?} {u:x?}"
    );
    assert_eq!(legitimate_drops(&sim, 3), vec![]);
}
