//! Loading and attaching the XDP program, configuring it through its maps,
//! reading its counters and the adverts it hands over.
//!
//! The object is built by `build.rs` and embedded here. Attachments are
//! bpf_link based where the kernel allows it, so they vanish with the process
//! even on SIGKILL; dropping [`XdpAttachment`] detaches explicitly.
//!
//! Each attachment loads its own copy of the program and its maps, so the
//! counters are per interface. The kernel side's maps and record layouts are
//! defined in `carp_common`; `docs/xdp.md` describes the verdicts.
use std::{fmt, io, net::Ipv4Addr};

use aya::{
    Ebpf,
    maps::{HashMap, MapData, MapError, PerCpuArray, RingBuf},
    programs::{ProgramError, TestRun as _, TestRunOptions, TestRunResult, Xdp, XdpMode},
};
use carp_common::{
    AdvertRecord, MAP_COUNTERS, MAP_EVENTS, MAP_VHIDS, MAX_OWN_ADDRS, VHID_FLAG_BROADCAST,
    VHID_FLAG_ENABLED, VHID_FLAG_HMAC, VHID_FLAG_REJECT_REPLAYS, VLAN_ID_MASK, VhidConfig, VhidKey,
    XDP_PROGRAM_NAME, counter,
};
use tokio::io::unix::AsyncFd;

use crate::auth::KernelHmac;

/// The eBPF object built from `carp-ebpf`, or an empty stub when it was built
/// without bpf-linker (see build.rs).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/carp"));

/// How to attach the XDP program (`--xdp-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// Driver (native) mode, falling back to skb (generic) mode.
    #[default]
    Auto,
    /// Native mode only: fail if the driver has no XDP support.
    Driver,
    /// Generic mode: works on every interface, slower.
    Skb,
}

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(
        "this xcarp was built without its XDP program (bpf-linker was missing at build time); \
         run `cargo xtask build-ebpf` and rebuild"
    )]
    StubObject,
    #[error("loading the eBPF object failed: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object has no program named {XDP_PROGRAM_NAME}")]
    MissingProgram,
    #[error("the kernel rejected the XDP program: {0}")]
    Verify(#[source] Box<ProgramError>),
    #[error("attaching XDP to {interface} in {mode} mode failed: {source}{hint}")]
    Attach {
        interface: String,
        mode: &'static str,
        hint: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("no interface named {interface}: {source}")]
    Interface {
        interface: String,
        #[source]
        source: nix::Error,
    },
    #[error("the eBPF object has no map named {0} (or its reader was already taken)")]
    MissingMap(&'static str),
    #[error("accessing the XDP map {map} failed: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: Box<MapError>,
    },
    #[error("VHID {0} is out of range (1..=255)")]
    InvalidVhid(u8),
    #[error("VLAN id {0} is out of range (0 for untagged, 1..=4094)")]
    InvalidVlan(u16),
    #[error("VHID {vhid}: {count} own addresses given, the XDP filter holds at most {max}")]
    TooManyOwnAddrs { vhid: u8, count: usize, max: usize },
    #[error("waiting on the advert ring buffer failed: {0}")]
    Ring(#[source] io::Error),
    #[error("the advert ring buffer held a {len}-byte record, expected {expected}")]
    BadRecord { len: usize, expected: usize },
    #[error("BPF_PROG_TEST_RUN of {program} failed: {source}")]
    TestRun {
        program: String,
        #[source]
        source: Box<ProgramError>,
    },
}

impl From<aya::EbpfError> for XdpError {
    fn from(err: aya::EbpfError) -> Self {
        Self::Load(Box::new(err))
    }
}

/// Whether this binary carries the real XDP program.
#[must_use]
pub fn object_is_embedded() -> bool {
    !EBPF_OBJECT.is_empty()
}

/// The embedded object's bytes (empty for a stub build).
#[must_use]
pub fn object_bytes() -> &'static [u8] {
    EBPF_OBJECT
}

