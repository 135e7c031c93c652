//! A deterministic multi-node simulator for the engine: a virtual clock, an
//! in-process wire with optional loss and delay, and N engines.
//!
//! Adverts travel as real frames: the sender's [`Action::SendAdvert`] is
//! encoded with [`build_advert_frame`] and its HMAC, and each receiver runs
//! the full receive path ([`RxFilter::accept_frame`]) before the engine sees
//! it, so the codec and authentication are exercised too.
//!
//! Everything (delays, losses, counters) derives from seeds: a failing
//! property replays exactly.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet},
    net::Ipv4Addr,
    time::Duration,
};

use rand::{Rng as _, SeedableRng as _, rngs::StdRng};

use super::{Action, Engine, EngineConfig, Event, Instant, ReceivedAdvert, State, Timer, interval};
use crate::{
    auth::CarpAuth,
    replay::ReplayGuard,
    wire::{AdvertFrameParams, RxFilter, build_advert_frame},
};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PASSWORD: &[u8] = b"simulated";

/// One simulated node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub config: EngineConfig,
    /// When its daemon starts (gets [`Event::Start`]).
    pub start_at: Instant,
    pub seed: u64,
    /// Whether its receive path drops replays ([`ReplayGuard`]), as xcarp's
    /// daemon and XDP program do with `--replay-protection on`.
    pub reject_replays: bool,
}

/// The shared link: every advert goes to every other node after a delay
/// drawn uniformly from `min_delay..=max_delay`, unless lost, and never
/// before an earlier frame of the same sender to the same receiver.
#[derive(Clone, Copy, Debug)]
pub struct WireModel {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Probability that one delivery (one sender→receiver copy) is lost.
    pub loss: f64,
}

impl WireModel {
    /// A perfect wire with a fixed delay.
    #[must_use]
    pub fn fixed(delay: Duration) -> Self {
        Self {
            min_delay: delay,
            max_delay: delay,
            loss: 0.0,
        }
    }
}

/// A state change seen in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: Instant,
    pub node: usize,
    pub from: State,
    pub to: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    // At equal times a packet is handled before a timer, as in ucarp's
    // loop (read one packet, then check the deadlines).
    Deliver {
        to: usize,
        frame_index: usize,
    },
    Input {
        node: usize,
        event_index: usize,
    },
    Timer {
        node: usize,
        timer: Timer,
        at: Instant,
    },
}

struct Node {
    spec: NodeSpec,
    engine: Engine,
    guard: Option<ReplayGuard>,
    /// Authentic adverts its guard dropped.
    replays_dropped: usize,
    /// Of those, the ones a node sent (not injected): (sender, counter).
    legitimate_dropped: Vec<(usize, u64)>,
    src: Ipv4Addr,
    alive: bool,
    /// Armed deadlines; a popped timer that no longer matches is stale.
    master_down: Option<Instant>,
    advert: Option<Instant>,
    /// Whether the next frame writes succeed.
    send_ok: bool,
    adverts_sent: usize,
    counters_sent: Vec<u64>,
    garps_sent: usize,
}

/// The simulation.
pub struct Sim {
    now: Instant,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Instant, What, u64)>>,
    seq: u64,
    wire: WireModel,
    rng: StdRng,
    auth: CarpAuth,
    vhid: u8,
    /// Every frame put on the wire, with its sender (`None`: injected).
    frames: Vec<(Option<usize>, Vec<u8>)>,
    /// Node pairs (lower index first) that cannot hear each other.
    cut: HashSet<(usize, usize)>,
    /// Latest delivery time per (sender, receiver): a LAN does not reorder
    /// the frames of one sender, so neither does the simulated wire.
    last_delivery: HashMap<(usize, usize), Instant>,
    inputs: Vec<Event>,
    transitions: Vec<Transition>,
    /// Adverts that failed the receive path (must stay 0 on a clean wire).
    rejected: usize,
}

