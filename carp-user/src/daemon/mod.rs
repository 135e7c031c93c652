//! The daemon: a thin tokio shell around the sans-I/O [`Engine`].
//!
//! ```text
//!  XDP ring buffer ──► AdvertReader ─┐ (decode, checksum, HMAC)
//!  timers (MasterDown, Advert) ──────┤
//!  netlink link events ──────────────┼──► Engine::handle(now, event) ──► actions
//!  signals (USR1, USR2, TERM…) ──────┘                                    │
//!      FrameSender (adverts, GARP) ◄──────────────────────────────────────┤
//!      ScriptRunner (up/down, own task, in order, with timeout) ◄─────────┤
//!      logs ◄──────────────────────────────────────────────────────────────┘
//! ```
//!
//! Everything runs on one task, so there are no locks; scripts run on a task
//! of their own so that they never delay adverts.
pub mod logging;
pub mod net;
pub mod scripts;
pub mod socket_rx;

use std::{collections::VecDeque, net::Ipv4Addr, time::Duration};

use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
    time::Instant,
};

use crate::{
    auth::{AuthError, CarpAuth},
    cli::{Config, TieBreakArg},
    engine::{
        self, Action, Engine, EngineConfig, Event, LogLevel, ReceivedAdvert, Script, State, Timer,
    },
    replay::ReplayGuard,
    wire::{self, RxError, RxFilter},
    xdp::{AdvertReader, AttachMode, VhidSettings, XdpAttachment, XdpError},
};
use net::{FrameSender, GroupMembership, Interface, LinkEvent, LinkWatch, NetError};
use scripts::{ScriptOutcome, ScriptRunner, ScriptSpec};
use socket_rx::SocketReceiver;

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Xdp(#[from] XdpError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
    #[error("interface {0} disappeared")]
    InterfaceGone(String),
    #[error("the XDP ring buffer failed: {0}")]
    Ring(XdpError),
    #[error("reading adverts from the socket filter failed: {0}")]
    SocketRx(std::io::Error),
    #[error("receiving adverts keeps failing with link errors ({0}): giving up")]
    LinkErrors(std::io::Error),
    #[error("the link watcher stopped")]
    LinkWatchStopped,
}

impl DaemonError {
    /// The receive error, when it says the link went away (down, or the
    /// device is gone) rather than that the receive path broke.
    fn link_error(&self) -> Option<&std::io::Error> {
        let io = match self {
            Self::Ring(XdpError::Ring(io)) | Self::SocketRx(io) => io,
            _ => return None,
        };
        matches!(
            io.raw_os_error(),
            Some(libc::ENETDOWN | libc::ENODEV | libc::ENXIO | libc::ENETRESET)
        )
        .then_some(io)
    }
}

/// More link errors than this within a second are not a link going down
/// (a packet socket reports ENETDOWN once per event) but a broken receive
/// path.
const MAX_LINK_ERRORS_PER_SECOND: u32 = 20;

/// Whether leaving the daemon with `result` must give the VIP up first (the
/// engine runs the downscript if MASTER). A signal releases it only with
/// `--shutdown`, as in ucarp; any other exit always does, so that no VIP
/// stays configured on a host that no longer defends it.
fn releases_vip_on_exit(result: &Result<Stop, DaemonError>, shutdown: bool) -> bool {
    match result {
        Ok(Stop::Signal) => shutdown,
        Ok(Stop::InterfaceGone) | Err(_) => true,
    }
}

/// Counters of what the daemon did and rejected, shown on SIGUSR1.
#[derive(Debug, Default)]
struct Stats {
    adverts_received: u64,
    adverts_sent: u64,
    garps_sent: u64,
    send_errors: u64,
    bad_digest: u64,
    /// Authentic adverts dropped as replays, by the kernel or the daemon.
    replayed: u64,
    malformed: u64,
    /// Records the XDP program passed as authentic whose digest the daemon
    /// rejects: never expected (both compute the same HMAC); counted and
    /// logged so a disagreement is never silent.
    kernel_disagreements: u64,
}