/// What the XDP filter accepts for one VHID on its interface.
#[derive(Clone, Copy, Debug)]
pub struct VhidSettings<'a> {
    /// 1..=255.
    pub vhid: u8,
    /// 802.1Q VLAN id the adverts arrive tagged with on this interface, 0
    /// for untagged frames (an instance on `eth0.N`'s own interface sees
    /// untagged frames too).
    pub vlan: u16,
    /// The IP destination adverts carry (ucarp `--mcast`, default 224.0.0.18).
    pub group: Ipv4Addr,
    /// ucarp `--nomcast`: adverts arrive with Ethernet destination
    /// ff:ff:ff:ff:ff:ff (the IP destination is still `group`).
    pub broadcast: bool,
    /// Our own source addresses for this VHID (ucarp `--srcip`): adverts
    /// from them are our own and are dropped. At most
    /// [`carp_common::MAX_OWN_ADDRS`].
    pub own_addrs: &'a [Ipv4Addr],
    /// The keyed HMAC: with it, adverts whose digest is wrong are dropped
    /// in the kernel (`bad_digest`) and never reach the ring.
    pub hmac: Option<&'a KernelHmac>,
    /// Most records per second (per CPU) this instance may write to the
    /// ring, 0 for no limit; the daemon uses
    /// [`carp_common::RING_BUDGET_PER_SECOND`].
    pub ring_budget: u32,
    /// Drop authentic adverts the freshness rule calls replays
    /// (`replayed`; docs/xdp.md, "Freshness"). Takes effect only with
    /// `hmac`.
    pub reject_replays: bool,
}

/// The XDP program's counters of one attachment, summed over all CPUs. Each
/// frame the program sees moves exactly one of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpCounters {
    /// Not IPv4 protocol 112: passed.
    pub not_carp: u64,
    /// Protocol 112 for a VHID not configured here: passed.
    pub foreign_vhid: u64,
    /// Protocol 112 without a readable VHID (bad IP version/IHL, cut short):
    /// passed to the IP stack, which drops it.
    pub malformed: u64,
    /// Adverts handed to the daemon.
    pub accepted: u64,
    /// Dropped: IP fragment.
    pub fragment: u64,
    /// Dropped: TTL ≠ 255.
    pub bad_ttl: u64,
    /// Passed: our VHID's number but not a CARP v2 advertisement (version,
    /// type or authlen differ; e.g. VRRP with the same id).
    pub not_advert: u64,
    /// Passed: fewer than 36 CARP bytes (e.g. VRRPv2 with the same id).
    pub truncated: u64,
    /// Dropped: IP total length inconsistent.
    pub bad_length: u64,
    /// Dropped: IP destination ≠ group, or not broadcast in broadcast mode.
    pub bad_destination: u64,
    /// Dropped: sent from one of our own addresses.
    pub own_frame: u64,
    /// Dropped: valid, but the ring buffer was full.
    pub ring_full: u64,
    /// Dropped: IPv4 header or CARP checksum does not verify.
    pub bad_checksum: u64,
    /// Dropped: HMAC-SHA1 does not verify.
    pub bad_digest: u64,
    /// Dropped: valid, but over the instance's ring budget.
    pub over_budget: u64,
    /// Dropped: authentic, but a replay by the freshness rule.
    pub replayed: u64,
}

impl XdpCounters {
    /// Builds the struct from per-index totals (`carp_common::counter`).
    #[must_use]
    pub fn from_totals(totals: &[u64; counter::COUNT as usize]) -> Self {
        let at = |i: u32| totals[i as usize];
        Self {
            not_carp: at(counter::NOT_CARP),
            foreign_vhid: at(counter::FOREIGN_VHID),
            malformed: at(counter::MALFORMED),
            accepted: at(counter::ACCEPTED),
            fragment: at(counter::FRAGMENT),
            bad_ttl: at(counter::BAD_TTL),
            not_advert: at(counter::NOT_ADVERT),
            truncated: at(counter::TRUNCATED),
            bad_length: at(counter::BAD_LENGTH),
            bad_destination: at(counter::BAD_DESTINATION),
            own_frame: at(counter::OWN_FRAME),
            ring_full: at(counter::RING_FULL),
            bad_checksum: at(counter::BAD_CHECKSUM),
            bad_digest: at(counter::BAD_DIGEST),
            over_budget: at(counter::OVER_BUDGET),
            replayed: at(counter::REPLAYED),
        }
    }

