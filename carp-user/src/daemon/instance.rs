//! One CARP instance (a VHID on an interface and VLAN) inside the daemon:
//! its engine, keys, receive checks, timers, scripts and counters. The
//! daemon owns the sockets and routes events here; an instance never waits
//! on anything, so one instance's hanging script or flood cannot delay
//! another's adverts.
use std::{
    net::Ipv4Addr,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

use super::{
    RateLimited, log,
    net::FrameSender,
    scripts::{Ran, ScriptRunner, ScriptSpec},
    suppressed_note,
};
use crate::{
    auth::CarpAuth,
    engine::{
        self, Action, CounterScheme, Engine, EngineConfig, Event, ReceivedAdvert, Script, State,
        TieBreak, Timer,
    },
    replay::ReplayGuard,
    wire::{self, RxError, RxFilter},
    xdp::AttachMode,
};

/// What the daemon runs one instance with: the command line and the
/// configuration file both come down to this.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    /// For logs and status ("vhid 42 on eth0" unless configured).
    pub name: String,
    pub interface: String,
    /// 802.1Q VLAN id of the adverts on `interface`, 0 for untagged.
    pub vlan: u16,
    pub vhid: u8,
    pub srcip: Ipv4Addr,
    pub group: Ipv4Addr,
    pub nomcast: bool,
    /// The virtual addresses in the order the HMAC covers them
    /// (docs/protocol.md §2), with each one as typed for the scripts.
    pub addresses: Vec<(Ipv4Addr, String)>,
    pub advbase: u8,
    pub advskew: u8,
    pub deadratio: u32,
    pub preempt: bool,
    pub neutral: bool,
    /// `--shutdown`: a signal releases the VIP (downscript) before exit.
    pub shutdown: bool,
    pub ignore_ifstate: bool,
    pub upscript: Option<PathBuf>,
    pub downscript: Option<PathBuf>,
    pub xparam: Option<String>,
    pub tie_break: TieBreak,
    pub replay_protection: bool,
    pub xdp_mode: AttachMode,
    pub script_timeout: Duration,
    /// Health checks and tracked interfaces (docs/config.md, "Health
    /// checks"): not protocol settings; a reload restarts what changed.
    pub checks: Vec<crate::config::HealthCheck>,
    pub track_interfaces: Vec<String>,
}

impl InstanceSpec {
    /// Whether `other` is the same instance: the same VHID on the same
    /// interface and VLAN. A reload updates such an instance in place,
    /// whatever else changed; any other is removed or added.
    #[must_use]
    pub fn same_identity(&self, other: &Self) -> bool {
        (&self.interface, self.vlan, self.vhid) == (&other.interface, other.vlan, other.vhid)
    }

    /// The settings `new` changes, by their configuration key (keys are
    /// compared elsewhere: they are not kept).
    #[must_use]
    pub fn changes(&self, new: &Self) -> Vec<&'static str> {
        let addrs = |s: &Self| s.addresses.iter().map(|(a, _)| *a).collect::<Vec<_>>();
        [
            ("name", self.name != new.name),
            ("srcip", self.srcip != new.srcip),
            ("group", self.group != new.group),
            ("nomcast", self.nomcast != new.nomcast),
            ("addresses", addrs(self) != addrs(new)),
            ("advbase", self.advbase != new.advbase),
            ("advskew", self.advskew != new.advskew),
            ("deadratio", self.deadratio != new.deadratio),
            ("preempt", self.preempt != new.preempt),
            ("neutral", self.neutral != new.neutral),
            ("shutdown", self.shutdown != new.shutdown),
            ("ignore_ifstate", self.ignore_ifstate != new.ignore_ifstate),
            ("scripts", self.script_spec() != new.script_spec()),
            ("tie_break", self.tie_break != new.tie_break),
            (
                "replay_protection",
                self.replay_protection != new.replay_protection,
            ),
            ("xdp_mode", self.xdp_mode != new.xdp_mode),
            (
                "health checks",
                (&self.checks, &self.track_interfaces) != (&new.checks, &new.track_interfaces),
            ),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
    }

    /// How its scripts are called.
    #[must_use]
    pub fn script_spec(&self) -> ScriptSpec {
        ScriptSpec {
            up: self.upscript.clone(),
            down: self.downscript.clone(),
            interface: self.interface.clone(),
            vip_args: self
                .addresses
                .iter()
                .map(|(_, typed)| typed.clone())
                .collect(),
            xparam: self.xparam.clone(),
            timeout: self.script_timeout,
        }
    }