/// Logs at most one line per interval, saying how many were suppressed.
struct RateLimited {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Some(number of events suppressed since the last line) when a line may
    /// be logged now.
    fn check(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Runs the daemon until a signal or a fatal error.
pub async fn run(mut config: Config) -> Result<(), DaemonError> {
    let interface_name = match &config.interface {
        Some(name) => name.clone(),
        None => {
            let name = net::default_interface()?;
            tracing::info!("Using [{name}] as a network interface");
            name
        }
    };
    let interface = net::lookup_interface(&interface_name)?;
    tracing::info!(
        "Local advertised ethernet address is [{}]",
        format_mac(&interface.mac)
    );
    if config.upscript.is_none() {
        tracing::warn!("Warning: no script called when going up");
    }
    if config.downscript.is_none() {
        tracing::warn!("Warning: no script called when going down");
    }

    let auth = CarpAuth::new(
        config.password.take().as_bytes(),
        config.vhid,
        &[config.vip],
    )?;

    // Subscribe to link events before anything can change.
    let (running, link) = net::watch_link(&interface.name, interface.index).await?;

    let (attachment, rx) = match XdpAttachment::attach(&interface.name, config.xdp_mode) {
        Ok(mut attachment) => {
            tracing::info!(
                "XDP program attached to {} in {} mode",
                interface.name,
                attachment.mode_name()
            );
            attachment.configure_vhid(VhidSettings {
                vhid: config.vhid,
                vlan: 0,
                group: config.group,
                broadcast: config.nomcast,
                own_addrs: &[config.srcip],
                hmac: auth.kernel_hmac(),
                ring_budget: carp_common::RING_BUDGET_PER_SECOND,
                reject_replays: config.replay_protection,
            })?;
            let reader = attachment.advert_reader()?;
            if auth.kernel_hmac().is_none() {
                tracing::info!(
                    "vhid {}: digests are checked by the daemon only (too many addresses for the XDP check)",
                    config.vhid
                );
            }
            (Some(attachment), Rx::Ring(reader))
        }
        // One xcarp per VIP on one interface (as with ucarp) is common; the
        // first one holds the XDP slot and passes other VHIDs on.
        Err(e) if config.xdp_mode == AttachMode::Auto && xdp_slot_taken(&e) => {
            tracing::warn!(
                "XDP is already in use on {} (another xcarp?): receiving vhid {} through a socket filter instead",
                interface.name,
                config.vhid
            );
            let receiver = SocketReceiver::open(interface.index, config.vhid, 0)?;
            (None, Rx::Socket(receiver))
        }
        Err(e) => return Err(e.into()),
    };
    let kernel_checks_digest = attachment.is_some() && auth.kernel_hmac().is_some();
    let sender = FrameSender::open(interface.index)?;
    let _membership = if config.nomcast {
        None
    } else {
        Some(GroupMembership::join(config.group, interface.index)?)
    };

    // The engine learns when each script ends: the first gratuitous ARP
    // waits for the up-script, which configures the VIP.
    let (script_reports, script_outcomes) = mpsc::unbounded_channel();
    let scripts = ScriptRunner::start(
        ScriptSpec {
            up: config.upscript.clone(),
            down: config.downscript.clone(),
            interface: interface.name.clone(),
            vip_arg: config.vip_arg.clone(),
            xparam: config.xparam.clone(),
            timeout: config.script_timeout,
        },
        Some(script_reports),
    );

    let engine = Engine::new(engine_config(&config), rand::random());
    let replay_protection = config.replay_protection;
    let rx_filter = RxFilter {
        own_src: config.srcip,
        vhid: config.vhid,
        group: config.group,
        broadcast: config.nomcast,
        // The command line runs one instance on the interface it names;
        // on `eth0.N` that interface's frames are untagged.
        vlan: 0,
    };
    let mut daemon = Daemon {
        config,
        rx_filter,
        interface,
        engine,
        auth,
        sender,
        scripts,
        attachment,
        epoch: Instant::now(),
        timers: [None, None],
        stats: Stats::default(),
        bad_digest_log: RateLimited::new(Duration::from_secs(1)),
        malformed_log: RateLimited::new(Duration::from_secs(1)),
        disagreement_log: RateLimited::new(Duration::from_secs(1)),
        kernel_checks_digest,
        kernel_bad_digests_reported: 0,
        kernel_replays_reported: 0,
        replay_guard: replay_protection.then(ReplayGuard::default),
        replay_log: RateLimited::new(Duration::from_secs(1)),
        link_errors: LinkErrors {
            since: Instant::now(),
            count: 0,
        },
    };
    let result = daemon.event_loop(running, rx, link, script_outcomes).await;
    daemon.stop(result).await
}

/// Whether attaching failed because the interface's XDP slot is taken.
fn xdp_slot_taken(error: &XdpError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(libc::EEXIST | libc::EBUSY))
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Where adverts arrive.
enum Rx {
    /// The XDP program's ring buffer: only adverts for our VHID that passed
    /// the kernel's checks.
    Ring(AdvertReader),
    /// A socket filter, when the XDP slot is taken: whole frames.
    Socket(SocketReceiver),
}

enum Incoming<'a> {
    Record(carp_common::AdvertRecord),
    Frame(&'a [u8]),
}

impl Rx {
    async fn next(&mut self) -> Result<Incoming<'_>, DaemonError> {
        match self {
            Self::Ring(reader) => reader
                .next()
                .await
                .map(Incoming::Record)
                .map_err(DaemonError::Ring),
            Self::Socket(receiver) => receiver
                .next()
                .await
                .map(Incoming::Frame)
                .map_err(DaemonError::SocketRx),
        }
    }
}

fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        vhid: config.vhid,
        advbase: config.advbase,
        advskew: config.advskew,
        deadratio: config.deadratio,
        preempt: config.preempt,
        neutral: config.neutral,
        src_ip: config.srcip,
        tie_break: match config.tie_break {
            TieBreakArg::Ucarp => engine::TieBreak::UcarpLittleEndian,
            TieBreakArg::Numeric => engine::TieBreak::Numeric,
        },
        counters: if config.replay_protection {
            engine::CounterScheme::Sequenced {
                wall_ms_at_zero: wall_clock_ms(),
            }
        } else {
            engine::CounterScheme::Ucarp
        },
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How the event loop ended.
enum Stop {
    /// SIGTERM/SIGINT/SIGQUIT/SIGHUP.
    Signal,
    /// The interface was deleted.
    InterfaceGone,
}

struct Daemon {
    config: Config,
    interface: Interface,
    engine: Engine,
    auth: CarpAuth,
    rx_filter: RxFilter,
    sender: FrameSender,
    scripts: ScriptRunner,
    /// None when another program holds the XDP slot (socket fallback).
    attachment: Option<XdpAttachment>,
    /// The engine's clock is the time since this instant.
    epoch: Instant,
    /// Deadlines of the engine's timers, indexed by [`timer_slot`].
    timers: [Option<engine::Instant>; 2],
    stats: Stats,
    bad_digest_log: RateLimited,
    malformed_log: RateLimited,
    disagreement_log: RateLimited,
    /// The XDP program verifies digests before the ring (defence in depth:
    /// the daemon verifies them again).
    kernel_checks_digest: bool,
    /// The kernel's `bad_digest` counter when last reported.
    kernel_bad_digests_reported: u64,
    /// The kernel's `replayed` counter when last reported.
    kernel_replays_reported: u64,
    /// The daemon's own freshness check (docs/xdp.md, "Freshness").
    replay_guard: Option<ReplayGuard>,
    replay_log: RateLimited,
    link_errors: LinkErrors,
}

/// Receive errors that said the link went away, in the current second.
struct LinkErrors {
    since: Instant,
    count: u32,
}

fn timer_slot(timer: Timer) -> usize {
    match timer {
        Timer::MasterDown => 0,
        Timer::Advert => 1,
    }
}

const TIMERS: [Timer; 2] = [Timer::MasterDown, Timer::Advert];

impl Daemon {
    fn now(&self) -> engine::Instant {
        self.epoch.elapsed()
    }