    /// The counter at a `carp_common::counter` index (0 for unknown
    /// indices).
    #[must_use]
    pub fn by_index(&self, index: u32) -> u64 {
        match index {
            counter::NOT_CARP => self.not_carp,
            counter::FOREIGN_VHID => self.foreign_vhid,
            counter::MALFORMED => self.malformed,
            counter::ACCEPTED => self.accepted,
            counter::FRAGMENT => self.fragment,
            counter::BAD_TTL => self.bad_ttl,
            counter::NOT_ADVERT => self.not_advert,
            counter::TRUNCATED => self.truncated,
            counter::BAD_LENGTH => self.bad_length,
            counter::BAD_DESTINATION => self.bad_destination,
            counter::OWN_FRAME => self.own_frame,
            counter::RING_FULL => self.ring_full,
            counter::BAD_CHECKSUM => self.bad_checksum,
            counter::BAD_DIGEST => self.bad_digest,
            counter::OVER_BUDGET => self.over_budget,
            counter::REPLAYED => self.replayed,
            _ => 0,
        }
    }

    /// All frames the program dropped.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.fragment
            + self.bad_ttl
            + self.bad_length
            + self.bad_destination
            + self.own_frame
            + self.ring_full
            + self.bad_checksum
            + self.bad_digest
            + self.over_budget
            + self.replayed
    }
}

impl fmt::Display for XdpCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted {} not-carp {} foreign-vhid {} malformed {} not-advert {} short {} \
             dropped {} (fragment {} ttl {} length {} destination {} own {} checksum {} digest {} replayed {} over-budget {} ring-full {})",
            self.accepted,
            self.not_carp,
            self.foreign_vhid,
            self.malformed,
            self.not_advert,
            self.truncated,
            self.dropped(),
            self.fragment,
            self.bad_ttl,
            self.bad_length,
            self.bad_destination,
            self.own_frame,
            self.bad_checksum,
            self.bad_digest,
            self.replayed,
            self.over_budget,
            self.ring_full,
        )
    }
}

/// A loaded XDP program attached to one interface (or loaded only, for
/// BPF_PROG_TEST_RUN). Dropping it detaches the program and unloads it.
pub struct XdpAttachment {
    ebpf: Ebpf,
    /// The interface given to [`Self::attach`] (or the one VHIDs are
    /// configured for by [`Self::configure_vhid`]).
    interface: String,
    ifindex: u32,
    /// The mode of the attachment [`Self::attach`] made.
    mode: Option<XdpMode>,
    /// Every interface the program (and so the same maps and ring) is
    /// attached to, the first one included, so that each can be detached
    /// alike.
    links: Vec<AttachedLink>,
}

/// One interface of an attachment.
struct AttachedLink {
    ifindex: u32,
    mode: XdpMode,
    link: aya::programs::xdp::XdpLinkId,
}

impl XdpAttachment {
    /// Loads the embedded object and attaches it to `interface`.
    pub fn attach(interface: &str, mode: AttachMode) -> Result<Self, XdpError> {
        let ifindex =
            nix::net::if_::if_nametoindex(interface).map_err(|source| XdpError::Interface {
                interface: interface.to_owned(),
                source,
            })?;
        let mut this = Self::load_unattached(ifindex)?;
        let (used, link) = attach_with_fallback(this.program_mut()?, interface, mode)?;
        this.interface = interface.to_owned();
        this.mode = Some(used);
        this.links.push(AttachedLink {
            ifindex,
            mode: used,
            link,
        });
        Ok(this)
    }

