//! The configuration model: plain data, what the daemon runs.
//!
//! Both front ends produce a [`Settings`]: the ucarp command line
//! (`crate::cli`, one instance) and the configuration file ([`file`], any
//! number of instances). Nothing here knows about clap, TOML or the XDP
//! loader; those convert at their own boundary. The format and its checks
//! are described in docs/config.md.
pub(crate) mod exposure;
pub mod file;
pub mod host;
pub mod import_ucarp;
mod passfile;

use std::{
    fmt,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use zeroize::{ZeroizeOnDrop, Zeroizing};

pub use passfile::{PassfileError, passfile_line, read_passfile, readable_by_others};

/// Default CARP multicast group.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ucarp's limit: the key is copied with its NUL into a 20-byte buffer.
pub const MAX_PASSWORD_LEN: usize = 19;
/// ucarp reads at most this many characters of a password file's first line.
pub const MAX_PASSFILE_LINE: usize = 511;
/// Advert interval in seconds when none is given (ucarp's).
pub const DEFAULT_ADVBASE: u8 = 1;
/// Master-down ratio when none is given (ucarp's).
pub const DEFAULT_DEADRATIO: u32 = 3;
/// How long an up/down script may run before it is killed.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Where the status socket listens unless told otherwise.
pub const DEFAULT_STATUS_SOCKET: &str = "/run/xcarp/status.sock";
/// The XDP program checks digests over at most this many addresses; an
/// instance may have more, and then the daemon alone checks them
/// (docs/xdp.md, "HMAC in the kernel").
pub const KERNEL_HMAC_MAX_ADDRESSES: usize = 8;

/// Most instances one process runs: the XDP program's VHID table holds
/// this many entries (docs/config.md, "Checks").
pub const MAX_INSTANCES: usize = carp_common::MAX_VHID_ENTRIES as usize;

/// Accepted ranges, shared by the command line and the file.
pub mod range {
    use std::ops::RangeInclusive;
    pub const VHID: RangeInclusive<u64> = 1..=255;
    pub const ADVBASE: RangeInclusive<u64> = 0..=255;
    pub const ADVSKEW: RangeInclusive<u64> = 0..=255;
    pub const DEADRATIO: RangeInclusive<u64> = 1..=255;
    pub const SCRIPT_TIMEOUT: RangeInclusive<u64> = 1..=3600;
    /// 802.1Q VLAN id; 0 means untagged.
    pub const VLAN: RangeInclusive<u64> = 0..=4094;
    /// A health check's `fall` and `rise`: consecutive runs.
    pub const CHECK_RUNS: RangeInclusive<u64> = 1..=255;
    /// A health check's `interval` and `timeout`, in milliseconds: from a
    /// tenth of a second (a check is a process start) to an hour.
    pub const CHECK_PERIOD_MS: RangeInclusive<u64> = 100..=3_600_000;
}

/// Seconds between two runs of a health check when none is given.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Consecutive failed runs before a check counts as failing.
pub const DEFAULT_CHECK_FALL: u32 = 3;
/// Consecutive successful runs before a failing check counts as passing
/// again.
pub const DEFAULT_CHECK_RISE: u32 = 2;

/// Everything one xcarp process runs: process-wide settings and the
/// instances (one VHID on one interface and VLAN each).
#[derive(Clone, Debug)]
pub struct Settings {
    pub global: Global,
    /// At least one; unique by [`Instance::key`] and by name, and no
    /// virtual address appears in two of them.
    pub instances: Vec<Instance>,
    /// Problems that do not stop the daemon (a password readable by other
    /// users), to log once logging is set up.
    pub warnings: Vec<String>,
}

/// Settings of the process as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    pub facility: Facility,
    /// Absolute.
    pub pidfile: Option<PathBuf>,
    pub script_timeout: Duration,
    /// Absolute. Where the status socket listens.
    pub status_socket: PathBuf,
    /// Where the metrics endpoint listens; None: no metrics.
    pub metrics_listen: Option<SocketAddr>,
    pub debug: bool,
    /// Run in the background (`-B`). Only the command line sets it: how the
    /// process runs is the service manager's business, not the file's.
    pub daemonize: bool,
    /// The configuration file these settings came from (`--config`), which
    /// SIGHUP reads again; None for the command line.
    pub config_file: Option<PathBuf>,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            facility: Facility::default(),
            pidfile: None,
            script_timeout: DEFAULT_SCRIPT_TIMEOUT,
            status_socket: PathBuf::from(DEFAULT_STATUS_SOCKET),
            metrics_listen: None,
            debug: false,
            daemonize: false,
            config_file: None,
        }
    }
}

