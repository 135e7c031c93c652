//! Builds the XDP objects (`carp-ebpf`, target bpfel-unknown-none, nightly)
//! and leaves them in `OUT_DIR`: `carp`, which `src/xdp.rs` embeds in the
//! daemon, and `carp-bench`, which only the XDP benchmark loads.
//!
//! The real build needs the nightly toolchain with rust-src and a bpf-linker
//! built against the nightly's LLVM; `cargo xtask build-ebpf` installs both.
//! Without them (plain `cargo check`, `clippy`, unit tests on a bare machine)
//! an empty stub is embedded instead and the daemon refuses to start.
//!
//! aya-build turns every line the nested eBPF build prints into a
//! `cargo:warning`, which cargo would then replay on every later build of
//! this crate. So aya-build runs in a second process (this script again,
//! with [`NESTED_VAR`] set): its `cargo:` directives are passed on, and
//! everything else goes to `OUT_DIR/ebpf-build.log`, printed only when the
//! build fails.
use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, anyhow, bail};
use cargo_metadata::MetadataCommand;

/// `XCARP_EBPF=stub` forces the stub; `XCARP_EBPF=build` makes a missing
/// bpf-linker a hard error instead of a silent stub.
const MODE_VAR: &str = "XCARP_EBPF";

/// Set in the nested run of this script that calls aya-build.
const NESTED_VAR: &str = "XCARP_EBPF_NESTED_BUILD";

/// The eBPF build's output, in `OUT_DIR`.
const LOG_NAME: &str = "ebpf-build.log";

fn main() -> anyhow::Result<()> {
    if env::var_os(NESTED_VAR).is_some() {
        return build_with_aya();
    }
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

    let mut path = Vec::new();
    if project_linker.exists() {
        path.push(tools_bin.clone());
    }
    path.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    build_nested(&out_dir, &env::join_paths(path)?)
}

/// Runs this script again to call aya-build, and sorts its output: `cargo:`
/// directives (rerun-if-changed and the like) go to cargo, the rest to
/// [`LOG_NAME`], shown in full only if the build fails.
fn build_nested(out_dir: &Path, path: &std::ffi::OsStr) -> anyhow::Result<()> {
    let log_path = out_dir.join(LOG_NAME);
    let script = env::current_exe().context("cannot find the build script's own path")?;
    let output = Command::new(&script)
        .env(NESTED_VAR, "1")
        // Its error names the failed command; a backtrace adds nothing.
        .env("RUST_LIB_BACKTRACE", "0")
        .env("PATH", path)
        .output()
        .with_context(|| format!("cannot run {} again", script.display()))?;
    let mut log = String::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(text) = line.strip_prefix("cargo:warning=") {
            log.push_str(text);
            log.push('\n');
        } else if line.starts_with("cargo:") {
            println!("{line}");
        } else {
            log.push_str(line);
            log.push('\n');
        }
    }
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    fs::write(&log_path, &log).with_context(|| format!("cannot write {}", log_path.display()))?;
    if !output.status.success() {
        eprint!("{log}");
        bail!(
            "building the XDP program (carp-ebpf) failed ({}): its output is above and in {}",
            output.status,
            log_path.display()
        );
    }
    Ok(())
}

/// The nested run: aya-build compiles carp-ebpf for bpfel-unknown-none with
/// the nightly and copies its binaries (`carp`, `carp-bench`) to `OUT_DIR`.
fn build_with_aya() -> anyhow::Result<()> {
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