    /// Attaches the same program to one more interface: its frames reach
    /// the same maps and the same ring, and its VHIDs are configured with
    /// [`Self::configure_vhid_on`]. Returns the mode used.
    pub fn attach_also(
        &mut self,
        interface: &str,
        mode: AttachMode,
    ) -> Result<&'static str, XdpError> {
        let ifindex =
            nix::net::if_::if_nametoindex(interface).map_err(|source| XdpError::Interface {
                interface: interface.to_owned(),
                source,
            })?;
        let (used, link) = attach_with_fallback(self.program_mut()?, interface, mode)?;
        self.links.push(AttachedLink {
            ifindex,
            mode: used,
            link,
        });
        Ok(mode_name(used))
    }

    /// Detaches the program from an interface, the first one
    /// ([`Self::attach`]) as any other ([`Self::attach_also`]); its VHIDs
    /// are removed too, and [`Self::attach_also`] can attach it there
    /// again. An interface that is gone has lost its attachment already;
    /// that is not an error.
    pub fn detach_from(&mut self, ifindex: u32) -> Result<(), XdpError> {
        let Some(at) = self.links.iter().position(|l| l.ifindex == ifindex) else {
            return Ok(());
        };
        let link = self.links.remove(at).link;
        let _ = self.program_mut()?.detach(link);
        let keys: Vec<VhidKey> = self
            .vhids()?
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.ifindex == ifindex)
            .collect();
        for key in keys {
            let _ = self.vhids()?.remove(&key);
        }
        Ok(())
    }

    /// The mode the program is attached in on `ifindex`, if it is.
    #[must_use]
    pub fn mode_on(&self, ifindex: u32) -> Option<&'static str> {
        self.links
            .iter()
            .find(|l| l.ifindex == ifindex)
            .map(|l| mode_name(l.mode))
    }

    /// Loads the embedded object and the program without attaching it, with
    /// VHIDs to be configured for `ifindex`: for BPF_PROG_TEST_RUN, where the
    /// frames arrive on the loopback device of the caller's namespace.
    pub fn load_unattached(ifindex: u32) -> Result<Self, XdpError> {
        Self::load_object_unattached(EBPF_OBJECT, ifindex)
    }

    /// Like [`Self::load_unattached`] for another build of the program
    /// (the benchmark's object, which adds baseline programs).
    pub fn load_object_unattached(object: &[u8], ifindex: u32) -> Result<Self, XdpError> {
        if object.is_empty() {
            return Err(XdpError::StubObject);
        }
        let mut ebpf = Ebpf::load(object)?;
        release_freed_heap();
        let program: &mut Xdp = ebpf
            .program_mut(XDP_PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram)?
            .try_into()
            .map_err(|e| XdpError::Verify(Box::new(e)))?;
        program.load().map_err(|e| XdpError::Verify(Box::new(e)))?;
        Ok(Self {
            ebpf,
            interface: String::new(),
            ifindex,
            mode: None,
            links: Vec::new(),
        })
    }

    /// The mode the program ended up attached in ("none" when loaded only).
    #[must_use]
    pub fn mode_name(&self) -> &'static str {
        self.mode.map_or("none", mode_name)
    }

    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface index VHIDs are configured for.
    #[must_use]
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The loaded object, for map access.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// Accepts adverts for `settings.vhid` from now on (or replaces its
    /// settings). Takes effect for the next frame, without reloading.
    pub fn configure_vhid(&mut self, settings: VhidSettings<'_>) -> Result<(), XdpError> {
        self.configure_vhid_on(self.ifindex, settings)
    }

    /// [`Self::configure_vhid`] for the VHID on another attached interface.
    pub fn configure_vhid_on(
        &mut self,
        ifindex: u32,
        settings: VhidSettings<'_>,
    ) -> Result<(), XdpError> {
        if settings.vhid == 0 {
            return Err(XdpError::InvalidVhid(settings.vhid));
        }
        if settings.vlan >= VLAN_ID_MASK {
            return Err(XdpError::InvalidVlan(settings.vlan));
        }
        if settings.own_addrs.len() > MAX_OWN_ADDRS {
            return Err(XdpError::TooManyOwnAddrs {
                vhid: settings.vhid,
                count: settings.own_addrs.len(),
                max: MAX_OWN_ADDRS,
            });
        }
        let mut config = VhidConfig {
            flags: VHID_FLAG_ENABLED,
            group: settings.group.octets(),
            own_count: 0,
            own_addrs: [[0; 4]; MAX_OWN_ADDRS],
            hmac_inner: [0; 5],
            hmac_outer: [0; 5],
            hmac_block: [0; carp_common::SHA1_BLOCK_LEN],
            hmac_counter_at: 0,
            ring_budget: settings.ring_budget,
        };
        if let Some(hmac) = settings.hmac {
            config.flags |= VHID_FLAG_HMAC;
            config.hmac_inner = hmac.inner;
            config.hmac_outer = hmac.outer;
            config.hmac_block = hmac.block;
            config.hmac_counter_at = u32::try_from(hmac.counter_at).unwrap_or(u32::MAX);
            if settings.reject_replays {
                config.flags |= VHID_FLAG_REJECT_REPLAYS;
            }
        }
        if settings.broadcast {
            config.flags |= VHID_FLAG_BROADCAST;
        }
        for (slot, addr) in config.own_addrs.iter_mut().zip(settings.own_addrs) {
            *slot = addr.octets();
        }
        config.own_count = u32::try_from(settings.own_addrs.len()).unwrap_or(u32::MAX);
        let key = VhidKey {
            ifindex,
            vlan: settings.vlan,
            vhid: u16::from(settings.vhid),
        };
        self.vhids()?
            .insert(key, config, 0)
            .map_err(|source| XdpError::Map {
                map: MAP_VHIDS,
                source: Box::new(source),
            })
    }

    /// Stops accepting adverts for `vhid` on `vlan`: its frames pass again.
    /// Removing a VHID that is not configured is not an error.
    pub fn remove_vhid(&mut self, vlan: u16, vhid: u8) -> Result<(), XdpError> {
        self.remove_vhid_on(self.ifindex, vlan, vhid)
    }

    /// [`Self::remove_vhid`] on another attached interface.
    pub fn remove_vhid_on(&mut self, ifindex: u32, vlan: u16, vhid: u8) -> Result<(), XdpError> {
        let key = VhidKey {
            ifindex,
            vlan,
            vhid: u16::from(vhid),
        };
        match self.vhids()?.remove(&key) {
            Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
            Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => {
                Ok(())
            }
            Err(source) => Err(XdpError::Map {
                map: MAP_VHIDS,
                source: Box::new(source),
            }),
        }
    }

    /// The program's counters, summed over all CPUs.
    pub fn counters(&self) -> Result<XdpCounters, XdpError> {
        let map_err = |source| XdpError::Map {
            map: MAP_COUNTERS,
            source: Box::new(source),
        };
        let map = self
            .ebpf
            .map(MAP_COUNTERS)
            .ok_or(XdpError::MissingMap(MAP_COUNTERS))?;
        let array = PerCpuArray::<&MapData, u64>::try_from(map).map_err(map_err)?;
        let mut totals = [0u64; counter::COUNT as usize];
        for (index, total) in (0u32..).zip(totals.iter_mut()) {
            let values = array.get(&index, 0).map_err(map_err)?;
            *total = values.iter().copied().fold(0u64, u64::wrapping_add);
        }
        Ok(XdpCounters::from_totals(&totals))
    }

    /// Takes the advert ring buffer out of the program (once; a second call
    /// fails with [`XdpError::MissingMap`]). Must be called inside a tokio
    /// runtime. The reader stays valid after the attachment is dropped.
    pub fn advert_reader(&mut self) -> Result<AdvertReader, XdpError> {
        let map = self
            .ebpf
            .take_map(MAP_EVENTS)
            .ok_or(XdpError::MissingMap(MAP_EVENTS))?;
        let ring = RingBuf::try_from(map).map_err(|source| XdpError::Map {
            map: MAP_EVENTS,
            source: Box::new(source),
        })?;
        AdvertReader::new(ring)
    }

    /// Runs the XDP program once per `repeat` on `frame` with
    /// BPF_PROG_TEST_RUN (the frame arrives on the loopback device of the
    /// caller's network namespace).
    pub fn test_run(&self, frame: &[u8], repeat: u32) -> Result<TestRunResult, XdpError> {
        self.test_run_program(XDP_PROGRAM_NAME, frame, repeat)
    }

    /// Like [`Self::test_run`] for any loaded XDP program of the object
    /// (e.g. the benchmark's baselines, once loaded through
    /// [`Self::ebpf_mut`]).
    pub fn test_run_program(
        &self,
        name: &str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<TestRunResult, XdpError> {
        let test_run_err = |source| XdpError::TestRun {
            program: name.to_owned(),
            source: Box::new(source),
        };
        let program: &Xdp = self
            .ebpf
            .program(name)
            .ok_or(XdpError::MissingProgram)?
            .try_into()
            .map_err(test_run_err)?;
        program
            .test_run(TestRunOptions {
                data_in: Some(frame),
                repeat,
                ..TestRunOptions::default()
            })
            .map_err(test_run_err)
    }

    fn program_mut(&mut self) -> Result<&mut Xdp, XdpError> {
        self.ebpf
            .program_mut(XDP_PROGRAM_NAME)
            .ok_or(XdpError::MissingProgram)?
            .try_into()
            .map_err(|e| XdpError::Verify(Box::new(e)))
    }

    fn vhids(&mut self) -> Result<HashMap<&mut MapData, VhidKey, VhidConfig>, XdpError> {
        let map = self
            .ebpf
            .map_mut(MAP_VHIDS)
            .ok_or(XdpError::MissingMap(MAP_VHIDS))?;
        HashMap::try_from(map).map_err(|source| XdpError::Map {
            map: MAP_VHIDS,
            source: Box::new(source),
        })
    }
}

