//! The harness's own promises (docs/testing.md): a test that cannot run
//! fails unless skips are allowed, and skips are counted; without root or
//! the binaries `cargo xtask test` builds, a test says what it needs and
//! passes under plain `cargo test`, and fails under `cargo xtask test`
//! (strict); Ctrl-C, a time
//! limit or a hard kill leave no namespace or process behind; a second
//! master is seen on the wire even when no daemon logs it.
//!
//! Each check runs this binary again as a child, on one of the `helper_*`
//! tests below (ignored unless asked for by name, and inert outside a child).
use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use xcarp_tests::{
    ALLOW_SKIP, Netns, ProcessGuard, STRICT, TALLY, XCARP_BIN,
    carp::{CarpOpts, Impl, Node, State, TempDir, assert_never_two_masters},
    cleanup,
    frames::{Trafgen, carp_advert},
    lan::Lan,
    needs_root, needs_xcarp, needs_xcarp_bin,
    probe::Adverts,
    run_variants, skip_or_fail, wait_until,
};

const HELPER: &str = "XCARP_HARNESS_HELPER";

/// This binary, running only `helper`, with none of the suite's settings.
/// The helpers never start xcarp: [`XCARP_BIN`] only has to be set for
/// `run_variants`.
fn helper(helper: &str) -> Command {
    helper_of(&std::env::current_exe().expect("own path"), helper)
}

/// `helper` of the test binary at `exe`.
fn helper_of(exe: &Path, helper: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(["--ignored", "--exact", helper]);
    helper_env(&mut cmd);
    cmd
}

/// A helper's environment: in a child, with none of the suite's settings.
fn helper_env(cmd: &mut Command) {
    cmd.env(HELPER, "1")
        .env_remove(ALLOW_SKIP)
        .env_remove(STRICT)
        .env_remove(TALLY)
        .env_remove("XCARP_TEST_IMPLS")
        .env(XCARP_BIN, "/nonexistent/xcarp")
        .stdin(Stdio::null());
}

/// A line on stdout past libtest's capture, for the parent to read (the
/// helpers run without `--nocapture`, as the suite runs tests).
fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn in_child() -> bool {
    std::env::var_os(HELPER).is_some()
}

struct Outcome {
    success: bool,
    stdout: String,
    /// stderr, then stdout: where a failure's message may be.
    stderr: String,
    tally: String,
}

/// Runs a helper with `env`, and a tally file of its own.
fn run_helper(name: &str, env: &[(&str, &str)]) -> Outcome {
    let dir = TempDir::new("ht");
    run_in(&dir, helper(name), env)
}

/// Runs the helper `cmd` with `env`, and a tally file in `dir`.
fn run_in(dir: &TempDir, mut cmd: Command, env: &[(&str, &str)]) -> Outcome {
    let tally = dir.0.join("tally");
    cmd.env(TALLY, &tally).envs(env.iter().copied());
    let out = cmd.output().expect("run the helper");
    Outcome {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        // libtest prints a failing test's captured panic on stdout.
        stderr: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
        tally: std::fs::read_to_string(&tally).unwrap_or_default(),
    }
}

#[test]
#[ignore = "run by a_missing_feature_fails_unless_skips_are_allowed"]
fn helper_skip() {
    if !in_child() {
        return;
    }
    skip_or_fail("a feature this test pretends to miss");
    say("RETURNED FROM SKIP");
}

#[test]
fn a_missing_feature_fails_unless_skips_are_allowed() {
    let strict = run_helper("helper_skip", &[]);
    assert!(!strict.success, "a skip passed: {}", strict.stdout);
    assert!(
        strict
            .stderr
            .contains("a feature this test pretends to miss")
            && strict.stderr.contains("XCARP_TEST_ALLOW_SKIP=1"),
        "the failure must say what is missing and how to opt out: {}",
        strict.stderr
    );
    assert!(!strict.stdout.contains("RETURNED FROM SKIP"));
    assert_eq!(strict.tally, "");

    let allowed = run_helper("helper_skip", &[(ALLOW_SKIP, "1")]);
    assert!(allowed.success, "{}", allowed.stderr);
    assert!(allowed.stdout.contains("RETURNED FROM SKIP"));
    assert_eq!(
        allowed.tally,
        "test skipped helper_skip: a feature this test pretends to miss\n"
    );
}

