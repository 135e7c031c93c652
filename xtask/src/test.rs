//! `cargo xtask test`: the project's one test command.
//!
//! It passes only if every test ran: a test that cannot run here (a kernel
//! feature, ucarp, implementations left out of `XCARP_TEST_IMPLS`) fails,
//! unless `XCARP_TEST_ALLOW_SKIP=1` is set, and the run ends with how many
//! scenario variants ran and were skipped (docs/testing.md). Namespaces left
//! by dead test processes are swept before and after; Ctrl-C, SIGTERM or the
//! suite's time limit stop the tests, which remove what they created.
use std::{
    io::{BufRead as _, BufReader, Write as _},
    os::unix::process::CommandExt as _,
    path::Path,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use xcarp_tests::{ALLOW_SKIP, STRICT, TALLY, cleanup, skips_allowed};

use crate::{bootstrap, build, step};

/// Longest the whole `cargo test` (builds included) may run.
const SUITE_TIME_LIMIT: Duration = Duration::from_secs(40 * 60);
/// How long the tests get after SIGTERM to remove what they created.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// What a newcomer runs first must work: the whole workspace builds and
/// passes clippy (the eBPF crate included, as a host build), and the code is
/// formatted. One step each, their output in the step log.
fn workspace_checks() -> anyhow::Result<()> {
    for (what, args) in [
        ("cargo fmt --check", &["fmt", "--all", "--", "--check"][..]),
        (
            "cargo clippy --workspace --all-targets -- -D warnings",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ][..],
        ),
    ] {
        step::run(what, || step::exec(build::cargo().args(args)))?;
    }
    Ok(())
}

/// The signal that asked this run to stop (0: none).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signal: libc::c_int) {
    STOP_SIGNAL.store(signal, Ordering::Relaxed);
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    ensure!(
        bootstrap::is_root(),
        "the test suite attaches XDP programs and creates network namespaces: run it as root"
    );
    let allow_skip = skips_allowed();
    check_impls(
        std::env::var("XCARP_TEST_IMPLS").ok().as_deref(),
        allow_skip,
    )?;
    bootstrap::ebpf_toolchain()?;
    bootstrap::cargo_fuzz()?;
    bootstrap::test_packages()?;
    workspace_checks()?;
    // The xcarp binary the namespace tests drive (and the eBPF object the
    // kernel tests and the fuzz pass load), built before any test starts.
    let built = build::build(build::Profile::Dev, &["--bin", "xcarp"])?;
    crate::fuzz::pass(&built.object)?;
    // The package test installs what `cargo xtask package` builds.
    let deb = crate::package::build()?;
    for name in cleanup::sweep_stale() {
        println!("removed stale test namespace {name}");
    }
    let tally_path = std::env::temp_dir().join(format!("xcarp-test-tally-{}", std::process::id()));
    let _ = std::fs::remove_file(&tally_path);
    step::run("building the tests", || {
        step::exec(test_command(&built, &deb, &tally_path).arg("--no-run"))
    })?;
    let mut cmd = test_command(&built, &deb, &tally_path);
    cmd.stdout(Stdio::piped())
        // A group of its own, so that stopping it reaches cargo and every
        // test binary, and the terminal's Ctrl-C reaches only this process,
        // which passes it on and then sweeps.
        .process_group(0);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    install_stop_handlers();
    let mut child = cmd.spawn().context("cannot start cargo test")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let finished = Arc::clone(&finished);
        let group = i32::try_from(child.id()).context("pid")?;
        std::thread::spawn(move || stop_when_asked(group, &finished))
    };
    // Pass the output through, and add up the binaries' summaries: cargo's
    // own last line is that of whichever binary ran last (often an empty
    // doc-test run), not the suite's.
    let mut totals = Totals::default();
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        totals.add(&line);
        writeln!(out, "{line}")?;
    }
    let status = child.wait()?;
    finished.store(true, Ordering::Relaxed);
    let stopped_by = watchdog.join().unwrap_or(None);
    for name in cleanup::sweep_stale() {
        writeln!(
            out,
            "removed test namespace {name}, left by a killed test process"
        )?;
    }
    let tally = Tally::read(&tally_path)?;
    let _ = std::fs::remove_file(&tally_path);
    for test in &tally.skipped_tests {
        writeln!(out, "skipped ({ALLOW_SKIP}): {test}")?;
    }
    writeln!(
        out,
        "\nscenario variants: {} ran, {} skipped",
        tally.ran, tally.skipped
    )?;
    writeln!(
        out,
        "tests: {} passed, {} failed",
        totals.passed, totals.failed
    )?;
    if let Some(why) = stopped_by {
        bail!("the tests were stopped: {why}");
    }
    ensure!(status.success(), "cargo test failed: {status}");
    ensure!(totals.passed > 0, "no test ran");
    tally.check(allow_skip, !args.is_empty())
}

