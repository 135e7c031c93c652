//! Types and constants shared by the XDP program (`carp-ebpf`) and the daemon
//! (`carp-user`).
//!
//! Every struct that crosses the kernel/user boundary is `#[repr(C)]`, derives
//! bytemuck's `Pod` (which rejects padding at compile time) and carries a
//! compile-time size assertion, so both sides agree on the layout byte for byte.
#![no_std]

use bytemuck::{Pod, Zeroable};

/// IPv4 protocol number of CARP (shared with VRRP).
pub const IPPROTO_CARP: u8 = 112;
/// Length of the CARP header that follows the IPv4 header.
pub const CARP_HEADER_LEN: usize = 36;
/// The only CARP version on the wire.
pub const CARP_VERSION: u8 = 2;
/// The only CARP message type.
pub const CARP_TYPE_ADVERTISEMENT: u8 = 1;
/// Adverts must arrive with TTL 255 (they are link-local).
pub const CARP_TTL: u8 = 255;
/// Default multicast group, 224.0.0.18, in network byte order.
pub const CARP_DEFAULT_GROUP: [u8; 4] = [224, 0, 0, 18];

/// Name of the XDP program inside the eBPF object.
pub const XDP_PROGRAM_NAME: &str = "xcarp";

/// One advertisement handed from the XDP program to userspace through the
/// ring buffer. The daemon verifies the HMAC; the kernel side has already
/// checked everything that does not need the password.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct AdvertRecord {
    /// `bpf_ktime_get_ns()` at reception (CLOCK_MONOTONIC).
    pub timestamp_ns: u64,
    /// Interface the frame arrived on.
    pub ifindex: u32,
    /// IPv4 source address, network byte order.
    pub src_ip: [u8; 4],
    /// IPv4 destination address, network byte order.
    pub dst_ip: [u8; 4],
    /// Ethernet source address.
    pub src_mac: [u8; 6],
    /// 802.1Q VLAN id the frame carried, or 0 when untagged.
    pub vlan_id: u16,
    /// The CARP header exactly as received.
    pub carp: [u8; CARP_HEADER_LEN],
}

const _: () = assert!(core::mem::size_of::<AdvertRecord>() == 64);

/// Name of the empty `XDP_PASS` program the benchmark measures beside
/// [`XDP_PROGRAM_NAME`]. It lives in the benchmark object (`carp-bench`),
/// never in the daemon's.
pub const XDP_BASELINE_PROGRAM_NAME: &str = "xcarp_baseline_pass";
/// 802.1Q VLAN ids are 12 bits.
pub const VLAN_ID_MASK: u16 = 0x0fff;
/// Map: `HashMap<VhidKey, VhidConfig>`, the configured VHIDs.
pub const MAP_VHIDS: &str = "VHIDS";
/// Map: `PerCpuArray<u64>` indexed by [`counter`] index.
pub const MAP_COUNTERS: &str = "COUNTERS";
/// Map: `RingBuf` of [`AdvertRecord`]s.
pub const MAP_EVENTS: &str = "EVENTS";
/// Capacity of [`MAP_VHIDS`].
pub const MAX_VHID_ENTRIES: u32 = 1024;
/// Size of the [`MAP_EVENTS`] ring buffer in bytes (a power of two and a
/// multiple of the page size): about 3,600 records of 72 bytes with header.
pub const EVENTS_RING_BYTES: u32 = 256 * 1024;
/// How many own source addresses one VHID can list.
pub const MAX_OWN_ADDRS: usize = 8;