#[test]
#[ignore = "run by a_test_without_root_says_so_and_fails_only_when_strict"]
fn helper_needs_root() {
    if !in_child() || !needs_root() {
        return;
    }
    say("PAST THE ROOT CHECK");
}

/// As a user other than root, plain `cargo test` passes a test that needs
/// root, saying so; `cargo xtask test` (strict) fails it.
#[test]
fn a_test_without_root_says_so_and_fails_only_when_strict() {
    // Switching to another user takes root.
    if !needs_root() {
        return;
    }
    // A copy of this binary that user can run, in a directory it can write
    // its tally to (the checkout may be under a private home).
    let dir = TempDir::new("nr");
    let exe = dir.0.join("harness");
    std::fs::copy(std::env::current_exe().expect("own path"), &exe).expect("copy the binary");
    for (path, mode) in [(&dir.0, 0o777), (&exe, 0o755)] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .expect("chmod");
    }
    let as_nobody = || {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(["--ignored", "--exact", "helper_needs_root"]);
        helper_env(&mut cmd);
        cmd
    };

    let plain = run_in(&dir, as_nobody(), &[]);
    assert!(
        plain.success,
        "a test without root failed: {}",
        plain.stderr
    );
    assert!(
        plain
            .stderr
            .contains("SKIP helper_needs_root: needs root (namespaces, XDP)"),
        "the test did not say it needs root: {}",
        plain.stderr
    );
    assert!(!plain.stdout.contains("PAST THE ROOT CHECK"));

    let strict = run_in(&dir, as_nobody(), &[(STRICT, "1")]);
    assert!(!strict.success, "a test without root passed under strict");
    assert!(
        strict.stderr.contains("helper_needs_root: needs root")
            && strict.stderr.contains("cargo xtask test"),
        "{}",
        strict.stderr
    );
    assert!(!strict.stdout.contains("PAST THE ROOT CHECK"));

    // As root, the check passes in either mode.
    let root = run_helper("helper_needs_root", &[(STRICT, "1")]);
    assert!(root.success, "{}", root.stderr);
    assert!(root.stdout.contains("PAST THE ROOT CHECK"));
}

#[test]
#[ignore = "run by a_test_without_xcarp_bin_says_so_and_fails_only_when_strict"]
fn helper_needs_xcarp_bin() {
    if !in_child() || !needs_xcarp_bin() {
        return;
    }
    say("PAST THE XCARP_BIN CHECK");
}

/// Without XCARP_BIN (plain `cargo test`), a test that runs xcarp says so
/// and passes; under `cargo xtask test` (strict) it fails, unless skips are
/// allowed, and then it is counted.
#[test]
fn a_test_without_xcarp_bin_says_so_and_fails_only_when_strict() {
    let run = |env: &[(&str, &str)]| {
        let dir = TempDir::new("nb");
        let mut cmd = helper("helper_needs_xcarp_bin");
        cmd.env_remove(XCARP_BIN);
        run_in(&dir, cmd, env)
    };
    let plain = run(&[]);
    assert!(plain.success, "{}", plain.stderr);
    assert!(
        plain
            .stderr
            .contains("SKIP helper_needs_xcarp_bin: needs XCARP_BIN"),
        "{}",
        plain.stderr
    );
    assert!(!plain.stdout.contains("PAST THE XCARP_BIN CHECK"));

    let strict = run(&[(STRICT, "1")]);
    assert!(!strict.success, "a skip passed under strict");
    assert!(
        strict.stderr.contains("needs XCARP_BIN") && strict.stderr.contains(STRICT),
        "{}",
        strict.stderr
    );
    assert_eq!(strict.tally, "");

    let allowed = run(&[(STRICT, "1"), (ALLOW_SKIP, "1")]);
    assert!(allowed.success, "{}", allowed.stderr);
    assert_eq!(
        allowed.tally,
        "test skipped helper_needs_xcarp_bin: needs XCARP_BIN, the xcarp binary built with its XDP program\n"
    );

    let set = run_helper("helper_needs_xcarp_bin", &[(STRICT, "1")]);
    assert!(set.success, "{}", set.stderr);
    assert!(set.stdout.contains("PAST THE XCARP_BIN CHECK"));
}

