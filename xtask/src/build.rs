//! Building xcarp with its real XDP object.
use std::{
    io::BufReader,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, bail, ensure};
use cargo_metadata::Message;

use crate::{bootstrap, step};

pub struct Built {
    /// The xcarp binary.
    pub binary: PathBuf,
    /// The XDP object embedded in it.
    pub object: PathBuf,
}

/// Cargo profile for [`build`].
#[derive(Clone, Copy)]
pub enum Profile {
    Dev,
    Release,
}

pub fn build_release() -> anyhow::Result<Built> {
    build(Profile::Release, &["--bin", "xcarp"])
}

/// Installs the eBPF toolchain if needed, then runs `cargo build` of
/// carp-user (plus `extra` arguments) with the real XDP object: one step,
/// cargo's output in the step log.
pub fn build(profile: Profile, extra: &[&str]) -> anyhow::Result<Built> {
    let label = match profile {
        Profile::Dev => "building xcarp (debug) and its XDP program",
        Profile::Release => "building xcarp (release) and its XDP program",
    };
    step::run(label, || {
        bootstrap::ebpf_toolchain()?;
        cargo_build(profile, extra)
    })
}

fn cargo_build(profile: Profile, extra: &[&str]) -> anyhow::Result<Built> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "-p",
        "carp-user",
        "--message-format=json-render-diagnostics",
    ]);
    if let Profile::Release = profile {
        cmd.arg("--release");
    }
    cmd.args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(step::log_stdio());
    step::note(&format!("$ {}", step::shown(&cmd)));
    let mut child = cmd.spawn().context("cannot start cargo build")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut binary = None;
    let mut out_dir = None;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message? {
            Message::CompilerArtifact(a) if a.target.name == "xcarp" && a.executable.is_some() => {
                binary = a.executable.map(|p| p.into_std_path_buf());
            }
            Message::BuildScriptExecuted(s) if s.package_id.repr.contains("carp-user") => {
                out_dir = Some(s.out_dir.into_std_path_buf());
            }
            _ => {}
        }
    }
    let status = child.wait()?;
    ensure!(status.success(), "cargo build failed: {status}");
    let object = out_dir
        .context("cargo did not report carp-user's build script")?
        .join("carp");
    ensure!(
        std::fs::metadata(&object).is_ok_and(|m| m.len() > 0),
        "the XDP object {} is missing or empty",
        object.display()
    );
    let Some(binary) = binary else {
        bail!("cargo did not report the xcarp binary")
    };
    Ok(Built { binary, object })
}

/// `cargo` with the environment that makes carp-user's build script build the
/// real XDP object with the project's bpf-linker.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(bootstrap::workspace_root())
        .env("XCARP_EBPF", "build");
    cmd
}

/// Replaces this process with `binary args…`.
pub fn exec(binary: &Path, args: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let err = Command::new(binary).args(args).exec();
    Err(err).with_context(|| format!("cannot run {}", binary.display()))
}
