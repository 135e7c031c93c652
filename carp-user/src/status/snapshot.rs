//! The snapshot: plain data describing every instance and interface at one
//! moment, which the daemon publishes and the servers render
//! (docs/status.md, "JSON").
//!
//! Everything here is `Serialize + Deserialize` so that a client can parse
//! the JSON rendering back. Each struct takes defaults for fields a peer of
//! another version leaves out, and unknown fields are ignored, so a client
//! and a daemon of neighbouring versions still understand each other.

use std::{
    collections::BTreeMap,
    fmt,
    net::Ipv4Addr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{engine::State, xdp::XdpCounters};

/// Everything `xcarp status` shows, for one daemon process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// The daemon's version (`CARGO_PKG_VERSION`).
    pub xcarp_version: String,
    pub pid: u32,
    /// When the daemon started, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    pub instances: Vec<InstanceStatus>,
    pub interfaces: Vec<InterfaceStatus>,
    /// The XDP program's counters by name ([`xdp_counter_map`]), all
    /// interfaces together: the program keeps one set for every interface
    /// it is attached to. None when it is not loaded or they could not be
    /// read.
    pub xdp_counters: Option<BTreeMap<String, u64>>,
}

impl Snapshot {
    /// An empty snapshot for this process: its version and pid, started at
    /// `started_unix_ms`.
    #[must_use]
    pub fn for_this_process(started_unix_ms: u64) -> Self {
        Self {
            xcarp_version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_unix_ms,
            instances: Vec::new(),
            interfaces: Vec::new(),
            xdp_counters: None,
        }
    }
}

/// One CARP instance (one VHID on one interface and VLAN).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceStatus {
    /// The instance's configured name (for a ucarp command line, the
    /// daemon's choice, e.g. `eth0-42`).
    pub name: String,
    pub interface: String,
    /// 802.1Q VLAN id, 0 for untagged.
    pub vlan: u16,
    pub vhid: u8,
    /// The virtual addresses this instance holds when MASTER.
    pub addresses: Vec<Ipv4Addr>,
    pub state: StateName,
    /// The current master: our own address when MASTER; otherwise the
    /// source of the last authentic advert, if it came within the
    /// master-down interval (see [`current_master`]).
    pub master: Option<Ipv4Addr>,
    /// `--advbase`, seconds.
    pub advbase: u8,
    /// `--advskew`, 1/256 s.
    pub advskew: u8,
    /// Our advert interval, advbase + advskew/256, in milliseconds.
    pub advert_interval_ms: u64,
    /// How long a backup waits for an advert before taking over, in
    /// milliseconds.
    pub master_down_ms: u64,
    /// When the instance entered its current state, milliseconds since the
    /// Unix epoch.
    pub state_since_unix_ms: u64,
    pub last_transition: Option<TransitionInfo>,
    pub counters: InstanceCounters,
    pub last_script: Option<ScriptStatus>,
    /// Where adverts come from: the XDP program, or the socket filter
    /// when another program holds the interface's XDP slot.
    pub rx_path: RxPath,
    /// The demotion level the instance advertises (the demote byte): one
    /// per failing check and per tracked interface down; 0 when healthy.
    pub demotion: u8,
    /// The instance's health checks (docs/config.md, "Health checks").
    pub checks: Vec<CheckStatus>,
    /// The interfaces the instance tracks.
    pub tracked_interfaces: Vec<TrackedInterfaceStatus>,
}

/// One health check of an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckStatus {
    pub name: String,
    /// Failed `fall` times in a row and not yet recovered: it demotes the
    /// instance.
    pub failing: bool,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub fall: u32,
    pub rise: u32,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Runs since the check started (a reload that changes it restarts it).
    pub runs: u64,
    /// Runs that did not exit with status 0.
    pub failed_runs: u64,
    /// Runs killed at the timeout (also failed runs).
    pub timeouts: u64,
    /// None before the first run ended.
    pub last_run: Option<CheckRun>,
}

/// How the last run of a check ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckRun {
    /// The exit status; None when it did not exit by itself.
    pub exit: Option<i32>,
    /// The signal that killed it (not at a timeout).
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Why it could not be started.
    pub error: Option<String>,
    /// When it ended, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