    async fn event_loop(
        &mut self,
        running: bool,
        mut rx: Rx,
        mut link: LinkWatch,
        mut script_outcomes: mpsc::UnboundedReceiver<(Script, ScriptOutcome)>,
    ) -> Result<Stop, DaemonError> {
        let mut usr1 = signal(SignalKind::user_defined1()).map_err(DaemonError::Signal)?;
        let mut usr2 = signal(SignalKind::user_defined2()).map_err(DaemonError::Signal)?;
        let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
        let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
        let mut quit = signal(SignalKind::quit()).map_err(DaemonError::Signal)?;
        let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;

        // Adverts with a wrong digest die in the kernel when it checks them:
        // report them as ucarp does (a wrong password, VHID or address is the
        // usual cause), from the kernel's counter, once a second at most.
        let mut kernel_drops = tokio::time::interval(Duration::from_secs(1));
        kernel_drops.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let now = self.now();
        self.feed(now, Event::Start);
        if !running && !self.config.ignore_ifstate {
            self.feed(now, Event::LinkDown);
        }

        loop {
            let next = self
                .timers
                .iter()
                .flatten()
                .min()
                .map(|at| self.epoch + *at);
            tokio::select! {
                incoming = rx.next() => match incoming {
                    Ok(Incoming::Record(record)) => self.on_record(&record),
                    Ok(Incoming::Frame(frame)) => {
                        let verdict = self.rx_filter.accept_frame(frame, &self.auth);
                        self.on_verdict(verdict.map(|packet| (packet.src, ReceivedAdvert::from_packet(&packet))));
                    }
                    Err(e) => self.on_receive_error(e, &link)?,
                },
                () = sleep_until(next) => self.fire_due_timers(),
                _ = kernel_drops.tick(), if self.kernel_checks_digest => self.report_kernel_drops(),
                Some((script, _outcome)) = script_outcomes.recv() => {
                    let now = self.now();
                    self.feed(now, Event::ScriptFinished(script));
                }
                event = link.events.recv() => match event {
                    Some(LinkEvent::Running(up)) => self.on_link(up),
                    Some(LinkEvent::Gone) => return Ok(Stop::InterfaceGone),
                    None => return Err(DaemonError::LinkWatchStopped),
                },
                _ = usr1.recv() => self.log_status(),
                _ = usr2.recv() => {
                    tracing::debug!("Caught signal (USR2) considering going down");
                    let now = self.now();
                    self.feed(now, Event::Demote);
                }
                _ = term.recv() => return Ok(Stop::Signal),
                _ = int.recv() => return Ok(Stop::Signal),
                _ = quit.recv() => return Ok(Stop::Signal),
                _ = hup.recv() => return Ok(Stop::Signal),
            }
        }
    }

