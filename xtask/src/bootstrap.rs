//! Installs the toolchain pieces the eBPF build needs, into places the
//! project controls, and the system packages the tests need. Each step checks
//! first, so a second run is a fast no-op.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail, ensure};

use crate::step;

/// bpf-linker release known to build against the nightly's LLVM 22.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// cargo-fuzz release that drives the short fuzz pass (`cargo xtask fuzz`).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// The toolchain that compiles the eBPF crate.
pub const EBPF_TOOLCHAIN: &str = "nightly";

/// Debian packages the namespace, interop and benchmark tests call, and
/// those the package test and `cargo xtask package` use (man-db to read the
/// man page, dpkg-dev for dpkg-shlibdeps).
/// (binary to look for, package that provides it)
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("ucarp", "ucarp"),
    ("tcpdump", "tcpdump"),
    ("nft", "nftables"),
    ("ip", "iproute2"),
    ("bridge", "iproute2"),
    ("trafgen", "netsniff-ng"),
    ("bpftool", "bpftool"),
    ("ping", "iputils-ping"),
    ("arping", "arping"),
    ("man", "man-db"),
    ("dpkg-shlibdeps", "dpkg-dev"),
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Where project-installed tools live (`.tools/bin`), ignored by git.
pub fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

/// Makes sure the nightly has rust-src and a matching bpf-linker exists
/// (one step).
pub fn ebpf_toolchain() -> anyhow::Result<()> {
    step::run(
        &format!("checking the eBPF toolchain (rust-src for {EBPF_TOOLCHAIN}, bpf-linker)"),
        || {
            let added = rust_src()?;
            let built = bpf_linker()?;
            if !added && !built {
                step::outcome("already installed");
            }
            Ok(())
        },
    )
}

/// Adds rust-src to the nightly if it lacks it; true if it did.
fn rust_src() -> anyhow::Result<bool> {
    let installed = output(
        Command::new("rustup").args(["component", "list", "--installed", "--toolchain", EBPF_TOOLCHAIN]),
    )
    .with_context(|| {
        format!("cannot list the {EBPF_TOOLCHAIN} toolchain's components: is rustup installed and does `rustup toolchain list` show {EBPF_TOOLCHAIN}?")
    })?;
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        return Ok(false);
    }
    step::note(&format!(
        "rust-src is missing for {EBPF_TOOLCHAIN} (build-std needs it): installing it with rustup"
    ));
    run(Command::new("rustup").args([
        "component",
        "add",
        "rust-src",
        "--toolchain",
        EBPF_TOOLCHAIN,
    ]))?;
    Ok(true)
}

/// Path of the project's bpf-linker.
pub fn bpf_linker_path() -> PathBuf {
    tools_dir().join("bin/bpf-linker")
}

/// Builds bpf-linker into `.tools/` if it is missing; true if it did.
fn bpf_linker() -> anyhow::Result<bool> {
    let linker = bpf_linker_path();
    if linker.exists()
        && Command::new(&linker)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(false);
    }
    // bpf-linker must use the same LLVM major version as the rustc that emits
    // the bitcode; the nightly ships its LLVM as a shared library, so link
    // bpf-linker against exactly that library.
    let sysroot =
        output(Command::new("rustc").args([&format!("+{EBPF_TOOLCHAIN}"), "--print", "sysroot"]))?;
    let sysroot_lib = Path::new(sysroot.trim()).join("lib");
    let llvm_lib = fs::read_dir(&sysroot_lib)
        .with_context(|| format!("cannot read {}", sysroot_lib.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("libLLVM.so."))
        .with_context(|| {
            format!("the {EBPF_TOOLCHAIN} toolchain ships no libLLVM.so.* in {}: cannot build bpf-linker against it", sysroot_lib.display())
        })?;
    let major = llvm_lib
        .trim_start_matches("libLLVM.so.")
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .with_context(|| format!("cannot read the LLVM version from {llvm_lib}"))?;
    step::note(&format!(
        "bpf-linker is missing: building bpf-linker {BPF_LINKER_VERSION} against the {EBPF_TOOLCHAIN} toolchain's LLVM {major} into {} (about a minute, once)",
        tools_dir().display()
    ));
    let prefix = tools_dir().join("llvm-prefix");
    let prefix_lib = prefix.join("lib");
    fs::create_dir_all(&prefix_lib)?;
    symlink_fresh(&sysroot_lib.join(&llvm_lib), &prefix_lib.join(&llvm_lib))?;
    symlink_fresh(Path::new(&llvm_lib), &prefix_lib.join("libLLVM.so"))?;
    run(Command::new("cargo")
        .args([
            "install",
            "bpf-linker",
            "--locked",
            "--version",
            BPF_LINKER_VERSION,
        ])
        .args([
            "--no-default-features",
            "--features",
            &format!("llvm-{major}"),
        ])
        .arg("--root")
        .arg(tools_dir())
        .env("LLVM_PREFIX", &prefix)
        // The stable toolchain builds bpf-linker itself.
        .env_remove("RUSTUP_TOOLCHAIN"))
    .context("building bpf-linker failed (see cargo's output)")?;
    ensure!(
        linker.exists(),
        "cargo install finished but {} is missing",
        linker.display()
    );
    Ok(true)
}

