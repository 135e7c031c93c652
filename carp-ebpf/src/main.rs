//! xcarp's XDP program: picks the adverts of the VHIDs this host runs out of
//! the receive path and hands them to the daemon through a ring buffer.
//!
//! Verdict policy — anything that is not ours passes:
//! - not IPv4 protocol 112 (after at most one 802.1Q tag): `XDP_PASS`,
//!   `NOT_CARP` (the hot path: one bounds check, three byte loads, one
//!   per-CPU increment — about 1-2 ns in `cargo xtask bench`, well inside
//!   the budget of 1.3x an empty program);
//! - protocol 112 too malformed to carry a VHID: `XDP_PASS`, `MALFORMED`;
//! - protocol 112 whose (ingress ifindex, VHID) is not configured and enabled
//!   in `VHIDS`: `XDP_PASS`, `FOREIGN_VHID` (VRRP and other CARP daemons on
//!   the host keep working);
//! - configured VHID but not shaped like a CARP advertisement (version 2,
//!   type 1, authlen 7, 36 bytes): `XDP_PASS`, `NOT_ADVERT` or `TRUNCATED`.
//!   VRRP shares protocol 112 and its first byte (0x21 for VRRPv2), so a
//!   keepalived whose VRID equals our VHID must still get its frames;
//! - configured VHID, advert-shaped: checked in this order — not a
//!   fragment, TTL 255, IP total length consistent, IP destination = group
//!   (and Ethernet broadcast in broadcast mode), source not one of our own
//!   addresses. The first failed check drops the frame and counts its
//!   reason; a frame passing all of them is copied into `EVENTS` as an
//!   `AdvertRecord` and dropped (`ACCEPTED`, or `RING_FULL` when the ring has
//!   no room: never blocks, never passes).
//!
//! The checksum and HMAC are verified by the daemon, which has the password.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS},
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{HashMap, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use carp_common::{
    AdvertRecord, CARP_HEADER_LEN, CARP_TTL, CARP_TYPE_ADVERTISEMENT, CARP_VERSION,
    EVENTS_RING_BYTES, IPPROTO_CARP, MAX_OWN_ADDRS, MAX_VHID_ENTRIES, VHID_FLAG_BROADCAST,
    VHID_FLAG_ENABLED, VhidConfig, VhidKey, counter,
};

/// Configured VHIDs, written by the daemon at any time.
#[map]
static VHIDS: HashMap<VhidKey, VhidConfig> = HashMap::with_max_entries(MAX_VHID_ENTRIES, 0);

/// One per-CPU counter per verdict reason (`carp_common::counter`).
#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Accepted adverts for the daemon.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

/// Counter of the `xcarp_baseline_count` benchmark program.
#[map]
static BASELINE_COUNT: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

const ETH_HDR_LEN: usize = 14;
const VLAN_HDR_LEN: usize = 4;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_VLAN: [u8; 2] = [0x81, 0x00];
const IPV4_MIN_HDR_LEN: usize = 20;
/// Flags/fragment-offset field: MF bit and the 13-bit offset.
const IP_MF_OR_OFFSET: u16 = 0x3fff;
const ETH_BROADCAST: [u8; 6] = [0xff; 6];
const CARP_VERSION_TYPE: u8 = (CARP_VERSION << 4) | CARP_TYPE_ADVERTISEMENT;
/// Counter and digest in 32-bit words; every CARP sender uses 7, while in
/// VRRPv2 this byte is the address count.
const CARP_AUTHLEN: u8 = 7;

/// Ethernet header and the next 14 bytes: for an untagged frame the IPv4
/// header up to the protocol and beyond, for a frame with one 802.1Q tag the
/// tag, the inner ethertype and the IPv4 header up to the protocol. One
/// bounds check covers both; no CARP frame is shorter (70 bytes at least).
/// Byte arrays only, so alignment 1.
#[repr(C)]
struct EthHead {
    dst: [u8; 6],
    src: [u8; 6],
    ethertype: [u8; 2],
    rest: [u8; 14],
}

/// Offsets into `EthHead::rest`.
const UNTAGGED_PROTOCOL: usize = 9;
const VLAN_TCI: usize = 0;
const VLAN_ETHERTYPE: usize = 2;
const VLAN_PROTOCOL: usize = VLAN_HDR_LEN + 9;

/// Fixed part of the IPv4 header.
#[repr(C)]
struct Ipv4Hdr {
    version_ihl: u8,
    tos: u8,
    tot_len: [u8; 2],
    id: [u8; 2],
    frag: [u8; 2],
    ttl: u8,
    protocol: u8,
    check: [u8; 2],
    src: [u8; 4],
    dst: [u8; 4],
}

#[xdp]
pub fn xcarp(ctx: XdpContext) -> u32 {
    match try_xcarp::<true>(&ctx) {
        Ok(verdict) => verdict,
        Err(()) => XDP_PASS,
    }
}

/// `xcarp` without the `NOT_CARP` counter: loaded only by `cargo xtask
/// bench`, which shows what that counter costs.
#[xdp]
pub fn xcarp_uncounted(ctx: XdpContext) -> u32 {
    match try_xcarp::<false>(&ctx) {
        Ok(verdict) => verdict,
        Err(()) => XDP_PASS,
    }
}

/// The empty program `cargo xtask bench` compares against.
#[xdp]
pub fn xcarp_baseline_pass(_ctx: XdpContext) -> u32 {
    XDP_PASS
}

/// An empty program plus one per-CPU counter update: what counting every
/// non-CARP frame would cost (`cargo xtask bench`).
#[xdp]
pub fn xcarp_baseline_count(_ctx: XdpContext) -> u32 {
    bump(&BASELINE_COUNT, 0);
    XDP_PASS
}

/// The one bounds-checked way to the packet: a pointer to a `T` at `offset`,
/// or `Err` when the frame is shorter. `T` must have alignment 1.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Result<*const T, ()> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return Err(());
    }
    Ok((start + offset) as *const T)
}

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(value) = map.get_ptr_mut(index) {
        // SAFETY: the pointer comes from the map lookup and is valid for this
        // CPU's slot; XDP runs with preemption disabled, so no one else
        // writes the per-CPU slot meanwhile.
        unsafe { *value += 1 };
    }
}

