//! `cargo xtask test`: the project's one test command.
use anyhow::ensure;

use crate::{bootstrap, build};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the test suite attaches XDP programs and creates network namespaces: run it as root"
    );
    bootstrap::test_packages()?;
    // Builds the xcarp binary the namespace tests drive (and the eBPF object
    // the kernel tests load) before any test starts.
    let built = build::build(build::Profile::Dev, &["--bin", "xcarp"])?;
    let mut cmd = build::cargo();
    // --no-fail-fast: one failing test binary must not hide the others.
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .env("XCARP_BIN", &built.binary)
        .env("XCARP_EBPF_OBJECT", &built.object);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    bootstrap::run(&mut cmd)
}
