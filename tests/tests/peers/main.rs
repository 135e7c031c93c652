//! xcarp with its default settings (replay protection on) against emulated
//! CARP peers (`xcarp_tests::peers`): OpenBSD with its fixed replay cookie,
//! FreeBSD counting +1, ucarp in random and in adopting mode, each as the
//! master beside an xcarp backup and as the backup of an xcarp master (P1,
//! here); the OpenBSD bow-out and demote byte and a VHID of three addresses
//! against both BSDs (P2, `bsd.rs`); the ucarp emulator against the real
//! ucarp (P0, `reference.rs`). The tests of this binary run in parallel,
//! and every variant on a LAN of its own; each prints its figures as
//! `SCENARIO P<n> <name> [<variant>]: key=value …` (docs/testing.md, "Peer
//! emulators").
use std::{
    net::Ipv4Addr,
    thread,
    time::{Duration, Instant},
};

use xcarp_tests::{
    Variant,
    carp::{CarpOpts, Impl::Xcarp as X, Node, State as NodeState},
    lan::{Host, Lan, VIP},
    peers::{Kind, Peer, PeerConfig, SeenAdvert, State, advert_mac, seen},
    probe::{Adverts, arping_mac, epoch_now, ping_once},
    run_variants, wait_until,
};

mod bsd;
mod reference;

const VHID: u8 = 42;
/// Takeovers must come within master-down + this.
const SLACK: Duration = Duration::from_millis(500);
/// How long a backup must leave a live master alone.
const HOLD: Duration = Duration::from_secs(60);
/// A fresh node alone becomes master after master-down; this is ample.
const CONVERGE: Duration = Duration::from_secs(15);
/// Skews of the node meant to be master and of the one meant to be backup.
const MASTER_SKEW: u8 = 0;
const BACKUP_SKEW: u8 = 100;

fn report(n: &str, name: &str, variant: &impl std::fmt::Debug, figures: &str) {
    eprintln!(
        "SCENARIO {n} {name} [{}]: {figures}",
        format!("{variant:?}").replace(' ', "")
    );
}

fn secs(s: f64) -> String {
    format!("{s:.2}s")
}

/// The emulated peer and the counters it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PeerCounters {
    /// One random cookie in every advert.
    OpenBsdCookie,
    /// +1 per advert from a counter it heard before the test (a FreeBSD
    /// that heard a peer once; from the start it would count as ucarp).
    FreeBsdPlusOne,
    /// ucarp that has never heard a valid advert: a random counter each
    /// time.
    UcarpRandom,
    /// ucarp that adopted xcarp's counter: xcarp's last + 1, + 2, …
    UcarpAdopting,
}

impl PeerCounters {
    fn kind(self) -> Kind {
        match self {
            Self::OpenBsdCookie => Kind::OpenBsd,
            Self::FreeBsdPlusOne => Kind::FreeBsd,
            Self::UcarpRandom | Self::UcarpAdopting => Kind::Ucarp,
        }
    }

    fn config(self, host: &Host, advskew: u8) -> PeerConfig {
        PeerConfig {
            advskew,
            heard_counter: (self == Self::FreeBsdPlusOne).then_some(0x00c0_ffee_0000_0000),
            ..PeerConfig::new(self.kind(), host.addr, &[VIP])
        }
    }