    /// Ends the daemon. A MASTER gives its VIP up first (downscript) on
    /// every exit but a signal without --shutdown, which keeps ucarp's
    /// meaning (see [`releases_vip_on_exit`]). The XDP program is detached
    /// when `self` is dropped.
    async fn stop(mut self, result: Result<Stop, DaemonError>) -> Result<(), DaemonError> {
        let gone = matches!(result, Ok(Stop::InterfaceGone));
        if releases_vip_on_exit(&result, self.config.shutdown) {
            let downscript = self
                .config
                .downscript
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string());
            if result.is_ok() && !gone {
                tracing::debug!("Calling [{downscript}] and exiting");
            } else if self.engine.state() == State::Master {
                tracing::warn!("exiting while MASTER: calling [{downscript}] first");
            }
            let now = self.now();
            self.feed(now, Event::Shutdown);
        }
        let Daemon {
            scripts,
            attachment,
            interface,
            ..
        } = self;
        scripts.finish().await;
        drop(attachment);
        if gone {
            return Err(DaemonError::InterfaceGone(interface.name));
        }
        result.map(|_| ())
    }

    /// A receive error: one that says the link went down is a link event
    /// (the watcher re-reads the link state and reports it), anything else,
    /// or link errors in a tight loop, ends the daemon.
    fn on_receive_error(
        &mut self,
        error: DaemonError,
        link: &LinkWatch,
    ) -> Result<(), DaemonError> {
        let Some(io) = error.link_error() else {
            return Err(error);
        };
        let now = Instant::now();
        if now.duration_since(self.link_errors.since) >= Duration::from_secs(1) {
            self.link_errors = LinkErrors {
                since: now,
                count: 0,
            };
        }
        self.link_errors.count += 1;
        if self.link_errors.count > MAX_LINK_ERRORS_PER_SECOND {
            return Err(DaemonError::LinkErrors(std::io::Error::from(io.kind())));
        }
        tracing::warn!(
            "receiving on {} failed ({io}): the link went away, re-reading its state",
            self.interface.name
        );
        link.resync();
        Ok(())
    }