impl Sim {
    /// Nodes must share one vhid.
    ///
    /// # Panics
    /// If the nodes' vhids differ (a test setup error).
    #[must_use]
    pub fn new(specs: &[NodeSpec], wire: WireModel, seed: u64) -> Self {
        let vhid = specs.first().map_or(1, |s| s.config.vhid);
        assert!(specs.iter().all(|s| s.config.vhid == vhid), "one vhid");
        let auth = match CarpAuth::new(PASSWORD, vhid, &[VIP]) {
            Ok(auth) => auth,
            Err(e) => panic!("simulator password: {e}"),
        };
        let mut sim = Self {
            now: Duration::ZERO,
            nodes: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            wire,
            rng: StdRng::seed_from_u64(seed),
            auth,
            vhid,
            frames: Vec::new(),
            cut: HashSet::new(),
            last_delivery: HashMap::new(),
            inputs: Vec::new(),
            transitions: Vec::new(),
            rejected: 0,
        };
        for (index, spec) in specs.iter().enumerate() {
            sim.nodes.push(Node {
                spec: spec.clone(),
                engine: Engine::new(spec.config.clone(), spec.seed),
                guard: spec.reject_replays.then(ReplayGuard::default),
                replays_dropped: 0,
                legitimate_dropped: Vec::new(),
                src: spec.config.src_ip,
                alive: true,
                master_down: None,
                advert: None,
                send_ok: true,
                adverts_sent: 0,
                counters_sent: Vec::new(),
                garps_sent: 0,
            });
            sim.input_at(spec.start_at, index, Event::Start);
        }
        sim
    }

    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Schedules `event` for `node` at `at` (≥ now).
    pub fn input_at(&mut self, at: Instant, node: usize, event: Event) {
        self.inputs.push(event);
        let event_index = self.inputs.len() - 1;
        self.push(at, What::Input { node, event_index });
    }

