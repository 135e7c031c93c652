//! The state machine of an emulated CARP peer, free of I/O: events in
//! (`start`, `tick`, `receive`, `leave`) with the time, actions out.
//!
//! Election and timers follow docs/protocol.md §4 for ucarp and its §8
//! ("Differences from BSD carp(4)") for the kernels:
//!
//! - **OpenBSD**: a MASTER yields if (own interval ≥ peer's and peer demote
//!   ≤ own) or peer demote < own. A BACKUP takes over if preempt, own
//!   interval < peer's and peer demote ≥ own; or if peer demote > own
//!   (preempt or not); or if the peer's interval exceeds 3 × advbase (a
//!   bow-out, advbase = advskew = 255, does). The counter is one random
//!   "replay cookie", the same in every advert; an advert carrying it is
//!   dropped as a replay. Leaving as MASTER sends a bow-out.
//! - **FreeBSD**: demotion is folded into advskew (capped at 240), the
//!   demote byte is 0. A MASTER yields to an equal or shorter interval. A
//!   BACKUP takes over with preempt from a longer interval, or from one over
//!   3 × advbase.
//! - **ucarp** (§4.3, §4.4): a MASTER yields to a shorter interval, or an
//!   equal one from a "lower" source (byte-reversed compare); otherwise it
//!   reasserts with a gratuitous ARP. A BACKUP takes over with preempt from
//!   a longer interval, or from one over master-down.
//!
//! FreeBSD and ucarp count alike (§1, §8): a fresh random counter in every
//! advert until a valid advert arrives, then the received counter is adopted
//! and each advert carries the previous value + 1.
//!
//! Master-down is 3 × advbase + advskew/256 s for all three; the advert
//! interval advbase + advskew/256 s. advbase 0 (OpenBSD's sub-second mode)
//! is not emulated.
use std::{net::Ipv4Addr, time::Duration};

use super::wire::{Header, digest};

/// Which CARP implementation a peer behaves as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OpenBsd,
    FreeBsd,
    Ucarp,
}

/// The state of an emulated peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Init,
    Backup,
    Master,
    /// Killed or left: sends and receives nothing any more.
    Stopped,
}

/// An emulated peer's settings.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    pub kind: Kind,
    pub vhid: u8,
    /// Seconds, at least 1.
    pub advbase: u8,
    pub advskew: u8,
    /// OpenBSD: the demotion count sent in byte 4 and used in the election.
    /// FreeBSD: added to advskew (capped at 240). ucarp: ignored.
    pub demote: u8,
    pub preempt: bool,
    pub password: String,
    /// The VHID's addresses, in any order (the HMAC sorts them).
    pub addresses: Vec<Ipv4Addr>,
    /// The host's own address: the adverts' source.
    pub src: Ipv4Addr,
    /// FreeBSD and ucarp: the counter of an advert heard before the start
    /// (its adverts then run +1 from it); None: random until one is heard.
    pub heard_counter: Option<u64>,
}

impl PeerConfig {
    /// Defaults of every kind: VHID 42, advbase 1, advskew 0, demote 0, no
    /// preempt, password `love`.
    #[must_use]
    pub fn new(kind: Kind, src: Ipv4Addr, addresses: &[Ipv4Addr]) -> Self {
        Self {
            kind,
            vhid: 42,
            advbase: 1,
            advskew: 0,
            demote: 0,
            preempt: false,
            password: "love".into(),
            addresses: addresses.to_vec(),
            src,
            heard_counter: None,
        }
    }

    /// Master-down of this configuration: 3 × advbase + advskew/256 s
    /// (FreeBSD: with its demotion folded into advskew).
    #[must_use]
    pub fn master_down(&self) -> Duration {
        units(3 * u32::from(self.advbase) * 256 + u32::from(skew(self, self.demote)))
    }

    /// The advert interval: advbase + advskew/256 s.
    #[must_use]
    pub fn interval(&self) -> Duration {
        units(u32::from(self.advbase) * 256 + u32::from(skew(self, self.demote)))
    }
}

/// The advskew a peer of `cfg` advertises with demotion `demote`.
fn skew(cfg: &PeerConfig, demote: u8) -> u8 {
    match cfg.kind {
        Kind::FreeBsd => (u16::from(cfg.advskew) + u16::from(demote)).min(240) as u8,
        Kind::OpenBsd | Kind::Ucarp => cfg.advskew,
    }
}

/// `n` 256ths of a second.
fn units(n: u32) -> Duration {
    Duration::from_micros(u64::from(n) * 1_000_000 / 256)
}

