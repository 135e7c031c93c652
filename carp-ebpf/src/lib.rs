//! xcarp's XDP program: picks the adverts of the VHIDs this host runs out of
//! the receive path and hands them to the daemon through a ring buffer.
//!
//! The logic lives here; `src/main.rs` (the daemon's object) and
//! `src/bin/carp-bench.rs` (the benchmark's object) only declare entry
//! points, so benchmark-only programs never ship in the daemon.
//!
//! Verdict policy — anything that is not ours passes:
//! - not IPv4 protocol 112 (after at most one 802.1Q tag): `XDP_PASS`,
//!   `NOT_CARP` (the hot path: one bounds check, three byte loads, one
//!   per-CPU increment);
//! - protocol 112 too malformed to carry a VHID: `XDP_PASS`, `MALFORMED`;
//! - protocol 112 whose (ingress ifindex, VLAN, VHID) is not configured and
//!   enabled in `VHIDS`: `XDP_PASS`, `FOREIGN_VHID` (VRRP, other CARP
//!   daemons, and same-VHID clusters on other VLANs keep working). An
//!   untagged frame has VLAN 0; a tagged one its 12-bit VLAN id;
//! - configured VHID but not shaped like a CARP advertisement (version 2,
//!   type 1, authlen 7, 36 bytes): `XDP_PASS`, `NOT_ADVERT` or `TRUNCATED`.
//!   VRRP shares protocol 112 and its first byte (0x21 for VRRPv2), so a
//!   keepalived whose VRID equals our VHID must still get its frames;
//! - configured VHID, advert-shaped: checked in this order — not a
//!   fragment, TTL 255, IP total length consistent, IP destination = group
//!   (and Ethernet broadcast in broadcast mode), source not one of our own
//!   addresses, IPv4 header checksum and CARP checksum, and (when the daemon
//!   gave the keyed HMAC state) the HMAC-SHA1 digest, then (when asked, and
//!   only after that digest check) that the counter is not a replay
//!   (docs/xdp.md, "Freshness"). The first failed
//!   check drops the frame and counts its reason; a frame passing all of
//!   them is copied into `EVENTS` as an `AdvertRecord` and dropped
//!   (`ACCEPTED`, or `RING_FULL` when the ring has no room: never blocks,
//!   never passes).
//!
//! The daemon applies the same rules to frames it reads without XDP
//! (docs/xdp.md, "One set of rules") and verifies the HMAC of every record
//! again.
#![no_std]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS},
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{HashMap, LruHashMap, LruPerCpuHashMap, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use carp_common::{
    AdvertRecord, CARP_HEADER_LEN, CARP_TTL, CARP_TYPE_ADVERTISEMENT, CARP_VERSION,
    EVENTS_RING_BYTES, IPPROTO_CARP, MAX_OWN_ADDRS, MAX_REPLAY_ENTRIES, MAX_REPLAY_SOURCES,
    MAX_VHID_ENTRIES, ReplayKey, RingBudget, SHA1_BLOCK_LEN, SourceKey, VHID_FLAG_BROADCAST,
    VHID_FLAG_ENABLED, VHID_FLAG_HMAC, VHID_FLAG_REJECT_REPLAYS, VLAN_ID_MASK, VhidConfig, VhidKey,
    counter,
    freshness::{self, StreamState},
};

/// Both objects' panic handler (the verifier rejects any path that could
/// reach it, so it is never called).
#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Configured VHIDs, written by the daemon at any time.
#[map]
pub static VHIDS: HashMap<VhidKey, VhidConfig> = HashMap::with_max_entries(MAX_VHID_ENTRIES, 0);

/// One per-CPU counter per verdict reason (`carp_common::counter`).
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// The SHA-1 message schedule of the HMAC check (one per CPU): 64 bytes
/// the BPF stack can spare less easily than a map value.
#[map]
static SHA1_SCHEDULE: PerCpuArray<[u32; 16]> = PerCpuArray::with_max_entries(1, 0);

/// Each instance's ring budget, per CPU (see `within_ring_budget`). LRU:
/// entries of removed instances age out.
#[map]
static RING_BUDGETS: LruPerCpuHashMap<VhidKey, RingBudget> =
    LruPerCpuHashMap::with_max_entries(MAX_VHID_ENTRIES, 0);

/// What is known of each (instance, counter stream), for the replay check
/// (docs/xdp.md, "Freshness"). Shared by all CPUs; LRU, since a stream's
/// sender may be gone for good.
#[map]
pub static REPLAY_STATE: LruHashMap<ReplayKey, StreamState> =
    LruHashMap::with_max_entries(MAX_REPLAY_ENTRIES, 0);

/// The counter of the last authentic advert per (instance, source), for the
/// same check. Shared by all CPUs; LRU.
#[map]
pub static REPLAY_SOURCES: LruHashMap<SourceKey, u64> =
    LruHashMap::with_max_entries(MAX_REPLAY_SOURCES, 0);

/// Accepted adverts for the daemon.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

const ETH_HDR_LEN: usize = 14;
const VLAN_HDR_LEN: usize = 4;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_VLAN: [u8; 2] = [0x81, 0x00];
const IPV4_MIN_HDR_LEN: usize = 20;
/// IHL 15: 60 bytes, 40 of them options.
const IPV4_MAX_HDR_LEN: usize = 60;
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

/// Adds one to a per-CPU counter.
#[inline(always)]
pub fn bump(map: &PerCpuArray<u64>, index: u32) {
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

/// The program. `COUNT_NOT_CARP` is false only in the benchmark's variant
/// that shows what the `NOT_CARP` counter costs.
#[inline(always)]
pub fn xcarp<const COUNT_NOT_CARP: bool>(ctx: &XdpContext) -> u32 {
    match try_xcarp::<COUNT_NOT_CARP>(ctx) {
        Ok(verdict) => verdict,
        Err(()) => XDP_PASS,
    }
}

#[inline(always)]
fn try_xcarp<const COUNT_NOT_CARP: bool>(ctx: &XdpContext) -> Result<u32, ()> {
    // Hot path: every frame on the interface comes through here.
    let Ok(head) = ptr_at::<EthHead>(ctx, 0) else {
        return not_carp::<COUNT_NOT_CARP>();
    };
    // SAFETY: `ptr_at` checked that the whole `EthHead` lies in the packet.
    let (ethertype, rest) = unsafe { (&(*head).ethertype, &(*head).rest) };
    let (l3, vlan) = if *ethertype == ETHERTYPE_IPV4 {
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
        // VLAN id 0 (a priority tag) means "no VLAN", like an untagged frame.
        (ETH_HDR_LEN + VLAN_HDR_LEN, tci & VLAN_ID_MASK)
    } else {
        return not_carp::<COUNT_NOT_CARP>();
    };
    carp(ctx, head, l3, vlan)
}

/// An IPv4 protocol-112 frame whose IP header starts at `l3`; `head` is the
/// checked start of the frame.
#[inline(always)]
fn carp(ctx: &XdpContext, head: *const EthHead, l3: usize, vlan: u16) -> Result<u32, ()> {
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
        vlan,
        vhid: u16::from(vhid),
    };
    // SAFETY: the value is only read. An update from userspace swaps in a
    // new hash element (RCU), so this sees the old or the new value; and
    // every bit pattern is a valid `VhidConfig` anyway.
    let Some(config) = (unsafe { VHIDS.get(key) }) else {
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
    // SAFETY: `ptr_at` checked that the 36 bytes lie in the packet.
    let carp = unsafe { &*carp };
    if !checksums_verify(ctx, ip, l3, ip_hdr_len, carp) {
        return verdict(counter::BAD_CHECKSUM, XDP_DROP);
    }
    if config.flags & VHID_FLAG_HMAC != 0 && !digest_verifies(config, carp) {
        return verdict(counter::BAD_DIGEST, XDP_DROP);
    }
    // Only behind the kernel's own HMAC check: state learned from a forged
    // counter would let a forger silence a real sender.
    // SAFETY: the helper has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    const FRESHNESS: u32 = VHID_FLAG_HMAC | VHID_FLAG_REJECT_REPLAYS;
    if config.flags & FRESHNESS == FRESHNESS && !counter_is_fresh(&key, ip.src, carp, now) {
        return verdict(counter::REPLAYED, XDP_DROP);
    }

    if !within_ring_budget(&key, config.ring_budget, now) {
        return verdict(counter::OVER_BUDGET, XDP_DROP);
    }
    let record = AdvertRecord {
        timestamp_ns: now,
        ifindex: key.ifindex,
        src_ip: ip.src,
        dst_ip: ip.dst,
        src_mac: eth.src,
        vlan_id: vlan,
        carp: *carp,
    };
    match EVENTS.output::<AdvertRecord>(&record, 0) {
        Ok(()) => verdict(counter::ACCEPTED, XDP_DROP),
        Err(_) => verdict(counter::RING_FULL, XDP_DROP),
    }
}

/// Takes one record from the instance's budget for the current second on
/// this CPU; false when it is used up. Authentic adverts come a few per
/// interval per peer, so only a burst (replays, say) meets the limit, and
/// it can then take at most this much of the ring all instances share.
#[inline(always)]
fn within_ring_budget(key: &VhidKey, budget: u32, now: u64) -> bool {
    const WINDOW_NS: u64 = 1_000_000_000;
    if budget == 0 {
        return true;
    }
    match RING_BUDGETS.get_ptr_mut(key) {
        Some(state) => {
            // SAFETY: this CPU's value of a per-CPU map; XDP runs with
            // preemption disabled, so nothing else writes it meanwhile.
            let state = unsafe { &mut *state };
            if now.wrapping_sub(state.window_start_ns) >= WINDOW_NS {
                state.window_start_ns = now;
                state.used = 0;
            }
            if state.used >= u64::from(budget) {
                return false;
            }
            state.used += 1;
            true
        }
        None => {
            let first = RingBudget {
                window_start_ns: now,
                used: 1,
            };
            // Without room for the entry (never with LRU), err on the side
            // of the advert.
            let _ = RING_BUDGETS.insert(key, first, 0);
            true
        }
    }
}

/// Whether the advert's counter passes the freshness rule
/// (`carp_common::freshness::judge`), learning from it either way: the
/// source's last counter always, the stream's state as the rule says.
///
/// Two CPUs racing on one stream (two adverts of one stream within the
/// same microsecond: a replay racing a real one) each judge the state they
/// read, and the later write wins. Each field is one aligned store, never
/// torn, but a reader may see some fields new and others old: a new value
/// under the old class or window, or the reverse. That judges like the old
/// or the new state except that a value between the two may pass, and a
/// window bit may be off by the shift (a late advert dropped, or a repeat
/// passed, once). So a race can let one advert through that one order
/// would drop, and leave the class of either order (docs/xdp.md,
/// "Freshness"); it drops no advert that both orders accept, but for a late
/// one racing the advert that overtook it.
#[inline(always)]
fn counter_is_fresh(key: &VhidKey, src: [u8; 4], carp: &[u8; CARP_HEADER_LEN], now: u64) -> bool {
    let counter = u64::from_be_bytes([
        carp[8], carp[9], carp[10], carp[11], carp[12], carp[13], carp[14], carp[15],
    ]);
    let source_key = SourceKey {
        ifindex: key.ifindex,
        vlan: key.vlan,
        vhid: key.vhid,
        src,
    };
    let source_last = match REPLAY_SOURCES.get_ptr_mut(source_key) {
        Some(last) => {
            // SAFETY: a value of this map, valid while the program runs; an
            // aligned 8-byte access, so never torn.
            let last = unsafe { &mut *last };
            let previous = *last;
            *last = counter;
            Some(previous)
        }
        None => {
            let _ = REPLAY_SOURCES.insert(source_key, counter, 0);
            None
        }
    };
    let replay_key = ReplayKey {
        ifindex: key.ifindex,
        vlan: key.vlan,
        vhid: key.vhid,
        stream: freshness::stream(counter),
    };
    match REPLAY_STATE.get_ptr_mut(replay_key) {
        Some(state) => {
            // SAFETY: a value of this map, valid while the program runs;
            // every bit pattern is a valid `StreamState`.
            let state = unsafe { &mut *state };
            let judgement = freshness::judge(Some(*state), counter, src, source_last, now);
            if let Some(next) = judgement.next {
                // An existing stream keeps its origin.
                state.value = next.value;
                state.seen = next.seen;
                state.since_ns = next.since_ns;
                state.anchor = next.anchor;
                state.class = next.class;
            }
            judgement.fresh()
        }
        None => {
            // A stream not seen before (or evicted): learn it.
            let _ = REPLAY_STATE.insert(replay_key, StreamState::first(counter, src, now), 0);
            true
        }
    }
}

/// Whether the IPv4 header (with its options) and the CARP header each sum
/// to 0xffff in one's complement (RFC 1071). Only adverts for a configured
/// VHID get here, about one a second per peer.
#[inline(always)]
fn checksums_verify(
    ctx: &XdpContext,
    ip: &Ipv4Hdr,
    l3: usize,
    ip_hdr_len: usize,
    carp: &[u8; CARP_HEADER_LEN],
) -> bool {
    let header_sum = if ip_hdr_len == IPV4_MIN_HDR_LEN {
        // SAFETY: `Ipv4Hdr` is the 20-byte header, of alignment 1.
        sum_words(0, unsafe {
            &*(ip as *const Ipv4Hdr).cast::<[u8; IPV4_MIN_HDR_LEN]>()
        })
    } else {
        // With options the header is 24..=60 bytes, and the 36 CARP bytes
        // follow it, so at least 60 bytes lie at `l3`: one constant-size
        // bounds check covers every option length (the verifier cannot
        // follow a variable-length read), and words past the header are
        // left out of the sum.
        let Ok(bytes) = ptr_at::<[u8; IPV4_MAX_HDR_LEN]>(ctx, l3) else {
            return false;
        };
        // SAFETY: `ptr_at` checked that the 60 bytes lie in the packet.
        let bytes = unsafe { &*bytes };
        let mut sum = 0u32;
        let mut i = 0;
        while i + 1 < IPV4_MAX_HDR_LEN {
            if i < ip_hdr_len {
                sum += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
            }
            i += 2;
        }
        sum
    };
    folds_to_ffff(header_sum) && folds_to_ffff(sum_words(0, carp))
}

/// Offsets in the CARP header.
const CARP_COUNTER: usize = 8;
const CARP_DIGEST: usize = 16;
/// Bit length of the outer hash's message: the opad block and the inner
/// digest.
const OUTER_BIT_LEN: u32 = (64 + 20) * 8;

/// HMAC-SHA1 of the advert's counter, as ucarp computes it (docs/protocol.md
/// §2), from the midstates the daemon derived from the password: the inner
/// hash is one compression of the prepared block with the counter filled
/// in, the outer one compression of the inner digest. Compared with the
/// digest the advert carries.
#[inline(always)]
fn digest_verifies(config: &VhidConfig, carp: &[u8; CARP_HEADER_LEN]) -> bool {
    let Some(w) = SHA1_SCHEDULE.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's map value; XDP runs with preemption disabled, so
    // nothing else uses it meanwhile.
    let w = unsafe { &mut *w };
    let block = &config.hmac_block;
    let mut i = 0;
    while i < 16 {
        w[i] = u32::from_be_bytes([
            block[4 * i],
            block[4 * i + 1],
            block[4 * i + 2],
            block[4 * i + 3],
        ]);
        i += 1;
    }
    // The counter's eight bytes go where the daemon left zeros for them.
    let at = config.hmac_counter_at as usize;
    if at + 8 > SHA1_BLOCK_LEN - 9 {
        return false;
    }
    let mut j = 0;
    while j < 8 {
        let pos = (at + j) & (SHA1_BLOCK_LEN - 1);
        let shift = 24 - 8 * (pos & 3) as u32;
        w[(pos >> 2) & 15] |= u32::from(carp[CARP_COUNTER + j]) << shift;
        j += 1;
    }
    let inner = sha1_compress(config.hmac_inner, w);

    let mut k = 0;
    while k < 16 {
        w[k] = match k {
            0..=4 => inner[k],
            5 => 0x8000_0000,
            15 => OUTER_BIT_LEN,
            _ => 0,
        };
        k += 1;
    }
    let outer = sha1_compress(config.hmac_outer, w);

    let mut equal = true;
    let mut m = 0;
    while m < 5 {
        let at = CARP_DIGEST + 4 * m;
        let sent = u32::from_be_bytes([carp[at], carp[at + 1], carp[at + 2], carp[at + 3]]);
        equal &= sent == outer[m];
        m += 1;
    }
    equal
}

/// One SHA-1 compression (FIPS 180-4 §6.1.2) of the block whose words are
/// in `w`, from `state`. The schedule is kept in `w` as a rolling window of
/// 16 words.
#[inline(never)]
fn sha1_compress(state: [u32; 5], w: &mut [u32; 16]) -> [u32; 5] {
    let [mut a, mut b, mut c, mut d, mut e] = state;
    let mut t = 0usize;
    while t < 80 {
        let slot = t & 15;
        if t >= 16 {
            let x = w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[slot];
            w[slot] = x.rotate_left(1);
        }
        let (f, k) = if t < 20 {
            ((b & c) | (!b & d), 0x5a82_7999)
        } else if t < 40 {
            (b ^ c ^ d, 0x6ed9_eba1)
        } else if t < 60 {
            ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc)
        } else {
            (b ^ c ^ d, 0xca62_c1d6)
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(w[slot]);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
        t += 1;
    }
    [
        state[0].wrapping_add(a),
        state[1].wrapping_add(b),
        state[2].wrapping_add(c),
        state[3].wrapping_add(d),
        state[4].wrapping_add(e),
    ]
}

#[inline(always)]
fn sum_words<const N: usize>(mut sum: u32, bytes: &[u8; N]) -> u32 {
    let mut i = 0;
    while i + 1 < N {
        sum += u32::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        i += 2;
    }
    sum
}

#[inline(always)]
fn folds_to_ffff(mut sum: u32) -> bool {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum == 0xffff
}