/// Path of the project's cargo-fuzz.
pub fn cargo_fuzz_path() -> PathBuf {
    tools_dir().join("bin/cargo-fuzz")
}

/// Makes sure cargo-fuzz is installed in `.tools/` (one step).
pub fn cargo_fuzz() -> anyhow::Result<()> {
    step::run("checking cargo-fuzz", install_cargo_fuzz)
}

fn install_cargo_fuzz() -> anyhow::Result<()> {
    let bin = cargo_fuzz_path();
    if Command::new(&bin)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        step::outcome("already installed");
        return Ok(());
    }
    step::note(&format!(
        "cargo-fuzz is missing: installing cargo-fuzz {CARGO_FUZZ_VERSION} into {} (a minute or two, once)",
        tools_dir().display()
    ));
    run(Command::new("cargo")
        .args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ])
        .arg("--root")
        .arg(tools_dir())
        .env_remove("RUSTUP_TOOLCHAIN"))
    .context("installing cargo-fuzz failed")?;
    ensure!(
        bin.exists(),
        "cargo install finished but {} is missing",
        bin.display()
    );
    Ok(())
}

fn symlink_fresh(target: &Path, link: &Path) -> anyhow::Result<()> {
    let _ = fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot link {} -> {}", link.display(), target.display()))
}

/// Makes sure the programs the tests drive are installed; installs missing
/// ones with apt-get when running as root on Debian/Ubuntu (one step).
pub fn test_packages() -> anyhow::Result<()> {
    step::run(
        "checking the Debian packages the tests and the demo use",
        || {
            let missing: Vec<&str> = TEST_PACKAGES
                .iter()
                .filter(|(bin, _)| !on_path(bin))
                .map(|(_, pkg)| *pkg)
                .collect();
            install_packages(&missing, "the tests")
        },
    )
}

/// Installs `packages` with apt-get (root, Debian/Ubuntu), which `user`
/// needs; says "already installed" when there is nothing to install.
pub fn install_packages(packages: &[&str], user: &str) -> anyhow::Result<()> {
    let mut missing = packages.to_vec();
    missing.dedup();
    if missing.is_empty() {
        step::outcome("already installed");
        return Ok(());
    }
    let list = missing.join(" ");
    if !is_root() || !on_path("apt-get") {
        bail!(
            "{user} need these packages, which are missing: {list}; install them (as root: apt-get install {list})"
        );
    }
    step::note(&format!("installing what {user} need: {list}"));
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    step::outcome(format!("installed {}", missing.join(", ")));
    Ok(())
}

pub fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(bin).is_file()))
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(bin).is_file())
}

pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Runs a command with its output in the step log (see [`step::exec`]).
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    step::exec(cmd)
}

/// Runs a command and returns its stdout; fails with its stderr in the
/// error (for quick queries whose failure message matters).
pub fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {}", step::shown(cmd)))?;
    ensure!(
        out.status.success(),
        "{} failed: {}\n{}",
        step::shown(cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}