/// [`VhidConfig::flags`]: the VHID is active; without it frames pass as if
/// it were not configured.
pub const VHID_FLAG_ENABLED: u32 = 1 << 0;
/// [`VhidConfig::flags`]: broadcast (ucarp `--nomcast`) mode: adverts must
/// arrive with Ethernet destination ff:ff:ff:ff:ff:ff (IP destination is
/// still the group).
pub const VHID_FLAG_BROADCAST: u32 = 1 << 1;
/// [`VhidConfig::flags`]: the `hmac_*` fields are set; the program verifies
/// each advert's HMAC-SHA1 and drops a wrong one (`BAD_DIGEST`).
pub const VHID_FLAG_HMAC: u32 = 1 << 2;
/// [`VhidConfig::flags`]: drop authentic adverts that [`freshness::judge`]
/// calls replays (`REPLAYED`; docs/xdp.md, "Freshness"). Only honoured
/// together with [`VHID_FLAG_HMAC`]: state is learned from authentic
/// adverts only, so a forged counter cannot poison it.
pub const VHID_FLAG_REJECT_REPLAYS: u32 = 1 << 3;
/// Map: `LruHashMap<ReplayKey, freshness::StreamState>`, what is known of
/// each (instance, counter stream).
pub const MAP_REPLAY_STATE: &str = "REPLAY_STATE";
/// Capacity of [`MAP_REPLAY_STATE`]. New entries come only from authentic
/// adverts of a stream not seen before: a process start of an xcarp peer,
/// a new OpenBSD replay cookie, or each advert of a ucarp or FreeBSD peer
/// that has not yet heard another node (docs/xdp.md, "Freshness", for what
/// eviction means).
pub const MAX_REPLAY_ENTRIES: u32 = 16384;
/// Map: `LruHashMap<SourceKey, u64>`, the counter of the last authentic
/// advert seen per (instance, IPv4 source), whatever its verdict: what
/// tells a fixed-cookie sender's repeat from a replay
/// ([`freshness::judge`]).
pub const MAP_REPLAY_SOURCES: &str = "REPLAY_SOURCES";
/// Capacity of [`MAP_REPLAY_SOURCES`]: a few legitimate sources per
/// instance; replays with forged sources age out first.
pub const MAX_REPLAY_SOURCES: u32 = 4096;

/// SHA-1 block size: the HMAC's inner message (version, type, VHID, the
/// addresses, the counter) and its padding fit one block for up to
/// [`MAX_HMAC_ADDRS`] addresses.
pub const SHA1_BLOCK_LEN: usize = 64;
/// Most virtual addresses one VHID's HMAC covers in the kernel (3 + 4·8 +
/// 8 bytes of message plus 9 of padding fit one block).
pub const MAX_HMAC_ADDRS: usize = 8;

/// Key of [`MAP_VHIDS`]: interface, VLAN and VHID. An instance on `eth0`
/// serves untagged frames (`vlan` 0) only; a frame tagged with VLAN N
/// belongs to an instance only if one is configured for N, so a same-VHID
/// cluster on `eth0.N` keeps its adverts (docs/xdp.md, "VLANs").
/// `vhid` is a `u16` (holding 1..=255) so that the struct has no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct VhidKey {
    /// Interface index the frame arrives on (`xdp_md.ingress_ifindex`).
    pub ifindex: u32,
    /// 802.1Q VLAN id (12 bits) of the frame, 0 when untagged or
    /// priority-tagged.
    pub vlan: u16,
    /// Virtual host id, 1..=255.
    pub vhid: u16,
}

const _: () = assert!(core::mem::size_of::<VhidKey>() == 8);

/// Key of [`MAP_REPLAY_STATE`]: an instance and one counter stream.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct ReplayKey {
    pub ifindex: u32,
    pub vlan: u16,
    pub vhid: u16,
    /// [`freshness::stream`] of the counter.
    pub stream: u32,
}

const _: () = assert!(core::mem::size_of::<ReplayKey>() == 12);

/// Key of [`MAP_REPLAY_SOURCES`]: an instance and one IPv4 source address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct SourceKey {
    pub ifindex: u32,
    pub vlan: u16,
    pub vhid: u16,
    /// IPv4 source address, network byte order.
    pub src: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<SourceKey>() == 12);

pub mod freshness;

/// Value of [`MAP_VHIDS`]: what the XDP program checks for one VHID.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct VhidConfig {
    /// `VHID_FLAG_*` bits.
    pub flags: u32,
    /// Group (IP destination of adverts), network byte order.
    pub group: [u8; 4],
    /// How many entries of `own_addrs` are used (0..=[`MAX_OWN_ADDRS`]).
    pub own_count: u32,
    /// Our own source addresses for this VHID, network byte order: adverts
    /// from them are our own, looped back, and are dropped.
    pub own_addrs: [[u8; 4]; MAX_OWN_ADDRS],
    /// SHA-1 state after compressing the key XOR ipad block: the HMAC's
    /// inner hash starts here (docs/xdp.md, "HMAC in the kernel").
    pub hmac_inner: [u32; 5],
    /// SHA-1 state after compressing the key XOR opad block.
    pub hmac_outer: [u32; 5],
    /// The inner hash's only block: `02 01 vhid addrs…`, eight zero bytes
    /// where each advert's counter goes, then SHA-1 padding and the bit
    /// length of ipad block + message.
    pub hmac_block: [u8; SHA1_BLOCK_LEN],
    /// Offset of the counter in `hmac_block` (3 + 4 · addresses).
    pub hmac_counter_at: u32,
    /// Most records this instance may put in the ring per second on one
    /// CPU (0: no limit). Bounds what a burst for one instance takes of the
    /// ring all instances share (docs/xdp.md, "Ring protection").
    pub ring_budget: u32,
}