    /// The addresses alone, in HMAC order.
    #[must_use]
    pub fn addrs(&self) -> Vec<Ipv4Addr> {
        self.addresses.iter().map(|(a, _)| *a).collect()
    }

    pub(super) fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            vhid: self.vhid,
            advbase: self.advbase,
            advskew: self.advskew,
            deadratio: self.deadratio,
            preempt: self.preempt,
            neutral: self.neutral,
            src_ip: self.srcip,
            tie_break: self.tie_break,
            counters: if self.replay_protection {
                CounterScheme::Sequenced {
                    wall_ms_at_zero: crate::status::unix_ms_now(),
                }
            } else {
                CounterScheme::Ucarp
            },
        }
    }

    fn rx_filter(&self) -> RxFilter {
        RxFilter {
            own_src: self.srcip,
            vhid: self.vhid,
            group: self.group,
            broadcast: self.nomcast,
            vlan: self.vlan,
        }
    }
}

/// What an instance did and rejected: the SIGUSR1 line and the status.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub garps_sent: u64,
    pub send_errors: u64,
    pub bad_digest: u64,
    /// Authentic adverts the daemon dropped as replays (the kernel's are
    /// counted per interface).
    pub replayed: u64,
    pub malformed: u64,
    /// Records the XDP program passed as authentic whose digest the daemon
    /// rejects: never expected (both compute the same HMAC); counted and
    /// logged so a disagreement is never silent.
    pub kernel_disagreements: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub script_runs: u64,
    pub script_failures: u64,
    pub script_timeouts: u64,
}

/// A state change, for the status.
#[derive(Clone, Debug)]
pub struct Transition {
    pub at: SystemTime,
    pub from: State,
    pub to: State,
    /// The event that caused it, as the engine's log line says.
    pub reason: String,
}

/// How the frames of one instance reach the daemon.
pub enum RxPath {
    /// Through the shared XDP program and ring; `kernel_hmac`: the kernel
    /// checks the digest (and freshness) first.
    Xdp { kernel_hmac: bool },
    /// Through a socket filter of its own, read on a task that forwards
    /// the frames.
    Socket(tokio::task::AbortHandle),
}

/// Where an instance sends: its interface's socket and MAC.
pub struct Output<'a> {
    pub sender: &'a FrameSender,
    pub mac: [u8; 6],
}

pub struct Instance {
    pub id: u64,
    pub spec: InstanceSpec,
    pub ifindex: u32,
    pub engine: Engine,
    auth: CarpAuth,
    /// The key a reload replaced, for the adverts the kernel checked with
    /// it before the change (until [`Instance::forget_previous_key`]).
    previous_auth: Option<CarpAuth>,
    rx_filter: RxFilter,
    replay_guard: Option<ReplayGuard>,
    pub scripts: ScriptRunner,
    pub rx: RxPath,
    /// Deadlines of the engine's timers: master-down, advert.
    timers: [Option<engine::Instant>; 2],
    pub stats: Stats,
    pub state_since: SystemTime,
    pub last_transition: Option<Transition>,
    /// Source and arrival of the last authentic advert.
    pub last_heard: Option<(Ipv4Addr, Instant)>,
    /// The last script run: which, how it ended, when.
    pub last_script: Option<(Script, super::scripts::ScriptOutcome, SystemTime)>,
    bad_digest_log: RateLimited,
    malformed_log: RateLimited,
    disagreement_log: RateLimited,
    replay_log: RateLimited,
    /// What each peer's counters show (`replay::PeerCounters`), once per
    /// peer and behaviour.
    peer_log: RateLimited,
}

const TIMERS: [Timer; 2] = [Timer::MasterDown, Timer::Advert];

fn timer_slot(timer: Timer) -> usize {
    match timer {
        Timer::MasterDown => 0,
        Timer::Advert => 1,
    }
}