/// Reads the adverts the XDP program accepted, waking only when the kernel
/// signals the ring buffer (epoll through tokio; no polling). Each record is
/// copied once, out of the ring into the returned value.
pub struct AdvertReader {
    ring: AsyncFd<RingBuf<aya::maps::MapData>>,
}

impl AdvertReader {
    fn new(ring: RingBuf<aya::maps::MapData>) -> Result<Self, XdpError> {
        // SAFETY: (I/O safety contract of `register`) the ring buffer owns
        // its map fd and keeps it open as long as it lives; the `AsyncFd`
        // owns the ring buffer and deregisters before dropping it, and
        // nothing else closes or replaces the fd.
        #[allow(unsafe_code)]
        let ring = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(|e| XdpError::Ring(e.into()))?;
        Ok(Self { ring })
    }

    /// The next advert, waiting for one if the ring is empty. Cancel-safe:
    /// a record is only taken out of the ring by the poll that returns it,
    /// so dropping the future (e.g. in `tokio::select!`) loses nothing.
    pub async fn next(&mut self) -> Result<AdvertRecord, XdpError> {
        loop {
            let mut guard = self.ring.readable_mut().await.map_err(XdpError::Ring)?;
            if let Some(record) = read_one(guard.get_inner_mut())? {
                return Ok(record);
            }
            // Empty: forget this readiness event (a record submitted since
            // the guard was taken raises a new one) and wait for the next.
            guard.clear_ready();
        }
    }

