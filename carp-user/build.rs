//! Builds the XDP objects (`carp-ebpf`, target bpfel-unknown-none, nightly)
//! and leaves them in `OUT_DIR`: `carp`, which `src/xdp.rs` embeds in the
//! daemon, and `carp-bench`, which only the XDP benchmark loads.
//!
//! The real build needs the nightly toolchain with rust-src and a bpf-linker
//! built against the nightly's LLVM; `cargo xtask build-ebpf` installs both.
//! Without them (plain `cargo check`, `clippy`, unit tests on a bare machine)
//! an empty stub is embedded instead and the daemon refuses to start.
use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};
use cargo_metadata::MetadataCommand;

/// `XCARP_EBPF=stub` forces the stub; `XCARP_EBPF=build` makes a missing
/// bpf-linker a hard error instead of a silent stub.
const MODE_VAR: &str = "XCARP_EBPF";

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-env-changed={MODE_VAR}");
    let mode = env::var(MODE_VAR).unwrap_or_default();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace_root = manifest_dir
        .parent()
        .context("carp-user has no parent directory")?;

    // bpf-linker as installed by `cargo xtask build-ebpf`, else from PATH.
    let tools_bin = workspace_root.join(".tools/bin");
    let project_linker = tools_bin.join("bpf-linker");
    println!("cargo:rerun-if-changed={}", project_linker.display());
    let linker_found = project_linker.exists() || which::which("bpf-linker").is_ok();

    if mode == "stub" || (!linker_found && mode != "build") {
        if mode != "stub" {
            println!(
                "cargo:warning=bpf-linker not found: embedding an empty XDP stub; \
                 run `cargo xtask build-ebpf` for a daemon that can start"
            );
        }
        for object in ["carp", "carp-bench"] {
            fs::write(out_dir.join(object), [])?;
        }
        return Ok(());
    }
    if !linker_found {
        return Err(anyhow!(
            "{MODE_VAR}=build but bpf-linker is missing: run `cargo xtask build-ebpf`"
        ));
    }

    if project_linker.exists() {
        let path = env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![tools_bin.clone()];
        dirs.extend(env::split_paths(&path));
        // SAFETY-free in practice: build scripts are single-threaded here.
        #[allow(unsafe_code)]
        unsafe {
            env::set_var("PATH", env::join_paths(dirs)?);
        }
    }

    let metadata = MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata failed")?;
    let ebpf = metadata
        .packages
        .into_iter()
        .find(|p| p.name.as_str() == "carp-ebpf")
        .context("carp-ebpf is not in the workspace")?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .context("carp-ebpf manifest has no parent")?
        .to_string();
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "carp-ebpf",
            root_dir: &root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