    /// Kills a node now: it sends and handles nothing from here on, like a
    /// ucarp killed by SIGKILL.
    pub fn kill(&mut self, node: usize) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.alive = false;
        }
    }

    /// Restarts a node now, as a new process: a new engine (seeded with
    /// `seed`) and a new replay guard, starting in INIT.
    pub fn restart(&mut self, node: usize, seed: u64) {
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        n.engine = Engine::new(n.spec.config.clone(), seed);
        n.guard = n.spec.reject_replays.then(ReplayGuard::default);
        n.alive = true;
        n.master_down = None;
        n.advert = None;
        self.feed(node, Event::Start);
    }

    /// Splits the link: nodes in different groups stop hearing each other
    /// (nodes in no group hear nobody). Replaces any earlier split.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        self.cut.clear();
        let group_of = |node: usize| groups.iter().position(|g| g.contains(&node));
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                if group_of(a).is_none() || group_of(a) != group_of(b) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    /// Joins the link again.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Frames `node` has sent so far, in order (what an attacker on the
    /// link could have captured).
    #[must_use]
    pub fn frames_from(&self, node: usize) -> Vec<Vec<u8>> {
        self.frames
            .iter()
            .filter(|(sender, _)| *sender == Some(node))
            .map(|(_, frame)| frame.clone())
            .collect()
    }

    /// An attacker puts `frame` on the wire at `at`: every node receives it
    /// after the wire's delay (partitions do not stop it).
    pub fn inject_at(&mut self, at: Instant, frame: Vec<u8>) {
        self.frames.push((None, frame));
        let frame_index = self.frames.len() - 1;
        for to in 0..self.nodes.len() {
            let delay = self.delay();
            self.push(at + delay, What::Deliver { to, frame_index });
        }
    }

    /// Authentic adverts a node's replay guard dropped.
    #[must_use]
    pub fn replays_dropped(&self, node: usize) -> usize {
        self.nodes.get(node).map_or(0, |n| n.replays_dropped)
    }

    /// Adverts sent by a node (not injected) that `node`'s replay guard
    /// dropped, as (sender, counter): legitimate adverts taken for replays.
    #[must_use]
    pub fn legitimate_dropped(&self, node: usize) -> &[(usize, u64)] {
        self.nodes.get(node).map_or(&[], |n| &n.legitimate_dropped)
    }

    /// The class (`carp_common::freshness::FRESH`…) a node's replay guard
    /// gives the stream of `counter`, if it knows it.
    #[must_use]
    pub fn stream_class(&self, node: usize, counter: u64) -> Option<u8> {
        let guard = self.nodes.get(node)?.guard.as_ref()?;
        guard.class(carp_common::freshness::stream(counter))
    }

    /// Makes the node's frame writes fail (or succeed again).
    pub fn set_send_ok(&mut self, node: usize, ok: bool) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.send_ok = ok;
        }
    }

    pub fn set_wire(&mut self, wire: WireModel) {
        self.wire = wire;
    }

    #[must_use]
    pub fn state(&self, node: usize) -> Option<State> {
        self.nodes.get(node).map(|n| n.engine.state())
    }

    /// Live nodes in MASTER.
    #[must_use]
    pub fn masters(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.alive && n.engine.state() == State::Master)
            .map(|(i, _)| i)
            .collect()
    }

    #[must_use]
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    #[must_use]
    pub fn adverts_sent(&self, node: usize) -> usize {
        self.nodes.get(node).map_or(0, |n| n.adverts_sent)
    }

    #[must_use]
    pub fn counters_sent(&self, node: usize) -> &[u64] {
        self.nodes.get(node).map_or(&[], |n| &n.counters_sent)
    }

    #[must_use]
    pub fn garps_sent(&self, node: usize) -> usize {
        self.nodes.get(node).map_or(0, |n| n.garps_sent)
    }

    /// Adverts that failed decoding or authentication at a receiver.
    #[must_use]
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// Processes every event up to and including `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            let Some(Reverse((at, what, _))) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.dispatch(what);
        }
        self.now = until;
    }

    fn push(&mut self, at: Instant, what: What) {
        self.seq += 1;
        self.queue.push(Reverse((at.max(self.now), what, self.seq)));
    }

    fn dispatch(&mut self, what: What) {
        match what {
            What::Input { node, event_index } => {
                if let Some(event) = self.inputs.get(event_index).copied() {
                    self.feed(node, event);
                }
            }
            What::Timer { node, timer, at } => {
                let Some(n) = self.nodes.get_mut(node) else {
                    return;
                };
                let slot = match timer {
                    Timer::MasterDown => &mut n.master_down,
                    Timer::Advert => &mut n.advert,
                };
                if *slot != Some(at) {
                    return; // re-armed or cancelled since
                }
                *slot = None;
                self.feed(node, Event::TimerFired(timer));
            }
            What::Deliver { to, frame_index } => {
                let Some((sender, frame)) = self.frames.get(frame_index) else {
                    return;
                };
                let sender = *sender;
                let Some(receiver) = self.nodes.get(to) else {
                    return;
                };
                let filter = RxFilter {
                    own_src: receiver.src,
                    vhid: self.vhid,
                    group: GROUP,
                    broadcast: false,
                    vlan: 0,
                };
                let advert = match filter.accept_frame(frame, &self.auth) {
                    Ok(packet) => ReceivedAdvert::from_packet(&packet),
                    Err(_) => {
                        self.rejected += 1;
                        return;
                    }
                };
                if let Some(n) = self.nodes.get_mut(to)
                    && n.alive
                    && let Some(guard) = &mut n.guard
                    && !guard.admit(advert.src_ip, advert.counter, self.now).fresh
                {
                    n.replays_dropped += 1;
                    if let Some(sender) = sender {
                        n.legitimate_dropped.push((sender, advert.counter));
                    }
                    return;
                }
                self.feed(to, Event::Advert(advert));
            }
        }
    }

    /// Gives `event` to a live node and carries out the actions.
    fn feed(&mut self, node: usize, event: Event) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        if !n.alive {
            return;
        }
        let from = n.engine.state();
        let actions = n.engine.handle(now, event);
        let to = n.engine.state();
        if from != to {
            self.transitions.push(Transition {
                at: now,
                node,
                from,
                to,
            });
        }
        let mut results = Vec::new();
        let mut scripts = Vec::new();
        for action in actions {
            match action {
                Action::SendAdvert {
                    advbase,
                    advskew,
                    demote,
                    counter,
                } => results.push(self.send_advert(node, [advbase, advskew, demote], counter)),
                Action::SendGarp => {
                    if let Some(n) = self.nodes.get_mut(node) {
                        n.garps_sent += 1;
                    }
                }
                Action::ArmTimer { timer, at } => {
                    if let Some(n) = self.nodes.get_mut(node) {
                        match timer {
                            Timer::MasterDown => n.master_down = Some(at),
                            Timer::Advert => n.advert = Some(at),
                        }
                    }
                    self.push(at, What::Timer { node, timer, at });
                }
                Action::CancelTimer(timer) => {
                    if let Some(n) = self.nodes.get_mut(node) {
                        match timer {
                            Timer::MasterDown => n.master_down = None,
                            Timer::Advert => n.advert = None,
                        }
                    }
                }
                // Scripts take no time here; the daemon reports them as
                // they finish.
                Action::RunScript(script) => scripts.push(script),
                Action::Log { .. } => {}
            }
        }
        // The daemon reports each write's outcome after carrying out the
        // batch.
        for ok in results {
            self.feed(node, Event::SendResult { ok });
        }
        for script in scripts {
            self.feed(node, Event::ScriptFinished(script));
        }
    }

    /// Puts one advert on the wire; returns whether the write "succeeded".
    /// `timing` is the advert's advbase, advskew and demote byte.
    fn send_advert(&mut self, node: usize, timing: [u8; 3], counter: u64) -> bool {
        let [advbase, advskew, demote] = timing;
        let Some(n) = self.nodes.get_mut(node) else {
            return false;
        };
        if !n.send_ok {
            return false;
        }
        n.adverts_sent += 1;
        n.counters_sent.push(counter);
        let frame = build_advert_frame(&AdvertFrameParams {
            src_ip: n.src,
            group: GROUP,
            broadcast: false,
            vhid: self.vhid,
            advbase,
            advskew,
            demote,
            counter,
            ip_id: self.rng.random(),
            digest: self.auth.digest(counter),
        });
        self.frames.push((Some(node), frame.to_vec()));
        let frame_index = self.frames.len() - 1;
        for to in 0..self.nodes.len() {
            if to == node
                || self.cut.contains(&(node.min(to), node.max(to)))
                || self.rng.random_bool(self.wire.loss.clamp(0.0, 1.0))
            {
                continue;
            }
            let delay = self.delay();
            let last = self.last_delivery.entry((node, to)).or_default();
            let at = (self.now + delay).max(*last);
            *last = at;
            self.push(at, What::Deliver { to, frame_index });
        }
        true
    }

    fn delay(&mut self) -> Duration {
        let min = self.wire.min_delay;
        let max = self.wire.max_delay.max(min);
        let span = u64::try_from(max.saturating_sub(min).as_micros()).unwrap_or(u64::MAX);
        min + Duration::from_micros(self.rng.random_range(0..=span))
    }
}

/// Upper bound on the time from "every node runs" (or "the master died") to
/// one settled master:
/// - every backup's master-down timer fires within `max_md` (+ the last
///   advert's delay after a death) unless it hears a master;
/// - two nodes that took over before hearing each other resolve when the
///   better one's next advert arrives: one advert interval + delay;
/// - with preempt, a node stepping down sends one last advert (§4.4), and
///   a backup that hears it while preferring itself to that node preempts
///   (ucarp does the same): it too waits for the best master's next
///   advert. Seen in the simulator with skews 151/152/153 against 14,
///   where the first wave of takeovers settles only after a second
///   interval. Hence two intervals.
#[must_use]
pub fn settle_bound(configs: &[EngineConfig], max_delay: Duration) -> Duration {
    let max_md = configs
        .iter()
        .map(|c| Engine::new(c.clone(), 0).master_down_interval())
        .max()
        .unwrap_or_default();
    let max_interval = configs
        .iter()
        .map(|c| interval(c.advbase, c.advskew))
        .max()
        .unwrap_or_default();
    max_md + 2 * max_interval + 2 * max_delay
}

#[cfg(test)]
mod tests;