#[test]
#[ignore = "run by variants_left_out_fail_unless_skips_are_allowed"]
fn helper_variants() {
    if !in_child() {
        return;
    }
    run_variants(
        "0 helper",
        &[("x", &[Impl::Xcarp]), ("u", &[Impl::Ucarp])],
        |v| say(&format!("RAN {v}")),
    );
}

#[test]
fn variants_left_out_fail_unless_skips_are_allowed() {
    if !needs_root() {
        return;
    }
    let all = run_helper("helper_variants", &[]);
    assert!(all.success, "{}", all.stderr);
    assert!(all.stdout.contains("RAN x") && all.stdout.contains("RAN u"));
    assert_eq!(all.tally, "variants 0_helper ran=2 skipped=0\n");

    for impls in ["xcarp", ""] {
        let strict = run_helper("helper_variants", &[("XCARP_TEST_IMPLS", impls)]);
        assert!(!strict.success, "XCARP_TEST_IMPLS={impls:?} passed");
        assert!(
            strict.stderr.contains("ucarp is not in XCARP_TEST_IMPLS")
                && strict.stderr.contains("XCARP_TEST_ALLOW_SKIP=1"),
            "{}",
            strict.stderr
        );
        assert!(
            !strict.stdout.contains("RAN"),
            "variants ran before failing"
        );
    }

    let partial = run_helper(
        "helper_variants",
        &[("XCARP_TEST_IMPLS", "xcarp"), (ALLOW_SKIP, "1")],
    );
    assert!(partial.success, "{}", partial.stderr);
    assert!(partial.stdout.contains("RAN x") && !partial.stdout.contains("RAN u"));
    assert_eq!(partial.tally, "variants 0_helper ran=1 skipped=1\n");

    let none = run_helper(
        "helper_variants",
        &[("XCARP_TEST_IMPLS", ""), (ALLOW_SKIP, "1")],
    );
    assert!(none.success, "{}", none.stderr);
    assert_eq!(none.tally, "variants 0_helper ran=0 skipped=2\n");
}

#[test]
#[ignore = "run by the cleanup tests below"]
fn helper_hold() {
    if !in_child() {
        return;
    }
    let limit = std::env::var("XCARP_HARNESS_LIMIT")
        .ok()
        .map(|s| s.parse().expect("seconds"));
    let _limit = limit.map(|s| cleanup::time_limit("helper_hold", Duration::from_secs(s)));
    let ns = Netns::new("hh");
    let mut cmd = ns.command("sleep");
    cmd.arg("600");
    let sleeper = ProcessGuard::spawn(cmd);
    say(&format!("HOLD {} {}", ns.name, sleeper.pid()));
    std::thread::sleep(Duration::from_secs(120));
}

/// Starts `helper_hold`; returns it with the namespace and the pid it holds.
fn hold(limit: Option<u64>) -> (std::process::Child, String, i32) {
    let mut cmd = helper("helper_hold");
    if let Some(s) = limit {
        cmd.env("XCARP_HARNESS_LIMIT", s.to_string());
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the helper");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("HOLD "))
        .expect("the helper says what it holds");
    let mut words = line.split_whitespace().skip(1);
    let ns = words.next().expect("namespace").to_owned();
    let pid = words.next().and_then(|p| p.parse().ok()).expect("pid");
    assert!(netns_exists(&ns) && alive(pid), "the helper holds nothing");
    (child, ns, pid)
}

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        st.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// What the helper wrote to stderr (it has ended).
fn stderr_of(child: &mut std::process::Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
    }
    text
}