const _: () = assert!(
    core::mem::size_of::<VhidConfig>() == 12 + 4 * MAX_OWN_ADDRS + 2 * 20 + SHA1_BLOCK_LEN + 8
);

/// The ring budget the daemon gives each instance (records per second per
/// CPU): authentic adverts arrive at most 256 a second from one peer
/// (advbase 0, advskew 1), so this leaves room for two such peers, and the
/// daemon empties the ring far faster than a few instances fill it.
pub const RING_BUDGET_PER_SECOND: u32 = 512;

/// State of one instance's ring budget on one CPU (kernel-owned).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RingBudget {
    /// `bpf_ktime_get_ns()` when the current one-second window started.
    pub window_start_ns: u64,
    /// Records written in the current window.
    pub used: u64,
}

const _: () = assert!(core::mem::size_of::<RingBudget>() == 16);

/// Indices into [`MAP_COUNTERS`], one per verdict reason. Every frame the
/// program sees moves exactly one counter.
pub mod counter {
    /// Not IPv4 protocol 112 (after at most one 802.1Q tag): passed. Counting
    /// these costs about 1-2 ns per frame (`cargo xtask bench` shows it).
    pub const NOT_CARP: u32 = 0;
    /// Protocol 112 with a VHID not configured (or disabled) on this
    /// interface: passed (VRRP, other CARP daemons).
    pub const FOREIGN_VHID: u32 = 1;
    /// Protocol 112 but too malformed to read a VHID (bad IP version or IHL,
    /// frame ends before the VHID byte): passed, the IP stack drops it.
    pub const MALFORMED: u32 = 2;
    /// Valid advert for a configured VHID: written to the ring, dropped.
    pub const ACCEPTED: u32 = 3;
    /// IP fragment (MF set or offset ≠ 0): dropped.
    pub const FRAGMENT: u32 = 4;
    /// TTL ≠ 255: dropped.
    pub const BAD_TTL: u32 = 5;
    /// Protocol 112 with our VHID's number that is not a CARP v2
    /// advertisement (version, type or authlen differ), such as a VRRP
    /// frame of the same id: passed, since it is someone else's.
    pub const NOT_ADVERT: u32 = 6;
    /// Fewer than 36 CARP bytes in the frame (a VRRPv2 frame of the same id
    /// looks like this): passed, for the same reason.
    pub const TRUNCATED: u32 = 7;
    /// IP total length shorter than header + 36 or longer than the frame:
    /// dropped.
    pub const BAD_LENGTH: u32 = 8;
    /// IP destination ≠ group, or not Ethernet broadcast in broadcast mode:
    /// dropped.
    pub const BAD_DESTINATION: u32 = 9;
    /// Sent from one of our own addresses for this VHID: dropped.
    pub const OWN_FRAME: u32 = 10;
    /// Valid advert but the ring buffer was full: dropped.
    pub const RING_FULL: u32 = 11;
    /// IPv4 header checksum or CARP checksum does not verify: dropped.
    pub const BAD_CHECKSUM: u32 = 12;
    /// HMAC-SHA1 does not verify (wrong password, VHID or addresses, or a
    /// forged advert): dropped.
    pub const BAD_DIGEST: u32 = 13;
    /// Valid, but the instance used its ring budget for this second:
    /// dropped.
    pub const OVER_BUDGET: u32 = 14;
    /// Authentic, but a replay by the freshness rule (`freshness::judge`,
    /// `VHID_FLAG_REJECT_REPLAYS`): dropped.
    pub const REPLAYED: u32 = 15;
    /// Number of counters.
    pub const COUNT: u32 = 16;
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: the types are `#[repr(C)]` and bytemuck `Pod` (no padding, every
    // bit pattern valid), which is exactly what `aya::Pod` requires.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::AdvertRecord {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::VhidKey {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::VhidConfig {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::RingBudget {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::ReplayKey {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::SourceKey {}
    // SAFETY: as above.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::freshness::StreamState {}
}