/// The counter the next advert carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// OpenBSD's replay cookie.
    Cookie(u64),
    /// A fresh random value each time.
    Random,
    /// The last value sent or adopted; the next advert carries it + 1.
    Adopting(u64),
}

/// What the I/O around the machine must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send(Header),
    /// Configure the VHID's addresses.
    BecomeMaster,
    /// Remove them.
    BecomeBackup,
    /// A gratuitous ARP for each address.
    Garp,
}

/// What happened to received adverts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sent: u64,
    pub accepted: u64,
    pub bad_digest: u64,
    /// OpenBSD: adverts carrying its own cookie, dropped.
    pub own_cookie: u64,
    pub other_vhid: u64,
}

/// SplitMix64: enough randomness for counters, reproducible in tests.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One emulated peer's protocol state.
#[derive(Clone, Debug)]
pub struct Machine {
    cfg: PeerConfig,
    state: State,
    demote: u8,
    counter: Counter,
    rng: Rng,
    master_down_at: Option<Duration>,
    next_advert_at: Option<Duration>,
    pub stats: Stats,
}

impl Machine {
    /// A machine in INIT; `seed` drives its random counters.
    #[must_use]
    pub fn new(cfg: PeerConfig, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let counter = match (cfg.kind, cfg.heard_counter) {
            // arc4random until non-zero: a zero cookie means "none yet".
            (Kind::OpenBsd, _) => Counter::Cookie(loop {
                let c = rng.next();
                if c != 0 {
                    break c;
                }
            }),
            (_, Some(c)) => Counter::Adopting(c),
            (_, None) => Counter::Random,
        };
        Self {
            demote: cfg.demote,
            cfg,
            state: State::Init,
            counter,
            rng,
            master_down_at: None,
            next_advert_at: None,
            stats: Stats::default(),
        }
    }

    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    #[must_use]
    pub fn counter(&self) -> Counter {
        self.counter
    }

    #[must_use]
    pub fn demote(&self) -> u8 {
        self.demote
    }

    fn interval(&self) -> u32 {
        u32::from(self.cfg.advbase) * 256 + u32::from(skew(&self.cfg, self.demote))
    }

    fn master_down(&self) -> u32 {
        3 * u32::from(self.cfg.advbase) * 256 + u32::from(skew(&self.cfg, self.demote))
    }