    /// Whether consecutive counters from one master look like this kind.
    fn check(self, counters: &[u64]) -> Result<(), String> {
        let steps: Vec<u64> = counters
            .windows(2)
            .map(|w| w[1].wrapping_sub(w[0]))
            .collect();
        let ok = match self {
            Self::OpenBsdCookie => steps.iter().all(|s| *s == 0),
            // +1 per advert; a frame the capture missed makes a +2.
            Self::FreeBsdPlusOne | Self::UcarpAdopting => steps.iter().all(|s| (1..=2).contains(s)),
            Self::UcarpRandom => steps.iter().all(|s| !(0..=2).contains(s)),
        };
        if counters.len() < 3 || !ok {
            return Err(format!("{self:?}: counters {counters:x?}"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// The emulated peer is MASTER, xcarp its BACKUP.
    PeerMaster,
    /// xcarp is MASTER, the emulated peer its BACKUP.
    XcarpMaster,
}

fn xcarp_opts(advskew: u8, preempt: bool) -> CarpOpts {
    CarpOpts {
        advskew: u32::from(advskew),
        preempt,
        ..CarpOpts::default()
    }
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Adverts captured in `[from, to]`.
fn seen_between(wire: &Adverts, from: f64, to: f64) -> Vec<SeenAdvert> {
    seen(wire)
        .into_iter()
        .filter(|s| s.advert.at >= from && s.advert.at <= to)
        .collect()
}

/// Watches `window` during which `check` (polled) must find nothing wrong,
/// then requires the wire to show `master` advertising, regularly, and no
/// one else: never a second master. Returns the window's adverts.
fn hold(
    wire: &Adverts,
    master: Ipv4Addr,
    window: Duration,
    mut check: impl FnMut() -> Option<String>,
) -> Vec<SeenAdvert> {
    let (start, from) = (Instant::now(), epoch_now());
    while start.elapsed() < window {
        if let Some(why) = check() {
            panic!(
                "after {:.1}s of {window:?}: {why}\n{}",
                start.elapsed().as_secs_f64(),
                wire.text()
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
    // tcpdump prints each frame as it is captured: wait for the last lines.
    thread::sleep(Duration::from_millis(300));
    let adverts = seen_between(wire, from, from + window.as_secs_f64());
    let others: Vec<&SeenAdvert> = adverts.iter().filter(|a| a.advert.src != master).collect();
    assert!(
        others.is_empty(),
        "a second master on the wire beside {master}: {others:?}\n{}",
        wire.text()
    );
    let stamps: Vec<f64> = adverts.iter().map(|a| a.advert.at).collect();
    let longest = stamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(stamps.first().map_or(f64::MAX, |f| f - from), f64::max);
    assert!(
        longest < 2.5,
        "{master} fell silent for {longest:.2}s in {window:?}\n{}",
        wire.text()
    );
    adverts
}

/// The first advert from `src` at or after `since`, waiting up to `bound`
/// (plus a little, so that a late one is measured rather than missed).
fn first_from(wire: &Adverts, src: Ipv4Addr, since: f64, bound: Duration) -> f64 {
    wire.wait_first_from(src, since, bound + Duration::from_secs(3))
        .unwrap_or_else(|| panic!("no advert from {src} within {bound:?}:\n{}", wire.text()))
}

/// How many times xcarp reported dropping adverts as replays: why it would
/// leave a master with a fixed counter (OpenBSD's cookie) alone no longer.
fn replay_reports(log: &str) -> String {
    let n = log.matches("Replayed adverts").count();
    format!("{n} \"Replayed adverts\" reports in xcarp's log")
}

/// The VIP answers the client from `host`'s MAC.
fn assert_vip_answers_from(lan: &Lan, host: &Host) {
    assert!(
        wait_until(Duration::from_secs(5), || ping_once(&lan.client, VIP)),
        "the VIP does not answer"
    );
    assert_eq!(
        arping_mac(&lan.client, VIP).as_deref(),
        Some(host.mac().as_str()),
        "the VIP is not answered by {}",
        host.addr
    );
}

// ---------------------------------------------------------------------------
// P1. Each peer kind and counter behaviour as master and as backup of xcarp.

#[test]
fn p1_interop_with_every_peer_kind() {
    let mut variants: Vec<Variant<(PeerCounters, Role)>> = Vec::new();
    for c in [
        PeerCounters::OpenBsdCookie,
        PeerCounters::FreeBsdPlusOne,
        PeerCounters::UcarpRandom,
        PeerCounters::UcarpAdopting,
    ] {
        for role in [Role::PeerMaster, Role::XcarpMaster] {
            variants.push(((c, role), &[X]));
        }
    }
    run_variants(
        "P1 interop_with_every_peer_kind",
        &variants,
        |&(c, role)| match role {
            Role::PeerMaster => peer_master_xcarp_backup(c),
            Role::XcarpMaster => xcarp_master_peer_backup(c),
        },
    );
}

/// The emulated peer masters for 60 s with xcarp its backup; then it dies
/// and xcarp takes over within master-down + 0.5 s, and the VIP answers
/// from xcarp.
fn peer_master_xcarp_backup(c: PeerCounters) {
    let lan = Lan::with_hosts(2);
    let (xhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
    let wire = Adverts::start(&lan, VHID);
    let xopts = xcarp_opts(BACKUP_SKEW, false);
    let (mut peer, xcarp);
    if c == PeerCounters::UcarpAdopting {
        // ucarp adopts a counter from the first valid advert it hears:
        // xcarp's, as master, before the faster ucarp preempts it.
        xcarp = Node::start(xhost, X, xopts.clone());
        assert!(xcarp.wait_state(NodeState::Master, CONVERGE), "xcarp alone");
        peer = Peer::start(
            phost,
            PeerConfig {
                preempt: true,
                ..c.config(phost, MASTER_SKEW)
            },
        );
        assert!(
            peer.wait_state(State::Master, Duration::from_secs(5)),
            "the preempting ucarp did not take over"
        );
        assert!(
            xcarp.wait_state(NodeState::Backup, Duration::from_secs(5)),
            "xcarp did not yield to a faster master"
        );
    } else {
        peer = Peer::start(phost, c.config(phost, MASTER_SKEW));
        assert!(peer.wait_state(State::Master, CONVERGE), "the peer alone");
        xcarp = Node::start(xhost, X, xopts.clone());
        assert!(
            xcarp.wait_state(NodeState::Backup, Duration::from_secs(5)),
            "xcarp did not start as BACKUP"
        );
    }
    thread::sleep(Duration::from_secs(1));
    let held_adverts = hold(&wire, phost.addr, HOLD, || {
        if xcarp.state() != Some(NodeState::Backup) || xcarp.holds_vip() {
            return Some(format!(
                "xcarp left BACKUP beside a live {:?} master (VIP held: {}; {})",
                c.kind(),
                xcarp.holds_vip(),
                replay_reports(&xcarp.log.text())
            ));
        }
        (peer.state() != State::Master || peer.held() != [VIP])
            .then(|| format!("the peer is {:?}, holding {:?}", peer.state(), peer.held()))
    });
    let counters: Vec<u64> = held_adverts.iter().map(|a| a.counter).collect();
    c.check(&counters).unwrap_or_else(|e| panic!("{e}"));
    let mac = mac_text(advert_mac(c.kind(), VHID));
    assert!(
        held_adverts.iter().all(|a| a.src_mac == mac),
        "source MAC {mac}"
    );
    if c == PeerCounters::UcarpAdopting {
        // On the wire: the peer's first advert continues xcarp's last.
        let all = seen(&wire);
        let first = all
            .iter()
            .position(|a| a.advert.src == phost.addr)
            .expect("a peer advert");
        let xcarp_last = all[..first]
            .iter()
            .rev()
            .find(|a| a.advert.src == xhost.addr)
            .expect("xcarp advertised first");
        assert_eq!(
            all[first].counter,
            xcarp_last.counter.wrapping_add(1),
            "ucarp did not adopt xcarp's counter"
        );
    }
    assert_eq!(xcarp.log.count("Bad digest"), 0, "{}", xcarp.full_log());

    let (t0, t0_epoch) = (Instant::now(), epoch_now());
    peer.kill();
    let bound = xopts.master_down() + SLACK;
    let first = first_from(&wire, xhost.addr, t0_epoch, bound);
    let since_kill = first - t0_epoch;
    assert!(
        since_kill <= bound.as_secs_f64(),
        "xcarp's first advert came {since_kill:.3}s after the kill (bound {bound:?})"
    );
    let silence = first
        - wire
            .last_from_before(phost.addr, first)
            .expect("the peer advertised");
    let logged = xcarp
        .log
        .wait_for_since("Switching to state: MASTER", t0, Duration::from_secs(2))
        .map_or(f64::NAN, |t| (t - t0).as_secs_f64());
    assert!(wait_until(Duration::from_secs(5), || xcarp.holds_vip()));
    assert!(peer.held().is_empty());
    assert_vip_answers_from(&lan, xhost);
    report(
        "P1",
        "peer_master_xcarp_backup",
        &c,
        &format!(
            "held={}s peer_adverts={} kill_to_first_advert={} kill_to_master_log={} silence={}",
            HOLD.as_secs(),
            held_adverts.len(),
            secs(since_kill),
            secs(logged),
            secs(silence)
        ),
    );
}

/// xcarp masters for 60 s with the emulated peer its backup; then xcarp is
/// SIGKILLed and the peer takes over within master-down + 0.5 s.
fn xcarp_master_peer_backup(c: PeerCounters) {
    let lan = Lan::with_hosts(2);
    let (xhost, phost) = (&lan.hosts[0], &lan.hosts[1]);
    let wire = Adverts::start(&lan, VHID);
    let pcfg = c.config(phost, BACKUP_SKEW);
    let (peer, mut xcarp);
    if c == PeerCounters::UcarpRandom {
        // The peer masters first, in random mode, until xcarp (preempt,
        // shorter interval) takes the VHID from it.
        peer = Peer::start(phost, pcfg.clone());
        assert!(peer.wait_state(State::Master, CONVERGE), "the peer alone");
        thread::sleep(Duration::from_secs(4));
        xcarp = Node::start(xhost, X, xcarp_opts(MASTER_SKEW, true));
        assert!(
            xcarp.wait_state(NodeState::Master, Duration::from_secs(10)),
            "xcarp did not preempt a slower ucarp"
        );
        assert!(
            peer.wait_state(State::Backup, Duration::from_secs(5)),
            "ucarp did not yield"
        );
        let before: Vec<u64> = seen(&wire)
            .iter()
            .filter(|a| a.advert.src == phost.addr)
            .map(|a| a.counter)
            .collect();
        c.check(&before)
            .unwrap_or_else(|e| panic!("before xcarp: {e}"));
    } else {
        xcarp = Node::start(xhost, X, xcarp_opts(MASTER_SKEW, false));
        assert!(xcarp.wait_state(NodeState::Master, CONVERGE), "xcarp alone");
        peer = Peer::start(phost, pcfg.clone());
        assert!(peer.wait_state(State::Backup, Duration::from_secs(2)));
    }
    thread::sleep(Duration::from_secs(1));
    let held_adverts = hold(&wire, xhost.addr, HOLD, || {
        if peer.state() != State::Backup || !peer.held().is_empty() {
            return Some(format!(
                "the {:?} peer left BACKUP beside a live xcarp master ({:?}, holding {:?})",
                c.kind(),
                peer.state(),
                peer.held()
            ));
        }
        (xcarp.state() != Some(NodeState::Master) || !xcarp.holds_vip())
            .then(|| format!("xcarp is {:?}", xcarp.state()))
    });
    let stats = peer.stats();
    assert!(
        stats.bad_digest == 0 && stats.accepted >= held_adverts.len() as u64,
        "the peer did not take every advert of xcarp: {stats:?}"
    );

    let (t0_instant, t0) = (Instant::now(), epoch_now());
    xcarp.kill();
    // SIGKILL leaves the VIP on xcarp's host: take it off the LAN as if
    // the whole host had died.
    lan.carrier_off(0);
    let bound = pcfg.master_down() + SLACK;
    let first = first_from(&wire, phost.addr, t0, bound);
    let since_kill = first - t0;
    assert!(
        since_kill <= bound.as_secs_f64(),
        "the peer's first advert came {since_kill:.3}s after the kill (bound {bound:?})"
    );
    assert!(wait_until(Duration::from_secs(2), || peer.held() == [VIP]));
    let master_at = peer
        .became(State::Master, t0_instant)
        .expect("the peer became MASTER");
    assert_vip_answers_from(&lan, phost);
    // Its counters as master: the cookie, or xcarp's last counter + 1, + 2, …
    thread::sleep(Duration::from_secs(3));
    let all = seen(&wire);
    let xcarp_last = all
        .iter()
        .rev()
        .find(|a| a.advert.src == xhost.addr)
        .expect("xcarp advertised");
    let after: Vec<u64> = all
        .iter()
        .filter(|a| a.advert.src == phost.addr && a.advert.at >= t0)
        .map(|a| a.counter)
        .collect();
    if c.kind() == Kind::OpenBsd {
        PeerCounters::OpenBsdCookie.check(&after)
    } else {
        assert_eq!(after[0], xcarp_last.counter.wrapping_add(1), "{after:x?}");
        PeerCounters::UcarpAdopting.check(&after)
    }
    .unwrap_or_else(|e| panic!("after the takeover: {e}"));
    report(
        "P1",
        "xcarp_master_peer_backup",
        &c,
        &format!(
            "held={}s xcarp_adverts={} peer_accepted={} kill_to_first_advert={} kill_to_peer_master={}",
            HOLD.as_secs(),
            held_adverts.len(),
            stats.accepted,
            secs(since_kill),
            secs((master_at.at - t0_instant).as_secs_f64())
        ),
    );
}
