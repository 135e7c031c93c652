//! The daemon: a thin tokio shell around one sans-I/O [`Engine`] per CARP
//! instance (a VHID on an interface and VLAN).
//!
//! ```text
//!  XDP ring buffer (one, all interfaces) ─┐ route by (ifindex, VLAN, VHID)
//!  socket filters (fallback, per instance)┤
//!  timers (two per instance) ─────────────┼──► Instance::feed(now, event) ──► actions
//!  netlink link events (per interface) ───┤                                     │
//!  health reports (checks, tracked ifs) ──┤ (Event::SetDemotion)                │
//!  signals (USR1, USR2, HUP, TERM…) ──────┤                                     │
//!  configuration read again (own thread) ─┘ (SIGHUP; applied on the loop)       │
//!      FrameSender per interface (adverts, GARP) ◄──────────────────────────────┤
//!      ScriptRunner per instance (own task, in order, with timeout) ◄───────────┤
//!      logs ◄────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Everything runs on one task, so there are no locks; scripts run on a task
//! per instance and health checks on a task per check (`health`) so that
//! they never delay adverts, theirs or another's.
pub mod health;
pub mod instance;
mod loading;
pub mod logging;
pub mod net;
mod reload;
pub mod scripts;
pub mod signals;
pub mod socket_rx;

