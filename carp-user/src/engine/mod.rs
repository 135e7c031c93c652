//! The CARP state machine for one virtual host id, sans I/O.
//!
//! The daemon feeds it `(now, event)` and carries out the returned
//! [`Action`]s in order. No clock, no sockets, no tokio: everything,
//! including the counter randomness, is a function of the inputs and the
//! seed, so tests and the simulator are deterministic.
//!
//! Behaviour follows ucarp 1.5.2 (`src/carp.c`); section numbers (§) refer
//! to docs/protocol.md, "ucarp's behaviour".

#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod types;

use std::time::Duration;

use carp_common::freshness;
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};

pub use types::{
    Action, CounterScheme, EngineConfig, Event, Instant, LogLevel, ReceivedAdvert, Script, State,
    TieBreak, Timer,
};

/// Consecutive failed advert writes that start preempt suppression (§4.7).
pub const SEND_ERRORS_TO_SUPPRESS: u32 = 3;
/// Consecutive successful writes that end it.
pub const SEND_SUCCESSES_TO_RECOVER: u32 = 3;
/// The skew advertised while suppressed (BSD's CARP_BULK_UPDATE_MIN_DELAY).
pub const SUPPRESSED_ADVSKEW: u8 = 240;
/// How long SIGUSR2 keeps the node from reclaiming mastership before the
/// master-down timer starts (ucarp's `sleep(3)`, §4.5).
pub const DEMOTE_HOLD: Duration = Duration::from_secs(3);

/// Adverts after a takeover or reassertion before the second gratuitous
/// ARP goes out (ucarp's `sc_delayed_arp = 2`, §4.3).
const DELAYED_GARP_ADVERTS: i8 = 2;

/// advbase and advskew of BSD's "bow-out" advert, sent by a master that
/// leaves: every peer reads it as "this master will time out" and takes
/// over at once (docs/protocol.md, "Bow-out").
pub const BOW_OUT: u8 = u8::MAX;

/// Longest a stopping master keeps the VIP after its bow-out while no
/// successor advertises (shorter when master-down is): successors react to
/// the bow-out itself, ucarp within about a second (§4.1), so a long
/// advbase must not hold a stop for minutes.
pub const HAND_OVER_LIMIT: Duration = Duration::from_secs(5);

/// `advbase + advskew/256` seconds, with the skew in whole microseconds
/// truncated the way ucarp computes it (§4.1).
#[must_use]
pub fn interval(advbase: u8, advskew: u8) -> Duration {
    Duration::from_secs(u64::from(advbase)) + skew(advskew)
}

fn skew(advskew: u8) -> Duration {
    Duration::from_micros(u64::from(advskew) * 1_000_000 / 256)
}

/// One vhid's CARP state machine.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    state: State,
    rng: StdRng,
    /// Counter of the last advert sent or received.
    counter: u64,
    /// Until the first valid advert arrives every advert carries a fresh
    /// random counter (§1). Unused with [`CounterScheme::Sequenced`].
    random_counter: bool,
    /// [`CounterScheme::Sequenced`]'s stream id, drawn at start.
    stream: u32,
    /// ucarp's `sc_delayed_arp`: adverts left before the second GARP, or -1.
    delayed_garp: i8,
    send_errors: u32,
    send_successes: u32,
    /// ucarp's `carp_suppress_preempt` (0 or 1 for one vhid).
    suppress_preempt: u32,
    link_up: bool,
    shut_down: bool,
    /// Our demotion (0: healthy), sent in the demote byte.
    demotion: u8,
    /// [`Event::HandOver`]: bowed out, holding the VIP until a successor
    /// advertises or the master-down timer fires.
    handing_over: bool,
    /// Up-scripts asked for and not yet reported finished.
    up_scripts_running: u32,
    /// A gratuitous ARP is due once those have finished.
    garp_waits_for_up_script: bool,
    /// When the scheduled advert timer was last armed from (the advert
    /// sent then): [`Engine::reconfigure`] re-arms it from there.
    last_advert_at: Option<Instant>,
    /// What the master-down timer was last armed from (the last advert
    /// heard, the start, the link's return, the end of a SIGUSR2 hold):
    /// [`Engine::reconfigure`] re-arms it from there.
    master_down_from: Option<Instant>,
}

