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

#[cfg(feature = "user")]
mod user {
    // SAFETY: the types are `#[repr(C)]` and bytemuck `Pod` (no padding, every
    // bit pattern valid), which is exactly what `aya::Pod` requires.
    #[allow(unsafe_code)]
    unsafe impl aya::Pod for super::AdvertRecord {}
}
