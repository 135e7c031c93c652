//! `cargo xtask fuzz`: a short libFuzzer pass over every target of
//! `carp-user/fuzz`, also the first step of `cargo xtask test`. Building the
//! targets is the fuzz crate's type-check (it is not a workspace member, so
//! nothing else compiles it); a crash fails the pass with the input that
//! reproduces it.
//!
//! Each run keeps its corpus in `target/fuzz/corpus/<target>`, so later
//! passes start from what earlier ones found.
use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, bail, ensure};

use crate::{bootstrap, build, step};

/// One fuzz target: its `[[bin]]` name in `carp-user/fuzz/Cargo.toml` and
/// the inputs its corpus starts from.
struct Target {
    name: &'static str,
    seeds: fn() -> anyhow::Result<Vec<Vec<u8>>>,
}

/// Every target the pass runs. A new target is its `[[bin]]` in
/// `carp-user/fuzz/Cargo.toml` and one line here.
const TARGETS: &[Target] = &[
    Target {
        name: "decode_advert",
        seeds: captured_packets,
    },
    Target {
        name: "cli_parse",
        seeds: command_lines,
    },
    Target {
        name: "passfile",
        seeds: passfile_contents,
    },
    // Differential: the XDP program against the userspace paths (needs
    // root and the real XDP object, see `short_pass`).
    Target {
        name: "rx_paths",
        seeds: captured_frames,
    },
];

/// Fuzzing time of the whole pass, shared between the targets (building is
/// not counted): the pass must stay short enough to run with every test run.
const TOTAL_SECONDS: u64 = 90;

/// An input that runs longer than this is reported as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

fn fuzz_dir() -> PathBuf {
    bootstrap::workspace_root().join("carp-user/fuzz")
}

fn work_dir() -> PathBuf {
    bootstrap::workspace_root().join("target/fuzz")
}

/// `cargo fuzz <subcommand>` for the fuzz crate, with the nightly it needs.
fn cargo_fuzz(subcommand: &str) -> Command {
    let mut cmd = Command::new(bootstrap::cargo_fuzz_path());
    cmd.current_dir(fuzz_dir())
        .args(["fuzz", subcommand])
        .env("RUSTUP_TOOLCHAIN", bootstrap::EBPF_TOOLCHAIN)
        // The targets never load the XDP object: the stub spares building
        // the eBPF crate under the fuzzing flags.
        .env("XCARP_EBPF", "stub")
        // cargo-fuzz's own error needs no backtrace; a target's panic keeps one.
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
}

/// `cargo xtask fuzz`: builds xcarp's XDP object (the differential target
/// loads it at run time), then [`pass`].
pub fn short_pass() -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the fuzz pass runs the XDP program with BPF_PROG_TEST_RUN: run it as root"
    );
    bootstrap::cargo_fuzz()?;
    let xdp_object = build::build(build::Profile::Dev, &["--bin", "xcarp"])?.object;
    pass(&xdp_object)
}

/// Builds every target, then fuzzes each for its share of
/// [`TOTAL_SECONDS`]; one step each. `xdp_object` is the real XDP object
/// (as `cargo xtask test` builds it anyway). cargo-fuzz must be installed
/// ([`bootstrap::cargo_fuzz`]).
pub fn pass(xdp_object: &Path) -> anyhow::Result<()> {
    let target_dir = work_dir().join("build");
    step::run("building the fuzz targets (carp-user/fuzz)", || {
        step::exec(cargo_fuzz("build").arg("--target-dir").arg(&target_dir))
            .context("the fuzz crate does not build")
    })?;
    let seconds = (TOTAL_SECONDS / TARGETS.len() as u64).max(1);
    let mut failures = Vec::new();
    for target in TARGETS {
        let label = format!("fuzzing {} for {seconds} s", target.name);
        // A failure's report (the crash, its reproducer) goes to the step's
        // output, which is printed; the other targets still run.
        let fuzzed = step::run(&label, || {
            run_target(target, seconds, &target_dir, xdp_object)
                .inspect_err(|e| step::note(&format!("{e:#}")))
        });
        if fuzzed.is_err() {
            failures.push(target.name);
        }
    }
    if !failures.is_empty() {
        bail!("fuzzing failed: {}", failures.join(", "));
    }
    Ok(())
}