    /// Logs (ucarp's "Bad digest" warning, without the digests, which the
    /// kernel does not hand over) how many adverts the XDP program dropped
    /// for a wrong digest since the last report, and likewise for replays.
    fn report_kernel_drops(&mut self) {
        let Some(counters) = self.attachment.as_ref().and_then(|a| a.counters().ok()) else {
            return;
        };
        let new = counters
            .bad_digest
            .saturating_sub(self.kernel_bad_digests_reported);
        if new > 0 {
            self.kernel_bad_digests_reported = counters.bad_digest;
            self.stats.bad_digest += new;
            tracing::warn!(
                "Bad digest - {new} advert(s) dropped by the XDP program since the last report - \
                 Check vhid, password and virtual IP address"
            );
        }
        let new = counters
            .replayed
            .saturating_sub(self.kernel_replays_reported);
        if new > 0 {
            self.kernel_replays_reported = counters.replayed;
            self.stats.replayed += new;
            tracing::warn!(
                "Replayed adverts - {new} authentic advert(s) whose counter was not newer than \
                 the last of its stream dropped by the XDP program since the last report"
            );
        }
    }

    fn fire_due_timers(&mut self) {
        let now = self.now();
        for timer in TIMERS {
            let slot = timer_slot(timer);
            if let Some(at) = self.timers[slot]
                && at <= now
            {
                self.timers[slot] = None;
                // Fire at the scheduled time, not the wake-up time, so that
                // the advert schedule does not drift by the wake-up latency.
                self.feed(at, Event::TimerFired(timer));
            }
        }
    }

    fn on_link(&mut self, running: bool) {
        if self.config.ignore_ifstate {
            return;
        }
        let now = self.now();
        if running {
            tracing::info!("Interface {} is running again", self.interface.name);
            self.feed(now, Event::LinkUp);
        } else {
            tracing::warn!(
                "Interface {} lost its carrier (or went down)",
                self.interface.name
            );
            self.feed(now, Event::LinkDown);
        }
    }

    /// An advert that passed the XDP program's checks: verify what needs the
    /// password (and the checksum, which the kernel does not check), then
    /// hand it to the engine.
    fn on_record(&mut self, record: &carp_common::AdvertRecord) {
        let src = Ipv4Addr::from(record.src_ip);
        let dst = Ipv4Addr::from(record.dst_ip);
        let verdict = self
            .rx_filter
            .accept_header(src, dst, &record.carp, &self.auth);
        if self.kernel_checks_digest && matches!(verdict, Err(RxError::BadDigest { .. })) {
            self.stats.kernel_disagreements += 1;
            if let Some(suppressed) = self.disagreement_log.check(Instant::now()) {
                tracing::error!(
                    "the XDP program passed an advert from {src} whose digest the daemon rejects \
                     ({} so far){}: dropped",
                    self.stats.kernel_disagreements,
                    suppressed_note(suppressed)
                );
            }
        }
        self.on_verdict(verdict.map(|header| (src, ReceivedAdvert::from_header(&header, src))));
    }