impl Engine {
    #[must_use]
    pub fn new(config: EngineConfig, rng_seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(rng_seed);
        // Never 0, so that a counter of 0 means "none sent yet".
        let stream = (rng.random::<u32>() & freshness::STREAM_MASK).max(1);
        Self {
            config,
            state: State::Init,
            rng,
            counter: 0,
            random_counter: true,
            stream,
            delayed_garp: -1,
            send_errors: 0,
            send_successes: 0,
            suppress_preempt: 0,
            link_up: true,
            shut_down: false,
            demotion: 0,
            handing_over: false,
            up_scripts_running: 0,
            garp_waits_for_up_script: false,
            last_advert_at: None,
            master_down_from: None,
        }
    }

    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether three failed writes put preemption under suppression (§4.7).
    #[must_use]
    pub fn preempt_suppressed(&self) -> bool {
        self.suppress_preempt > 0
    }

    /// Whether the engine has stopped for good ([`Event::Shutdown`], or an
    /// [`Event::HandOver`] that has completed).
    #[must_use]
    pub fn finished(&self) -> bool {
        self.shut_down
    }

    /// Our demotion level (0: healthy), as [`Event::SetDemotion`] set it.
    #[must_use]
    pub fn demotion(&self) -> u8 {
        self.demotion
    }

    /// The skew adverts carry: 240 while suppressed (§4.7) or demoted,
    /// unless configured higher.
    #[must_use]
    pub fn advertised_skew(&self) -> u8 {
        let lowered = self.preempt_suppressed() || self.demotion > 0;
        if lowered && self.config.advskew <= SUPPRESSED_ADVSKEW {
            SUPPRESSED_ADVSKEW
        } else {
            self.config.advskew
        }
    }

    /// Time between two adverts while MASTER, with the advertised skew.
    #[must_use]
    pub fn advert_interval(&self) -> Duration {
        interval(self.config.advbase, self.advertised_skew())
    }

    /// `advbase × deadratio + advskew/256`: the configured skew is added
    /// once, not multiplied (§4.1).
    #[must_use]
    pub fn master_down_interval(&self) -> Duration {
        self.dead_interval(self.config.advskew)
    }

    fn dead_interval(&self, advskew: u8) -> Duration {
        let secs = u64::from(self.config.advbase) * u64::from(self.config.deadratio);
        Duration::from_secs(secs) + skew(advskew)
    }

