//! `cargo xtask bench`: ns/frame of the XDP program per frame class via
//! BPF_PROG_TEST_RUN, beside an empty XDP program measured in the same run
//! (carp-user/examples/xdp_bench.rs does the measuring).
use anyhow::{Context as _, ensure};

use crate::{bootstrap, build};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the benchmark loads XDP programs and runs them with BPF_PROG_TEST_RUN: run it as root"
    );
    bootstrap::ebpf_toolchain()?;
    let mut cmd = build::cargo();
    cmd.args([
        "run",
        "--release",
        "-p",
        "carp-user",
        "--example",
        "xdp_bench",
        "--",
    ])
    .args(args);
    bootstrap::run(&mut cmd).context("the XDP benchmark failed (see its output above)")
}