    /// Feeds an authentic advert to the engine; counts and (rate-limited)
    /// logs a rejected one.
    fn on_verdict(&mut self, verdict: Result<(Ipv4Addr, ReceivedAdvert), RxError>) {
        let err = match verdict {
            Ok((src, advert)) => {
                if let Some(guard) = &mut self.replay_guard
                    && !guard.admit(advert.counter)
                {
                    self.stats.replayed += 1;
                    if let Some(suppressed) = self.replay_log.check(Instant::now()) {
                        tracing::warn!(
                            "Replayed advert from {src} dropped: its counter is not newer than \
                             the last one of its stream{}",
                            suppressed_note(suppressed)
                        );
                    }
                    return;
                }
                self.stats.adverts_received += 1;
                let now = self.now();
                self.feed(now, Event::Advert(advert));
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

    /// Gives the engine an event and carries out the actions it returns,
    /// including the events those actions cause (send results).
    fn feed(&mut self, now: engine::Instant, event: Event) {
        let mut pending = VecDeque::from([event]);
        while let Some(event) = pending.pop_front() {
            for action in self.engine.handle(now, event) {
                if let Some(follow_up) = self.perform(now, action) {
                    pending.push_back(follow_up);
                }
            }
        }
    }

    fn perform(&mut self, now: engine::Instant, action: Action) -> Option<Event> {
        match action {
            Action::SendAdvert {
                advbase,
                advskew,
                counter,
            } => {
                let frame = wire::build_advert_frame(&wire::AdvertFrameParams {
                    src_ip: self.config.srcip,
                    group: self.config.group,
                    broadcast: self.config.nomcast,
                    vhid: self.config.vhid,
                    advbase,
                    advskew,
                    counter,
                    ip_id: rand::random(),
                    digest: self.auth.digest(counter),
                });
                let ok = self.send("advert", &frame);
                if ok {
                    self.stats.adverts_sent += 1;
                }
                Some(Event::SendResult { ok })
            }
            Action::SendGarp => {
                let frame = wire::build_garp_frame(self.interface.mac, self.config.vip);
                if self.send("gratuitous ARP", &frame) {
                    self.stats.garps_sent += 1;
                }
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

    fn send(&mut self, what: &str, frame: &[u8]) -> bool {
        match self.sender.send(frame) {
            Ok(()) => true,
            Err(e) => {
                self.stats.send_errors += 1;
                tracing::warn!("write() has failed ({what}): {e}");
                false
            }
        }
    }

    /// SIGUSR1: ucarp's status line, then xcarp's counters.
    fn log_status(&mut self) {
        let state = match self.engine.state() {
            State::Backup | State::Init => "BACKUP",
            State::Master => "MASTER",
        };
        tracing::info!("{state} on {} id {}", self.interface.name, self.config.vhid);
        let s = &self.stats;
        tracing::info!(
            "counters: adverts received={} sent={} garp sent={} send errors={} bad digest={} replayed={} malformed={} xdp/daemon digest disagreements={}; xdp: {}",
            s.adverts_received,
            s.adverts_sent,
            s.garps_sent,
            s.send_errors,
            s.bad_digest,
            s.replayed,
            s.malformed,
            s.kernel_disagreements,
            match &self.attachment {
                Some(a) => a
                    .counters()
                    .map_or_else(|e| format!("unavailable ({e})"), |c| c.to_string()),
                None => "not attached (socket filter)".to_owned(),
            }
        );
    }
}

fn log(level: LogLevel, message: &str) {
    match level {
        LogLevel::Debug => tracing::debug!("{message}"),
        LogLevel::Info | LogLevel::Notice => tracing::info!("{message}"),
        LogLevel::Warning => tracing::warn!("{message}"),
        LogLevel::Error => tracing::error!("{message}"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn suppressed_note(suppressed: u64) -> String {
    if suppressed == 0 {
        String::new()
    } else {
        format!(" ({suppressed} more suppressed in the last second)")
    }
}

fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_allows_one_line_per_interval_and_counts_the_rest() {
        let mut limiter = RateLimited::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limiter.check(t0), Some(0));
        assert_eq!(limiter.check(t0 + Duration::from_millis(10)), None);
        assert_eq!(limiter.check(t0 + Duration::from_millis(900)), None);
        assert_eq!(limiter.check(t0 + Duration::from_millis(1000)), Some(2));
        assert_eq!(limiter.check(t0 + Duration::from_millis(1001)), None);
    }

    #[test]
    fn every_exit_but_a_plain_signal_releases_the_vip() {
        let err = || Err(DaemonError::LinkWatchStopped);
        assert!(!releases_vip_on_exit(&Ok(Stop::Signal), false));
        assert!(releases_vip_on_exit(&Ok(Stop::Signal), true));
        for shutdown in [false, true] {
            assert!(releases_vip_on_exit(&Ok(Stop::InterfaceGone), shutdown));
            assert!(releases_vip_on_exit(&err(), shutdown));
            let ring = Err(DaemonError::Ring(XdpError::Ring(std::io::Error::other(
                "x",
            ))));
            assert!(releases_vip_on_exit(&ring, shutdown));
        }
    }

    #[test]
    fn link_down_errors_are_told_from_broken_receive_paths() {
        let socket = |errno| DaemonError::SocketRx(std::io::Error::from_raw_os_error(errno));
        let ring =
            |errno| DaemonError::Ring(XdpError::Ring(std::io::Error::from_raw_os_error(errno)));
        for errno in [libc::ENETDOWN, libc::ENODEV, libc::ENXIO] {
            assert!(socket(errno).link_error().is_some(), "{errno}");
            assert!(ring(errno).link_error().is_some(), "{errno}");
        }
        for errno in [libc::EBADF, libc::ENOMEM, libc::EINVAL] {
            assert!(socket(errno).link_error().is_none(), "{errno}");
            assert!(ring(errno).link_error().is_none(), "{errno}");
        }
        assert!(DaemonError::LinkWatchStopped.link_error().is_none());
    }

    #[test]
    fn formats_like_ucarp() {
        assert_eq!(format_mac(&[0, 0x5e, 0, 0, 1, 0xaa]), "00:5e:00:00:01:aa");
    }
}
