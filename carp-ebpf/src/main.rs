//! The daemon's XDP object: the `xcarp` program only (see `lib.rs`).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod program {
    use aya_ebpf::{macros::xdp, programs::XdpContext};

    #[xdp]
    pub fn xcarp(ctx: XdpContext) -> u32 {
        carp_ebpf::xcarp::<true>(&ctx)
    }

    #[unsafe(link_section = "license")]
    #[unsafe(no_mangle)]
    static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
}

/// This crate is an eBPF object (target bpfel-unknown-none, built by
/// carp-user's build script); on the host, `cargo build --workspace` only
/// type-checks its logic.
#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!(
        "carp-ebpf is an XDP program: it is built for bpfel-unknown-none and loaded by xcarp"
    );
}