fn assert_gone(ns: &str, pid: i32, after: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || !netns_exists(ns) && !alive(pid)),
        "after {after}: namespace {ns} exists: {}, process {pid} runs: {}",
        netns_exists(ns),
        alive(pid)
    );
    assert!(!cleanup::is_owned(ns), "the marker of {ns} is left");
}

fn signal(child: &std::process::Child, signal: i32) {
    // SAFETY: kill(2) of our own unreaped child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(i32::try_from(child.id()).expect("pid"), signal);
    }
}

#[test]
fn ctrl_c_and_sigterm_leave_no_namespace_or_process() {
    if !needs_root() {
        return;
    }
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let (mut child, ns, pid) = hold(None);
        signal(&child, sig);
        let status = child.wait().expect("wait");
        assert!(!status.success());
        assert_gone(&ns, pid, name);
        let said = stderr_of(&mut child);
        assert!(
            said.contains("removing this test process's namespaces and processes"),
            "{name}: the test binary did not say what it did: {said}"
        );
    }
}

#[test]
fn a_test_past_its_time_limit_fails_and_leaves_nothing() {
    if !needs_root() {
        return;
    }
    let (mut child, ns, pid) = hold(Some(2));
    let status = wait_child(&mut child, Duration::from_secs(30))
        .expect("the time limit did not end the helper");
    assert!(!status.success(), "a test past its time limit passed");
    assert_gone(&ns, pid, "the time limit");
    let said = stderr_of(&mut child);
    assert!(
        said.contains("helper_hold: still running after 2s, its time limit"),
        "the test binary did not name the test past its limit: {said}"
    );
}

#[test]
fn what_a_killed_test_leaves_is_swept() {
    if !needs_root() {
        return;
    }
    let (mut child, ns, pid) = hold(None);
    signal(&child, libc::SIGKILL);
    child.wait().expect("wait");
    // Nothing in the killed process could run: its namespace and process
    // stay until a sweep.
    assert!(netns_exists(&ns) && alive(pid));
    let swept = cleanup::sweep_stale();
    assert!(swept.contains(&ns), "not swept: {swept:?}");
    assert_gone(&ns, pid, "the sweep");
}

fn wait_child(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// A host that advertises the VHID beside a healthy master, unseen by the
/// master's log and holding no VIP, is a second master on the wire.
#[test]
fn a_second_advertiser_is_two_masters_even_if_no_log_says_so() {
    if !needs_xcarp() {
        return;
    }
    let _limit = cleanup::time_limit("two-masters check", Duration::from_secs(120));
    let lan = Lan::with_hosts(2);
    let opts = CarpOpts::default();
    let wire = Adverts::start(&lan, opts.vhid);
    let mut node = Node::start(&lan.hosts[0], Impl::Xcarp, opts.clone());
    assert!(
        node.wait_state(State::Master, Duration::from_secs(20)),
        "no master"
    );
    // One master alone passes.
    assert_never_two_masters(&mut [&mut node], &wire, Duration::from_secs(3));
    // Host 2 claims VHID 42 twice a second (its digest is wrong, so the
    // master keeps its state and its VIP).
    let rogue = carp_advert(opts.vhid, lan.hosts[1].addr);
    let _rogue = Trafgen::start(&lan.hosts[1], &[rogue], 500_000);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_never_two_masters(&mut [&mut node], &wire, Duration::from_secs(3));
    }));
    let message = caught
        .expect_err("a second advertiser passed as one master")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("two masters on the wire") && message.contains("10.99.0.2"),
        "{message}"
    );
    assert_eq!(node.state(), Some(State::Master));
}