/// `cargo test` of the whole workspace, strict (no test passes by
/// skipping, docs/testing.md), with what the tests drive: the xcarp binary,
/// its XDP object, the package, and the tally file.
fn test_command(built: &build::Built, deb: &Path, tally: &Path) -> std::process::Command {
    let mut cmd = build::cargo();
    // --no-fail-fast: one failing test binary must not hide the others.
    cmd.args(["test", "--workspace", "--no-fail-fast"])
        .env(STRICT, "1")
        .env("XCARP_BIN", &built.binary)
        .env("XCARP_EBPF_OBJECT", &built.object)
        .env("XCARP_DEB", deb)
        .env(TALLY, tally);
    cmd
}

/// Refuses an `XCARP_TEST_IMPLS` that leaves an implementation out, unless
/// skips are allowed: its scenarios would fail one by one otherwise.
fn check_impls(impls: Option<&str>, allow_skip: bool) -> anyhow::Result<()> {
    let Some(impls) = impls else { return Ok(()) };
    let listed: Vec<&str> = impls.split(',').map(str::trim).collect();
    let left_out: Vec<&str> = ["xcarp", "ucarp"]
        .into_iter()
        .filter(|i| !listed.contains(i))
        .collect();
    ensure!(
        left_out.is_empty() || allow_skip,
        "XCARP_TEST_IMPLS={impls:?} leaves out {}: the scenarios that need it would not run. Unset it, or set {ALLOW_SKIP}=1 to skip them",
        left_out.join(", ")
    );
    Ok(())
}

fn install_stop_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(signal, on_stop_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Until `finished`: on a stop signal or at the suite's time limit, sends
/// SIGTERM to the test process group (the tests remove what they created),
/// then SIGKILL after a grace period. Returns why it stopped the tests.
fn stop_when_asked(group: i32, finished: &AtomicBool) -> Option<String> {
    let deadline = Instant::now() + SUITE_TIME_LIMIT;
    let why = loop {
        if finished.load(Ordering::Relaxed) {
            return None;
        }
        let signal = STOP_SIGNAL.load(Ordering::Relaxed);
        if signal != 0 {
            break format!("signal {signal}");
        }
        if Instant::now() >= deadline {
            break format!("time limit of {SUITE_TIME_LIMIT:?} reached");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("stopping the tests ({why})");
    // SAFETY: kill(2) of the process group of our own unreaped child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-group, libc::SIGTERM);
    }
    let grace = Instant::now() + STOP_GRACE;
    while !finished.load(Ordering::Relaxed) && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(100));
    }
    if !finished.load(Ordering::Relaxed) {
        // SAFETY: as above; whatever ignored SIGTERM.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    Some(why)
}

/// The test binaries' tally (see `xcarp_tests::tally`): scenario variants
/// run and skipped, tests skipped.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    ran: u64,
    skipped: u64,
    skipped_tests: Vec<String>,
}

impl Tally {
    fn read(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Lines `variants <scenario> ran=N skipped=M` and `test skipped <what>`.
    fn parse(text: &str) -> Self {
        let mut t = Self::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("variants ") {
                for word in rest.split_whitespace() {
                    let count = |prefix: &str| {
                        word.strip_prefix(prefix)
                            .and_then(|n| n.parse::<u64>().ok())
                    };
                    if let Some(n) = count("ran=") {
                        t.ran += n;
                    } else if let Some(n) = count("skipped=") {
                        t.skipped += n;
                    }
                }
            } else if let Some(rest) = line.strip_prefix("test skipped ") {
                t.skipped_tests.push(rest.to_owned());
            }
        }
        t
    }