impl Instance {
    pub fn new(
        id: u64,
        spec: InstanceSpec,
        ifindex: u32,
        auth: CarpAuth,
        scripts: ScriptRunner,
        rx: RxPath,
    ) -> Self {
        let engine = Engine::new(spec.engine_config(), rand::random());
        Self {
            id,
            rx_filter: spec.rx_filter(),
            replay_guard: spec.replay_protection.then(ReplayGuard::default),
            spec,
            ifindex,
            engine,
            auth,
            previous_auth: None,
            scripts,
            rx,
            timers: [None, None],
            stats: Stats::default(),
            state_since: SystemTime::now(),
            last_transition: None,
            last_heard: None,
            last_script: None,
            bad_digest_log: RateLimited::new(Duration::from_secs(1)),
            malformed_log: RateLimited::new(Duration::from_secs(1)),
            disagreement_log: RateLimited::new(Duration::from_secs(1)),
            replay_log: RateLimited::new(Duration::from_secs(1)),
            peer_log: RateLimited::new(Duration::from_secs(1)),
        }
    }

    pub fn auth(&self) -> &CarpAuth {
        &self.auth
    }

    /// A reload changed this instance's settings but not its identity
    /// (docs/config.md, "Reload"): they apply in place. The engine keeps
    /// its state, timers' schedule and counter stream, the replay guard its
    /// streams, the counters go on; the new values and keys apply from the
    /// next advert sent and received. A MASTER runs the downscript for the
    /// addresses removed and the upscript for those added, whose gratuitous
    /// ARP follows their upscript ([`Instance::on_script_finished`]).
    pub fn reconfigure(
        &mut self,
        now: engine::Instant,
        spec: InstanceSpec,
        auth: CarpAuth,
        link_running: bool,
        out: &Output<'_>,
    ) {
        let old = std::mem::replace(&mut self.spec, spec);
        if let RxPath::Xdp { kernel_hmac } = &mut self.rx {
            *kernel_hmac = auth.kernel_hmac().is_some();
        }
        self.previous_auth = Some(std::mem::replace(&mut self.auth, auth));
        self.rx_filter = self.spec.rx_filter();
        if self.spec.replay_protection != self.replay_guard.is_some() {
            self.replay_guard = self.spec.replay_protection.then(ReplayGuard::default);
        }
        let holds_vips = self.engine.state() == State::Master && !self.engine.finished();
        let only_in = |a: &InstanceSpec, b: &InstanceSpec| -> Vec<String> {
            a.addresses
                .iter()
                .filter(|(addr, _)| !b.addresses.iter().any(|(other, _)| other == addr))
                .map(|(_, typed)| typed.clone())
                .collect()
        };
        let (removed, added) = (only_in(&old, &self.spec), only_in(&self.spec, &old));
        // In order behind what is queued: the removed addresses go with the
        // old scripts, the added ones come with the new.
        if holds_vips && !removed.is_empty() {
            self.scripts.run_for(Script::Down, removed);
        }
        let scripts = self.spec.script_spec();
        if scripts != old.script_spec() {
            self.scripts.respec(scripts);
        }
        if holds_vips && !added.is_empty() {
            self.scripts.run_for(Script::Up, added);
        }
        for action in self.engine.reconfigure(now, self.spec.engine_config()) {
            if let Some(follow_up) = self.perform(now, action, out) {
                self.feed(now, follow_up, out);
            }
        }
        if old.ignore_ifstate != self.spec.ignore_ifstate && !link_running {
            let event = if self.spec.ignore_ifstate {
                Event::LinkUp
            } else {
                Event::LinkDown
            };
            self.feed(now, event, out);
        }
    }

    /// Its interface was renamed: it runs on, and its scripts get the new
    /// name, in order behind what is queued.
    pub fn renamed(&mut self, new: &str) {
        self.spec.interface = new.to_owned();
        self.scripts.respec(self.spec.script_spec());
    }