#[inline(always)]
fn not_carp<const COUNT: bool>() -> Result<u32, ()> {
    if COUNT {
        bump(&COUNTERS, counter::NOT_CARP);
    }
    Ok(XDP_PASS)
}

#[inline(always)]
fn verdict(reason: u32, action: u32) -> Result<u32, ()> {
    bump(&COUNTERS, reason);
    Ok(action)
}

#[inline(always)]
fn try_xcarp<const COUNT_NOT_CARP: bool>(ctx: &XdpContext) -> Result<u32, ()> {
    // Hot path: every frame on the interface comes through here.
    let Ok(head) = ptr_at::<EthHead>(ctx, 0) else {
        return not_carp::<COUNT_NOT_CARP>();
    };
    // SAFETY: `ptr_at` checked that the whole `EthHead` lies in the packet.
    let (ethertype, rest) = unsafe { (&(*head).ethertype, &(*head).rest) };
    let (l3, vlan_id) = if *ethertype == ETHERTYPE_IPV4 {
        if rest[UNTAGGED_PROTOCOL] != IPPROTO_CARP {
            return not_carp::<COUNT_NOT_CARP>();
        }
        (ETH_HDR_LEN, 0u16)
    } else if *ethertype == ETHERTYPE_VLAN {
        if rest[VLAN_ETHERTYPE..VLAN_ETHERTYPE + 2] != ETHERTYPE_IPV4
            || rest[VLAN_PROTOCOL] != IPPROTO_CARP
        {
            return not_carp::<COUNT_NOT_CARP>();
        }
        let tci = u16::from_be_bytes([rest[VLAN_TCI], rest[VLAN_TCI + 1]]);
        (ETH_HDR_LEN + VLAN_HDR_LEN, tci & 0x0fff)
    } else {
        return not_carp::<COUNT_NOT_CARP>();
    };
    carp(ctx, head, l3, vlan_id)
}

