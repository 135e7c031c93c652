//! The benchmark's XDP object: the daemon's `xcarp` program plus the
//! baselines `cargo xtask bench` measures it against. Never embedded in the
//! daemon.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{
        bindings::xdp_action::XDP_PASS,
        macros::{map, xdp},
        maps::PerCpuArray,
        programs::XdpContext,
    };

    /// Counter of the `xcarp_baseline_count` program.
    #[map]
    static BASELINE_COUNT: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

    /// The daemon's program, as it ships.
    #[xdp]
    pub fn xcarp(ctx: XdpContext) -> u32 {
        carp_ebpf::xcarp::<true>(&ctx)
    }

    /// `xcarp` without the `NOT_CARP` counter: shows what that counter costs.
    #[xdp]
    pub fn xcarp_uncounted(ctx: XdpContext) -> u32 {
        carp_ebpf::xcarp::<false>(&ctx)
    }

    /// The empty program the others are compared against.
    #[xdp]
    pub fn xcarp_baseline_pass(_ctx: XdpContext) -> u32 {
        XDP_PASS
    }

    /// An empty program plus one per-CPU counter update: what counting every
    /// non-CARP frame would cost.
    #[xdp]
    pub fn xcarp_baseline_count(_ctx: XdpContext) -> u32 {
        carp_ebpf::bump(&BASELINE_COUNT, 0);
        XDP_PASS
    }

    #[unsafe(link_section = "license")]
    #[unsafe(no_mangle)]
    static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
}

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("carp-bench is an XDP object for `cargo xtask bench`; it is not run on the host");
}