    /// Fails on any skip without the opt-out, and when no scenario variant
    /// ran at all (unless a filter given on the command line may explain it).
    fn check(&self, allow_skip: bool, filtered: bool) -> anyhow::Result<()> {
        ensure!(
            allow_skip || (self.skipped == 0 && self.skipped_tests.is_empty()),
            "{} scenario variants and {} tests were skipped without {ALLOW_SKIP}=1",
            self.skipped,
            self.skipped_tests.len()
        );
        ensure!(self.ran > 0 || filtered, "no scenario variant ran");
        Ok(())
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
}

impl Totals {
    /// Adds a libtest summary line (`test result: ok. 3 passed; 1 failed; …`).
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{STRICT, TALLY, Tally, Totals, check_impls, test_command};
    use crate::build::Built;

    /// The suite runs strict (a test that cannot run fails, docs/testing.md)
    /// and gets what the tests drive.
    #[test]
    fn the_test_run_is_strict_and_gets_the_binary_the_object_and_the_package() {
        let built = Built {
            binary: PathBuf::from("/b/xcarp"),
            object: PathBuf::from("/b/carp"),
        };
        let cmd = test_command(&built, Path::new("/b/xcarp.deb"), Path::new("/t/tally"));
        let env = |key: &str| {
            cmd.get_envs()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| v)
                .map(|v| v.to_string_lossy().into_owned())
        };
        assert_eq!(env(STRICT).as_deref(), Some("1"));
        assert_eq!(env("XCARP_BIN").as_deref(), Some("/b/xcarp"));
        assert_eq!(env("XCARP_EBPF_OBJECT").as_deref(), Some("/b/carp"));
        assert_eq!(env("XCARP_DEB").as_deref(), Some("/b/xcarp.deb"));
        assert_eq!(env(TALLY).as_deref(), Some("/t/tally"));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["test", "--workspace", "--no-fail-fast"]);
    }

    #[test]
    fn an_impls_list_leaving_one_out_needs_the_opt_out() {
        assert!(check_impls(None, false).is_ok());
        assert!(check_impls(Some("xcarp,ucarp"), false).is_ok());
        assert!(check_impls(Some("ucarp, xcarp"), false).is_ok());
        assert!(check_impls(Some("xcarp"), false).is_err());
        assert!(check_impls(Some(""), false).is_err());
        assert!(check_impls(Some("xcarp"), true).is_ok());
        assert!(check_impls(Some(""), true).is_ok());
    }

    #[test]
    fn adds_up_variant_tallies_and_skipped_tests() {
        let t = Tally::parse(
            "variants 1_failover_after_sigkill ran=2 skipped=0\n\
             variants 4_equal_interval_tie_break ran=3 skipped=7\n\
             test skipped ucarp_adverts_arrive_in_skb_mode: /usr/sbin/ucarp is not installed\n\
             unrelated line\n",
        );
        assert_eq!(
            t,
            Tally {
                ran: 5,
                skipped: 7,
                skipped_tests: vec![
                    "ucarp_adverts_arrive_in_skb_mode: /usr/sbin/ucarp is not installed".into()
                ],
            }
        );
    }

    #[test]
    fn a_skip_fails_the_run_unless_allowed_and_so_does_running_no_variant() {
        let skipped_variant = Tally {
            ran: 30,
            skipped: 4,
            skipped_tests: Vec::new(),
        };
        assert!(skipped_variant.check(false, false).is_err());
        assert!(skipped_variant.check(true, false).is_ok());
        let skipped_test = Tally {
            ran: 34,
            skipped: 0,
            skipped_tests: vec!["x: no XDP".into()],
        };
        assert!(skipped_test.check(false, false).is_err());
        assert!(skipped_test.check(true, false).is_ok());
        let none = Tally::default();
        assert!(none.check(true, false).is_err());
        assert!(none.check(false, true).is_ok());
        let all = Tally {
            ran: 34,
            skipped: 0,
            skipped_tests: Vec::new(),
        };
        assert!(all.check(false, false).is_ok());
    }

    #[test]
    fn sums_libtest_summaries_and_ignores_other_lines() {
        let mut t = Totals::default();
        t.add("test result: ok. 43 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.82s");
        t.add("test result: FAILED. 13 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 141s");
        t.add("test s01_failover_after_sigkill ... ok");
        t.add("running 15 tests");
        t.add("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s");
        assert_eq!(
            t,
            Totals {
                passed: 56,
                failed: 2
            }
        );
    }
}