    /// Appends every advert already in the ring to `out` without waiting;
    /// returns how many.
    pub fn drain_into(&mut self, out: &mut Vec<AdvertRecord>) -> Result<usize, XdpError> {
        let ring = self.ring.get_mut();
        let before = out.len();
        while let Some(record) = read_one(ring)? {
            out.push(record);
        }
        Ok(out.len() - before)
    }

    /// The next advert if one is in the ring, without waiting.
    pub fn try_next(&mut self) -> Result<Option<AdvertRecord>, XdpError> {
        read_one(self.ring.get_mut())
    }
}

fn read_one(ring: &mut RingBuf<MapData>) -> Result<Option<AdvertRecord>, XdpError> {
    let Some(item) = ring.next() else {
        return Ok(None);
    };
    let bytes: &[u8] = &item;
    if bytes.len() != size_of::<AdvertRecord>() {
        return Err(XdpError::BadRecord {
            len: bytes.len(),
            expected: size_of::<AdvertRecord>(),
        });
    }
    Ok(Some(bytemuck::pod_read_unaligned(bytes)))
}

/// Loading parses the kernel's whole BTF (aya's loader always does, several
/// MB on current kernels) and frees it again; give that memory back to the
/// system instead of keeping it in the allocator for the daemon's lifetime.
fn release_freed_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it has
    // no preconditions and touches no live allocation.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

fn attach_with_fallback(
    program: &mut Xdp,
    interface: &str,
    mode: AttachMode,
) -> Result<(XdpMode, aya::programs::xdp::XdpLinkId), XdpError> {
    let attached = match mode {
        AttachMode::Driver => attach_in(program, interface, XdpMode::Driver)?,
        AttachMode::Skb => attach_in(program, interface, XdpMode::Skb)?,
        AttachMode::Auto => match attach_in(program, interface, XdpMode::Driver) {
            Ok(attached) => attached,
            Err(err) => {
                tracing::info!("{err}; falling back to skb (generic) mode");
                attach_in(program, interface, XdpMode::Skb)?
            }
        },
    };
    tracing::debug!(
        interface,
        mode = mode_name(attached.0),
        "XDP program attached"
    );
    Ok(attached)
}

fn attach_in(
    program: &mut Xdp,
    interface: &str,
    mode: XdpMode,
) -> Result<(XdpMode, aya::programs::xdp::XdpLinkId), XdpError> {
    program
        .attach(interface, mode)
        .map(|link| (mode, link))
        .map_err(|source| XdpError::Attach {
            interface: interface.to_owned(),
            mode: mode_name(mode),
            hint: if mode == XdpMode::Driver {
                " (the driver may lack native XDP: try --xdp-mode skb)"
            } else {
                ""
            },
            source: Box::new(source),
        })
}

fn mode_name(mode: XdpMode) -> &'static str {
    match mode {
        XdpMode::Driver => "driver",
        XdpMode::Skb => "skb",
        XdpMode::Hardware => "hardware",
        XdpMode::Default => "default",
    }
}