    /// Feeds one event; returns what to do, in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if self.shut_down {
            return out;
        }
        if self.handing_over {
            // Bowed out: only the successor's advert, the bound or a
            // second stop request end the hand-over.
            if matches!(
                event,
                Event::Advert(_)
                    | Event::TimerFired(Timer::MasterDown)
                    | Event::Shutdown
                    | Event::HandOver
                    | Event::LinkDown
            ) {
                self.handing_over = false;
                self.shut_down = true;
                out.push(Action::RunScript(Script::Down));
                out.push(Action::CancelTimer(Timer::MasterDown));
            }
            return out;
        }
        match event {
            Event::Start => self.on_start(now, &mut out),
            Event::Advert(advert) => self.on_advert(now, advert, &mut out),
            Event::TimerFired(Timer::MasterDown) => self.on_master_down_timer(now, &mut out),
            Event::TimerFired(Timer::Advert) => self.on_advert_timer(now, &mut out),
            Event::LinkDown => self.on_link_down(&mut out),
            Event::LinkUp => self.on_link_up(now, &mut out),
            Event::Demote => self.on_demote(now, &mut out),
            Event::Shutdown => self.on_shutdown(now, &mut out),
            Event::HandOver => self.on_hand_over(now, &mut out),
            Event::SetDemotion(level) => self.on_set_demotion(now, level, &mut out),
            Event::SendResult { ok } => self.on_send_result(now, ok, &mut out),
            Event::ScriptFinished(script) => self.on_script_finished(script, &mut out),
        }
        out
    }

    /// New settings for a running instance (a reload, docs/config.md
    /// "Reload"). The state, the counter stream, the demotion and the
    /// timers' schedule stay; the new values apply from the next advert
    /// sent or received. When the intervals change, the timer that runs is
    /// re-armed from the moment it was armed from: a MASTER's next advert
    /// at its last advert plus the new interval, a BACKUP's master-down at
    /// the last advert heard plus the new master-down interval (at once if
    /// that moment has passed). The VHID is the instance's identity and is
    /// kept; so is the counter stream (and its clock) while the counters
    /// stay sequenced.
    pub fn reconfigure(&mut self, now: Instant, config: EngineConfig) -> Vec<Action> {
        let mut out = Vec::new();
        let (advert_was, down_was) = (self.advert_interval(), self.master_down_interval());
        let counters = match (self.config.counters, config.counters) {
            (CounterScheme::Sequenced { .. }, CounterScheme::Sequenced { .. }) => {
                self.config.counters
            }
            (old, new) if old == new => old,
            (_, new) => {
                // Another numbering: start it afresh (§1, docs/xdp.md
                // "Freshness"), as at start.
                self.counter = 0;
                self.random_counter = true;
                new
            }
        };
        self.config = EngineConfig {
            vhid: self.config.vhid,
            counters,
            ..config
        };
        if self.shut_down || self.handing_over || !self.link_up {
            return out;
        }
        match self.state {
            State::Master if self.advert_interval() != advert_was => {
                if let Some(last) = self.last_advert_at {
                    out.push(Action::ArmTimer {
                        timer: Timer::Advert,
                        at: last.saturating_add(self.advert_interval()).max(now),
                    });
                }
            }
            State::Backup if self.master_down_interval() != down_was => {
                if let Some(from) = self.master_down_from {
                    out.push(Action::ArmTimer {
                        timer: Timer::MasterDown,
                        at: from.saturating_add(self.master_down_interval()).max(now),
                    });
                }
            }
            _ => {}
        }
        out
    }

    // §4.3: ucarp sends the first gratuitous ARP once the up-script has
    // returned, so the VIP it announces is configured. Adverts do not wait.
    fn on_script_finished(&mut self, script: Script, out: &mut Vec<Action>) {
        if script != Script::Up {
            return;
        }
        self.up_scripts_running = self.up_scripts_running.saturating_sub(1);
        if self.up_scripts_running == 0 && self.garp_waits_for_up_script {
            self.garp_waits_for_up_script = false;
            if self.state == State::Master && self.link_up {
                out.push(Action::SendGarp);
            }
        }
    }

    /// A gratuitous ARP now, or as soon as the running up-script finishes.
    fn send_garp(&mut self, out: &mut Vec<Action>) {
        if self.up_scripts_running > 0 {
            self.garp_waits_for_up_script = true;
        } else {
            out.push(Action::SendGarp);
        }
    }

    // §4.2: INIT goes straight to BACKUP and waits one master-down interval.
    fn on_start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        self.change_state(State::Backup, out);
        if self.link_up {
            self.arm_master_down(now, out);
        }
    }

    // §3 (acceptance) and §4.3/§4.4 (ucarp's `packethandler`).
    fn on_advert(&mut self, now: Instant, advert: ReceivedAdvert, out: &mut Vec<Action>) {
        // ucarp reads no packets while the carrier is down (§4.6).
        if !self.link_up {
            return;
        }
        self.hear_counter(advert.counter);

        // ucarp compares with the suppressed skew on receive, too.
        let local = self.advert_interval();
        let remote = interval(advert.advbase, advert.advskew);
        // OpenBSD's demote byte decides before the intervals do; with equal
        // demotion (always, between ucarp and healthy xcarp nodes) the
        // rules are ucarp's (docs/protocol.md, "Demotion").
        let demote = advert.demote.cmp(&self.demotion);
        match self.state {
            State::Init => {}
            State::Master => {
                // How we compare with the peer, worse first: more demoted,
                // then a longer interval, then the tie-break key (§4.4).
                let us = (
                    self.demotion,
                    local,
                    self.config.tie_break.key(self.config.src_ip),
                );
                let peer = (
                    advert.demote,
                    remote,
                    self.config.tie_break.key(advert.src_ip),
                );
                let peer_preferred = us > peer;
                let peer_worse = us < peer;
                if peer_preferred {
                    // §4.4: one last advert "to be really sure the new master
                    // knows it has to reassert control", then step down.
                    self.send_advert(now, false, out);
                    self.change_state(State::Backup, out);
                    self.arm_master_down(now, out);
                    log(
                        out,
                        LogLevel::Warning,
                        "Preferred master advertised: going back to BACKUP state",
                    );
                } else if peer_worse {
                    // §4.4: we stay; re-announce the VIP now and again two
                    // adverts later.
                    self.send_garp(out);
                    self.delayed_garp = DELAYED_GARP_ADVERTS;
                    log(
                        out,
                        LogLevel::Warning,
                        "Non-preferred master advertising: reasserting control of VIP with another gratuitous arp",
                    );
                }
            }
            State::Backup => {
                // OpenBSD: a more demoted master is taken over whatever the
                // intervals and the preempt setting.
                if demote == std::cmp::Ordering::Greater {
                    self.master_down(now, out);
                    log(
                        out,
                        LogLevel::Warning,
                        "Putting MASTER down - it is more demoted than we are",
                    );
                // §4.3: preempt only a strictly slower master (and, as in
                // OpenBSD, not one less demoted than we are).
                } else if self.config.preempt
                    && local < remote
                    && demote == std::cmp::Ordering::Equal
                {
                    self.master_down(now, out);
                    log(out, LogLevel::Warning, "Putting MASTER down - preemption");
                // §4.3: a master this slow would time out anyway (also BSD's
                // 255/255 bow-out).
                } else if remote > self.dead_interval(self.advertised_skew()) {
                    self.master_down(now, out);
                    log(
                        out,
                        LogLevel::Warning,
                        "Putting MASTER DOWN (going to time out)",
                    );
                } else {
                    self.arm_master_down(now, out);
                }
            }
        }
    }

    // §4.1: the master-down timer only matters in BACKUP.
    fn on_master_down_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.link_up && self.state == State::Backup {
            self.master_down(now, out);
        }
    }

    fn on_advert_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.link_up && self.state == State::Master {
            self.send_advert(now, true, out);
        }
    }

    // §4.6: without carrier, BACKUP with no timers until the link returns.
    fn on_link_down(&mut self, out: &mut Vec<Action>) {
        if !self.link_up {
            return;
        }
        self.link_up = false;
        if self.state != State::Init {
            // Leaving MASTER also cancels the advert timer.
            self.change_state(State::Backup, out);
        }
        out.push(Action::CancelTimer(Timer::MasterDown));
    }

    // §4.6: carrier back → normal election from BACKUP.
    fn on_link_up(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.link_up {
            return;
        }
        self.link_up = true;
        if self.state == State::Backup {
            self.arm_master_down(now, out);
        }
    }

    // §4.5 SIGUSR2: step down, then wait 3 s before the master-down
    // interval starts, so another node can take over.
    fn on_demote(&mut self, now: Instant, out: &mut Vec<Action>) {
        log(
            out,
            LogLevel::Debug,
            "Caught signal (USR2) considering going down",
        );
        if !self.link_up || self.state != State::Master {
            return;
        }
        // Unlike ucarp, say so on the wire: the backup takes over now
        // instead of after its master-down interval.
        self.send_bow_out(now, out);
        self.change_state(State::Backup, out);
        self.arm_master_down(now.saturating_add(DEMOTE_HOLD), out);
    }

    // §4.5 `--shutdown`: release the VIP if we hold it. ucarp sends no
    // farewell; we bow out first, as BSD carp does, so the backup takes
    // over at once instead of after its master-down interval.
    fn on_shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.shut_down = true;
        if self.state == State::Master {
            if self.link_up {
                self.send_bow_out(now, out);
            }
            out.push(Action::RunScript(Script::Down));
        }
        out.push(Action::CancelTimer(Timer::MasterDown));
        out.push(Action::CancelTimer(Timer::Advert));
    }

    // A planned stop: bow out now, release the VIP once a successor speaks
    // (or after one master-down interval, when nobody does).
    fn on_hand_over(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master || !self.link_up {
            self.on_shutdown(now, out);
            return;
        }
        self.send_bow_out(now, out);
        out.push(Action::CancelTimer(Timer::Advert));
        out.push(Action::ArmTimer {
            timer: Timer::MasterDown,
            at: now.saturating_add(self.master_down_interval().min(HAND_OVER_LIMIT)),
        });
        self.handing_over = true;
        log(
            out,
            LogLevel::Info,
            "Bowed out: keeping the VIP until a new master advertises",
        );
    }

    // Health checks and tracked interfaces (docs/config.md, "Health
    // checks"): demotion lowers our priority on the wire; a master that
    // falls ill hands over at once with a bow-out. Recovery changes no
    // state: a backup takes the VIP back only under preempt.
    fn on_set_demotion(&mut self, now: Instant, level: u8, out: &mut Vec<Action>) {
        let was = self.demotion;
        if level == was {
            return;
        }
        self.demotion = level;
        if self.state != State::Master || !self.link_up {
            return;
        }
        if was == 0 {
            self.send_bow_out(now, out);
            self.change_state(State::Backup, out);
            self.arm_master_down(now, out);
            log(
                out,
                LogLevel::Warning,
                "Demoted: bowing out so that a healthy peer takes over",
            );
        } else {
            // Still master (no healthy peer): advertise the new level now.
            self.send_advert(now, true, out);
        }
    }

    // §4.7, ucarp's error accounting in `carp_send_ad`.
    fn on_send_result(&mut self, now: Instant, ok: bool, out: &mut Vec<Action>) {
        if ok {
            if self.send_errors >= SEND_ERRORS_TO_SUPPRESS {
                self.send_successes += 1;
                if self.send_successes >= SEND_SUCCESSES_TO_RECOVER {
                    self.suppress_preempt = self.suppress_preempt.saturating_sub(1);
                    self.send_errors = 0;
                }
            } else {
                self.send_errors = 0;
            }
            return;
        }
        self.send_errors = self.send_errors.saturating_add(1);
        self.send_successes = 0;
        if self.send_errors == SEND_ERRORS_TO_SUPPRESS {
            log(
                out,
                LogLevel::Error,
                &format!(
                    "write() error #{}/{SEND_ERRORS_TO_SUPPRESS}",
                    self.suppress_preempt
                ),
            );
            self.suppress_preempt += 1;
            // ucarp re-advertises at once so peers see the new skew.
            if self.suppress_preempt == 1 && self.state == State::Master {
                self.send_advert(now, true, out);
            }
        }
    }

    /// ucarp's `carp_master_down` (§4.3): only BACKUP takes over.
    fn master_down(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Backup {
            return;
        }
        self.change_state(State::Master, out);
        out.push(Action::CancelTimer(Timer::MasterDown));
        self.send_advert(now, true, out);
        self.delayed_garp = DELAYED_GARP_ADVERTS;
    }

    /// ucarp's `carp_send_ad`: next counter, the advert, the delayed GARP
    /// bookkeeping, and (unless about to step down) the next advert's time.
    fn send_advert(&mut self, now: Instant, schedule_next: bool, out: &mut Vec<Action>) {
        self.counter = self.next_counter(now);
        out.push(Action::SendAdvert {
            advbase: self.config.advbase,
            advskew: self.advertised_skew(),
            demote: self.demotion,
            counter: self.counter,
        });
        if self.delayed_garp > 0 {
            self.delayed_garp -= 1;
        }
        if self.delayed_garp == 0 {
            if self.state == State::Master {
                self.send_garp(out);
            }
            self.delayed_garp = -1;
        }
        // ucarp's `carp_send_ad`: a node advertising 255/255 is bowing out
        // (BSD's "leaving" advert) and sends no further adverts.
        let bowing_out = self.config.advbase == BOW_OUT && self.advertised_skew() == BOW_OUT;
        if schedule_next && !bowing_out {
            self.last_advert_at = Some(now);
            out.push(Action::ArmTimer {
                timer: Timer::Advert,
                at: now.saturating_add(self.advert_interval()),
            });
        }
    }

    /// BSD's farewell: one advert with advbase and advskew 255, which every
    /// peer (ucarp included, §4.3) takes as "this master will time out".
    /// The caller then leaves MASTER, which cancels the advert timer.
    fn send_bow_out(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.counter = self.next_counter(now);
        out.push(Action::SendAdvert {
            advbase: BOW_OUT,
            advskew: BOW_OUT,
            demote: self.demotion,
            counter: self.counter,
        });
    }

    /// §1: a valid advert ends the random counters; ours continue from the
    /// peer's. A sequenced stream is ours alone and never adopted, but a
    /// node continuing it (ucarp, FreeBSD) sends our last value + 1, which
    /// is what we would send next within the same millisecond: our next
    /// value goes past what we heard in our stream, so no two adverts carry
    /// one counter (docs/xdp.md, "Freshness"). Only values a clock could
    /// have reached count, not a random counter that landed in the stream.
    fn hear_counter(&mut self, counter: u64) {
        if self.config.counters.adopts() {
            self.random_counter = false;
            self.counter = counter;
        } else if matches!(self.config.counters, CounterScheme::Sequenced { .. })
            && self.counter != 0
            && freshness::stream(counter) == self.stream
        {
            let ahead = freshness::value(counter).wrapping_sub(freshness::value(self.counter))
                & freshness::VALUE_MASK;
            if ahead != 0 && ahead <= freshness::CLOCK_SLACK {
                self.counter = counter;
            }
        }
    }

    fn next_counter(&mut self, now: Instant) -> u64 {
        match self.config.counters {
            CounterScheme::Ucarp if self.random_counter => self.rng.random(),
            CounterScheme::Ucarp => self.counter.wrapping_add(1),
            // Drawn once (never 0, which means "none sent yet"), then kept.
            CounterScheme::FixedCookie if self.counter == 0 => self.rng.random::<u64>().max(1),
            CounterScheme::FixedCookie => self.counter,
            CounterScheme::RandomStart if self.counter == 0 => self.rng.random::<u64>().max(1),
            CounterScheme::RandomStart => self.counter.wrapping_add(1),
            CounterScheme::Sequenced { wall_ms_at_zero } => {
                let elapsed_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
                let clock = wall_ms_at_zero.wrapping_add(elapsed_ms) & freshness::VALUE_MASK;
                let value = if self.counter == 0 {
                    clock
                } else {
                    // The clock, unless it has not moved past the last value
                    // (two adverts in one millisecond): then one more.
                    let last = freshness::value(self.counter);
                    if freshness::is_newer(clock, last) {
                        clock
                    } else {
                        last.wrapping_add(1) & freshness::VALUE_MASK
                    }
                };
                freshness::counter(self.stream, value)
            }
        }
    }

    /// Arms the master-down timer one master-down interval after `from`.
    fn arm_master_down(&mut self, from: Instant, out: &mut Vec<Action>) {
        self.master_down_from = Some(from);
        out.push(Action::ArmTimer {
            timer: Timer::MasterDown,
            at: from.saturating_add(self.master_down_interval()),
        });
    }

    /// The one place the state changes (ucarp's `carp_set_state`): logs the
    /// switch and emits the entry actions. Same state → nothing.
    fn change_state(&mut self, new: State, out: &mut Vec<Action>) {
        if self.state == new {
            return;
        }
        let old = self.state;
        match new {
            State::Init => log(out, LogLevel::Info, "Switching to state: INIT"),
            State::Backup => {
                log(out, LogLevel::Warning, "Switching to state: BACKUP");
                // §4.2: --neutral only skips the very first down script.
                if !(old == State::Init && self.config.neutral) {
                    out.push(Action::RunScript(Script::Down));
                }
                if old == State::Master {
                    out.push(Action::CancelTimer(Timer::Advert));
                }
            }
            State::Master => {
                log(out, LogLevel::Warning, "Switching to state: MASTER");
                out.push(Action::RunScript(Script::Up));
                self.up_scripts_running += 1;
                self.state = new;
                self.send_garp(out);
                return;
            }
        }
        if old == State::Master {
            // A GARP for the VIP we are giving up must not go out later.
            self.garp_waits_for_up_script = false;
        }
        self.state = new;
    }
}

fn log(out: &mut Vec<Action>, level: LogLevel, message: &str) {
    out.push(Action::Log {
        level,
        message: message.to_owned(),
    });
}