impl CheckRun {
    /// `exit 0`, `exit 3`, `signal 9`, `timed out`, `not started`.
    #[must_use]
    pub fn describe(&self) -> String {
        match (self.exit, self.signal, self.timed_out) {
            (_, _, true) => "timed out".to_owned(),
            (Some(code), _, false) => format!("exit {code}"),
            (None, Some(signal), false) => format!("signal {signal}"),
            (None, None, false) => "not started".to_owned(),
        }
    }
}

/// One interface an instance tracks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackedInterfaceStatus {
    pub name: String,
    /// Up with a carrier; false when down or missing.
    pub up: bool,
}

/// An instance's state, as shown and serialized (`"MASTER"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StateName {
    #[default]
    Init,
    Backup,
    Master,
}

impl StateName {
    pub const ALL: [Self; 3] = [Self::Init, Self::Backup, Self::Master];

    /// `"INIT"`, `"BACKUP"`, `"MASTER"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
        }
    }

    /// The value of the Prometheus `state` label: `"init"`, `"backup"`,
    /// `"master"`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Backup => "backup",
            Self::Master => "master",
        }
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<State> for StateName {
    fn from(state: State) -> Self {
        match state {
            State::Init => Self::Init,
            State::Backup => Self::Backup,
            State::Master => Self::Master,
        }
    }
}

/// The last state change and why it happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransitionInfo {
    /// Milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub from: StateName,
    pub to: StateName,
    /// In words, e.g. "no advert for the master-down interval".
    pub reason: String,
}

/// What an instance did and rejected since the daemon started. Counters
/// only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceCounters {
    pub adverts_sent: u64,
    /// Authentic, fresh adverts handed to the state machine.
    pub adverts_received: u64,
    /// Frame writes that failed (adverts and gratuitous ARPs).
    pub send_errors: u64,
    /// Adverts for this instance whose HMAC the daemon rejected. Those the
    /// XDP program drops first (when it checks digests) are counted for
    /// all instances together, in [`Snapshot::xdp_counters`].
    pub bad_digest: u64,
    /// Authentic adverts the daemon dropped as replays; the XDP program's
    /// are likewise in [`Snapshot::xdp_counters`].
    pub replayed: u64,
    /// Adverts the daemon could not decode or whose checksum failed.
    pub malformed: u64,
    /// Transitions to MASTER.
    pub became_master: u64,
    /// Transitions from MASTER to another state.
    pub released_master: u64,
    /// Up and down scripts started.
    pub script_runs: u64,
    /// Scripts that failed to start, exited non-zero, were killed by a
    /// signal or timed out.
    pub script_failures: u64,
    /// Scripts killed at `--script-timeout` (also counted as failures).
    pub script_timeouts: u64,
}

/// Which script ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptWhich {
    #[default]
    Up,
    Down,
}

impl ScriptWhich {
    /// `"up"` or `"down"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// How the last script run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptStatus {
    pub which: ScriptWhich,
    /// The exit status; None when the script did not exit by itself
    /// (failed to start, killed by a signal or at its timeout).
    pub exit: Option<i32>,
    pub timed_out: bool,
    /// When it ended, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

impl ScriptStatus {
    /// Whether the script exited with status 0.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.exit == Some(0) && !self.timed_out
    }
}

/// Where an instance's adverts come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RxPath {
    /// The XDP program's ring buffer.
    #[default]
    Xdp,
    /// A packet socket with a classic BPF filter (another program holds
    /// the XDP slot).
    Socket,
}

impl RxPath {
    /// `"xdp"` or `"socket"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Xdp => "xdp",
            Self::Socket => "socket",
        }
    }
}

/// One interface the daemon runs instances on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfaceStatus {
    pub name: String,
    pub ifindex: u32,
    /// Up with a carrier.
    pub running: bool,
    /// The XDP attach mode ("driver", "skb", …), None when the XDP program
    /// is not attached.
    pub xdp_mode: Option<String>,
    /// This interface's own XDP counters by name, for a program that
    /// counts per interface. None otherwise: today's program counts all
    /// its interfaces together, in [`Snapshot::xdp_counters`].
    pub xdp_counters: Option<BTreeMap<String, u64>>,
}

