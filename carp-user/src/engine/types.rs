//! The engine's inputs and outputs.

use std::{fmt, net::Ipv4Addr, time::Duration};

pub use crate::severity::LogLevel;
use crate::wire::{CarpHeader, Ipv4Carp};

/// Monotonic time since an arbitrary epoch, supplied by the caller. The
/// engine never reads a clock.
pub type Instant = Duration;

/// How two masters with equal intervals decide who stays (docs/protocol.md §4.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TieBreak {
    /// ucarp on x86: the raw `s_addr` compared as a native little-endian
    /// u32, i.e. the address with its octets reversed (last octet most
    /// significant). The default, so mixed ucarp/xcarp clusters agree.
    #[default]
    Ucarp,
    /// Plain numeric order of the address ("lower IP wins", what ucarp's
    /// README promises and what ucarp does on big-endian hosts).
    Numeric,
}

impl TieBreak {
    /// The names the command line and the configuration file accept.
    pub const NAMES: [&str; 2] = ["ucarp", "numeric"];

    /// From its name (`ucarp`, `numeric`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ucarp" => Some(Self::Ucarp),
            "numeric" => Some(Self::Numeric),
            _ => None,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ucarp => "ucarp",
            Self::Numeric => "numeric",
        }
    }

    /// The key addresses are compared by: the lower key wins the tie.
    #[must_use]
    pub fn key(self, addr: Ipv4Addr) -> u32 {
        match self {
            Self::Ucarp => u32::from_le_bytes(addr.octets()),
            Self::Numeric => u32::from(addr),
        }
    }
}

/// How the engine numbers its adverts (docs/protocol.md §1 for ucarp's
/// scheme, docs/xdp.md "Freshness" for the sequenced one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterScheme {
    /// ucarp's: a random counter per advert until a valid advert arrives,
    /// then the last received counter + 1 (and adopted again on every
    /// advert received).
    #[default]
    Ucarp,
    /// xcarp's: a random stream id drawn at start in the top 24 bits, and
    /// a 40-bit value that only grows: the wall clock in milliseconds,
    /// or the last value + 1 when the clock has not moved on. Receivers see
    /// it advance like a clock and drop any advert of it that is not newer
    /// (docs/xdp.md, "Freshness").
    Sequenced {
        /// Wall-clock time (milliseconds since the Unix epoch) at the
        /// engine's `Instant` zero; the value is that plus the engine's
        /// monotonic time, so a wall-clock step never makes it go back.
        wall_ms_at_zero: u64,
    },
    /// OpenBSD's carp(4): one random "replay cookie" drawn at start, the
    /// same in every advert, never adopted (docs/protocol.md §8). For the
    /// simulator's peers; xcarp never sends it.
    FixedCookie,
    /// A FreeBSD variant: one random counter drawn at start, then + 1 per
    /// advert, adopting received counters as ucarp does. For the
    /// simulator's peers.
    RandomStart,
}

impl CounterScheme {
    /// Whether a received valid advert's counter becomes ours (ucarp's and
    /// FreeBSD's "adopt, then + 1", §1).
    #[must_use]
    pub fn adopts(self) -> bool {
        matches!(self, Self::Ucarp | Self::RandomStart)
    }
}

/// One virtual host's settings, as ucarp's command line gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    pub vhid: u8,
    /// `--advbase`, seconds.
    pub advbase: u8,
    /// `--advskew`, 1/256 s.
    pub advskew: u8,
    /// `--deadratio`: adverts missed before a backup takes over.
    pub deadratio: u32,
    /// `--preempt`.
    pub preempt: bool,
    /// `--neutral`: no down script on the initial BACKUP.
    pub neutral: bool,
    /// `--srcip`, for the equal-interval tie-break.
    pub src_ip: Ipv4Addr,
    pub tie_break: TieBreak,
    /// How adverts are numbered.
    pub counters: CounterScheme,
}