/// An IPv4 protocol-112 frame whose IP header starts at `l3`; `head` is the
/// checked start of the frame.
#[inline(always)]
fn carp(ctx: &XdpContext, head: *const EthHead, l3: usize, vlan_id: u16) -> Result<u32, ()> {
    let Ok(ip) = ptr_at::<Ipv4Hdr>(ctx, l3) else {
        return verdict(counter::MALFORMED, XDP_PASS);
    };
    // SAFETY: `ptr_at` checked that the whole `Ipv4Hdr` lies in the packet.
    let ip = unsafe { &*ip };
    if ip.version_ihl >> 4 != 4 {
        return verdict(counter::MALFORMED, XDP_PASS);
    }
    let ip_hdr_len = usize::from(ip.version_ihl & 0x0f) * 4;
    if ip_hdr_len < IPV4_MIN_HDR_LEN {
        return verdict(counter::MALFORMED, XDP_PASS);
    }
    let carp_off = l3 + ip_hdr_len;
    let Ok(carp_head) = ptr_at::<[u8; 4]>(ctx, carp_off) else {
        return verdict(counter::MALFORMED, XDP_PASS);
    };
    // SAFETY: `ptr_at` checked that the four bytes lie in the packet.
    let [version_type, vhid, _advskew, authlen] = unsafe { *carp_head };

    let key = VhidKey {
        ifindex: ctx.ingress_ifindex() as u32,
        vhid: u32::from(vhid),
    };
    // SAFETY: the value is only read. An update from userspace swaps in a
    // new hash element (RCU), so this sees the old or the new value; and
    // every bit pattern is a valid `VhidConfig` anyway.
    let Some(config) = (unsafe { VHIDS.get(&key) }) else {
        return verdict(counter::FOREIGN_VHID, XDP_PASS);
    };
    if config.flags & VHID_FLAG_ENABLED == 0 {
        return verdict(counter::FOREIGN_VHID, XDP_PASS);
    }

    // Not an advert at all (VRRP with the same id, say): not ours to drop.
    if version_type != CARP_VERSION_TYPE || authlen != CARP_AUTHLEN {
        return verdict(counter::NOT_ADVERT, XDP_PASS);
    }
    let Ok(carp) = ptr_at::<[u8; CARP_HEADER_LEN]>(ctx, carp_off) else {
        return verdict(counter::TRUNCATED, XDP_PASS);
    };
    if u16::from_be_bytes(ip.frag) & IP_MF_OR_OFFSET != 0 {
        return verdict(counter::FRAGMENT, XDP_DROP);
    }
    if ip.ttl != CARP_TTL {
        return verdict(counter::BAD_TTL, XDP_DROP);
    }
    let tot_len = usize::from(u16::from_be_bytes(ip.tot_len));
    if tot_len < ip_hdr_len + CARP_HEADER_LEN || ctx.data() + l3 + tot_len > ctx.data_end() {
        return verdict(counter::BAD_LENGTH, XDP_DROP);
    }
    if ip.dst != config.group {
        return verdict(counter::BAD_DESTINATION, XDP_DROP);
    }
    // SAFETY: `ptr_at` checked that the whole `EthHead` lies in the packet.
    let eth = unsafe { &*head };
    if config.flags & VHID_FLAG_BROADCAST != 0 && eth.dst != ETH_BROADCAST {
        return verdict(counter::BAD_DESTINATION, XDP_DROP);
    }
    let own_count = config.own_count as usize;
    let mut i = 0;
    while i < MAX_OWN_ADDRS {
        if i < own_count && config.own_addrs[i] == ip.src {
            return verdict(counter::OWN_FRAME, XDP_DROP);
        }
        i += 1;
    }

    let record = AdvertRecord {
        // SAFETY: the helper has no preconditions.
        timestamp_ns: unsafe { bpf_ktime_get_ns() },
        ifindex: key.ifindex,
        src_ip: ip.src,
        dst_ip: ip.dst,
        src_mac: eth.src,
        vlan_id,
        // SAFETY: `ptr_at` checked that the 36 bytes lie in the packet.
        carp: unsafe { *carp },
    };
    match EVENTS.output::<AdvertRecord>(&record, 0) {
        Ok(()) => verdict(counter::ACCEPTED, XDP_DROP),
        Err(_) => verdict(counter::RING_FULL, XDP_DROP),
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