/// What the XDP program did with the frames a counter counts
/// (docs/xdp.md describes each counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpVerdict {
    /// Passed to the kernel's stack: not ours.
    Pass,
    /// A valid advert written to the ring buffer for the daemon.
    ToDaemon,
    /// Dropped in the kernel.
    Drop,
}

impl XdpVerdict {
    /// The value of the Prometheus `verdict` label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::ToDaemon => "to_daemon",
            Self::Drop => "drop",
        }
    }
}

/// Reads one of the XDP program's counters.
type ReadXdpCounter = fn(&XdpCounters) -> u64;

/// Every XDP counter: its name in [`Snapshot::xdp_counters`], what
/// the program did with the frames it counts, and how to read it.
const XDP_COUNTERS: [(&str, XdpVerdict, ReadXdpCounter); 16] = [
    ("not_carp", XdpVerdict::Pass, |c| c.not_carp),
    ("foreign_vhid", XdpVerdict::Pass, |c| c.foreign_vhid),
    ("malformed", XdpVerdict::Pass, |c| c.malformed),
    ("not_advert", XdpVerdict::Pass, |c| c.not_advert),
    ("truncated", XdpVerdict::Pass, |c| c.truncated),
    ("accepted", XdpVerdict::ToDaemon, |c| c.accepted),
    ("fragment", XdpVerdict::Drop, |c| c.fragment),
    ("bad_ttl", XdpVerdict::Drop, |c| c.bad_ttl),
    ("bad_length", XdpVerdict::Drop, |c| c.bad_length),
    ("bad_destination", XdpVerdict::Drop, |c| c.bad_destination),
    ("own_frame", XdpVerdict::Drop, |c| c.own_frame),
    ("ring_full", XdpVerdict::Drop, |c| c.ring_full),
    ("bad_checksum", XdpVerdict::Drop, |c| c.bad_checksum),
    ("bad_digest", XdpVerdict::Drop, |c| c.bad_digest),
    ("over_budget", XdpVerdict::Drop, |c| c.over_budget),
    ("replayed", XdpVerdict::Drop, |c| c.replayed),
];

/// The XDP program's counters by name, for [`Snapshot::xdp_counters`].
#[must_use]
pub fn xdp_counter_map(counters: &XdpCounters) -> BTreeMap<String, u64> {
    XDP_COUNTERS
        .iter()
        .map(|(name, _, read)| ((*name).to_owned(), read(counters)))
        .collect()
}

/// What the XDP program does with the frames the counter `name` counts;
/// None for a name this version does not know (from a newer daemon).
#[must_use]
pub fn xdp_verdict(name: &str) -> Option<XdpVerdict> {
    XDP_COUNTERS
        .iter()
        .find(|(known, _, _)| *known == name)
        .map(|(_, verdict, _)| *verdict)
}

/// The master as [`InstanceStatus::master`] reports it: `own` when MASTER;
/// otherwise the source of the last authentic advert if it arrived less
/// than `master_down` ago (`last_advert` = its source and its age), else
/// None (nobody is known to be master).
#[must_use]
pub fn current_master(
    state: State,
    own: Ipv4Addr,
    last_advert: Option<(Ipv4Addr, Duration)>,
    master_down: Duration,
) -> Option<Ipv4Addr> {
    match state {
        State::Master => Some(own),
        State::Init | State::Backup => last_advert
            .filter(|(_, age)| *age < master_down)
            .map(|(src, _)| src),
    }
}

