//! xcarp's XDP program.
//!
//! Verdict policy: every frame that is not an IPv4 CARP (protocol 112) frame
//! passes untouched.
#![no_std]
#![no_main]

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use carp_common::IPPROTO_CARP;

const ETH_HDR_LEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;

#[xdp]
pub fn xcarp(ctx: XdpContext) -> u32 {
    try_xcarp(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *const T)
}

#[inline(always)]
fn try_xcarp(ctx: &XdpContext) -> Option<u32> {
    // SAFETY: `ptr_at` checked that the bytes lie inside the packet.
    let ethertype = u16::from_be(unsafe { *ptr_at::<u16>(ctx, 12)? });
    if ethertype != ETH_P_IPV4 {
        return Some(xdp_action::XDP_PASS);
    }
    let protocol: u8 = unsafe { *ptr_at::<u8>(ctx, ETH_HDR_LEN + 9)? };
    if protocol != IPPROTO_CARP {
        return Some(xdp_action::XDP_PASS);
    }
    Some(xdp_action::XDP_PASS)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