impl EngineConfig {
    /// ucarp's defaults: advbase 1, advskew 0, deadratio 3, no preempt, not
    /// neutral, little-endian tie-break, ucarp's counters.
    #[must_use]
    pub fn ucarp_defaults(vhid: u8, src_ip: Ipv4Addr) -> Self {
        Self {
            vhid,
            advbase: 1,
            advskew: 0,
            deadratio: 3,
            preempt: false,
            neutral: false,
            src_ip,
            tie_break: TieBreak::default(),
            counters: CounterScheme::Ucarp,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Init => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
        })
    }
}

/// An advert that passed every check, HMAC included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedAdvert {
    pub src_ip: Ipv4Addr,
    pub advbase: u8,
    pub advskew: u8,
    /// OpenBSD's demotion counter (docs/protocol.md, "Demotion"): a
    /// less demoted peer wins whatever the intervals; ucarp sends 0.
    pub demote: u8,
    pub counter: u64,
}

impl ReceivedAdvert {
    /// The engine's view of an authentic CARP header sent from `src`.
    #[must_use]
    pub fn from_header(header: &CarpHeader, src: Ipv4Addr) -> Self {
        Self {
            src_ip: src,
            advbase: header.advbase,
            advskew: header.advskew,
            demote: header.demote,
            counter: header.counter,
        }
    }

    /// The engine's view of an authentic advert packet.
    #[must_use]
    pub fn from_packet(packet: &Ipv4Carp) -> Self {
        Self::from_header(&packet.carp, packet.src)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// BACKUP: no advert heard for the master-down interval.
    MasterDown,
    /// MASTER: time for the next advert.
    Advert,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The daemon is up: INIT → BACKUP.
    Start,
    Advert(ReceivedAdvert),
    /// A timer armed with [`Action::ArmTimer`] expired. Pass its scheduled
    /// time as `now` so the advert schedule does not drift.
    TimerFired(Timer),
    /// Carrier lost (not sent with `--ignoreifstate`).
    LinkDown,
    LinkUp,
    /// SIGUSR2: step down if not BACKUP.
    Demote,
    /// Exit with `--shutdown`, or the instance is removed: a MASTER bows
    /// out (one advert with advbase and advskew 255) and releases the VIP.
    Shutdown,
    /// A planned stop (SIGTERM with `--shutdown`): like [`Event::Shutdown`],
    /// but a MASTER keeps the VIP after its bow-out until a successor's
    /// advert arrives or one master-down interval has passed, so that
    /// clients are served until the new master answers (a ucarp backup
    /// hears the bow-out up to a second late). Then it runs the downscript
    /// and stops, as [`Engine::finished`] tells.
    HandOver,
    /// The instance's demotion changed (failing checks, tracked interfaces
    /// down; 0: healthy). While demoted the adverts carry advskew 240 and
    /// the level in the demote byte; a MASTER that becomes demoted bows out
    /// and steps down so that a healthy peer takes over at once.
    SetDemotion(u8),
    /// Outcome of the frame write for the last [`Action::SendAdvert`].
    SendResult {
        ok: bool,
    },
    /// A script asked for with [`Action::RunScript`] ended (exited, failed
    /// to start, was killed at its timeout, or was not configured). Scripts
    /// finish in the order they were asked for.
    ScriptFinished(Script),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    Up,
    Down,
}

/// What the daemon must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send one advert now. `advskew` is already 240 while preemption is
    /// suppressed or the instance is demoted; advbase and advskew are both
    /// 255 in a bow-out. The daemon computes the digest for `counter`,
    /// builds the frame and reports [`Event::SendResult`].
    SendAdvert {
        advbase: u8,
        advskew: u8,
        /// The demote byte (OpenBSD's demotion counter; 0 when healthy).
        demote: u8,
        counter: u64,
    },
    /// Send one gratuitous ARP for the VIP. Never while an up-script the
    /// engine asked for is still running: the VIP may not be configured yet.
    SendGarp,
    /// Run the up or down script.
    RunScript(Script),
    /// (Re)arm `timer` to fire at `at`, replacing any earlier deadline.
    ArmTimer {
        timer: Timer,
        at: Instant,
    },
    CancelTimer(Timer),
    /// A log line with ucarp's exact text.
    Log {
        level: LogLevel,
        message: String,
    },
}