/// One virtual host: a VHID, its addresses and how to elect a master for
/// them. Everything ucarp takes per process.
#[derive(Clone, Debug)]
pub struct Instance {
    /// For logs, status and metrics; unique in a [`Settings`].
    pub name: String,
    /// None: the first interface that is up, not loopback (the command
    /// line's default; the file always names one).
    pub interface: Option<String>,
    /// 802.1Q VLAN id the adverts arrive tagged with on `interface`; 0 for
    /// untagged frames (an instance on `eth0.100` itself sees untagged
    /// frames).
    pub vlan: u16,
    pub vhid: u8,
    /// This host's own address: the adverts' source.
    pub srcip: Ipv4Addr,
    /// At least one, no duplicates, in the order given. The HMAC covers
    /// them in [`hmac_order`], not in this order.
    pub addresses: Vec<VirtualAddress>,
    /// IP destination of the adverts (always, even with `nomcast`).
    pub group: Ipv4Addr,
    /// Broadcast Ethernet destination instead of the group's multicast MAC.
    pub nomcast: bool,
    /// The HMAC key, 1 to 19 bytes.
    pub password: Password,
    /// The file `password` was read from, None when it was given inline;
    /// a reload reads it again.
    pub passfile: Option<PathBuf>,
    pub advbase: u8,
    pub advskew: u8,
    pub deadratio: u32,
    pub preempt: bool,
    pub neutral: bool,
    /// On SIGTERM and the like, a master runs its downscript first (`-z`).
    pub shutdown: bool,
    /// Ignore carrier loss (`-S`).
    pub ignore_ifstate: bool,
    /// Absolute.
    pub upscript: Option<PathBuf>,
    /// Absolute.
    pub downscript: Option<PathBuf>,
    /// Third argument to the scripts.
    pub xparam: Option<String>,
    pub xdp_mode: XdpMode,
    pub tie_break: TieBreak,
    /// Number adverts in a stream of our own and drop received adverts
    /// that are replays by the freshness rule (docs/xdp.md, "Freshness");
    /// false: ucarp's counters, no check.
    pub replay_protection: bool,
    /// Commands whose failure demotes the instance (docs/config.md,
    /// "Health checks"); unique by name. Only the file sets them.
    pub checks: Vec<HealthCheck>,
    /// Interfaces each of which, while down or missing, demotes the
    /// instance by one; no duplicates. Only the file sets them.
    pub track_interfaces: Vec<String>,
}

/// A command run at intervals whose exit status says whether the service
/// behind a virtual address is healthy (docs/config.md, "Health checks").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// For logs and status; unique within its instance.
    pub name: String,
    /// Absolute. Run without a shell.
    pub program: PathBuf,
    /// The arguments after the program.
    pub args: Vec<String>,
    /// From the start of one run to the start of the next.
    pub interval: Duration,
    /// A run still going after this long is killed and counts as failed;
    /// at most `interval`.
    pub timeout: Duration,
    /// Consecutive failed runs that make a passing check fail.
    pub fall: u32,
    /// Consecutive successful runs that make a failing check pass.
    pub rise: u32,
}

impl Instance {
    /// What identifies the instance on the wire: no two instances of a
    /// [`Settings`] share it (the XDP program keys its VHID table the same
    /// way).
    #[must_use]
    pub fn key(&self) -> (Option<&str>, u16, u8) {
        (self.interface.as_deref(), self.vlan, self.vhid)
    }

    /// The addresses the HMAC covers, in the order it covers them.
    #[must_use]
    pub fn hmac_addresses(&self) -> Vec<Ipv4Addr> {
        hmac_order(&self.addresses.iter().map(|a| a.addr).collect::<Vec<_>>())
    }

    /// The name an instance gets when none is given:
    /// `eth0/vhid42`, `eth0/vlan100/vhid42`, or `vhid42` without interface.
    #[must_use]
    pub fn default_name(interface: Option<&str>, vlan: u16, vhid: u8) -> String {
        let mut name = String::new();
        if let Some(interface) = interface {
            name.push_str(interface);
            name.push('/');
        }
        if vlan != 0 {
            name.push_str(&format!("vlan{vlan}/"));
        }
        name.push_str(&format!("vhid{vhid}"));
        name
    }
}

/// A virtual address and its text as the operator typed it (the scripts get
/// the text, as ucarp passes its `--addr` argument).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualAddress {
    pub addr: Ipv4Addr,
    pub typed: String,
}

impl VirtualAddress {
    #[must_use]
    pub fn new(addr: Ipv4Addr) -> Self {
        Self {
            addr,
            typed: addr.to_string(),
        }
    }
}