    /// The earliest time `tick` has something to do.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Duration> {
        match self.state {
            State::Master => self.next_advert_at,
            State::Backup => self.master_down_at,
            State::Init | State::Stopped => None,
        }
    }

    /// INIT → BACKUP, master-down armed.
    pub fn start(&mut self, now: Duration) -> Vec<Action> {
        self.state = State::Backup;
        self.master_down_at = Some(now + units(self.master_down()));
        Vec::new()
    }

    /// Changes the demotion (OpenBSD's demote byte, FreeBSD's advskew
    /// offset); takes effect from the next advert or election.
    pub fn set_demote(&mut self, demote: u8) {
        self.demote = demote;
    }

    /// Fires whichever timer is due.
    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        match self.state {
            State::Master if self.next_advert_at.is_some_and(|t| t <= now) => {
                let due = self.next_advert_at.unwrap_or(now) + units(self.interval());
                // Late by more than an interval (a stalled thread): restart
                // the schedule rather than send a burst.
                self.next_advert_at = Some(if due <= now {
                    now + units(self.interval())
                } else {
                    due
                });
                vec![Action::Send(self.advert(self.cfg.advbase, self.advskew()))]
            }
            State::Backup if self.master_down_at.is_some_and(|t| t <= now) => {
                self.become_master(now)
            }
            _ => Vec::new(),
        }
    }

    /// An advert from `src` that passed the frame checks (wire::parse_frame).
    pub fn receive(&mut self, now: Duration, src: Ipv4Addr, h: &Header) -> Vec<Action> {
        if matches!(self.state, State::Init | State::Stopped) {
            return Vec::new();
        }
        if h.vhid != self.cfg.vhid {
            self.stats.other_vhid += 1;
            return Vec::new();
        }
        let expected = digest(
            self.cfg.password.as_bytes(),
            self.cfg.vhid,
            &self.cfg.addresses,
            h.counter,
        );
        if expected != h.digest {
            self.stats.bad_digest += 1;
            return Vec::new();
        }
        match self.counter {
            Counter::Cookie(c) if c == h.counter => {
                self.stats.own_cookie += 1;
                return Vec::new();
            }
            Counter::Cookie(_) => {}
            Counter::Random | Counter::Adopting(_) => self.counter = Counter::Adopting(h.counter),
        }
        self.stats.accepted += 1;
        let (own, peer) = (self.interval(), h.interval());
        let (own_demote, peer_demote) = (self.demote, h.demote);
        let times_out = u32::from(self.cfg.advbase) * 3 * 256;
        match (self.state, self.cfg.kind) {
            (State::Master, Kind::OpenBsd) => {
                if (own >= peer && peer_demote <= own_demote) || peer_demote < own_demote {
                    return self.become_backup(now);
                }
                Vec::new()
            }
            (State::Master, Kind::FreeBsd) => {
                if own >= peer {
                    return self.become_backup(now);
                }
                Vec::new()
            }
            (State::Master, Kind::Ucarp) => {
                let remote_lower =
                    u32::from_le_bytes(src.octets()) < u32::from_le_bytes(self.cfg.src.octets());
                if own > peer || (own == peer && remote_lower) {
                    let mut actions =
                        vec![Action::Send(self.advert(self.cfg.advbase, self.advskew()))];
                    actions.extend(self.become_backup(now));
                    actions
                } else {
                    vec![Action::Garp]
                }
            }
            (State::Backup, Kind::OpenBsd) => {
                let preempts = self.cfg.preempt && own < peer && peer_demote >= own_demote;
                if preempts || peer_demote > own_demote || peer > times_out {
                    return self.become_master(now);
                }
                self.become_backup(now)
            }
            (State::Backup, Kind::FreeBsd) => {
                if (self.cfg.preempt && own < peer) || peer > times_out {
                    return self.become_master(now);
                }
                self.become_backup(now)
            }
            (State::Backup, Kind::Ucarp) => {
                if (self.cfg.preempt && own < peer) || peer > self.master_down() {
                    return self.become_master(now);
                }
                self.become_backup(now)
            }
            (State::Init | State::Stopped, _) => Vec::new(),
        }
    }

    /// Leaves the VHID (interface down, shutdown). An OpenBSD MASTER first
    /// sends a bow-out (advbase = advskew = 255); FreeBSD and ucarp send
    /// nothing (§4.5: no farewell advert). Then STOPPED.
    pub fn leave(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.state == State::Master {
            if self.cfg.kind == Kind::OpenBsd {
                actions.push(Action::Send(self.advert(255, 255)));
            }
            actions.push(Action::BecomeBackup);
        }
        self.stop();
        actions
    }

    /// STOPPED at once, nothing sent.
    pub fn stop(&mut self) {
        self.state = State::Stopped;
        self.master_down_at = None;
        self.next_advert_at = None;
    }

    fn advskew(&self) -> u8 {
        skew(&self.cfg, self.demote)
    }

    fn become_master(&mut self, now: Duration) -> Vec<Action> {
        self.state = State::Master;
        self.master_down_at = None;
        self.next_advert_at = Some(now + units(self.interval()));
        // The first advert at once (§4.3), ahead of the addresses: the
        // takeover shows on the wire without waiting for `ip`.
        let first = self.advert(self.cfg.advbase, self.advskew());
        vec![Action::Send(first), Action::BecomeMaster, Action::Garp]
    }

    /// To (or staying in) BACKUP: master-down re-armed.
    fn become_backup(&mut self, now: Duration) -> Vec<Action> {
        let was_master = self.state == State::Master;
        self.state = State::Backup;
        self.next_advert_at = None;
        self.master_down_at = Some(now + units(self.master_down()));
        if was_master {
            vec![Action::BecomeBackup]
        } else {
            Vec::new()
        }
    }

    fn next_counter(&mut self) -> u64 {
        match self.counter {
            Counter::Cookie(c) => c,
            Counter::Random => self.rng.next(),
            Counter::Adopting(last) => {
                let next = last.wrapping_add(1);
                self.counter = Counter::Adopting(next);
                next
            }
        }
    }

    fn advert(&mut self, advbase: u8, advskew: u8) -> Header {
        let counter = self.next_counter();
        self.stats.sent += 1;
        Header {
            vhid: self.cfg.vhid,
            advskew,
            demote: if self.cfg.kind == Kind::OpenBsd {
                self.demote
            } else {
                0
            },
            advbase,
            counter,
            digest: digest(
                self.cfg.password.as_bytes(),
                self.cfg.vhid,
                &self.cfg.addresses,
                counter,
            ),
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