    /// Every record the kernel checked with the key a reload replaced has
    /// been read: only the new key counts from now on.
    pub fn forget_previous_key(&mut self) {
        self.previous_auth = None;
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<engine::Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fires every timer due at `now`, at its scheduled time (so that the
    /// advert schedule does not drift by the wake-up latency).
    pub fn fire_due_timers(&mut self, now: engine::Instant, out: &Output<'_>) {
        for timer in TIMERS {
            let slot = timer_slot(timer);
            if let Some(at) = self.timers[slot]
                && at <= now
            {
                self.timers[slot] = None;
                self.feed(at, Event::TimerFired(timer), out);
            }
        }
    }

    /// An advert that passed the XDP program's checks: verify what needs the
    /// password, then hand it to the engine.
    pub fn on_record(
        &mut self,
        now: engine::Instant,
        record: &carp_common::AdvertRecord,
        out: &Output<'_>,
    ) {
        let src = Ipv4Addr::from(record.src_ip);
        let dst = Ipv4Addr::from(record.dst_ip);
        let mut verdict = self
            .rx_filter
            .accept_header(src, dst, &record.carp, &self.auth);
        if matches!(verdict, Err(RxError::BadDigest { .. }))
            && let Some(previous) = &self.previous_auth
        {
            // Taken before a reload changed the key: checked with the key
            // valid then (in the kernel too).
            verdict = self
                .rx_filter
                .accept_header(src, dst, &record.carp, previous);
        }
        let kernel_hmac = matches!(self.rx, RxPath::Xdp { kernel_hmac: true });
        if kernel_hmac && matches!(verdict, Err(RxError::BadDigest { .. })) {
            self.stats.kernel_disagreements += 1;
            if let Some(suppressed) = self.disagreement_log.check(Instant::now()) {
                tracing::error!(
                    "{}: the XDP program passed an advert from {src} whose digest the daemon \
                     rejects ({} so far){}: dropped",
                    self.spec.name,
                    self.stats.kernel_disagreements,
                    suppressed_note(suppressed)
                );
            }
        }
        // The kernel judged freshness itself (docs/xdp.md, "Freshness").
        let kernel_fresh = kernel_hmac && self.spec.replay_protection;
        self.on_verdict(
            now,
            verdict.map(|header| (src, ReceivedAdvert::from_header(&header, src))),
            kernel_fresh,
            out,
        );
    }

    /// A whole frame from the socket filter.
    pub fn on_frame(&mut self, now: engine::Instant, frame: &[u8], out: &Output<'_>) {
        let verdict = self.rx_filter.accept_frame(frame, &self.auth);
        self.on_verdict(
            now,
            verdict.map(|packet| (packet.src, ReceivedAdvert::from_packet(&packet))),
            false,
            out,
        );
    }

    /// Feeds an authentic, fresh advert to the engine; counts and
    /// (rate-limited) logs a rejected one. `kernel_fresh`: the XDP program
    /// has already applied the freshness rule, and the daemon follows it
    /// (`replay` module).
    fn on_verdict(
        &mut self,
        now: engine::Instant,
        verdict: Result<(Ipv4Addr, ReceivedAdvert), RxError>,
        kernel_fresh: bool,
        out: &Output<'_>,
    ) {
        let err = match verdict {
            Ok((src, advert)) => {
                if let Some(guard) = &mut self.replay_guard {
                    let admission = if kernel_fresh {
                        guard.follow(src, advert.counter, now)
                    } else {
                        guard.admit(src, advert.counter, now)
                    };
                    if let Some(behaviour) = admission.news
                        && let Some(suppressed) = self.peer_log.check(Instant::now())
                    {
                        tracing::info!(
                            "{}: peer {src} {}{}",
                            self.spec.name,
                            behaviour.describe(),
                            suppressed_note(suppressed)
                        );
                        guard.reported(src, behaviour);
                    }
                    if !admission.fresh {
                        self.stats.replayed += 1;
                        if let Some(suppressed) = self.replay_log.check(Instant::now()) {
                            tracing::warn!(
                                "Replayed advert from {src} dropped: its counter was seen before \
                                 (an old value of a protected stream, or a repeat of an advert \
                                 its sender has moved on from){}",
                                suppressed_note(suppressed)
                            );
                        }
                        return;
                    }
                }
                self.stats.adverts_received += 1;
                self.last_heard = Some((src, Instant::now()));
                self.feed(now, Event::Advert(advert), out);
                return;
            }
            // Our own adverts only reach the socket fallback; not an error.
            Err(RxError::OwnAdvert) => return,
            Err(e) => e,
        };
        let limiter = if matches!(err, RxError::BadDigest { .. }) {
            self.stats.bad_digest += 1;
            &mut self.bad_digest_log
        } else {
            self.stats.malformed += 1;
            &mut self.malformed_log
        };
        let Some((level, text)) = err.ucarp_log() else {
            return;
        };
        if let Some(suppressed) = limiter.check(Instant::now()) {
            log(level, &format!("{text}{}", suppressed_note(suppressed)));
        }
    }

    pub fn on_link(&mut self, now: engine::Instant, running: bool, out: &Output<'_>) {
        if self.spec.ignore_ifstate {
            return;
        }
        self.feed(
            now,
            if running {
                Event::LinkUp
            } else {
                Event::LinkDown
            },
            out,
        );
    }

    /// A script of this instance ended: a transition's goes to the engine;
    /// after the upscript of addresses a reload added to a MASTER, their
    /// gratuitous ARP goes out.
    pub fn on_script_finished(
        &mut self,
        now: engine::Instant,
        ran: Ran,
        outcome: &super::scripts::ScriptOutcome,
        out: &Output<'_>,
    ) {
        use super::scripts::ScriptOutcome;
        let script = match &ran {
            Ran::Transition(script) | Ran::Addresses(script, _) => *script,
        };
        match outcome {
            ScriptOutcome::Skipped => {}
            ScriptOutcome::Exited(Some(0)) => self.stats.script_runs += 1,
            ScriptOutcome::TimedOut => {
                self.stats.script_runs += 1;
                self.stats.script_failures += 1;
                self.stats.script_timeouts += 1;
            }
            ScriptOutcome::Exited(_) | ScriptOutcome::SpawnFailed(_) => {
                self.stats.script_runs += 1;
                self.stats.script_failures += 1;
            }
        }
        if *outcome != ScriptOutcome::Skipped {
            self.last_script = Some((script, outcome.clone(), SystemTime::now()));
        }
        match ran {
            Ran::Transition(script) => self.feed(now, Event::ScriptFinished(script), out),
            Ran::Addresses(Script::Up, added)
                if self.engine.state() == State::Master && !self.engine.finished() =>
            {
                let addrs: Vec<Ipv4Addr> = self
                    .spec
                    .addresses
                    .iter()
                    .filter(|(_, typed)| added.contains(typed))
                    .map(|(addr, _)| *addr)
                    .collect();
                self.send_garps(&addrs, out);
            }
            Ran::Addresses(..) => {}
        }
    }

    /// The instance as `xcarp status` and the metrics show it.
    pub fn status(&self, rx_path: crate::status::RxPath) -> crate::status::InstanceStatus {
        use crate::status::{
            InstanceCounters, InstanceStatus, ScriptStatus, ScriptWhich, TransitionInfo,
            current_master, unix_ms,
        };
        let state = self.engine.state();
        let s = &self.stats;
        InstanceStatus {
            name: self.spec.name.clone(),
            interface: self.spec.interface.clone(),
            vlan: self.spec.vlan,
            vhid: self.spec.vhid,
            addresses: self.spec.addrs(),
            state: state.into(),
            master: current_master(
                state,
                self.spec.srcip,
                self.last_heard.map(|(src, at)| (src, at.elapsed())),
                self.engine.master_down_interval(),
            ),
            advbase: self.spec.advbase,
            advskew: self.spec.advskew,
            advert_interval_ms: millis(self.engine.advert_interval()),
            master_down_ms: millis(self.engine.master_down_interval()),
            state_since_unix_ms: unix_ms(self.state_since),
            last_transition: self.last_transition.as_ref().map(|t| TransitionInfo {
                at_unix_ms: unix_ms(t.at),
                from: t.from.into(),
                to: t.to.into(),
                reason: t.reason.clone(),
            }),
            counters: InstanceCounters {
                adverts_sent: s.adverts_sent,
                adverts_received: s.adverts_received,
                send_errors: s.send_errors,
                bad_digest: s.bad_digest,
                replayed: s.replayed,
                malformed: s.malformed,
                became_master: s.became_master,
                released_master: s.released_master,
                script_runs: s.script_runs,
                script_failures: s.script_failures,
                script_timeouts: s.script_timeouts,
            },
            last_script: self.last_script.as_ref().map(|(script, outcome, at)| {
                use super::scripts::ScriptOutcome;
                ScriptStatus {
                    which: match script {
                        Script::Up => ScriptWhich::Up,
                        Script::Down => ScriptWhich::Down,
                    },
                    exit: match outcome {
                        ScriptOutcome::Exited(code) => *code,
                        _ => None,
                    },
                    timed_out: *outcome == ScriptOutcome::TimedOut,
                    at_unix_ms: unix_ms(*at),
                }
            }),
            rx_path,
            demotion: self.engine.demotion(),
            // The daemon adds what its health monitor knows.
            checks: Vec::new(),
            tracked_interfaces: Vec::new(),
        }
    }

    /// Gives the engine an event and carries out the actions it returns,
    /// including the events those actions cause (send results).
    pub fn feed(&mut self, now: engine::Instant, event: Event, out: &Output<'_>) {
        let mut pending = std::collections::VecDeque::from([event]);
        while let Some(event) = pending.pop_front() {
            let before = self.engine.state();
            let actions = self.engine.handle(now, event);
            let after = self.engine.state();
            if before != after {
                self.record_transition(before, after, &actions);
            }
            for action in actions {
                if let Some(follow_up) = self.perform(now, action, out) {
                    pending.push_back(follow_up);
                }
            }
        }
    }

    fn record_transition(&mut self, from: State, to: State, actions: &[Action]) {
        if to == State::Master {
            self.stats.became_master += 1;
        }
        if from == State::Master {
            self.stats.released_master += 1;
        }
        // The engine's own explanation comes with the transition: its last
        // log line that is not the "Switching to state" one.
        let reason = actions
            .iter()
            .filter_map(|a| match a {
                Action::Log { message, .. } if !message.starts_with("Switching to state") => {
                    Some(message.clone())
                }
                _ => None,
            })
            .next_back()
            .unwrap_or_else(|| match (from, to) {
                (State::Init, _) => "started".to_owned(),
                (_, State::Master) => "master-down timer expired".to_owned(),
                _ => "stepped down".to_owned(),
            });
        let at = SystemTime::now();
        self.state_since = at;
        self.last_transition = Some(Transition {
            at,
            from,
            to,
            reason,
        });
    }

    fn perform(&mut self, now: engine::Instant, action: Action, out: &Output<'_>) -> Option<Event> {
        match action {
            Action::SendAdvert {
                advbase,
                advskew,
                demote,
                counter,
            } => {
                let frame = wire::build_advert_frame(&wire::AdvertFrameParams {
                    src_ip: self.spec.srcip,
                    group: self.spec.group,
                    broadcast: self.spec.nomcast,
                    vhid: self.spec.vhid,
                    advbase,
                    advskew,
                    demote,
                    counter,
                    ip_id: rand::random(),
                    digest: self.auth.digest(counter),
                });
                let ok = self.send(out, "advert", &frame);
                if ok {
                    self.stats.adverts_sent += 1;
                }
                Some(Event::SendResult { ok })
            }
            Action::SendGarp => {
                let addrs = self.spec.addrs();
                self.send_garps(&addrs, out);
                None
            }
            Action::RunScript(script) => {
                self.scripts.run(script);
                None
            }
            Action::ArmTimer { timer, at } => {
                self.timers[timer_slot(timer)] = Some(at.max(now));
                None
            }
            Action::CancelTimer(timer) => {
                self.timers[timer_slot(timer)] = None;
                None
            }
            Action::Log { level, message } => {
                log(level, &message);
                None
            }
        }
    }

    fn send_garps(&mut self, addrs: &[Ipv4Addr], out: &Output<'_>) {
        for vip in addrs {
            let frame = wire::build_garp_frame(out.mac, *vip);
            match out.sender.send(&frame) {
                Ok(()) => self.stats.garps_sent += 1,
                Err(e) => {
                    self.stats.send_errors += 1;
                    tracing::warn!("write() has failed (gratuitous ARP): {e}");
                }
            }
        }
    }

    fn send(&mut self, out: &Output<'_>, what: &str, frame: &[u8]) -> bool {
        match out.sender.send(frame) {
            Ok(()) => true,
            Err(e) => {
                self.stats.send_errors += 1;
                tracing::warn!("write() has failed ({what}): {e}");
                false
            }
        }
    }

    /// ucarp's SIGUSR1 status line, then the instance's counters.
    pub fn log_status(&self) {
        let state = match self.engine.state() {
            State::Backup | State::Init => "BACKUP",
            State::Master => "MASTER",
        };
        tracing::info!("{state} on {} id {}", self.spec.interface, self.spec.vhid);
        let s = &self.stats;
        tracing::info!(
            "counters: adverts received={} sent={} garp sent={} send errors={} bad digest={} replayed={} malformed={} xdp/daemon digest disagreements={}",
            s.adverts_received,
            s.adverts_sent,
            s.garps_sent,
            s.send_errors,
            s.bad_digest,
            s.replayed,
            s.malformed,
            s.kernel_disagreements,
        );
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