fn run_target(
    target: &Target,
    seconds: u64,
    target_dir: &Path,
    xdp_object: &Path,
) -> anyhow::Result<()> {
    let corpus = work_dir().join("corpus").join(target.name);
    let artifacts = work_dir().join("artifacts").join(target.name);
    let logs = work_dir().join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for (i, seed) in (target.seeds)()?.iter().enumerate() {
        let path = corpus.join(format!("seed-{i}"));
        fs::write(&path, seed).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let before = entries(&artifacts)?;
    let log_path = logs.join(format!("{}.log", target.name));
    let log = fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let start = Instant::now();
    let status = cargo_fuzz("run")
        .env("XCARP_FUZZ_XDP_OBJECT", xdp_object)
        .arg("--target-dir")
        .arg(target_dir)
        .arg(target.name)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        // libFuzzer joins the prefix and the file name as they are.
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("cannot start cargo fuzz run")?;
    let elapsed = start.elapsed().as_secs();
    let output = fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let found: Vec<PathBuf> = entries(&artifacts)?.difference(&before).cloned().collect();
        let reproducers = if found.is_empty() {
            "no input saved".to_owned()
        } else {
            found
                .iter()
                .map(|p| format!("reproducer: {}", p.display()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        bail!(
            "cargo fuzz run {} failed ({status}) after {elapsed} s\n{}\n{reproducers}\n\
             replay with: cd carp-user/fuzz && XCARP_EBPF=stub {} fuzz run --target-dir {} {} <reproducer>\n\
             full log: {}",
            target.name,
            crash_excerpt(&output),
            bootstrap::cargo_fuzz_path().display(),
            target_dir.display(),
            target.name,
            log_path.display()
        );
    }
    let runs = final_stat(&output, "stat::number_of_executed_units")
        .context("libFuzzer printed no run count")?;
    step::outcome(format!(
        "{runs} runs, no crash (corpus: {} inputs)",
        entries(&corpus)?.len()
    ));
    Ok(())
}

/// What says why a run failed: the panic message and libFuzzer's or the
/// sanitizer's summary, or else the end of the output.
fn crash_excerpt(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut excerpt: Vec<&str> = Vec::new();
    if let Some(panic) = lines.iter().position(|l| l.contains("panicked at")) {
        excerpt.extend(lines.iter().skip(panic).take(2));
    }
    excerpt.extend(
        lines
            .iter()
            .filter(|l| l.starts_with("SUMMARY:") || l.starts_with("==") && l.contains("ERROR")),
    );
    if excerpt.is_empty() {
        excerpt.extend(&lines[lines.len().saturating_sub(20)..]);
    }
    excerpt.join("\n")
}

/// A number from libFuzzer's `-print_final_stats` lines (`name: value`).
fn final_stat(output: &str, name: &str) -> Option<u64> {
    output.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(':')?
            .trim()
            .parse()
            .ok()
    })
}

fn entries(dir: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
    Ok(fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}

/// Every packet of the ucarp captures in `carp-user/tests/data`, as the
/// Ethernet frame and as the IPv4 packet inside it.
fn captured_packets() -> anyhow::Result<Vec<Vec<u8>>> {
    let mut seeds = Vec::new();
    for frame in captured_frames()? {
        if frame.len() > 14 {
            seeds.push(frame[14..].to_vec());
        }
        seeds.push(frame);
    }
    Ok(seeds)
}

/// The Ethernet frames of the ucarp captures: authentic adverts for the
/// differential target's instance, and gratuitous ARP.
fn captured_frames() -> anyhow::Result<Vec<Vec<u8>>> {
    let dir = bootstrap::workspace_root().join("carp-user/tests/data");
    let mut frames = Vec::new();
    for path in entries(&dir)? {
        if path.extension().is_some_and(|e| e == "pcap") {
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            frames.extend(xcarp_tests::pcap::frames(&bytes));
        }
    }
    if frames.is_empty() {
        bail!("no frame in the captures of {}", dir.display());
    }
    Ok(frames)
}

/// Command lines as the fuzz target reads them: words separated by NULs.
fn command_lines() -> anyhow::Result<Vec<Vec<u8>>> {
    Ok([
        "-v\x0042\x00-p\x00love\x00-a\x0010.1.1.252\x00-s\x0010.1.1.1",
        "--vhid=0x2a\x00--pass=pw\x00--addr=10.0.0.100\x00--srcip=10.0.0.1\x00--advbase=3\x00--advskew=10\x00--preempt\x00--neutral\x00--deadratio=4",
        "-i\x00eth0\x00-v\x00052\x00-o\x00/dev/null\x00-a\x0010.0.0.2\x00-s\x0010.0.0.1\x00-m\x00239.1.1.1\x00-f\x00local3\x00-x\x00param",
        "--inter\x00eth0\x00--vh\x007\x00--pa\x00x\x00--xdp-mode=skb\x00--script-timeout=30\x00--pidfile=run.pid\x00--tie-break=numeric",
        "-v\x001\x00-p\x00-dash\x00-a\x0010.0.0.2\x00-s\x0010.0.0.1\x00-u\x00/bin/true\x00-d\x00/bin/true\x00-z\x00-B\x00-S\x00-M\x00-D",
        "--help",
        "-V",
    ]
    .iter()
    .map(|line| line.as_bytes().to_vec())
    .collect())
}

/// Password files, each after the byte that sets the target's read size.
fn passfile_contents() -> anyhow::Result<Vec<Vec<u8>>> {
    let mut seeds: Vec<Vec<u8>> = [
        &b"\x01secret\r\nsecond line\n"[..],
        b"\x03plain",
        b"\x07abc\x00def\n",
        b"\x10\n",
        b"\xff",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    seeds.push([&[0x40][..], &[b'a'; 600]].concat());
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_a_bin_of_the_fuzz_crate() {
        let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{}\"", target.name)),
                "{} is not in carp-user/fuzz/Cargo.toml",
                target.name
            );
            assert!(!(target.seeds)().unwrap().is_empty(), "{}", target.name);
        }
    }

    #[test]
    fn the_captures_give_ethernet_frames_and_their_ipv4_packets() {
        let seeds = captured_packets().unwrap();
        // An advert: Ethernet type IPv4, then an IPv4 header with protocol 112.
        assert!(
            seeds
                .iter()
                .any(|s| s.len() >= 34 && s[12..14] == [0x08, 0x00] && s[23] == 112)
        );
        assert!(
            seeds
                .iter()
                .any(|s| s.len() >= 20 && s[0] == 0x45 && s[9] == 112)
        );
    }

    #[test]
    fn a_crash_is_summed_up_by_its_panic_and_summary() {
        let output = "INFO: seed\n#2 INITED\n\nthread '<unnamed>' panicked at fuzz_targets/passfile.rs:28:5:\n\
                      demonstration crash\nstack backtrace:\n   0: frame\n==1234== ERROR: libFuzzer: deadly signal\n\
                      SUMMARY: libFuzzer: deadly signal\nMS: 0 ;\n";
        assert_eq!(
            crash_excerpt(output),
            "thread '<unnamed>' panicked at fuzz_targets/passfile.rs:28:5:\ndemonstration crash\n\
             ==1234== ERROR: libFuzzer: deadly signal\nSUMMARY: libFuzzer: deadly signal"
        );
        let quiet = (0..30).map(|i| format!("line {i}\n")).collect::<String>();
        assert!(crash_excerpt(&quiet).starts_with("line 10\n"));
    }

    #[test]
    fn final_stats_are_read_from_libfuzzers_output() {
        let output = "Done 12 runs in 1 second(s)\nstat::number_of_executed_units: 1549055\nstat::average_exec_per_sec:     140823\n";
        assert_eq!(
            final_stat(output, "stat::number_of_executed_units"),
            Some(1_549_055)
        );
        assert_eq!(
            final_stat(output, "stat::average_exec_per_sec"),
            Some(140_823)
        );
        assert_eq!(final_stat(output, "stat::peak_rss_mb"), None);
    }
}