/// The addresses the CARP HMAC covers, in the order it covers them
/// (docs/protocol.md, "Several addresses on one VHID").
///
/// One address: that address, as ucarp hashes its `--addr`. Several: as the
/// BSD kernels do, each distinct address once, in ascending numeric order
/// (the 32-bit value of the dotted quad, most significant octet first),
/// leaving out 0.0.0.0 and 255.255.255.255, which their selection loop can
/// never pick.
#[must_use]
pub fn hmac_order(addresses: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    if let [one] = addresses {
        return vec![*one];
    }
    let mut sorted: Vec<Ipv4Addr> = addresses
        .iter()
        .copied()
        .filter(|a| !a.is_unspecified() && !a.is_broadcast())
        .collect();
    // Ipv4Addr orders by its octets, most significant first: the numeric
    // order of ntohl().
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// How to attach the XDP program. Plain data: the daemon converts it to
/// the loader's own type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Driver (native) mode, falling back to skb mode; if another program
    /// holds the XDP slot, a socket filter instead.
    #[default]
    Auto,
    /// Native mode only.
    Driver,
    /// Generic (skb) mode only.
    Skb,
}

impl XdpMode {
    /// The names the command line and the file accept.
    pub const NAMES: [&str; 3] = ["auto", "driver", "skb"];

    /// From its name (`auto`, `driver`, `skb`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Self::Auto),
            "driver" => Some(Self::Driver),
            "skb" => Some(Self::Skb),
            _ => None,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Driver => "driver",
            Self::Skb => "skb",
        }
    }
}

/// Equal-interval tie-break: the engine's own type, so that the command
/// line, the file and the engine share one definition.
pub use crate::engine::TieBreak;

/// A syslog facility, or none.
#[derive(Clone, Copy, Debug)]
pub enum Facility {
    None,
    Syslog(syslog::Facility),
}

impl Default for Facility {
    fn default() -> Self {
        Self::Syslog(syslog::Facility::LOG_DAEMON)
    }
}

impl PartialEq for Facility {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::None, Self::None) => true,
            // syslog::Facility is a plain C-like enum without PartialEq.
            (Self::Syslog(a), Self::Syslog(b)) => *a as i32 == *b as i32,
            _ => false,
        }
    }
}

impl Eq for Facility {}

/// Facility names, in the order help texts list them.
const FACILITIES: [(&str, syslog::Facility); 20] = {
    use syslog::Facility as F;
    [
        ("auth", F::LOG_AUTH),
        ("authpriv", F::LOG_AUTHPRIV),
        ("cron", F::LOG_CRON),
        ("daemon", F::LOG_DAEMON),
        ("ftp", F::LOG_FTP),
        ("kern", F::LOG_KERN),
        ("lpr", F::LOG_LPR),
        ("mail", F::LOG_MAIL),
        ("news", F::LOG_NEWS),
        ("syslog", F::LOG_SYSLOG),
        ("user", F::LOG_USER),
        ("uucp", F::LOG_UUCP),
        ("local0", F::LOG_LOCAL0),
        ("local1", F::LOG_LOCAL1),
        ("local2", F::LOG_LOCAL2),
        ("local3", F::LOG_LOCAL3),
        ("local4", F::LOG_LOCAL4),
        ("local5", F::LOG_LOCAL5),
        ("local6", F::LOG_LOCAL6),
        ("local7", F::LOG_LOCAL7),
    ]
};

impl Facility {
    /// What [`Facility::from_name`] accepts, for error messages.
    pub const ACCEPTED: &str = "none, auth, authpriv, cron, daemon, ftp, kern, lpr, mail, news, syslog, user, uucp or local0-local7";

    /// A facility name, case-insensitive as ucarp's, or `none`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower == "none" {
            return Some(Self::None);
        }
        FACILITIES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, f)| Self::Syslog(*f))
    }

    /// The lower-case name [`Facility::from_name`] reads back.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Syslog(f) => FACILITIES
                .iter()
                .find(|(_, g)| *g as i32 == f as i32)
                .map_or("daemon", |(n, _)| n),
        }
    }
}

/// A password: never printed, not even in debug output, and overwritten
/// with zeros when dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    #[must_use]
    pub fn new(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Hands the password over and leaves an empty one, so that the daemon
    /// can drop it (and wipe it) as soon as the HMAC key is derived.
    #[must_use]
    pub fn take(&mut self) -> Self {
        std::mem::take(self)
    }
}

// The only field is a `Zeroizing`, which wipes the bytes on drop.
impl ZeroizeOnDrop for Password {}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests;