use std::{
    collections::{BTreeMap, HashMap},
    net::Ipv4Addr,
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

use crate::{
    auth::{AuthError, CarpAuth},
    config::{Password, Settings, XdpMode},
    engine::{self, Event, LogLevel, State},
    xdp::{AdvertReader, AttachMode, XdpAttachment, XdpError},
};
use instance::{Instance, Output, RxPath};
pub use instance::{InstanceSpec, Stats};
use net::{FrameSender, GroupMembership, Interface, LinkEvent, LinkWatch, NetError};
use scripts::{Ran, ScriptOutcome, ScriptReports, ScriptRunner};
use signals::Signals;
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
    #[error("{0}")]
    Config(String),
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

/// Reads the instances again (SIGHUP with a configuration file): each with
/// its password, or why the file cannot be used. Runs on a thread of its
/// own, never on the event loop's (see [`loading`]).
pub type Reload = std::sync::Arc<dyn Fn() -> LoadResult + Send + Sync>;

/// What reading the configuration gave: the instances with their
/// passwords, or why the file cannot be used (one problem a line, at most
/// [`crate::config::file::MAX_REPORTED_ERRORS`] and a count of the rest).
pub type LoadResult = Result<Vec<(InstanceSpec, Password)>, String>;

/// How the daemon runs besides its instances.
#[derive(Default)]
pub struct Options {
    /// With a configuration file: what SIGHUP re-reads. Without one, SIGHUP
    /// ends the daemon, as in ucarp.
    pub reload: Option<Reload>,
    /// Where `xcarp status` asks (root-only socket, docs/status.md).
    pub status_socket: Option<std::path::PathBuf>,
    /// Where the Prometheus endpoint listens; None: no metrics.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Runs the instances of `settings` until a signal or a fatal error. With
/// a configuration file, SIGHUP reads it again (see [`Options::reload`]).
pub async fn run(settings: Settings) -> Result<(), DaemonError> {
    let global = settings.global.clone();
    if global.config_file.is_some() {
        crate::config::host::check(&settings).map_err(|e| {
            DaemonError::Config(format!("this host cannot run the configuration:\n{e}"))
        })?;
    }
    let instances = instance_specs(settings)?;
    // With a configuration file the process serves all its instances, and
    // says so on its status socket. The command line keeps ucarp's one
    // process per VIP, often several on one host: no shared socket there.
    let status_socket = global
        .config_file
        .is_some()
        .then(|| global.status_socket.clone());
    let metrics_listen = global.metrics_listen;
    let reload: Option<Reload> = global.config_file.clone().map(|path| {
        let global = global.clone();
        std::sync::Arc::new(move || {
            let settings = crate::config::file::load(&path).map_err(|e| e.to_string())?;
            crate::config::host::check(&settings).map_err(|e| e.to_string())?;
            for warning in &settings.warnings {
                tracing::warn!("{warning}");
            }
            let g = &settings.global;
            if (&g.facility, &g.pidfile, &g.status_socket, &g.metrics_listen)
                != (
                    &global.facility,
                    &global.pidfile,
                    &global.status_socket,
                    &global.metrics_listen,
                )
            {
                tracing::warn!(
                    "reload: facility, pidfile, status_socket and metrics_listen change only at restart"
                );
            }
            instance_specs(settings).map_err(|e| e.to_string())
        }) as Reload
    });
    run_instances(
        instances,
        Options {
            reload,
            status_socket,
            metrics_listen,
        },
    )
    .await
}

/// The daemon's view of each configured instance, with its password.
fn instance_specs(settings: Settings) -> Result<Vec<(InstanceSpec, Password)>, DaemonError> {
    let script_timeout = settings.global.script_timeout;
    let mut specs = Vec::with_capacity(settings.instances.len());
    for instance in settings.instances {
        let interface = match &instance.interface {
            Some(name) => name.clone(),
            None => {
                let name = net::default_interface()?;
                tracing::info!("Using [{name}] as a network interface");
                name
            }
        };
        if instance.upscript.is_none() {
            tracing::warn!("Warning: no script called when going up");
        }
        if instance.downscript.is_none() {
            tracing::warn!("Warning: no script called when going down");
        }
        // The HMAC's order (docs/protocol.md), each with its typed form.
        let addresses = instance
            .hmac_addresses()
            .into_iter()
            .map(|addr| {
                let typed = instance
                    .addresses
                    .iter()
                    .find(|a| a.addr == addr)
                    .map_or_else(|| addr.to_string(), |a| a.typed.clone());
                (addr, typed)
            })
            .collect();
        let spec = InstanceSpec {
            name: instance.name.clone(),
            interface,
            vlan: instance.vlan,
            vhid: instance.vhid,
            srcip: instance.srcip,
            group: instance.group,
            nomcast: instance.nomcast,
            addresses,
            advbase: instance.advbase,
            advskew: instance.advskew,
            deadratio: instance.deadratio,
            preempt: instance.preempt,
            neutral: instance.neutral,
            shutdown: instance.shutdown,
            ignore_ifstate: instance.ignore_ifstate,
            upscript: instance.upscript.clone(),
            downscript: instance.downscript.clone(),
            xparam: instance.xparam.clone(),
            tie_break: instance.tie_break,
            replay_protection: instance.replay_protection,
            xdp_mode: instance.xdp_mode.into(),
            script_timeout,
            checks: instance.checks.clone(),
            track_interfaces: instance.track_interfaces.clone(),
        };
        specs.push((spec, instance.password));
    }
    Ok(specs)
}

impl From<XdpMode> for AttachMode {
    fn from(mode: XdpMode) -> Self {
        match mode {
            XdpMode::Auto => Self::Auto,
            XdpMode::Driver => Self::Driver,
            XdpMode::Skb => Self::Skb,
        }
    }
}

/// Runs every instance in one process until a signal or a fatal error.
/// Each comes with its password, which is wiped once its keys exist.
pub async fn run_instances(
    instances: Vec<(InstanceSpec, Password)>,
    options: Options,
) -> Result<(), DaemonError> {
    // First of all, so that no signal that arrives during the start ends
    // the process by its default action.
    let mut signals = Signals::listen()?;
    let (script_reports, script_outcomes) = mpsc::unbounded_channel();
    let (frames_tx, frames) = mpsc::unbounded_channel();
    let (links_tx, link_events) = mpsc::unbounded_channel();
    let (health_tx, health_reports) = mpsc::unbounded_channel();
    // Bound before anything starts, so that a taken socket or address stops
    // the start with an error that names it.
    let status = start_status_servers(&options).await?;
    let mut daemon = Daemon {
        epoch: Instant::now(),
        links: BTreeMap::new(),
        instances: BTreeMap::new(),
        routes: HashMap::new(),
        attachment: None,
        ring: None,
        next_id: 0,
        script_reports,
        frames_tx,
        links_tx,
        kernel_bad_digests_reported: 0,
        kernel_replays_reported: 0,
        link_errors: LinkErrors {
            since: Instant::now(),
            count: 0,
        },
        loading: options.reload.map(loading::Loading::new),
        retiring: Vec::new(),
        status,
        started_unix_ms: crate::status::unix_ms_now(),
        published_transitions: u64::MAX,
        health: health::Health::new(health_tx),
    };
    let hup_stops = daemon.loading.is_none();
    for (spec, password) in instances {
        // A stop signal during the start: what started already is stopped
        // the ordinary way, and the rest is not started.
        if signals.stop_arrived(hup_stops).await {
            tracing::info!("stopping during the start, as a signal asks");
            return daemon.stop(Ok(Stop::Signal)).await;
        }
        if let Err(e) = daemon.add_instance(spec, &password).await {
            // Whatever started already is taken down again.
            return daemon.stop(Err(e)).await;
        }
    }
    daemon.publish_status();
    // Every XDP attachment is in place: ready (systemd Type=notify).
    notify(&[sd_notify::NotifyState::Ready]);
    let result = daemon
        .event_loop(
            signals,
            frames,
            link_events,
            script_outcomes,
            health_reports,
        )
        .await;
    daemon.stop(result).await
}

/// One interface the daemon serves.
struct Link {
    interface: Interface,
    sender: FrameSender,
    /// Multicast memberships by group (none for broadcast-only instances).
    memberships: HashMap<Ipv4Addr, GroupMembership>,
    watch: LinkWatch,
    running: bool,
    /// Whether the shared XDP program is attached here (else each instance
    /// reads through a socket filter).
    xdp: bool,
    forwarder: tokio::task::AbortHandle,
}

impl Link {
    fn output(&self) -> Output<'_> {
        Output {
            sender: &self.sender,
            mac: self.interface.mac,
        }
    }
}

/// A frame from an instance's socket filter, or the error that ended it.
type SocketFrame = (u64, Result<Vec<u8>, std::io::Error>);

/// Receive errors that said the link went away, in the current second.
struct LinkErrors {
    since: Instant,
    count: u32,
}

/// How the event loop ended.
enum Stop {
    /// SIGTERM/SIGINT/SIGQUIT (and SIGHUP without a configuration file).
    Signal,
    /// The interface of the only remaining instances was deleted.
    InterfaceGone,
}

struct Daemon {
    /// The engines' clock is the time since this instant.
    epoch: Instant,
    links: BTreeMap<u32, Link>,
    instances: BTreeMap<u64, Instance>,
    /// (ifindex, VLAN, VHID) → instance id, for the ring's records.
    routes: HashMap<(u32, u16, u8), u64>,
    /// The XDP program, loaded once and attached to every interface it can
    /// have; its maps and ring are shared by all.
    attachment: Option<XdpAttachment>,
    ring: Option<AdvertReader>,
    next_id: u64,
    script_reports: ScriptReports,
    frames_tx: mpsc::UnboundedSender<SocketFrame>,
    links_tx: mpsc::UnboundedSender<(u32, Option<LinkEvent>)>,
    /// The kernel's `bad_digest` and `replayed` counters when last reported.
    kernel_bad_digests_reported: u64,
    kernel_replays_reported: u64,
    link_errors: LinkErrors,
    /// With a configuration file: its reading off the loop on SIGHUP.
    loading: Option<loading::Loading>,
    /// Script runners of removed instances, finishing their last scripts.
    retiring: Vec<tokio::task::JoinHandle<()>>,
    /// What `xcarp status` and the metrics read; None when neither serves.
    status: Option<tokio::sync::watch::Sender<crate::status::Snapshot>>,
    started_unix_ms: u64,
    /// Transitions (all instances) when the snapshot was last published.
    published_transitions: u64,
    /// Health checks and tracked interfaces of every instance.
    health: health::Health,
}

impl Daemon {
    fn now(&self) -> engine::Instant {
        self.epoch.elapsed()
    }

    /// Brings up one instance: its interface (XDP attachment or socket
    /// filter, link watch, sender, group), keys, scripts and engine, then
    /// starts it.
    async fn add_instance(
        &mut self,
        spec: InstanceSpec,
        password: &Password,
    ) -> Result<u64, DaemonError> {
        let ifindex = self.ensure_link(&spec).await?;
        let auth = CarpAuth::new(password.as_bytes(), spec.vhid, &spec.addrs())?;
        let key = (ifindex, spec.vlan, spec.vhid);
        if self.routes.contains_key(&key) {
            return Err(DaemonError::Config(format!(
                "{}: another instance already runs vhid {} on {} (VLAN {})",
                spec.name, spec.vhid, spec.interface, spec.vlan
            )));
        }
        let id = self.next_id;
        self.next_id += 1;
        let link = self.links.get_mut(&ifindex).expect("ensured above");
        if !spec.nomcast && !link.memberships.contains_key(&spec.group) {
            let membership = GroupMembership::join(spec.group, ifindex)?;
            link.memberships.insert(spec.group, membership);
        }
        let rx = if link.xdp {
            let attachment = self.attachment.as_mut().expect("xdp links have one");
            attachment.configure_vhid_on(ifindex, reload::vhid_settings(&spec, &auth))?;
            if auth.kernel_hmac().is_none() {
                tracing::info!(
                    "{}: digests are checked by the daemon only (too many addresses for the XDP check)",
                    spec.name
                );
            }
            RxPath::Xdp {
                kernel_hmac: auth.kernel_hmac().is_some(),
            }
        } else {
            let mut receiver = SocketReceiver::open(ifindex, spec.vhid, spec.vlan)?;
            let frames = self.frames_tx.clone();
            let task = tokio::spawn(async move {
                loop {
                    let next = receiver.next().await.map(<[u8]>::to_vec);
                    let failed = next.is_err();
                    if frames.send((id, next)).is_err() {
                        break;
                    }
                    if failed {
                        // Let the daemon decide; a link error goes on after
                        // a pause, anything else ends the instance.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            });
            RxPath::Socket(task.abort_handle())
        };
        let scripts = script_runner(id, &spec, self.script_reports.clone());
        let level = self
            .health
            .add(id, &spec.name, &spec.checks, &spec.track_interfaces);
        let mut instance = Instance::new(id, spec, ifindex, auth, scripts, rx);
        let now = self.now();
        let link = &self.links[&ifindex];
        let out = link.output();
        if level > 0 {
            // A tracked interface is down already: demoted from the start.
            tracing::warn!(
                "{}: starts demoted (level {level}): a tracked interface is down",
                instance.spec.name
            );
            instance.feed(now, Event::SetDemotion(level), &out);
        }
        instance.feed(now, Event::Start, &out);
        if !link.running && !instance.spec.ignore_ifstate {
            instance.feed(now, Event::LinkDown, &out);
        }
        self.routes.insert(key, id);
        self.instances.insert(id, instance);
        Ok(id)
    }

    /// The interface `spec` runs on, set up if it is the first instance
    /// there; returns its index.
    async fn ensure_link(&mut self, spec: &InstanceSpec) -> Result<u32, DaemonError> {
        if let Some((index, _)) = self
            .links
            .iter()
            .find(|(_, l)| l.interface.name == spec.interface)
        {
            return Ok(*index);
        }
        let interface = net::lookup_interface(&spec.interface)?;
        // Renamed, and the event not read yet: the same link.
        if self.links.contains_key(&interface.index) {
            return Ok(interface.index);
        }
        tracing::info!(
            "Local advertised ethernet address is [{}]",
            format_mac(&interface.mac)
        );
        // Subscribe to link events before anything can change.
        let (running, mut watch) = net::watch_link(&interface.name, interface.index).await?;
        let xdp = self.attach(&interface.name, interface.index, spec.xdp_mode)?;
        let sender = FrameSender::open(interface.index)?;
        let index = interface.index;
        // The watch's events go to the loop through one channel for all
        // interfaces; `None` says the watcher stopped.
        let mut events = std::mem::replace(&mut watch.events, mpsc::unbounded_channel().1);
        let links = self.links_tx.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if links.send((index, Some(event))).is_err() {
                    return;
                }
            }
            let _ = links.send((index, None));
        })
        .abort_handle();
        self.links.insert(
            index,
            Link {
                interface,
                sender,
                memberships: HashMap::new(),
                watch,
                running,
                xdp,
                forwarder,
            },
        );
        Ok(index)
    }

    /// Attaches the shared XDP program to one more interface. `false`: the
    /// interface's XDP slot is held by another program (such as another
    /// xcarp) and the mode allows the socket-filter fallback.
    fn attach(&mut self, name: &str, ifindex: u32, mode: AttachMode) -> Result<bool, DaemonError> {
        let attached = match &mut self.attachment {
            None => XdpAttachment::attach(name, mode).map(|a| {
                let used = a.mode_name();
                self.ring = None;
                self.attachment = Some(a);
                used
            }),
            Some(attachment) => attachment.attach_also(name, mode),
        };
        match attached {
            Ok(used) => {
                if self.ring.is_none()
                    && let Some(attachment) = &mut self.attachment
                {
                    self.ring = Some(attachment.advert_reader()?);
                }
                tracing::info!("XDP program attached to {name} in {used} mode");
                Ok(true)
            }
            // One xcarp per VIP on one interface (as with ucarp) is common;
            // the first one holds the XDP slot and passes other VHIDs on.
            Err(e) if mode == AttachMode::Auto && xdp_slot_taken(&e) => {
                tracing::warn!(
                    "XDP is already in use on {name} (another xcarp?): receiving adverts there through a socket filter instead"
                );
                let _ = ifindex;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes an instance out: its downscript runs if it is MASTER, its
    /// kernel entry goes, its scripts finish in the background.
    fn remove_instance(&mut self, id: u64) {
        let Some(mut instance) = self.instances.remove(&id) else {
            return;
        };
        self.health.remove(id);
        let key = (instance.ifindex, instance.spec.vlan, instance.spec.vhid);
        self.routes.remove(&key);
        let now = self.now();
        if let Some(link) = self.links.get(&instance.ifindex) {
            instance.feed(now, Event::Shutdown, &link.output());
            if link.xdp
                && let Some(attachment) = &mut self.attachment
            {
                let _ = attachment.remove_vhid_on(key.0, key.1, key.2);
            }
        }
        if let RxPath::Socket(task) = &instance.rx {
            task.abort();
        }
        tracing::info!("{}: stopped", instance.spec.name);
        let scripts = instance.scripts;
        self.retiring.push(tokio::spawn(scripts.finish()));
    }

    async fn event_loop(
        &mut self,
        signals: Signals,
        mut frames: mpsc::UnboundedReceiver<SocketFrame>,
        mut link_events: mpsc::UnboundedReceiver<(u32, Option<LinkEvent>)>,
        mut script_outcomes: mpsc::UnboundedReceiver<(u64, Ran, ScriptOutcome)>,
        mut health_reports: mpsc::UnboundedReceiver<health::Report>,
    ) -> Result<Stop, DaemonError> {
        let Signals {
            mut usr1,
            mut usr2,
            mut term,
            mut int,
            mut quit,
            mut hup,
        } = signals;

        // Adverts with a wrong digest or a replayed counter die in the
        // kernel when it checks them: report them as ucarp does, from the
        // kernel's counters, once a second at most.
        let mut kernel_drops = tokio::time::interval(Duration::from_secs(1));
        kernel_drops.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let mut status_tick = tokio::time::interval(Duration::from_secs(1));
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A stop signal arrived and masters that release their VIP are
        // handing it over (see `begin_hand_over`).
        let mut stopping = false;
        loop {
            if stopping && !self.handing_over() {
                return Ok(Stop::Signal);
            }
            self.publish_status_on_transition();
            let next = self
                .instances
                .values()
                .filter_map(Instance::next_deadline)
                .min()
                .map(|at| self.epoch + at);
            let has_ring = self.ring.is_some();
            tokio::select! {
                record = next_record(self.ring.as_mut()), if has_ring => match record {
                    Ok(record) => self.on_record(&record),
                    Err(e) => self.on_receive_error(DaemonError::Ring(e), None)?,
                },
                Some((id, frame)) = frames.recv() => match frame {
                    Ok(frame) => self.on_frame(id, &frame),
                    Err(e) => self.on_receive_error(DaemonError::SocketRx(e), Some(id))?,
                },
                () = sleep_until(next) => self.fire_due_timers(),
                _ = kernel_drops.tick(), if self.attachment.is_some() => self.report_kernel_drops(),
                _ = status_tick.tick(), if self.status.is_some() => self.publish_status(),
                Some((id, ran, outcome)) = script_outcomes.recv() => {
                    let now = self.now();
                    if let Some(instance) = self.instances.get_mut(&id)
                        && let Some(link) = self.links.get(&instance.ifindex)
                    {
                        instance.on_script_finished(now, ran, &outcome, &link.output());
                    }
                }
                Some(report) = health_reports.recv() => self.on_health_report(report),
                Some((ifindex, event)) = link_events.recv() => {
                    if let Some(stop) = self.on_link_event(ifindex, event)? {
                        return Ok(stop);
                    }
                }
                _ = usr1.recv() => self.log_status(),
                _ = usr2.recv() => {
                    tracing::debug!("Caught signal (USR2) considering going down");
                    let now = self.now();
                    for instance in self.instances.values_mut() {
                        if let Some(link) = self.links.get(&instance.ifindex) {
                            instance.feed(now, Event::Demote, &link.output());
                        }
                    }
                }
                _ = term.recv() => stopping = self.begin_hand_over(stopping),
                _ = int.recv() => stopping = self.begin_hand_over(stopping),
                _ = quit.recv() => stopping = self.begin_hand_over(stopping),
                _ = hup.recv() => {
                    // With a configuration file SIGHUP asks for a reload,
                    // which has nothing to do once the daemon stops: it
                    // must not cut a hand-over short.
                    if stopping && self.loading.is_some() {
                        continue;
                    }
                    let Some(loading) = self.loading.as_mut() else {
                        stopping = self.begin_hand_over(stopping);
                        continue;
                    };
                    // Read off the loop; a SIGHUP during a reading asks for
                    // one more after it.
                    if loading.request() {
                        notify(&[sd_notify::NotifyState::Reloading]);
                    }
                }
                // Not once stopping: nothing starts while the daemon ends.
                loaded = loading::finished(self.loading.as_mut()), if !stopping => {
                    self.reload(loaded).await;
                    self.publish_status();
                    notify(&[sd_notify::NotifyState::Ready]);
                    if let Some(loading) = self.loading.as_mut()
                        && loading.start_queued()
                    {
                        notify(&[sd_notify::NotifyState::Reloading]);
                    }
                }
            }
        }
    }

    /// A stop signal: every MASTER that releases its VIP on exit
    /// (`--shutdown`) bows out and keeps the VIP until its successor
    /// advertises or one master-down interval passes, so clients are served
    /// throughout (docs/protocol.md, "Bow-out"). A second signal while
    /// that runs ends the wait. Returns that the daemon is stopping.
    fn begin_hand_over(&mut self, already_stopping: bool) -> bool {
        let event = if already_stopping {
            Event::Shutdown
        } else {
            notify(&[sd_notify::NotifyState::Stopping]);
            Event::HandOver
        };
        let now = self.now();
        for instance in self.instances.values_mut() {
            if !releases_vip_on_exit(&Ok(Stop::Signal), instance.spec.shutdown) {
                continue;
            }
            if let Some(link) = self.links.get(&instance.ifindex) {
                instance.feed(now, event, &link.output());
            }
        }
        true
    }

    /// Whether a releasing MASTER still waits for its successor.
    fn handing_over(&self) -> bool {
        self.instances
            .values()
            .any(|i| i.spec.shutdown && i.engine.state() == State::Master && !i.engine.finished())
    }

    /// Publishes a fresh snapshot for `xcarp status` and the metrics.
    fn publish_status(&mut self) {
        let Some(status) = &self.status else {
            return;
        };
        use crate::status::{InterfaceStatus, RxPath as StatusRx, Snapshot, xdp_counter_map};
        let mut snapshot = Snapshot::for_this_process(self.started_unix_ms);
        snapshot.instances = self
            .instances
            .values()
            .map(|i| {
                let mut status = i.status(match i.rx {
                    RxPath::Xdp { .. } => StatusRx::Xdp,
                    RxPath::Socket(_) => StatusRx::Socket,
                });
                (status.checks, status.tracked_interfaces) = self.health.status(i.id);
                status
            })
            .collect();
        snapshot.interfaces = self
            .links
            .values()
            .map(|l| InterfaceStatus {
                name: l.interface.name.clone(),
                ifindex: l.interface.index,
                running: l.running,
                xdp_mode: self
                    .attachment
                    .as_ref()
                    .and_then(|a| a.mode_on(l.interface.index))
                    .filter(|_| l.xdp)
                    .map(str::to_owned),
                xdp_counters: None,
            })
            .collect();
        snapshot.xdp_counters = self
            .attachment
            .as_ref()
            .and_then(|a| a.counters().ok())
            .map(|c| xdp_counter_map(&c));
        status.send_replace(snapshot);
        self.published_transitions = self.transitions();
    }

    fn transitions(&self) -> u64 {
        self.instances
            .values()
            .map(|i| i.stats.became_master + i.stats.released_master)
            .sum()
    }

    /// A state change shows in the status at once, not at the next tick.
    fn publish_status_on_transition(&mut self) {
        if self.status.is_some() && self.transitions() != self.published_transitions {
            self.publish_status();
        }
    }

    /// A check ended or a tracked interface changed: hands each instance
    /// whose demotion level changed its new level.
    fn on_health_report(&mut self, report: health::Report) {
        let verdict_may_change = matches!(report, health::Report::Link { .. });
        let changed = self.health.on_report(report);
        for (id, level) in &changed {
            self.set_demotion(*id, *level);
        }
        if verdict_may_change || !changed.is_empty() {
            self.publish_status();
        }
    }

    fn set_demotion(&mut self, id: u64, level: u8) {
        let now = self.now();
        if let Some((instance, out)) = self.instance_output(id) {
            instance.feed(now, Event::SetDemotion(level), &out);
        }
    }

    fn instance_output(&mut self, id: u64) -> Option<(&mut Instance, Output<'_>)> {
        let instance = self.instances.get_mut(&id)?;
        let link = self.links.get(&instance.ifindex)?;
        Some((instance, link.output()))
    }

    /// An advert that passed the XDP program's checks, for the instance of
    /// its (interface, VLAN, VHID).
    fn on_record(&mut self, record: &carp_common::AdvertRecord) {
        let key = (record.ifindex, record.vlan_id, record.carp[1]);
        let Some(&id) = self.routes.get(&key) else {
            return; // removed since the kernel took it
        };
        let now = self.now();
        if let Some((instance, out)) = self.instance_output(id) {
            instance.on_record(now, record, &out);
        }
    }

    fn on_frame(&mut self, id: u64, frame: &[u8]) {
        let now = self.now();
        if let Some((instance, out)) = self.instance_output(id) {
            instance.on_frame(now, frame, &out);
        }
    }

    fn fire_due_timers(&mut self) {
        let now = self.now();
        for instance in self.instances.values_mut() {
            if let Some(link) = self.links.get(&instance.ifindex) {
                instance.fire_due_timers(now, &link.output());
            }
        }
    }

    /// A link event of one interface. A deleted interface stops its
    /// instances (downscripts first); the daemon ends when none is left. A
    /// renamed one keeps them: they follow its index.
    fn on_link_event(
        &mut self,
        ifindex: u32,
        event: Option<LinkEvent>,
    ) -> Result<Option<Stop>, DaemonError> {
        let Some(link) = self.links.get_mut(&ifindex) else {
            return Ok(None);
        };
        let name = link.interface.name.clone();
        match event {
            Some(LinkEvent::Running(up)) => {
                link.running = up;
                if up {
                    tracing::info!("Interface {name} is running again");
                } else {
                    tracing::warn!("Interface {name} lost its carrier (or went down)");
                }
                let now = self.now();
                let link = &self.links[&ifindex];
                for instance in self.instances.values_mut() {
                    if instance.ifindex == ifindex {
                        instance.on_link(now, up, &link.output());
                    }
                }
                Ok(None)
            }
            Some(LinkEvent::Renamed(new)) => {
                self.on_rename(ifindex, &new);
                Ok(None)
            }
            Some(LinkEvent::Gone) => {
                let ids = self.instances_on(ifindex);
                if ids.len() == self.instances.len() {
                    return Ok(Some(Stop::InterfaceGone));
                }
                tracing::error!(
                    "interface {name} disappeared: stopping its {} instance(s); reload to start them again",
                    ids.len()
                );
                for id in ids {
                    self.remove_instance(id);
                }
                self.drop_link(ifindex);
                Ok(None)
            }
            None => Err(DaemonError::LinkWatchStopped),
        }
    }

    /// The ids of the instances on interface `ifindex`.
    fn instances_on(&self, ifindex: u32) -> Vec<u64> {
        self.instances
            .values()
            .filter(|i| i.ifindex == ifindex)
            .map(|i| i.id)
            .collect()
    }

    /// Interface `ifindex` is now called `new`: its instances run on, under
    /// the new name (status, logs, and the scripts' first argument).
    fn on_rename(&mut self, ifindex: u32, new: &str) {
        let Some(link) = self.links.get_mut(&ifindex) else {
            return;
        };
        let old = std::mem::replace(&mut link.interface.name, new.to_owned());
        let ids = self.instances_on(ifindex);
        tracing::warn!(
            "interface {old} (#{ifindex}) was renamed {new}: its {} instance(s) run on; \
             the configuration must name it {new} from now on",
            ids.len()
        );
        for id in ids {
            if let Some(instance) = self.instances.get_mut(&id) {
                instance.renamed(new);
            }
        }
        self.publish_status();
    }

    /// Forgets an interface no instance uses any more.
    fn drop_link(&mut self, ifindex: u32) {
        if self.instances.values().any(|i| i.ifindex == ifindex) {
            return;
        }
        if let Some(link) = self.links.remove(&ifindex) {
            link.forwarder.abort();
            if link.xdp
                && let Some(attachment) = &mut self.attachment
            {
                let _ = attachment.detach_from(ifindex);
            }
        }
    }

    /// A receive error: one that says the link went down is a link event
    /// (the watcher re-reads the link state and reports it), anything else,
    /// or link errors in a tight loop, ends the daemon.
    fn on_receive_error(
        &mut self,
        error: DaemonError,
        from: Option<u64>,
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
        // The socket of one instance names its interface; the ring serves
        // them all, so every watcher re-reads its link.
        let ifindex = from
            .and_then(|id| self.instances.get(&id))
            .map(|i| i.ifindex);
        for (index, link) in &self.links {
            if ifindex.is_none_or(|i| i == *index) {
                tracing::warn!(
                    "receiving on {} failed ({io}): the link went away, re-reading its state",
                    link.interface.name
                );
                link.watch.resync();
            }
        }
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
            tracing::warn!(
                "Replayed adverts - {new} authentic advert(s) whose counter was seen before in \
                 its stream dropped by the XDP program since the last report"
            );
        }
    }

    /// SIGUSR1: each instance's status and counters, then the XDP
    /// program's.
    fn log_status(&self) {
        for instance in self.instances.values() {
            instance.log_status();
        }
        match &self.attachment {
            Some(a) => tracing::info!(
                "xdp: {}",
                a.counters()
                    .map_or_else(|e| format!("unavailable ({e})"), |c| c.to_string())
            ),
            None => tracing::info!("xdp: not attached (socket filters)"),
        }
    }

    /// Ends the daemon. A MASTER gives its VIP up first (downscript) on
    /// every exit but a signal without --shutdown, which keeps ucarp's
    /// meaning (see [`releases_vip_on_exit`]). The XDP program is detached
    /// when the attachment is dropped, after every script has finished.
    async fn stop(mut self, result: Result<Stop, DaemonError>) -> Result<(), DaemonError> {
        notify(&[sd_notify::NotifyState::Stopping]);
        // No check may outlive the daemon, nor demote what is stopping.
        self.health.stop_all();
        let gone = matches!(result, Ok(Stop::InterfaceGone));
        let now = self.now();
        for instance in self.instances.values_mut() {
            if !releases_vip_on_exit(&result, instance.spec.shutdown) {
                continue;
            }
            let downscript = instance
                .spec
                .downscript
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string());
            if result.is_ok() && !gone {
                tracing::debug!("Calling [{downscript}] and exiting");
            } else if instance.engine.state() == State::Master {
                tracing::warn!("exiting while MASTER: calling [{downscript}] first");
            }
            if let Some(link) = self.links.get(&instance.ifindex) {
                instance.feed(now, Event::Shutdown, &link.output());
            }
        }
        let gone_name = self
            .links
            .values()
            .next()
            .map(|l| l.interface.name.clone())
            .unwrap_or_default();
        for (_, instance) in std::mem::take(&mut self.instances) {
            if let RxPath::Socket(task) = &instance.rx {
                task.abort();
            }
            instance.scripts.finish().await;
        }
        for retiring in std::mem::take(&mut self.retiring) {
            let _ = retiring.await;
        }
        for link in self.links.values() {
            link.forwarder.abort();
        }
        drop(self.ring.take());
        drop(self.attachment.take());
        // Stops the status and metrics servers (the socket file goes).
        drop(self.status.take());
        if gone {
            return Err(DaemonError::InterfaceGone(gone_name));
        }
        result.map(|_| ())
    }
}

/// Binds the status socket and the metrics endpoint that `options` asks
/// for and serves them from one snapshot channel.
async fn start_status_servers(
    options: &Options,
) -> Result<Option<tokio::sync::watch::Sender<crate::status::Snapshot>>, DaemonError> {
    use crate::status::{MetricsServer, Snapshot, SocketAccess, StatusServer};
    if options.status_socket.is_none() && options.metrics_listen.is_none() {
        return Ok(None);
    }
    let (tx, rx) =
        tokio::sync::watch::channel(Snapshot::for_this_process(crate::status::unix_ms_now()));
    let status_err = |e: crate::status::ServeError| DaemonError::Config(e.to_string());
    if let Some(path) = &options.status_socket {
        let server = StatusServer::bind(path, SocketAccess::ROOT_ONLY)
            .await
            .map_err(status_err)?;
        tracing::info!("status: xcarp status answers on {}", path.display());
        let rx = rx.clone();
        tokio::spawn(async move {
            if let Err(e) = server.serve(rx).await {
                tracing::error!("status socket: {e}");
            }
        });
    }
    if let Some(addr) = options.metrics_listen {
        let server = MetricsServer::bind(addr).await.map_err(status_err)?;
        tracing::info!("metrics: http://{addr}/metrics");
        let rx = rx.clone();
        tokio::spawn(async move {
            if let Err(e) = server.serve(rx).await {
                tracing::error!("metrics endpoint: {e}");
            }
        });
    }
    Ok(Some(tx))
}

/// Tells systemd (Type=notify) how the service is doing; nothing without
/// NOTIFY_SOCKET.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// The script runner of instance `id`.
fn script_runner(id: u64, spec: &InstanceSpec, reports: ScriptReports) -> ScriptRunner {
    ScriptRunner::start(spec.script_spec(), Some((id, reports)))
}

/// The ring's next record (only polled when there is a ring).
async fn next_record(
    ring: Option<&mut AdvertReader>,
) -> Result<carp_common::AdvertRecord, XdpError> {
    match ring {
        Some(ring) => ring.next().await,
        None => std::future::pending().await,
    }
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