/// Milliseconds since the Unix epoch at `time` (0 before the epoch,
/// saturating far after it).
#[must_use]
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn unix_ms_now() -> u64 {
    unix_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carp_common::counter;

    #[test]
    fn state_names_follow_the_engine() {
        assert_eq!(StateName::from(State::Init), StateName::Init);
        assert_eq!(StateName::from(State::Backup), StateName::Backup);
        assert_eq!(StateName::from(State::Master), StateName::Master);
        for state in [State::Init, State::Backup, State::Master] {
            assert_eq!(StateName::from(state).as_str(), state.to_string());
        }
    }

    #[test]
    fn serde_names_are_the_documented_ones() {
        assert_eq!(
            serde_json::to_string(&StateName::Master).unwrap(),
            "\"MASTER\""
        );
        assert_eq!(
            serde_json::to_string(&ScriptWhich::Down).unwrap(),
            "\"down\""
        );
        assert_eq!(
            serde_json::to_string(&RxPath::Socket).unwrap(),
            "\"socket\""
        );
    }

    #[test]
    fn every_xdp_counter_is_in_the_map_once() {
        // Give each kernel counter index a distinct value: the map must hold
        // each of them under its own name.
        let mut totals = [0u64; counter::COUNT as usize];
        for (i, total) in totals.iter_mut().enumerate() {
            *total = 1000 + i as u64;
        }
        let counters = XdpCounters::from_totals(&totals);
        let map = xdp_counter_map(&counters);
        assert_eq!(map.len(), counter::COUNT as usize);
        let mut values: Vec<u64> = map.values().copied().collect();
        values.sort_unstable();
        assert_eq!(values, totals.to_vec());
        for index in 0..counter::COUNT {
            assert!(
                map.values().any(|v| *v == counters.by_index(index)),
                "counter index {index} missing"
            );
        }
    }

    #[test]
    fn drop_verdicts_add_up_to_the_programs_drops() {
        let mut totals = [0u64; counter::COUNT as usize];
        for (i, total) in totals.iter_mut().enumerate() {
            *total = 1 << i;
        }
        let counters = XdpCounters::from_totals(&totals);
        let map = xdp_counter_map(&counters);
        let dropped: u64 = map
            .iter()
            .filter(|(name, _)| xdp_verdict(name) == Some(XdpVerdict::Drop))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(dropped, counters.dropped());
        assert_eq!(map["accepted"], counters.accepted);
        assert_eq!(xdp_verdict("accepted"), Some(XdpVerdict::ToDaemon));
        assert_eq!(xdp_verdict("no_such_counter"), None);
    }

    #[test]
    fn the_master_is_us_or_a_recent_advert_source() {
        let own = Ipv4Addr::new(10, 0, 0, 1);
        let peer = Ipv4Addr::new(10, 0, 0, 2);
        let down = Duration::from_secs(3);
        assert_eq!(current_master(State::Master, own, None, down), Some(own));
        assert_eq!(
            current_master(State::Master, own, Some((peer, Duration::ZERO)), down),
            Some(own)
        );
        assert_eq!(
            current_master(
                State::Backup,
                own,
                Some((peer, Duration::from_secs(1))),
                down
            ),
            Some(peer)
        );
        assert_eq!(
            current_master(State::Backup, own, Some((peer, down)), down),
            None
        );
        assert_eq!(current_master(State::Init, own, None, down), None);
    }

    #[test]
    fn old_or_partial_json_still_parses() {
        // A daemon of another version may leave fields out or add some.
        let json = r#"{"pid": 7, "instances": [{"name": "a", "state": "BACKUP", "future": 1}]}"#;
        let snapshot: Snapshot = serde_json::from_str(json).unwrap();
        assert_eq!(snapshot.pid, 7);
        assert_eq!(snapshot.instances[0].state, StateName::Backup);
        assert_eq!(snapshot.instances[0].counters, InstanceCounters::default());
        assert_eq!(snapshot.instances[0].demotion, 0);
        assert!(snapshot.instances[0].checks.is_empty());
    }

    #[test]
    fn unix_ms_saturates_before_the_epoch() {
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1500)), 1500);
    }

    #[test]
    fn check_runs_describe_how_they_ended() {
        let run = |exit, signal, timed_out| CheckRun {
            exit,
            signal,
            timed_out,
            error: None,
            at_unix_ms: 0,
        };
        assert_eq!(run(Some(0), None, false).describe(), "exit 0");
        assert_eq!(run(Some(3), None, false).describe(), "exit 3");
        assert_eq!(run(None, Some(9), false).describe(), "signal 9");
        assert_eq!(run(None, None, true).describe(), "timed out");
        assert_eq!(run(None, None, false).describe(), "not started");
    }

    #[test]
    fn script_success_needs_exit_zero() {
        let mut s = ScriptStatus {
            which: ScriptWhich::Up,
            exit: Some(0),
            timed_out: false,
            at_unix_ms: 0,
        };
        assert!(s.succeeded());
        s.exit = Some(1);
        assert!(!s.succeeded());
        s.exit = None;
        assert!(!s.succeeded());
    }
}
